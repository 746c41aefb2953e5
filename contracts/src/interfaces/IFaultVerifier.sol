// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @notice What a verifier contract uses to read and decide challenges.
interface IFaultVerifier {
    enum Status {
        None,
        Pending,
        Guilty,
        Innocent,
        Expired
    }

    /// @notice Records the verdict of challenge `challengeId`. Only the challenge's verifier may call it,
    /// and only before the challenge's deadline.
    function resolve(bytes32 challengeId, bool guilty) external;

    /// @notice Status, verifier and deadline (last block a verdict is accepted) of a challenge.
    function challengeState(bytes32 challengeId)
        external
        view
        returns (Status status, address verifier, uint256 deadline);
}
