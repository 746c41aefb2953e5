// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IRoundsManager} from "./interfaces/IRoundsManager.sol";

/// @title RoundsManager
/// @notice Protocol time: round `r` spans blocks `[r * roundLength, (r + 1) * roundLength)`. Anyone may
/// initialize the current round once; that records the hash of the previous block, which tickets created in
/// the round carry in their auxData (creationRound, creationRoundBlockHash) and the broker checks.
/// @dev The round length is immutable, so other contracts may cache it and compute the current round
/// themselves without a call.
///
/// At block 0 there is no previous block, and a chain may answer zero for BLOCKHASH; a zero hash would leave
/// the round looking uninitialized forever. In both cases the round records a substitute derived from the
/// chain id, this contract and the round instead: unpredictable hashes are preferable, but a round that
/// cannot be initialized would block every payment.
contract RoundsManager is IRoundsManager {
    /// @notice The round length given to the constructor was zero.
    error ZeroRoundLength();
    /// @notice `initializeRound` already ran in this round.
    error RoundAlreadyInitialized(uint256 round);

    /// @notice Round `round` was initialized with `blockHash`.
    event RoundInitialized(uint256 indexed round, bytes32 blockHash);

    /// @inheritdoc IRoundsManager
    uint256 public immutable roundLength;

    /// @inheritdoc IRoundsManager
    uint256 public lastInitializedRound;

    mapping(uint256 round => bytes32 blockHash) private _blockHashes;

    /// @param roundLength_ Number of blocks per round, at least 1.
    constructor(uint256 roundLength_) {
        if (roundLength_ == 0) revert ZeroRoundLength();
        roundLength = roundLength_;
    }

    /// @notice Initializes the current round: records `blockhash(block.number - 1)` for it (a substitute at
    /// block 0 or when the chain returns no hash, see the contract doc).
    function initializeRound() external {
        uint256 number = block.number;
        uint256 round = number / roundLength;
        if (_blockHashes[round] != bytes32(0)) revert RoundAlreadyInitialized(round);
        bytes32 hash = number == 0 ? bytes32(0) : blockhash(number - 1);
        if (hash == bytes32(0)) hash = keccak256(abi.encode(block.chainid, address(this), round));
        _blockHashes[round] = hash;
        lastInitializedRound = round;
        emit RoundInitialized(round, hash);
    }

    /// @inheritdoc IRoundsManager
    function currentRound() external view returns (uint256) {
        return block.number / roundLength;
    }

    /// @notice First block of the current round.
    function currentRoundStartBlock() external view returns (uint256) {
        return block.number - (block.number % roundLength);
    }

    /// @inheritdoc IRoundsManager
    function currentRoundInitialized() external view returns (bool) {
        return _blockHashes[block.number / roundLength] != bytes32(0);
    }

    /// @inheritdoc IRoundsManager
    function blockHashForRound(uint256 round) external view returns (bytes32) {
        return _blockHashes[round];
    }
}
