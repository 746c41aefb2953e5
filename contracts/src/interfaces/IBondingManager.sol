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

    /// @notice Credits `fees` wei of ticket fees to `orchestrator`, split with its delegators by the fee
    /// share committed for `creationRound`. The ETH stays in the TicketBroker, which pays withdrawals on the
    /// BondingManager's order. Only the TicketBroker may call it; reverts with `NotRegistered(orchestrator)`
    /// unless `orchestrator` is registered.
    function creditFees(address orchestrator, uint256 creationRound, uint256 fees) external;

    /// @notice Whether `orchestrator` is active in the current round and the number of active orchestrators,
    /// both taken at the start of the current round so that they always agree.
    function poolInfo(address orchestrator) external view returns (bool active, uint256 poolSize);

    /// @notice `orchestrator`'s active stake and the total active stake, both as of the start of the current
    /// round (zero stake: not active then). The TicketBroker's stake-weighted reserve split reads them.
    function reserveWeight(address orchestrator) external view returns (uint256 stake, uint256 total);

    /// @notice Slashes `fractionPPM` of the orchestrator's own bonded and unbonding stake and pays
    /// `finderFeePPM` of the penalty to `finder`. Only the FaultVerifier may call it.
    function slash(address orchestrator, uint256 fractionPPM, address finder, uint256 finderFeePPM) external;

    /// @notice Registration, activity, stake and split parameters of `orchestrator`.
    function orchestratorInfo(address orchestrator) external view returns (OrchestratorView memory);
}
