// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./base/Fixture.sol";
import {TicketBroker} from "../src/TicketBroker.sol";
import {ReserveAllocation} from "../src/ReserveAllocation.sol";
import {BondingManager} from "../src/BondingManager.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @dev A fee recipient whose receive hook tries to re-enter the broker while fees are paid out to it.
contract ReenteringFeeRecipient {
    TicketBroker internal immutable broker;
    TicketBroker.Ticket internal pending;
    bytes internal pendingSig;
    uint256 internal pendingRand;
    bytes public redeemError;
    bytes public payError;
    bytes public withdrawError;
    uint256 public received;

    constructor(TicketBroker broker_) {
        broker = broker_;
    }

    function arm(TicketBroker.Ticket calldata t, bytes calldata sig, uint256 rand) external {
        pending = t;
        pendingSig = sig;
        pendingRand = rand;
    }

    receive() external payable {
        received += msg.value;
        try broker.redeemWinningTicket(pending, pendingSig, pendingRand) {}
        catch (bytes memory err) {
            redeemError = err;
        }
        try broker.payFees(payable(address(this)), msg.value) {}
        catch (bytes memory err) {
            payError = err;
        }
        try broker.withdraw() {}
        catch (bytes memory err) {
            withdrawError = err;
        }
    }
}

/// @notice The reserve allocation: recipients named by the sender, the change delays that protect tickets
/// already issued, the stake-weighted fallback, and the attacks on both.
contract ReserveRecipientsTest is Fixture {
    uint256 internal constant FACE = 0.01 ether;
    uint256 internal constant RAND = 0xabc;

    function setUp() public override {
        super.setUp();
        _registerOnly(orch, 1000 ether, 100_000, 500_000);
        _registerOnly(orch2, 1000 ether, 0, 0);
        _nextRound();
    }

    function _name(address s, address r) internal {
        address[] memory list = new address[](1);
        list[0] = r;
        vm.prank(s);
        broker.addReserveRecipients(list);
    }

    function _unname(address s, address r) internal {
        address[] memory list = new address[](1);
        list[0] = r;
        vm.prank(s);
        broker.removeReserveRecipients(list);
    }

    function _pay(address recipient, uint256 face, uint256 nonce) internal {
        TicketBroker.Ticket memory t = _ticket(recipient, sender, face, nonce, RAND);
        _redeem(t, _sign(SENDER_KEY, t), RAND);
    }

    /// @dev Registers `n` orchestrators at the minimum active stake each; active from the next round.
    function _sybils(uint256 n, uint256 stakeEach) internal returns (address[] memory list) {
        list = new address[](n);
        for (uint256 i; i < n; ++i) {
            list[i] = address(uint160(0x5B000 + i));
            _registerOnly(list[i], stakeEach, 0, 0);
        }
    }

    // ------------------------------------------------------------ Sybil dilution

    /// Fifty orchestrators at the minimum stake join the active set: the named recipients' shares, and what
    /// they can redeem from the reserve, do not move; the newcomers get nothing from this reserve.
    function test_attack_sybilOrchestrators_doNotDiluteNamedRecipients() public {
        _name(sender, orch);
        _name(sender, orch2);
        _advanceRounds(VALIDITY);
        _fund(sender, 0, 1 ether);
        assertEq(broker.claimableReserve(sender, orch), 0.5 ether);
        assertEq(broker.claimableReserve(sender, orch2), 0.5 ether);

        address[] memory sybils = _sybils(50, MIN_ACTIVE_STAKE);
        _nextRound();
        assertEq(bonding.activePoolSize(), 52, "the Sybils are active");
        assertEq(broker.claimableReserve(sender, orch), 0.5 ether, "orch unchanged");
        assertEq(broker.claimableReserve(sender, orch2), 0.5 ether, "orch2 unchanged");
        assertEq(broker.claimableReserve(sender, sybils[0]), 0);

        // A Sybil's ticket finds no reserve; the honest recipients are paid their whole share.
        TicketBroker.Ticket memory t = _ticket(sybils[7], sender, FACE, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        vm.expectRevert(TicketBroker.InsufficientFunds.selector);
        _redeem(t, sig, RAND);
        _pay(orch, 0.5 ether, 2);
        _pay(orch2, 0.5 ether, 3);
        (, uint256 reserve,) = _funds(sender);
        assertEq(reserve, 0);
        assertEq(bonding.pendingFees(orch2), 0.5 ether);
    }

    /// Without named recipients the split follows round-start active stake: cutting one stake into ten
    /// identities at the minimum stake leaves the honest orchestrator's share, and the attacker's total,
    /// where a single identity with the same stake would put them.
    function test_attack_sybilSplit_fallbackGainsNothing() public {
        _fund(sender, 0, 1 ether);
        uint256 snap = vm.snapshotState();

        // One attacker identity with 1000 tokens (orch2 already has them): orch 1000, orch2 1000.
        uint256 honestOne = broker.claimableReserve(sender, orch);
        uint256 attackerOne = broker.claimableReserve(sender, orch2);
        assertEq(honestOne, 0.5 ether);
        assertEq(attackerOne, 0.5 ether);

        vm.revertToState(snap);
        // orch2 leaves; the same 1000 tokens come back as ten identities of 100.
        vm.prank(orch2);
        bonding.resign();
        address[] memory sybils = _sybils(10, MIN_ACTIVE_STAKE);
        _nextRound();
        assertEq(bonding.activePoolSize(), 11);
        assertEq(broker.claimableReserve(sender, orch), honestOne, "honest share unchanged");
        uint256 attackerTotal;
        for (uint256 i; i < sybils.length; ++i) {
            attackerTotal += broker.claimableReserve(sender, sybils[i]);
        }
        assertEq(attackerTotal, attackerOne, "splitting gains nothing");
    }

    /// The fallback reads round-start stake: bonding more in the middle of a round changes nothing before
    /// the next round.
    function test_fallback_stakeReadAtRoundStart() public {
        _fund(sender, 0, 1 ether);
        _bond(orch2, 2000 ether, orch2);
        assertEq(broker.claimableReserve(sender, orch), 0.5 ether, "round-start stake");
        assertEq(broker.claimableReserve(sender, orch2), 0.5 ether);
        _nextRound();
        assertEq(broker.claimableReserve(sender, orch), 0.25 ether);
        assertEq(broker.claimableReserve(sender, orch2), 0.75 ether);
        // An inactive (registered this round) or unknown recipient has no share.
        _registerOnly(alice(), 500 ether, 0, 0);
        assertEq(broker.claimableReserve(sender, alice()), 0);
        assertEq(broker.claimableReserve(sender, address(0xdead)), 0);
    }

    function alice() internal pure returns (address) {
        return address(0xA11CE);
    }

    // ------------------------------------------------------------ removal cannot dodge a pending winner

    /// The sender signs a ticket backed only by its reserve, then asks to drop the recipient: the cover
    /// lasts until the ticket has expired, so the winner is paid in the ticket's last valid round.
    function test_attack_removeRecipientToDodgeWinner_fails() public {
        _name(sender, orch);
        _advanceRounds(VALIDITY);
        _fund(sender, 0, 1 ether);
        uint256 created = _round();
        TicketBroker.Ticket memory t = _ticket(orch, sender, 0.4 ether, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);

        _unname(sender, orch);
        (uint256 fromRound, uint256 untilRound) = broker.reserveRecipient(sender, orch);
        assertEq(fromRound, created, "covered from the round the ticket was created in");
        assertEq(untilRound, created + VALIDITY, "cover ends once the ticket has expired");
        // The sender cannot remove it again, nor hurry the removal along with another change.
        vm.expectRevert(abi.encodeWithSelector(ReserveAllocation.NotReserveRecipient.selector, orch));
        _unname(sender, orch);

        _advanceRounds(VALIDITY - 1); // the ticket's last valid round
        assertEq(broker.claimableReserve(sender, orch), 1 ether, "still covered");
        _redeem(t, sig, RAND);
        assertApproxEqAbs(bonding.pendingFees(orch), 0.4 ether, 1e6, "paid in full");

        // From untilRound on the recipient is no longer covered, and the sender has no named recipient left,
        // so the stake-weighted split applies.
        _nextRound();
        (uint256 current,,) = broker.reserveRecipientCount(sender);
        assertEq(current, 0);
        assertEq(broker.claimableReserve(sender, orch), 0.3 ether, "fallback: half the stake");
    }

    /// A sender adding recipients cannot dilute tickets already issued: the new count applies only once
    /// they have expired.
    function test_attack_addRecipientsToDiluteIssuedTickets_fails() public {
        _name(sender, orch);
        _advanceRounds(VALIDITY);
        _fund(sender, 0, 1 ether);
        TicketBroker.Ticket memory t = _ticket(orch, sender, 1 ether, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        address[] memory puppets = _sybils(10, MIN_ACTIVE_STAKE);
        vm.prank(sender);
        broker.addReserveRecipients(puppets);
        _advanceRounds(VALIDITY - 1);
        assertEq(broker.claimableReserve(sender, orch), 1 ether, "whole reserve until the ticket expires");
        _redeem(t, sig, RAND);
        _nextRound();
        (uint256 current,,) = broker.reserveRecipientCount(sender);
        assertEq(current, 11);
    }

    // ------------------------------------------------------------ resizing mid-round

    function test_resizeMidRound_sharesFixedForTheRound() public {
        _name(sender, orch);
        _name(sender, orch2);
        _advanceRounds(VALIDITY);
        _fund(sender, 0, 1 ether);
        _pay(orch, 0.2 ether, 1);
        // Remove orch2 and add two others in the middle of the round: nothing changes in this round.
        _unname(sender, orch2);
        address[] memory more = _sybils(2, MIN_ACTIVE_STAKE);
        vm.prank(sender);
        broker.addReserveRecipients(more);
        assertEq(broker.claimableReserve(sender, orch), 0.3 ether, "(0.8 + 0.2) / 2 - 0.2");
        assertEq(broker.claimableReserve(sender, orch2), 0.5 ether);
        assertEq(broker.claimableReserve(sender, more[0]), 0);
        (uint256 current, uint256 next, uint256 nextRound) = broker.reserveRecipientCount(sender);
        assertEq(current, 2);
        assertEq(next, 3);
        assertEq(nextRound, _round() + VALIDITY);
        // A top-up in the middle of the round only raises shares.
        _fund(sender, 0, 1 ether);
        assertEq(broker.claimableReserve(sender, orch), 0.8 ether, "(1.8 + 0.2) / 2 - 0.2");

        _advanceRounds(VALIDITY);
        assertEq(broker.claimableReserve(sender, orch), 0.6 ether, "1.8 / 3");
        assertEq(broker.claimableReserve(sender, orch2), 0);
        assertEq(broker.claimableReserve(sender, more[1]), 0.6 ether);
    }

    function test_changes_oneBatchAtATime() public {
        _name(sender, orch);
        _name(sender, orch2); // same round: merged into the pending change
        uint256 effective = _round() + VALIDITY;
        _nextRound();
        vm.expectRevert(abi.encodeWithSelector(ReserveAllocation.ReserveChangePending.selector, effective));
        _unname(sender, orch);
        _nextRound();
        _unname(sender, orch); // allowed once the pending change is in force
        (uint256 current, uint256 next, uint256 nextRound) = broker.reserveRecipientCount(sender);
        assertEq(current, 2);
        assertEq(next, 1);
        assertEq(nextRound, _round() + VALIDITY);
        // Named again after the removal took effect.
        _advanceRounds(VALIDITY);
        _name(sender, orch);
        (uint256 fromRound, uint256 untilRound) = broker.reserveRecipient(sender, orch);
        assertEq(fromRound, _round() + VALIDITY);
        assertEq(untilRound, 0);
    }

    function test_addRemove_badInput() public {
        address[] memory empty = new address[](0);
        vm.prank(sender);
        vm.expectRevert(ReserveAllocation.EmptyRecipients.selector);
        broker.addReserveRecipients(empty);
        vm.prank(sender);
        vm.expectRevert(ReserveAllocation.EmptyRecipients.selector);
        broker.removeReserveRecipients(empty);
        vm.expectRevert(ReserveAllocation.ZeroRecipient.selector);
        _name(sender, address(0));
        address[] memory twice = new address[](2);
        twice[0] = orch;
        twice[1] = orch;
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(ReserveAllocation.AlreadyReserveRecipient.selector, orch));
        broker.addReserveRecipients(twice);
        vm.expectRevert(abi.encodeWithSelector(ReserveAllocation.NotReserveRecipient.selector, orch));
        _unname(sender, orch);

        uint256 max = broker.MAX_RESERVE_RECIPIENTS();
        address[] memory many = new address[](max + 1);
        for (uint256 i; i < many.length; ++i) {
            many[i] = address(uint160(0x1000 + i));
        }
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(ReserveAllocation.TooManyReserveRecipients.selector, max));
        broker.addReserveRecipients(many);
        (uint256 current, uint256 next,) = broker.reserveRecipientCount(sender);
        assertEq(current + next, 0, "reverted calls change nothing");
    }

    /// Same round: a recipient added and removed again is never covered, and the count is back to zero.
    function test_addThenRemoveSameRound_neverCovered() public {
        _name(sender, orch);
        _unname(sender, orch);
        _fund(sender, 0, 1 ether);
        _advanceRounds(VALIDITY);
        (uint256 current,,) = broker.reserveRecipientCount(sender);
        assertEq(current, 0);
        assertEq(broker.claimableReserve(sender, orch), 0.5 ether, "fallback split");
    }

    /// A named recipient that resigns keeps its seat until the sender removes it; the others' shares do not
    /// grow or shrink in the meantime, and its own tickets are refused by the BondingManager.
    function test_namedRecipientResigns_othersUnchanged() public {
        _name(sender, orch);
        _name(sender, orch2);
        _advanceRounds(VALIDITY);
        _fund(sender, 0, 1 ether);
        vm.prank(orch2);
        bonding.resign();
        assertEq(broker.claimableReserve(sender, orch), 0.5 ether);
        TicketBroker.Ticket memory t = _ticket(orch2, sender, FACE, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.NotRegistered.selector, orch2));
        _redeem(t, sig, RAND);
    }

    // ------------------------------------------------------------ callers, calldata, reentrancy

    function test_attack_unauthorizedPayFees() public {
        _fund(sender, 1 ether, 0);
        _pay(orch, FACE, 1);
        vm.expectRevert(abi.encodeWithSelector(TicketBroker.Unauthorized.selector, address(this)));
        broker.payFees(payable(address(this)), FACE);
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(TicketBroker.Unauthorized.selector, orch));
        broker.payFees(payable(orch), FACE);
        assertEq(_feesHeld(), FACE);
    }

    /// Only a sender's own calls change its recipients: a third party's removal acts on its own (empty) set.
    function test_attack_thirdPartyCannotChangeRecipients() public {
        _name(sender, orch);
        vm.prank(orch2);
        vm.expectRevert(abi.encodeWithSelector(ReserveAllocation.NotReserveRecipient.selector, orch));
        broker.removeReserveRecipients(_one(orch));
        (uint256 fromRound, uint256 untilRound) = broker.reserveRecipient(sender, orch);
        assertEq(fromRound, _round() + VALIDITY);
        assertEq(untilRound, 0);
    }

    function _one(address a) internal pure returns (address[] memory list) {
        list = new address[](1);
        list[0] = a;
    }

    function test_attack_malformedRecipientCalldata_reverts() public {
        bytes4 sel = ReserveAllocation.addReserveRecipients.selector;
        // Offset to an array whose length runs past the end of the calldata.
        bytes memory truncated = abi.encodePacked(sel, uint256(0x20), uint256(3), uint256(uint160(orch)));
        vm.prank(sender);
        (bool ok,) = address(broker).call(truncated);
        assertFalse(ok);
        // An address word with dirty upper bits.
        bytes memory dirty =
            abi.encodePacked(sel, uint256(0x20), uint256(1), uint256(1 << 200) | uint160(orch));
        vm.prank(sender);
        (ok,) = address(broker).call(dirty);
        assertFalse(ok);
        (ok,) = address(broker)
            .call(abi.encodePacked(ReserveAllocation.removeReserveRecipients.selector, uint8(1)));
        assertFalse(ok);
        (ok,) = address(broker).call(abi.encodePacked(TicketBroker.payFees.selector, uint256(1)));
        assertFalse(ok);
        (uint256 fromRound,) = broker.reserveRecipient(sender, orch);
        assertEq(fromRound, 0);
    }

    /// Fees are paid out of the broker on the BondingManager's order; a recipient that re-enters the broker
    /// from its receive hook is stopped by the guard and paid exactly once.
    function test_attack_reentrancyOnFeePayout() public {
        _fund(sender, 1 ether, 0);
        _pay(orch, FACE, 1);
        ReenteringFeeRecipient hook = new ReenteringFeeRecipient(broker);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 2, RAND);
        hook.arm(t, _sign(SENDER_KEY, t), RAND);
        uint256 fees = bonding.pendingFees(orch);
        vm.prank(orch);
        bonding.withdrawFees(payable(address(hook)), fees);
        bytes memory guard =
            abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        assertEq(hook.received(), fees, "paid once");
        assertEq(hook.redeemError(), guard);
        assertEq(hook.payError(), guard);
        assertEq(hook.withdrawError(), guard);
        assertFalse(broker.isTicketUsed(t));
        assertEq(bonding.pendingFees(orch), 0);
        assertEq(_feesHeld(), FACE - fees, "what is not withdrawn stays");
    }

    /// Conservation: what the broker holds equals the senders' funds plus the fees the BondingManager owes.
    function test_feesHeldMatchBondingManagerAccounting() public {
        _name(sender, orch);
        _name(sender, orch2);
        _advanceRounds(VALIDITY);
        _fund(sender, 0.05 ether, 1 ether);
        for (uint256 i = 1; i <= 8; ++i) {
            _pay(i % 2 == 0 ? orch : orch2, 0.02 ether, i);
        }
        uint256 owed = bonding.pendingFees(orch) + bonding.pendingFees(orch2);
        assertEq(_feesHeld(), owed);
        uint256 orch2Fees = bonding.pendingFees(orch2);
        vm.prank(orch2);
        bonding.withdrawFees(payable(orch2), orch2Fees);
        assertEq(_feesHeld(), bonding.pendingFees(orch));
        assertEq(orch2.balance, 0.08 ether);
    }

    // ------------------------------------------------------------ fuzz

    /// With k named recipients each may take exactly its share, (reserve at round start) / k, in a round,
    /// in any order and in pieces; one wei more is refused; the reserve never pays more than it held.
    function testFuzz_namedShares(uint8 k, uint96 reserve, uint256 pieces) public {
        k = uint8(bound(k, 1, 8));
        reserve = uint96(bound(reserve, 1e9, 100 ether));
        pieces = bound(pieces, 1, 3);
        address[] memory list = _sybils(k, 1 ether);
        vm.prank(sender);
        broker.addReserveRecipients(list);
        _advanceRounds(VALIDITY);
        _fund(sender, 0, reserve);
        uint256 share = uint256(reserve) / k;
        uint256 nonce;
        for (uint256 i = k; i > 0; --i) {
            address r = list[i - 1];
            assertEq(broker.claimableReserve(sender, r), share);
            uint256 left = share;
            for (uint256 p = pieces; p > 0; --p) {
                uint256 face = p == 1 ? left : left / p;
                if (face == 0) continue;
                TicketBroker.Ticket memory t = _ticket(r, sender, face, ++nonce, RAND);
                _redeem(t, _sign(SENDER_KEY, t), RAND);
                left -= face;
            }
            assertEq(broker.claimedReserve(sender, r), share);
            TicketBroker.Ticket memory extra = _ticket(r, sender, 1, ++nonce, RAND);
            bytes memory sig = _sign(SENDER_KEY, extra);
            vm.expectRevert(TicketBroker.InsufficientFunds.selector);
            _redeem(extra, sig, RAND);
        }
        (, uint256 remaining,) = _funds(sender);
        assertEq(remaining, uint256(reserve) - share * k);
        assertEq(broker.getReserveInfo(sender).claimedInCurrentRound, share * k);
    }
}
