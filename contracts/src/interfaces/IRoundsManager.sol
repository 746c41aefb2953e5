// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @notice Rounds of a fixed number of blocks, each with the block hash recorded at its initialization.
interface IRoundsManager {
    /// @notice Number of blocks per round. Never changes.
    function roundLength() external view returns (uint256);

    /// @notice `block.number / roundLength`.
    function currentRound() external view returns (uint256);

    /// @notice Block hash recorded by `initializeRound` for `round`, zero if that round was never initialized.
    function blockHashForRound(uint256 round) external view returns (bytes32);

    /// @notice Whether `initializeRound` ran in the current round.
    function currentRoundInitialized() external view returns (bool);

    /// @notice The most recent round that was initialized.
    function lastInitializedRound() external view returns (uint256);
}
