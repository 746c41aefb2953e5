// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./base/Fixture.sol";
import {BondingManager} from "../src/BondingManager.sol";
import {IBondingManager} from "../src/interfaces/IBondingManager.sol";
import {IRoundsManager} from "../src/interfaces/IRoundsManager.sol";
import {IStakeToken} from "../src/interfaces/IStakeToken.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract BondingManagerTest is Fixture {
    address internal alice = address(0xA11CE);
    address internal bob = address(0xB0B0);

    /// @dev Credits fees as the TicketBroker would.
    function _credit(address o, uint256 amount, uint256 creationRound) internal {
        vm.deal(address(broker), address(broker).balance + amount);
        vm.prank(address(broker));
        bonding.creditFees(o, creationRound, amount);
    }

    // ------------------------------------------------------------ construction and wiring

    function test_constructor_rejectsBadParameters() public {
        IStakeToken t = IStakeToken(address(token));
        IRoundsManager r = IRoundsManager(address(rounds));
        vm.expectRevert(BondingManager.ZeroAddress.selector);
        new BondingManager(IStakeToken(address(0)), r, 1, 1, 0);
        vm.expectRevert(BondingManager.ZeroAddress.selector);
        new BondingManager(t, IRoundsManager(address(0)), 1, 1, 0);
        vm.expectRevert(BondingManager.InvalidParameter.selector);
        new BondingManager(t, r, 0, 1, 0);
        vm.expectRevert(BondingManager.InvalidParameter.selector);
        new BondingManager(t, r, 1, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.InflationTooHigh.selector, 10_000_001));
        new BondingManager(t, r, 1, 1, 10_000_001);
        assertEq(bonding.minActiveStake(), MIN_ACTIVE_STAKE);
        assertEq(bonding.unbondingPeriod(), UNBONDING_PERIOD);
        assertEq(bonding.roundLength(), ROUND_LENGTH);
        assertEq(address(bonding.token()), address(token));
        assertEq(address(bonding.rounds()), address(rounds));
        assertEq(bonding.currentRound(), _round());
    }

    function test_initialize_wiresOnce() public {
        BondingManager bm = new BondingManager(
            IStakeToken(address(token)), IRoundsManager(address(rounds)), MIN_ACTIVE_STAKE, 1, 0
        );
        vm.expectRevert(BondingManager.ZeroAddress.selector);
        bm.initialize(address(0), address(fault));
        vm.expectEmit(address(bm));
        emit BondingManager.Initialized(address(broker), address(fault), VALIDITY);
        bm.initialize(address(broker), address(fault));
        assertEq(bm.ticketBroker(), address(broker));
        assertEq(bm.faultVerifier(), address(fault));
        assertEq(bm.ticketValidityPeriod(), VALIDITY);
        vm.expectRevert(BondingManager.AlreadyInitialized.selector);
        bm.initialize(address(broker), address(fault));
    }

    function test_setInflation() public {
        vm.expectEmit(address(bonding));
        emit BondingManager.InflationSet(2_000_000);
        bonding.setInflation(2_000_000);
        assertEq(bonding.inflationPPB(), 2_000_000);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.InflationTooHigh.selector, 10_000_001));
        bonding.setInflation(10_000_001);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        bonding.setInflation(1);
    }

    // ------------------------------------------------------------ bonding

    function test_bond_self_and_register() public {
        _give(orch, 500 ether);
        vm.startPrank(orch);
        token.approve(address(bonding), 500 ether);
        vm.expectEmit(address(bonding));
        emit BondingManager.Bonded(orch, orch, 500 ether, 500 ether);
        bonding.bond(500 ether, orch);
        vm.expectEmit(address(bonding));
        emit BondingManager.OrchestratorRegistered(orch, 50_000, 250_000);
        bonding.registerOrchestrator(50_000, 250_000);
        vm.stopPrank();
        IBondingManager.OrchestratorView memory v = bonding.orchestratorInfo(orch);
        assertTrue(v.registered);
        assertFalse(v.active, "active only from the next round");
        assertEq(v.stake, 500 ether);
        assertEq(v.rewardCut, 50_000);
        assertEq(v.feeShare, 250_000);
        (uint256 count, uint256 total) = bonding.nextRoundPool();
        assertEq(count, 1);
        assertEq(total, 500 ether);
        assertEq(bonding.activePoolSize(), 0);
        _nextRound();
        assertTrue(bonding.isActive(orch));
        assertEq(bonding.activePoolSize(), 1);
        assertEq(bonding.totalActiveStake(), 500 ether);
    }

    function test_bond_errors() public {
        vm.expectRevert(BondingManager.ZeroAddress.selector);
        bonding.bond(1, address(0));
        _bond(alice, 10 ether, orch);
        vm.prank(alice);
        vm.expectRevert(BondingManager.ZeroAmount.selector);
        bonding.bond(0, orch);
        // Not approved.
        _give(bob, 1 ether);
        vm.prank(bob);
        vm.expectRevert();
        bonding.bond(1 ether, orch);
        // Above 96 bits.
        vm.prank(alice);
        vm.expectRevert();
        bonding.bond(uint256(type(uint96).max) + 1, orch);
    }

    function test_bond_moveStake() public {
        _activate(orch, 1000 ether, 0, 0);
        _activate(orch2, 1000 ether, 0, 0);
        _bond(alice, 100 ether, orch);
        assertEq(bonding.orchestratorInfo(orch).stake, 1100 ether);
        vm.expectEmit(address(bonding));
        emit BondingManager.DelegateChanged(alice, orch, orch2, 100 ether);
        vm.prank(alice);
        bonding.bond(0, orch2);
        assertEq(bonding.orchestratorInfo(orch).stake, 1000 ether);
        assertEq(bonding.orchestratorInfo(orch2).stake, 1100 ether);
        (address delegate, uint256 stake,,,) = bonding.delegatorInfo(alice);
        assertEq(delegate, orch2);
        assertEq(stake, 100 ether);
    }

    function test_bond_orchestratorCannotDelegate() public {
        _activate(orch, 1000 ether, 0, 0);
        _registerOnly(orch2, 1000 ether, 0, 0);
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.OrchestratorCannotDelegate.selector, orch));
        bonding.bond(0, orch2);
    }

    function test_unbond_and_withdrawStake() public {
        _bond(alice, 100 ether, orch);
        vm.prank(alice);
        vm.expectRevert(BondingManager.ZeroAmount.selector);
        bonding.unbond(0);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(BondingManager.InsufficientBond.selector, 101 ether, 100 ether)
        );
        bonding.unbond(101 ether);
        vm.prank(alice);
        vm.expectRevert(BondingManager.NothingToWithdraw.selector);
        bonding.withdrawStake();

        uint256 unlockRound = _round() + UNBONDING_PERIOD;
        vm.expectEmit(address(bonding));
        emit BondingManager.Unbonded(alice, orch, 40 ether, unlockRound);
        vm.prank(alice);
        bonding.unbond(40 ether);
        (, uint256 stake,, uint256 unbonding, uint256 withdrawRound) = bonding.delegatorInfo(alice);
        assertEq(stake, 60 ether);
        assertEq(unbonding, 40 ether);
        assertEq(withdrawRound, unlockRound);

        _advanceRounds(UNBONDING_PERIOD - 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.UnbondingLocked.selector, unlockRound));
        bonding.withdrawStake();
        _nextRound();
        vm.expectEmit(address(bonding));
        emit BondingManager.StakeWithdrawn(alice, 40 ether);
        vm.prank(alice);
        bonding.withdrawStake();
        assertEq(token.balanceOf(alice), 40 ether);
    }

    function test_unbond_allOwnStake_resigns() public {
        _activate(orch, 1000 ether, 0, 0);
        vm.expectEmit(address(bonding));
        emit BondingManager.OrchestratorResigned(orch);
        vm.prank(orch);
        bonding.unbond(1000 ether);
        assertFalse(bonding.orchestratorInfo(orch).registered);
        assertTrue(bonding.isActive(orch), "still active for the rest of this round");
        _nextRound();
        assertFalse(bonding.isActive(orch));
        assertEq(bonding.activePoolSize(), 0);
    }

    function test_minimumStake_and_noCap() public {
        _registerOnly(orch, MIN_ACTIVE_STAKE - 1, 0, 0);
        for (uint256 i = 1; i <= 40; ++i) {
            _registerOnly(address(uint160(0x1000 + i)), MIN_ACTIVE_STAKE, 0, 0);
        }
        _nextRound();
        assertFalse(bonding.isActive(orch), "below the minimum");
        assertEq(bonding.activePoolSize(), 40, "no cap on the active set");
        _bond(alice, 1, orch);
        assertFalse(bonding.isActive(orch), "activity changes at the next round");
        _nextRound();
        assertTrue(bonding.isActive(orch));
        assertEq(bonding.activePoolSize(), 41);
    }

    /// #656: the pool size and the active flag come from one round-start snapshot, whatever happens in
    /// the round.
    function test_poolSnapshot_consistentWithinRound() public {
        _activate(orch, 1000 ether, 0, 0);
        _registerOnly(orch2, 1000 ether, 0, 0);
        (bool active, uint256 size) = bonding.poolInfo(orch);
        assertTrue(active);
        assertEq(size, 1);
        (active, size) = bonding.poolInfo(orch2);
        assertFalse(active);
        assertEq(size, 1);
        vm.prank(orch);
        bonding.resign();
        (active, size) = bonding.poolInfo(orch);
        assertTrue(active);
        assertEq(size, 1);
        _nextRound();
        (active, size) = bonding.poolInfo(orch);
        assertFalse(active);
        assertEq(size, 1);
        (active,) = bonding.poolInfo(orch2);
        assertTrue(active);
    }

    // ------------------------------------------------------------ orchestrator parameters

    function test_register_errors() public {
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.NotSelfBonded.selector, orch));
        bonding.registerOrchestrator(0, 0);
        _bond(orch, 1 ether, orch2);
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.NotSelfBonded.selector, orch));
        bonding.registerOrchestrator(0, 0);
        _registerOnly(orch2, 1 ether, 0, 0);
        vm.prank(orch2);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.AlreadyRegistered.selector, orch2));
        bonding.registerOrchestrator(0, 0);
        _bond(alice, 1 ether, alice);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.InvalidPPM.selector, 1_000_001));
        bonding.registerOrchestrator(1_000_001, 0);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.InvalidPPM.selector, 1_000_001));
        bonding.registerOrchestrator(0, 1_000_001);
    }

    function test_setOrchestratorParams_effectiveNextRound_andCommittedForCreationRound() public {
        _activate(orch, 1000 ether, 100_000, 800_000);
        uint256 r0 = _round();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.NotRegistered.selector, alice));
        bonding.setOrchestratorParams(0, 0);

        vm.expectEmit(address(bonding));
        emit BondingManager.OrchestratorParamsSet(orch, 900_000, 0, r0 + 1);
        vm.prank(orch);
        bonding.setOrchestratorParams(900_000, 0);
        assertEq(bonding.orchestratorInfo(orch).feeShare, 800_000, "unchanged this round");
        assertEq(bonding.feeShareForRound(orch, r0), 800_000);
        assertEq(bonding.feeShareForRound(orch, r0 + 1), 0);

        // Bonded before the next round starts, so alice shares that round's fees.
        _bond(alice, 1000 ether, orch);
        _nextRound();
        assertEq(bonding.orchestratorInfo(orch).feeShare, 0);
        assertEq(bonding.orchestratorInfo(orch).rewardCut, 900_000);
        // Tickets created in r0 still pay delegators 80%: the orchestrator cannot squeeze them.
        _credit(orch, 1 ether, r0);
        assertApproxEqAbs(bonding.pendingFees(alice), 0.4 ether, 1e6, "alice: half the stake of 80%");
        _credit(orch, 1 ether, r0 + 1);
        assertApproxEqAbs(bonding.pendingFees(alice), 0.4 ether, 1e6, "new tickets: no delegator share");

        // Another change is refused while tickets of r0 may still be redeemed.
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.ParamsChangeTooSoon.selector, r0 + VALIDITY));
        bonding.setOrchestratorParams(0, 1);
        _nextRound();
        vm.prank(orch);
        bonding.setOrchestratorParams(0, 1);
        assertEq(bonding.feeShareForRound(orch, r0 + 2), 0);
        assertEq(bonding.feeShareForRound(orch, r0 + 3), 1);
        // Unchanged values are a no-op, not a too-soon change.
        vm.prank(orch);
        bonding.setOrchestratorParams(0, 1);
    }

    function test_orchestratorState() public {
        _activate(orch, 1000 ether, 100_000, 200_000);
        vm.prank(orch);
        bonding.reward();
        _advanceRounds(VALIDITY - 1);
        vm.prank(orch);
        bonding.setOrchestratorParams(300_000, 400_000);
        (
            bool registered,
            uint256 stake,
            uint256 activeStake,
            uint256 rewardCut,
            uint256 feeShare,
            uint256 prevRewardCut,
            uint256 prevFeeShare,
            uint256 paramsRound,
            uint256 lastRewardRound,
            uint256 rewardFactor,
            uint256 feeFactor
        ) = bonding.orchestratorState(orch);
        assertTrue(registered);
        assertEq(stake, 1001 ether);
        assertEq(activeStake, 1001 ether);
        assertEq(rewardCut, 300_000);
        assertEq(feeShare, 400_000);
        assertEq(prevRewardCut, 100_000);
        assertEq(prevFeeShare, 200_000);
        assertEq(paramsRound, _round() + 1);
        assertEq(lastRewardRound, _round() - (VALIDITY - 1));
        assertEq(rewardFactor, (bonding.FACTOR_ONE() * 1000.9 ether) / 1000 ether);
        assertEq(feeFactor, 0);
    }

    function test_resign() public {
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.NotRegistered.selector, orch));
        bonding.resign();
        _activate(orch, 1000 ether, 0, 0);
        vm.expectEmit(address(bonding));
        emit BondingManager.OrchestratorResigned(orch);
        vm.prank(orch);
        bonding.resign();
        (uint256 count,) = bonding.nextRoundPool();
        assertEq(count, 0);
        // It may register again with the same parameters at once.
        vm.prank(orch);
        bonding.registerOrchestrator(0, 0);
    }

    // ------------------------------------------------------------ rewards

    function test_reward_errors() public {
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.NotRegistered.selector, orch));
        bonding.reward();
        _registerOnly(orch, 1000 ether, 0, 0);
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.NotActive.selector, orch));
        bonding.reward();
        vm.roll(block.number + ROUND_LENGTH);
        uint256 r = _round();
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.RoundNotInitialized.selector, r));
        bonding.reward();
        rounds.initializeRound();
        vm.prank(orch);
        bonding.reward();
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.RewardAlreadyClaimed.selector, r));
        bonding.reward();
    }

    function test_reward_splitsByStakeAndCut() public {
        _registerOnly(orch, 3000 ether, 100_000, 0); // 10% cut
        _registerOnly(orch2, 1000 ether, 0, 0);
        _bond(alice, 1000 ether, orch);
        _nextRound();
        uint256 supply = token.totalSupply();
        uint256 r1 = (4000 ether * INFLATION_PPB) / 1e9; // inflation of the active stake
        uint256 r2 = (1000 ether * INFLATION_PPB) / 1e9;
        uint256 cut = r1 / 10;

        vm.expectEmit(address(bonding));
        emit BondingManager.Reward(orch, _round(), r1, cut);
        vm.prank(orch);
        bonding.reward();
        vm.prank(orch2);
        bonding.reward();
        assertEq(token.totalSupply() - supply, r1 + r2, "minted");
        // orch: cut + 3/4 of the rest; alice: 1/4 of the rest.
        assertApproxEqAbs(bonding.pendingStake(orch), 3000 ether + cut + ((r1 - cut) * 3) / 4, 10, "orch");
        assertApproxEqAbs(bonding.pendingStake(alice), 1000 ether + (r1 - cut) / 4, 10, "alice");
        assertApproxEqAbs(bonding.pendingStake(orch2), 1000 ether + r2, 10, "orch2");
        assertEq(bonding.orchestratorInfo(orch).lastRewardRound, _round());
        // Settling compounds the reward into the bond without changing the orchestrator's stake.
        uint256 stakeBefore = bonding.orchestratorInfo(orch).stake;
        vm.prank(alice);
        bonding.claimEarnings();
        (, uint256 aliceStake,,,) = bonding.delegatorInfo(alice);
        assertApproxEqAbs(aliceStake, 1000 ether + (r1 - cut) / 4, 10, "alice settled");
        assertEq(bonding.orchestratorInfo(orch).stake, stakeBefore);
    }

    // ------------------------------------------------------------ fees

    function test_creditFees_splitByFeeShareAndStake() public {
        _activate(orch, 1000 ether, 0, 600_000); // 60% to delegators
        _bond(alice, 3000 ether, orch);
        _nextRound(); // stake bonded in a round shares fees from the next one
        uint256 r = _round();
        vm.expectEmit(address(bonding));
        emit BondingManager.FeesCredited(orch, r, 1 ether, 0.6 ether);
        _credit(orch, 1 ether, r);
        // orch: 40% cut + 1/4 of 60%; alice: 3/4 of 60%.
        assertApproxEqAbs(bonding.pendingFees(orch), 0.55 ether, 1e6, "orch");
        assertApproxEqAbs(bonding.pendingFees(alice), 0.45 ether, 1e6, "alice");
        assertEq(_feesHeld(), 1 ether);
    }

    function test_creditFees_toUnregisteredRecipient_reverts() public {
        vm.deal(address(broker), 2 ether);
        uint256 round = _round();
        vm.prank(address(broker));
        vm.expectRevert(abi.encodeWithSelector(BondingManager.NotRegistered.selector, bob));
        bonding.creditFees(bob, round, 1 ether);
        // Registered once but resigned: refused as well.
        _registerOnly(orch, 1000 ether, 0, 0);
        vm.prank(orch);
        bonding.resign();
        vm.prank(address(broker));
        vm.expectRevert(abi.encodeWithSelector(BondingManager.NotRegistered.selector, orch));
        bonding.creditFees(orch, round, 1 ether);
        assertEq(bonding.pendingFees(orch), 0);
        assertEq(address(bonding).balance, 0);
    }

    function test_withdrawFees() public {
        _activate(orch, 1000 ether, 0, 0);
        _credit(orch, 1 ether, _round());
        vm.prank(orch);
        vm.expectRevert(BondingManager.ZeroAddress.selector);
        bonding.withdrawFees(payable(address(0)), 1);
        vm.prank(orch);
        vm.expectRevert(BondingManager.ZeroAmount.selector);
        bonding.withdrawFees(payable(orch), 0);
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.InsufficientFees.selector, 2 ether, 1 ether));
        bonding.withdrawFees(payable(orch), 2 ether);
        vm.expectEmit(address(bonding));
        emit BondingManager.FeesWithdrawn(orch, bob, 0.25 ether);
        vm.prank(orch);
        bonding.withdrawFees(payable(bob), 0.25 ether);
        assertEq(bob.balance, 0.25 ether);
        assertEq(bonding.pendingFees(orch), 0.75 ether);
    }

    function test_withdrawFees_rejectingRecipientReverts() public {
        _activate(orch, 1000 ether, 0, 0);
        _credit(orch, 1 ether, _round());
        vm.prank(orch);
        vm.expectRevert(BondingManager.TransferFailed.selector);
        bonding.withdrawFees(payable(address(token)), 1 ether);
        assertEq(bonding.pendingFees(orch), 1 ether);
    }

    function test_claimEarnings_emitsOnChange() public {
        _activate(orch, 1000 ether, 0, 1_000_000);
        _bond(alice, 1000 ether, orch);
        _nextRound();
        _credit(orch, 1 ether, _round());
        vm.expectEmit(address(bonding));
        emit BondingManager.EarningsClaimed(alice, orch, 0, 0.5 ether);
        vm.prank(alice);
        bonding.claimEarnings();
        (,, uint256 fees,,) = bonding.delegatorInfo(alice);
        assertEq(fees, 0.5 ether);
    }

    function test_feesFollowStakeChanges() public {
        _activate(orch, 1000 ether, 0, 1_000_000);
        _bond(alice, 1000 ether, orch);
        _nextRound();
        _credit(orch, 1 ether, _round()); // alice 1/2
        vm.prank(alice);
        bonding.unbond(1000 ether);
        _credit(orch, 1 ether, _round()); // alice nothing: unbonded stake stops earning at once
        _bond(bob, 3000 ether, orch);
        _credit(orch, 1 ether, _round()); // bob nothing: bonded during the round
        _nextRound();
        _credit(orch, 1 ether, _round()); // bob 3/4
        assertApproxEqAbs(bonding.pendingFees(alice), 0.5 ether, 1e6, "alice");
        assertApproxEqAbs(bonding.pendingFees(bob), 0.75 ether, 1e6, "bob");
        assertApproxEqAbs(bonding.pendingFees(orch), 2.75 ether, 1e6, "orch");
    }

    // ------------------------------------------------------------ slashing

    function test_slash_ownStakeAndUnbonding() public {
        _activate(orch, 1000 ether, 0, 0);
        _bond(alice, 500 ether, orch);
        vm.prank(orch);
        bonding.unbond(200 ether); // 800 bonded, 200 unbonding
        uint256 supply = token.totalSupply();
        vm.expectEmit(address(bonding));
        emit BondingManager.Slashed(orch, bob, 500 ether, 50 ether);
        vm.prank(address(fault));
        bonding.slash(orch, 500_000, bob, 100_000);
        (, uint256 stake,, uint256 unbonding,) = bonding.delegatorInfo(orch);
        assertEq(stake, 400 ether);
        assertEq(unbonding, 100 ether);
        assertEq(token.balanceOf(bob), 50 ether, "finder fee");
        assertEq(supply - token.totalSupply(), 450 ether, "rest burnt");
        assertEq(bonding.pendingStake(alice), 500 ether, "delegators untouched");
        assertEq(bonding.orchestratorInfo(orch).stake, 900 ether);
        assertFalse(bonding.orchestratorInfo(orch).registered, "a proven fault ends the registration");
    }

    function test_slash_invalidFractions() public {
        vm.startPrank(address(fault));
        vm.expectRevert(abi.encodeWithSelector(BondingManager.InvalidPPM.selector, 1_000_001));
        bonding.slash(orch, 1_000_001, bob, 0);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.InvalidPPM.selector, 1_000_001));
        bonding.slash(orch, 0, bob, 1_000_001);
        vm.stopPrank();
    }

    function test_slash_noFinder_burnsAll() public {
        _activate(orch, 1000 ether, 0, 0);
        uint256 supply = token.totalSupply();
        vm.prank(address(fault));
        bonding.slash(orch, 1_000_000, address(0), 1_000_000);
        assertEq(supply - token.totalSupply(), 1000 ether);
        assertEq(bonding.pendingStake(orch), 0);
    }

    // ------------------------------------------------------------ fuzz

    /// Fees and rewards are shared pro rata to stake, and the contract never owes more than it holds.
    function testFuzz_accountingConservation(
        uint96 a,
        uint96 b,
        uint96 c,
        uint64 fee1,
        uint64 fee2,
        uint16 cut
    ) public {
        uint256 sa = bound(a, 100 ether, 1_000_000 ether);
        uint256 sb = bound(b, 1, 1_000_000 ether);
        uint256 sc = bound(c, 1, 1_000_000 ether);
        uint256 rewardCut = bound(cut, 0, 1_000_000);
        _registerOnly(orch, sa, rewardCut, 700_000);
        _bond(alice, sb, orch);
        _nextRound();
        vm.prank(orch);
        bonding.reward();
        _credit(orch, uint256(fee1) + 1, _round());
        _bond(bob, sc, orch);
        _nextRound();
        vm.prank(orch);
        bonding.reward();
        _credit(orch, uint256(fee2) + 1, _round());
        vm.prank(alice);
        bonding.unbond(sb / 2 + 1 > sb ? sb : sb / 2 + 1);

        uint256 stakes = bonding.pendingStake(orch) + bonding.pendingStake(alice) + bonding.pendingStake(bob);
        assertLe(stakes, bonding.orchestratorInfo(orch).stake, "stake over-counted");
        assertApproxEqAbs(stakes, bonding.orchestratorInfo(orch).stake, 10, "stake dust");
        uint256 fees = bonding.pendingFees(orch) + bonding.pendingFees(alice) + bonding.pendingFees(bob);
        assertLe(fees, _feesHeld(), "fees over-counted");
        assertApproxEqAbs(fees, _feesHeld(), 1e12, "fee dust");
        (,,, uint256 unbonding,) = bonding.delegatorInfo(alice);
        assertLe(stakes + unbonding, token.balanceOf(address(bonding)), "tokens over-counted");
    }
}
