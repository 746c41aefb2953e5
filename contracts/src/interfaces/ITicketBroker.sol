// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @notice What the staking contract needs from the ticket broker.
interface ITicketBroker {
    /// @notice Number of rounds a ticket stays redeemable: valid while creationRound + period > currentRound.
    function ticketValidityPeriod() external view returns (uint256);

    /// @notice Sends `amount` wei of redeemed fees, which the broker holds, to `recipient`. Only the
    /// BondingManager may call it, for fees it credited.
    function payFees(address payable recipient, uint256 amount) external;
}
