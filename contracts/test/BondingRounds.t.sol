// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./base/Fixture.sol";
import {BondingManager} from "../src/BondingManager.sol";
import {TicketBroker} from "../src/TicketBroker.sol";

/// @notice Earnings of a round are shared over the stake bonded at the round's start: stake added during a
/// round earns from the next one, stake removed stops earning at once.
contract BondingRoundsTest is Fixture {
    address internal alice = address(0xA11CE);
    address internal bob = address(0xB0B0);
    address internal carol = address(0xCA501);

    function _credit(address o, uint256 amount) internal {
        uint256 round = _round();
        vm.deal(address(broker), address(broker).balance + amount);
        vm.prank(address(broker));
        bonding.creditFees(o, round, amount);
    }

    function _unbond(address d, uint256 amount) internal {
        vm.prank(d);
        bonding.unbond(amount);
    }

    function _reward(address o) internal {
        vm.prank(o);
        bonding.reward();
    }

    // ------------------------------------------------------------ the last-moment bond

    /// A delegator bonds 9,000 tokens just before a 1 ETH winning ticket is redeemed, unbonds and tries to
    /// withdraw fees in the same round: it earns nothing, the orchestrator's round-start stake takes all.
    function test_lastMomentBond_beforeRedemption_earnsNoFees() public {
        _activate(orch, 1000 ether, 0, 500_000);
        _fund(sender, 2 ether, 0);
        _bond(alice, 9000 ether, orch);
        assertEq(bonding.earningStake(orch), 1000 ether, "alice's bond counts from the next round");
        TicketBroker.Ticket memory t = _ticket(orch, sender, 1 ether, 1, 0xbeef);
        _redeem(t, _sign(SENDER_KEY, t), 0xbeef);
        _unbond(alice, 9000 ether);
        assertEq(bonding.pendingFees(alice), 0);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.InsufficientFees.selector, 1, 0));
        bonding.withdrawFees(payable(alice), 1);
        assertEq(bonding.pendingFees(orch), 1 ether, "cut and the whole delegator share");

        _advanceRounds(UNBONDING_PERIOD);
        vm.prank(alice);
        bonding.withdrawStake();
        assertEq(token.balanceOf(alice), 9000 ether, "stake back, nothing more");
        assertEq(bonding.pendingFees(alice), 0);
        vm.prank(orch);
        bonding.withdrawFees(payable(orch), 1 ether);
        assertEq(orch.balance, 1 ether);
        assertEq(_feesHeld(), 0, "every wei paid out");
    }

    /// The same for rewards: a bond just before `reward()` gets no part of the round's mint.
    function test_lastMomentBond_beforeReward_earnsNoRewards() public {
        _activate(orch, 1000 ether, 0, 500_000);
        _bond(alice, 9000 ether, orch);
        _reward(orch); // 0.1% of the 1,000 tokens active at the round's start
        assertEq(bonding.pendingStake(alice), 9000 ether, "alice: nothing");
        assertEq(bonding.pendingStake(orch), 1001 ether, "orchestrator: the whole reward");
        _unbond(alice, 9000 ether);
        _nextRound();
        assertEq(bonding.pendingStake(alice), 0);
        (,,, uint256 unbonding,) = bonding.delegatorInfo(alice);
        assertEq(unbonding, 9000 ether);
        assertEq(bonding.pendingStake(orch), 1001 ether);
    }

    /// Bonded before the round starts: the delegator earns its full share of fees and rewards.
    function test_bondedBeforeRoundStart_earnsFullShare() public {
        _activate(orch, 1000 ether, 0, 1_000_000);
        _bond(alice, 9000 ether, orch);
        _nextRound();
        _credit(orch, 1 ether);
        assertApproxEqAbs(bonding.pendingFees(alice), 0.9 ether, 1e6, "");
        assertApproxEqAbs(bonding.pendingFees(orch), 0.1 ether, 1e6, "");
        _reward(orch); // 10 tokens on 10,000
        assertApproxEqAbs(bonding.pendingStake(alice), 9009 ether, 1e6, "");
        assertApproxEqAbs(bonding.pendingStake(orch), 1001 ether, 1e6, "");
    }

    // ------------------------------------------------------------ removals

    /// An unbond in round r keeps what round r paid before it; from the unbond on, the stake that left stops
    /// earning and the rest of the round goes to the stake still bonded.
    function test_unbondInRound_keepsEarnedShare() public {
        _activate(orch, 1000 ether, 0, 1_000_000);
        _bond(alice, 9000 ether, orch);
        _nextRound();
        _credit(orch, 1 ether); // alice 9/10
        _unbond(alice, 4000 ether);
        assertEq(bonding.earningStake(orch), 6000 ether);
        _credit(orch, 1.2 ether); // alice 5/6
        _unbond(alice, 5000 ether);
        _credit(orch, 1 ether); // orch alone
        assertApproxEqAbs(bonding.pendingFees(alice), 0.9 ether + 1 ether, 1e6, "alice");
        assertApproxEqAbs(bonding.pendingFees(orch), 0.1 ether + 0.2 ether + 1 ether, 1e6, "orch");
        _nextRound();
        assertApproxEqAbs(bonding.pendingFees(alice), 1.9 ether, 1e6, "kept after the round");
        uint256 owed = bonding.pendingFees(alice);
        vm.prank(alice);
        bonding.withdrawFees(payable(alice), owed);
        assertApproxEqAbs(alice.balance, 1.9 ether, 1e6, "");
    }

    /// Stake added this round is removed first: unbonding it leaves the counted stake whole.
    function test_unbondOfStakeAddedThisRound_keepsCountedStake() public {
        _activate(orch, 1000 ether, 0, 1_000_000);
        _bond(alice, 1000 ether, orch);
        _nextRound();
        _bond(alice, 3000 ether, orch);
        _unbond(alice, 2000 ether);
        assertEq(bonding.earningStake(orch), 2000 ether);
        _credit(orch, 1 ether);
        assertApproxEqAbs(bonding.pendingFees(alice), 0.5 ether, 1e6, "");
        _unbond(alice, 1500 ether); // 1,000 added this round, then 500 counted
        assertEq(bonding.earningStake(orch), 1500 ether);
        _credit(orch, 1.5 ether);
        assertApproxEqAbs(bonding.pendingFees(alice), 0.5 ether + 0.5 ether, 1e6, "");
        _nextRound();
        _credit(orch, 1.5 ether); // alice 500 of 1,500
        assertApproxEqAbs(bonding.pendingFees(alice), 1.5 ether, 1e6, "");
    }

    /// A move to another orchestrator is a removal from the first (at once) and an addition to the second
    /// (from the next round).
    function test_move_earnsFromNextRoundAtTarget() public {
        _activate(orch, 1000 ether, 0, 1_000_000);
        _activate(orch2, 1000 ether, 0, 1_000_000);
        _bond(alice, 1000 ether, orch);
        _nextRound();
        _credit(orch, 1 ether); // alice 1/2
        vm.prank(alice);
        bonding.bond(0, orch2);
        _credit(orch, 1 ether); // orch alone
        _credit(orch2, 1 ether); // orch2 alone
        assertApproxEqAbs(bonding.pendingFees(alice), 0.5 ether, 1e6, "");
        _nextRound();
        _credit(orch2, 1 ether); // alice 1/2
        assertApproxEqAbs(bonding.pendingFees(alice), 1 ether, 1e6, "");
        assertApproxEqAbs(bonding.pendingFees(orch), 1.5 ether, 1e6, "");
        assertApproxEqAbs(bonding.pendingFees(orch2), 1.5 ether, 1e6, "");
    }

    // ------------------------------------------------------------ end-of-round factors

    /// Earnings after an addition, in the round of the addition and later, whether the round's end factors
    /// were written (fees after the addition), not needed (no change after it) or still current (no change
    /// of the orchestrator since).
    function test_addedStake_settlesPiecewise() public {
        _activate(orch, 1000 ether, 0, 1_000_000);
        _bond(alice, 1000 ether, orch);
        _bond(bob, 1000 ether, orch);
        _nextRound();
        _credit(orch, 3 ether); // 1 each
        _bond(alice, 2000 ether, orch); // counted from the next round
        _credit(orch, 3 ether); // 1 each again
        _reward(orch); // 3 tokens on 3,000 counted: 1 each
        assertApproxEqAbs(bonding.pendingFees(alice), 2 ether, 1e6, "alice, round of the addition");
        assertApproxEqAbs(bonding.pendingStake(alice), 3001 ether, 1e6, "");
        _nextRound();
        assertApproxEqAbs(bonding.pendingStake(alice), 3001 ether, 1e6, "orchestrator untouched since");
        _credit(orch, 5.003 ether); // writes the last round's end factors; alice 3,001 of 5,003
        assertApproxEqAbs(bonding.pendingFees(alice), 2 ether + 3.001 ether, 1e9, "alice, next round");
        assertApproxEqAbs(bonding.pendingFees(bob), 2 ether + 1.001 ether, 1e9, "bob");
        assertApproxEqAbs(bonding.pendingFees(orch), 2 ether + 1.001 ether, 1e9, "orch");

        // An addition with no factor change after it in its round: nothing to write, the snapshot serves.
        _bond(carol, 1000 ether, orch);
        _nextRound();
        _nextRound();
        _credit(orch, 6.003 ether);
        assertApproxEqAbs(bonding.pendingFees(carol), 1 ether, 1e9, "carol: 1,000 of 6,003");
        vm.prank(carol);
        bonding.claimEarnings();
        assertApproxEqAbs(bonding.pendingFees(carol), 1 ether, 1e9, "");
        assertEq(bonding.pendingStake(carol), 1000 ether);
    }

    /// The orchestrator's reward cut is new stake: it earns from the next round.
    function test_rewardCut_earnsFromNextRound() public {
        _activate(orch, 1000 ether, 500_000, 1_000_000);
        _bond(alice, 1000 ether, orch);
        _nextRound();
        _reward(orch); // 2 tokens: 1 cut, 1 shared by the 2,000 counted
        assertApproxEqAbs(bonding.pendingStake(orch), 1001.5 ether, 1e6, "");
        assertApproxEqAbs(bonding.pendingStake(alice), 1000.5 ether, 1e6, "");
        assertApproxEqAbs(bonding.earningStake(orch), 2001 ether, 1e6, "");
        _credit(orch, 2.001 ether);
        assertApproxEqAbs(bonding.pendingFees(alice), 1.0005 ether, 1e6, "the cut does not share this round");
        _nextRound();
        assertEq(bonding.earningStake(orch), bonding.orchestratorInfo(orch).stake);
    }

    /// A slash removes the orchestrator's own stake at once: its counted stake shrinks with it.
    function test_slash_removesCountedStakeAtOnce() public {
        _activate(orch, 1000 ether, 0, 1_000_000);
        _bond(alice, 1000 ether, orch);
        _nextRound();
        _bond(orch, 500 ether, orch); // added this round: removed first
        vm.prank(address(fault));
        bonding.slash(orch, 500_000, address(0), 0); // 750 of the orchestrator's 1,500
        assertEq(bonding.earningStake(orch), 1750 ether, "500 added, then 250 counted");
        vm.prank(orch);
        bonding.registerOrchestrator(0, 1_000_000); // a proven fault ended the registration
        _credit(orch, 1.75 ether);
        assertApproxEqAbs(bonding.pendingFees(alice), 1 ether, 1e6, "alice 1,000 of 1,750");
        assertApproxEqAbs(bonding.pendingFees(orch), 0.75 ether, 1e6, "orch 750 of 1,750");
    }

    /// The orchestrator's cut is kept in an 80-bit field; beyond it the cut moves to its delegator record,
    /// and nothing is lost either way.
    function test_ownerFees_beyondPackedField_moveToRecord() public {
        _activate(orch, 1000 ether, 0, 0);
        uint256 big = uint256(type(uint80).max) - 1 ether;
        _credit(orch, big);
        _credit(orch, 2 ether); // crosses 2^80
        _credit(orch, 3 ether);
        assertEq(bonding.pendingFees(orch), big + 5 ether);
        vm.prank(orch);
        bonding.withdrawFees(payable(orch), big + 5 ether);
        assertEq(orch.balance, big + 5 ether);
        assertEq(bonding.pendingFees(orch), 0);
        assertEq(_feesHeld(), 0);
    }

    /// The new view refuses malformed calldata and changes nothing.
    function test_earningStake_malformedCalldata_reverts() public {
        _activate(orch, 1000 ether, 0, 0);
        (bool ok,) = address(bonding).call(abi.encodePacked(BondingManager.earningStake.selector, bytes31(0)));
        assertFalse(ok, "short argument");
        (ok,) =
            address(bonding).call(abi.encodePacked(BondingManager.earningStake.selector, uint256(1) << 160));
        assertFalse(ok, "address with dirty high bits");
        assertEq(bonding.earningStake(orch), 1000 ether);
    }

    // ------------------------------------------------------------ conservation, fuzzed

    address[3] internal _ds;
    mapping(address => uint256) internal _stake; // model: bonded stake
    mapping(address => uint256) internal _counted; // model: stake counted this round
    mapping(address => address) internal _to; // model: delegate
    mapping(address => uint256) internal _expected; // model: fees earned
    mapping(address => uint256) internal _withdrawn;

    /// Random bonds, moves, unbonds, fee credits, withdrawals and round changes over two orchestrators and
    /// three delegators, checked against a model in which a fee is shared by the stake counted in the round
    /// (bonded at its start and still bonded). Every party's paid plus pending fees equal the model up to
    /// rounding dust; the contract never owes more than it holds, and the dust it keeps is bounded.
    function testFuzz_feesConserved_andSharedByRoundStartStake(uint256 seed) public {
        _activate(orch, 1000 ether, 0, 600_000);
        _activate(orch2, 1000 ether, 0, 1_000_000);
        _ds = [alice, bob, carol];
        _counted[orch] = 1000 ether;
        _counted[orch2] = 1000 ether;
        uint256 credited;
        uint256 credits;
        for (uint256 step; step < 40; ++step) {
            seed = uint256(keccak256(abi.encode(seed, step)));
            address d = _ds[seed % 3];
            address o = (seed >> 8) % 2 == 0 ? orch : orch2;
            uint256 op = (seed >> 16) % 6;
            uint256 x = (seed >> 32) % 5000 + 1;
            if (op == 0) {
                _fuzzBond(d, o, x * 1 ether);
            } else if (op == 1) {
                if (_stake[d] == 0) continue;
                uint256 amount = (_stake[d] * x) / 5000;
                if (amount == 0) continue;
                _unbond(d, amount);
                _stake[d] -= amount;
                if (_counted[d] > _stake[d]) _counted[d] = _stake[d];
            } else if (op == 2 || op == 3) {
                uint256 fee = x * 1e15 + (seed >> 64) % 1e9;
                _fuzzCredit(o, fee);
                credited += fee;
                ++credits;
            } else if (op == 4) {
                uint256 pending = bonding.pendingFees(d);
                if (pending == 0) continue;
                vm.prank(d);
                bonding.withdrawFees(payable(d), pending);
                _withdrawn[d] += pending;
            } else {
                _nextRound();
                for (uint256 i; i < 3; ++i) {
                    _counted[_ds[i]] = _stake[_ds[i]];
                }
            }
        }
        uint256 paid;
        address[5] memory all = [alice, bob, carol, orch, orch2];
        for (uint256 i; i < 5; ++i) {
            uint256 got = bonding.pendingFees(all[i]) + _withdrawn[all[i]];
            // The model floors each fee's share; a settlement floors once over several fees.
            assertLe(got, _expected[all[i]] + credits, "never above its share");
            assertApproxEqAbs(got, _expected[all[i]], 2 * credits + 2, "its share, up to dust");
            paid += got;
        }
        assertLe(paid, credited, "never more than was credited");
        assertLe(credited - paid, 10 * credits, "dust bounded");
        uint256 withdrawn = _withdrawn[alice] + _withdrawn[bob] + _withdrawn[carol];
        assertEq(_feesHeld() + withdrawn, credited, "ETH held or paid");
    }

    function _fuzzBond(address d, address o, uint256 amount) internal {
        address from = _to[d];
        _bond(d, amount, o);
        if (from != o) {
            _counted[d] = 0; // left `from` at once; counts at `o` from the next round
            _to[d] = o;
        }
        _stake[d] += amount;
    }

    function _fuzzCredit(address o, uint256 fee) internal {
        uint256[3] memory before;
        for (uint256 i; i < 3; ++i) {
            before[i] = bonding.pendingFees(_ds[i]);
        }
        uint256 share = (fee * (o == orch ? 600_000 : 1_000_000)) / 1_000_000;
        uint256 total = _counted[o];
        for (uint256 i; i < 3; ++i) {
            if (_to[_ds[i]] == o) total += _counted[_ds[i]];
        }
        assertEq(bonding.earningStake(o), total, "counted stake as in the model");
        _credit(o, fee);
        for (uint256 i; i < 3; ++i) {
            address d = _ds[i];
            uint256 gained = bonding.pendingFees(d) - before[i];
            if (_to[d] == o && _counted[d] != 0) {
                uint256 e = (share * _counted[d]) / total;
                _expected[d] += e;
                assertLe(gained, e + 1, "at most its counted share, up to a wei of rounding");
            } else {
                // Not bonded to `o` since the round's start: nothing from this fee.
                assertEq(gained, 0, "no share without round-start stake");
            }
        }
        _expected[o] += fee - share + (share * _counted[o]) / total;
    }
}
