// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @notice What other protocol contracts need from the staking contract.
interface IBondingManager {
    /// @notice Summary of an orchestrator, as read by discovery.
    struct OrchestratorView {
        bool registered;
        bool active;
        uint256 stake;
        uint256 rewardCut;
        uint256 feeShare;
        uint256 lastRewardRound;
    }

    /// @notice Credits `msg.value` wei of ticket fees to `orchestrator`, split with its delegators by the fee
    /// share committed for `creationRound`. Only the TicketBroker may call it; reverts with
    /// `NotRegistered(orchestrator)` unless `orchestrator` is registered.
    function creditFees(address orchestrator, uint256 creationRound) external payable;

    /// @notice Whether `orchestrator` is active in the current round and the number of active orchestrators,
    /// both taken at the start of the current round so that they always agree.
    function poolInfo(address orchestrator) external view returns (bool active, uint256 poolSize);

    /// @notice Slashes `fractionPPM` of the orchestrator's own bonded and unbonding stake and pays
    /// `finderFeePPM` of the penalty to `finder`. Only the FaultVerifier may call it.
    function slash(address orchestrator, uint256 fractionPPM, address finder, uint256 finderFeePPM) external;

    /// @notice Registration, activity, stake and split parameters of `orchestrator`.
    function orchestratorInfo(address orchestrator) external view returns (OrchestratorView memory);
}
