// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @notice What the fault verifier reads from the service registry.
interface IServiceRegistry {
    /// @notice The verifier contract that judges challenges of `orchestrator`'s work for `serviceId`; zero
    /// when that service cannot be challenged. A verifier that was replaced or removed stays in force for
    /// the registry's grace period so that an orchestrator cannot dodge a pending dispute.
    function verifierFor(address orchestrator, bytes32 serviceId) external view returns (address);
}
