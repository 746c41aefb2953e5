// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @notice What the staking contract reads from the ticket broker.
interface ITicketBroker {
    /// @notice Number of rounds a ticket stays redeemable: valid while creationRound + period > currentRound.
    function ticketValidityPeriod() external view returns (uint256);
}
