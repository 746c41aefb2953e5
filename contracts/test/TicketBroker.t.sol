// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./base/Fixture.sol";
import {Vm} from "./base/Vm.sol";
import {TicketBroker} from "../src/TicketBroker.sol";
import {BondingManager} from "../src/BondingManager.sol";
import {IRoundsManager} from "../src/interfaces/IRoundsManager.sol";
import {IBondingManager} from "../src/interfaces/IBondingManager.sol";

contract TicketBrokerTest is Fixture {
    uint256 internal constant FACE = 0.01 ether;
    uint256 internal constant RAND = 0x5eed;

    function setUp() public override {
        super.setUp();
        _activate(orch, 1000 ether, 100_000, 500_000);
    }

    // ------------------------------------------------------------ constructor

    function test_constructor_rejectsBadParameters() public {
        vm.expectRevert(TicketBroker.ZeroAddress.selector);
        new TicketBroker(IRoundsManager(address(0)), IBondingManager(address(bonding)), 3, 2);
        vm.expectRevert(TicketBroker.ZeroAddress.selector);
        new TicketBroker(IRoundsManager(address(rounds)), IBondingManager(address(0)), 3, 2);
        vm.expectRevert(TicketBroker.InvalidParameter.selector);
        new TicketBroker(IRoundsManager(address(rounds)), IBondingManager(address(bonding)), 2, 2);
        vm.expectRevert(TicketBroker.InvalidParameter.selector);
        new TicketBroker(IRoundsManager(address(rounds)), IBondingManager(address(bonding)), 3, 0);
        assertEq(broker.unlockPeriod(), UNLOCK_PERIOD);
        assertEq(broker.ticketValidityPeriod(), VALIDITY);
        assertEq(broker.roundLength(), ROUND_LENGTH);
        assertEq(address(broker.rounds()), address(rounds));
        assertEq(address(broker.bondingManager()), address(bonding));
        assertEq(broker.currentRound(), rounds.currentRound());
    }

    // ------------------------------------------------------------ funding

    function test_fundDeposit() public {
        vm.deal(sender, 1 ether);
        vm.expectEmit(address(broker));
        emit TicketBroker.DepositFunded(sender, 1 ether);
        vm.prank(sender);
        broker.fundDeposit{value: 1 ether}();
        (uint256 deposit, uint256 reserve, uint256 withdrawRound) = _funds(sender);
        assertEq(deposit, 1 ether);
        assertEq(reserve, 0);
        assertEq(withdrawRound, 0);
        assertEq(address(broker).balance, 1 ether);
    }

    function test_fundReserve() public {
        vm.deal(sender, 2 ether);
        vm.expectEmit(address(broker));
        emit TicketBroker.ReserveFunded(sender, 2 ether);
        vm.prank(sender);
        broker.fundReserve{value: 2 ether}();
        (uint256 deposit, uint256 reserve,) = _funds(sender);
        assertEq(deposit, 0);
        assertEq(reserve, 2 ether);
    }

    function test_fundDepositAndReserve() public {
        _fund(sender, 1 ether, 2 ether);
        _fund(sender, 1 ether, 0);
        (uint256 deposit, uint256 reserve,) = _funds(sender);
        assertEq(deposit, 2 ether);
        assertEq(reserve, 2 ether);
    }

    function test_fundDepositAndReserve_valueMismatch() public {
        vm.deal(sender, 5 ether);
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(TicketBroker.ValueMismatch.selector, 3 ether, 2 ether));
        broker.fundDepositAndReserve{value: 2 ether}(1 ether, 2 ether);
    }

    function test_fund_zeroValueReverts() public {
        vm.prank(sender);
        vm.expectRevert(TicketBroker.ZeroValue.selector);
        broker.fundDeposit();
        vm.prank(sender);
        vm.expectRevert(TicketBroker.ZeroValue.selector);
        broker.fundDepositAndReserve(0, 0);
    }

    function test_fund_overflowReverts() public {
        uint256 huge = uint256(type(uint96).max) + 1;
        vm.deal(sender, huge * 2);
        vm.prank(sender);
        vm.expectRevert(TicketBroker.AmountOverflow.selector);
        broker.fundDeposit{value: huge}();
        vm.prank(sender);
        vm.expectRevert(TicketBroker.AmountOverflow.selector);
        broker.fundDepositAndReserve{value: 1}(type(uint256).max, 1);
        // Two fundings that together exceed 96 bits.
        vm.prank(sender);
        broker.fundDeposit{value: type(uint96).max}();
        vm.prank(sender);
        vm.expectRevert(TicketBroker.AmountOverflow.selector);
        broker.fundDeposit{value: 1}();
        (uint256 deposit,,) = _funds(sender);
        assertEq(deposit, type(uint96).max);
    }

    function test_fundDepositAndReserveFor_thirdPartyDoesNotCancelUnlock() public {
        _fund(sender, 1 ether, 1 ether);
        vm.prank(sender);
        broker.unlock();
        (,, uint256 withdrawRound) = _funds(sender);
        assertEq(withdrawRound, _round() + UNLOCK_PERIOD);

        address stranger = address(0xdead);
        vm.deal(stranger, 1 ether);
        vm.expectEmit(address(broker));
        emit TicketBroker.DepositFunded(sender, 0.5 ether);
        vm.prank(stranger);
        broker.fundDepositAndReserveFor{value: 1 ether}(sender, 0.5 ether, 0.5 ether);
        (uint256 deposit, uint256 reserve, uint256 stillUnlocking) = _funds(sender);
        assertEq(deposit, 1.5 ether);
        assertEq(reserve, 1.5 ether);
        assertEq(stillUnlocking, withdrawRound, "third party funding must not cancel the unlock");
    }

    function test_fundDepositAndReserveFor_zeroSenderReverts() public {
        vm.deal(address(this), 1 ether);
        vm.expectRevert(TicketBroker.ZeroAddress.selector);
        broker.fundDepositAndReserveFor{value: 1 ether}(address(0), 1 ether, 0);
    }

    function test_ownFundingCancelsUnlock() public {
        _fund(sender, 1 ether, 1 ether);
        vm.prank(sender);
        broker.unlock();
        vm.deal(sender, 1 ether);
        vm.expectEmit(address(broker));
        emit TicketBroker.UnlockCancelled(sender);
        vm.prank(sender);
        broker.fundDeposit{value: 1}();
        (,, uint256 withdrawRound) = _funds(sender);
        assertEq(withdrawRound, 0);
    }

    // ------------------------------------------------------------ unlock / withdraw

    function test_unlock_cancel_withdraw() public {
        _fund(sender, 1 ether, 2 ether);
        vm.prank(sender);
        vm.expectRevert(TicketBroker.NotUnlocking.selector);
        broker.withdraw();
        vm.prank(sender);
        vm.expectRevert(TicketBroker.NotUnlocking.selector);
        broker.cancelUnlock();

        uint256 start = _round();
        vm.expectEmit(address(broker));
        emit TicketBroker.Unlock(sender, start, start + UNLOCK_PERIOD);
        vm.prank(sender);
        broker.unlock();
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(TicketBroker.AlreadyUnlocking.selector, start + UNLOCK_PERIOD));
        broker.unlock();

        vm.prank(sender);
        broker.cancelUnlock();
        (,, uint256 withdrawRound) = _funds(sender);
        assertEq(withdrawRound, 0);

        vm.prank(sender);
        broker.unlock();
        _advanceRounds(UNLOCK_PERIOD - 1);
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(TicketBroker.StillLocked.selector, start + UNLOCK_PERIOD));
        broker.withdraw();

        _nextRound();
        uint256 before = sender.balance;
        vm.expectEmit(address(broker));
        emit TicketBroker.Withdrawal(sender, 1 ether, 2 ether);
        vm.prank(sender);
        broker.withdraw();
        assertEq(sender.balance - before, 3 ether);
        (uint256 deposit, uint256 reserve, uint256 wr) = _funds(sender);
        assertEq(deposit + reserve + wr, 0);
        assertEq(address(broker).balance, 0);
    }

    function test_unlock_noFundsReverts() public {
        vm.prank(sender);
        vm.expectRevert(TicketBroker.NoFunds.selector);
        broker.unlock();
    }

    function test_withdraw_nothingLeftReverts() public {
        _fund(sender, FACE, 0);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        vm.prank(sender);
        broker.unlock();
        _redeem(t, sig, RAND);
        _advanceRounds(UNLOCK_PERIOD);
        vm.prank(sender);
        vm.expectRevert(TicketBroker.NoFunds.selector);
        broker.withdraw();
    }

    // ------------------------------------------------------------ redemption

    function test_redeem_fromDeposit() public {
        _fund(sender, 1 ether, 1 ether);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        vm.expectEmit(address(broker));
        emit TicketBroker.WinningTicketTransfer(sender, orch, FACE);
        vm.expectEmit(address(broker));
        emit TicketBroker.WinningTicketRedeemed(sender, orch, FACE, t.winProb, 1, RAND, t.auxData);
        vm.expectEmit(address(bonding));
        emit BondingManager.FeesCredited(orch, _round(), FACE, FACE / 2);
        _redeem(t, sig, RAND);

        (uint256 deposit, uint256 reserve,) = _funds(sender);
        assertEq(deposit, 1 ether - FACE);
        assertEq(reserve, 1 ether);
        assertEq(_feesHeld(), FACE);
        assertTrue(broker.isTicketUsed(t));
        // The orchestrator is its only delegator: cut plus its share of the delegator half.
        assertApproxEqAbs(bonding.pendingFees(orch), FACE, 1000, "orchestrator fees");
    }

    function test_redeem_anyoneMaySubmit() public {
        _fund(sender, 1 ether, 0);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        vm.prank(address(0xbeef));
        broker.redeemWinningTicket(t, sig, RAND);
        assertEq(_feesHeld(), FACE);
    }

    function test_redeem_fromReserve() public {
        _fund(sender, 0, 1 ether);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        assertEq(broker.claimableReserve(sender, orch), 1 ether);
        vm.expectEmit(address(broker));
        emit TicketBroker.ReserveClaimed(sender, orch, FACE);
        vm.expectEmit(address(broker));
        emit TicketBroker.WinningTicketTransfer(sender, orch, FACE);
        vm.expectEmit(address(broker));
        emit TicketBroker.WinningTicketRedeemed(sender, orch, FACE, t.winProb, 1, RAND, t.auxData);
        _redeem(t, sig, RAND);
        (uint256 deposit, uint256 reserve,) = _funds(sender);
        assertEq(deposit, 0);
        assertEq(reserve, 1 ether - FACE);
        assertEq(broker.getReserveInfo(sender).claimedInCurrentRound, FACE);
        assertEq(broker.claimedReserve(sender, orch), FACE);
        assertEq(broker.claimableReserve(sender, orch), 1 ether - FACE);
    }

    function test_redeem_depositThenReserve() public {
        _fund(sender, FACE / 4, 1 ether);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        _redeem(t, _sign(SENDER_KEY, t), RAND);
        (uint256 deposit, uint256 reserve,) = _funds(sender);
        assertEq(deposit, 0);
        assertEq(reserve, 1 ether - (FACE - FACE / 4));
        assertEq(_feesHeld(), FACE);
    }

    /// A sender that names no recipient: its reserve is split by round-start active stake.
    function test_reserve_fallbackSplitByRoundStartStake() public {
        _registerOnly(orch2, 3000 ether, 0, 0);
        // orch2 registered this round: not active until the next round, so orch holds all the stake.
        (uint256 stake, uint256 total) = bonding.reserveWeight(orch2);
        assertEq(stake, 0);
        assertEq(total, 1000 ether);
        _fund(sender, 0, 1 ether);
        assertEq(broker.claimableReserve(sender, orch2), 0);
        assertEq(broker.claimableReserve(sender, orch), 1 ether);

        _nextRound();
        (stake, total) = bonding.reserveWeight(orch2);
        assertEq(stake, 3000 ether);
        assertEq(total, 4000 ether);
        assertEq(broker.claimableReserve(sender, orch), 0.25 ether);
        assertEq(broker.claimableReserve(sender, orch2), 0.75 ether);

        TicketBroker.Ticket memory t = _ticket(orch, sender, 0.2 ether, 1, RAND);
        _redeem(t, _sign(SENDER_KEY, t), RAND);
        // (0.8 remaining + 0.2 claimed) / 4 - 0.2
        assertEq(broker.claimableReserve(sender, orch), 0.05 ether);
        assertEq(broker.claimableReserve(sender, orch2), 0.75 ether);
        t = _ticket(orch, sender, 0.1 ether, 2, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        vm.expectRevert(TicketBroker.InsufficientFunds.selector);
        _redeem(t, sig, RAND);

        // A new round resets the per-round claims.
        _nextRound();
        assertEq(broker.claimableReserve(sender, orch), 0.2 ether);
    }

    function test_reserve_inactiveRecipientGetsNothing() public {
        address outsider = address(0x0DD);
        _fund(sender, 0, 1 ether);
        TicketBroker.Ticket memory t = _ticket(outsider, sender, FACE, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        vm.expectRevert(TicketBroker.InsufficientFunds.selector);
        _redeem(t, sig, RAND);
        assertFalse(broker.isTicketUsed(t));
    }

    function test_redeem_duringUnlockPeriod_thenSenderUnlocked() public {
        _fund(sender, 1 ether, 0);
        vm.prank(sender);
        broker.unlock();
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        _redeem(t, _sign(SENDER_KEY, t), RAND);

        _advanceRounds(UNLOCK_PERIOD);
        // A ticket created in the last round before withdrawRound is still within its validity.
        TicketBroker.Ticket memory late = _ticket(orch, sender, FACE, 2, RAND);
        bytes memory sig = _sign(SENDER_KEY, late);
        vm.expectRevert(TicketBroker.SenderUnlocked.selector);
        _redeem(late, sig, RAND);
    }

    /// The paper's defence against delegator fee theft: every ticket created before the unlock expires
    /// before the sender can withdraw.
    function test_ticketsExpireBeforeSenderCanWithdraw() public {
        _fund(sender, 1 ether, 0);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        vm.prank(sender);
        broker.unlock();
        (,, uint256 withdrawRound) = _funds(sender);
        uint256 creation = _round();
        assertTrue(creation + VALIDITY < withdrawRound + 1, "validity must end before the withdraw round");
        _advanceRounds(withdrawRound - creation);
        vm.expectRevert(TicketBroker.TicketExpired.selector);
        _redeem(t, sig, RAND);
        vm.prank(sender);
        broker.withdraw();
    }

    // ------------------------------------------------------------ batch

    function test_batch_allPaid_oneFeeCallPerGroup() public {
        _activate(orch2, 1000 ether, 0, 0);
        _fund(sender, 1 ether, 0);
        _fund(sender2, 1 ether, 0);
        uint256 r0 = _round();
        TicketBroker.Ticket[] memory ts = new TicketBroker.Ticket[](5);
        bytes[] memory sigs = new bytes[](5);
        uint256[] memory rands = new uint256[](5);
        ts[0] = _ticket(orch, sender, FACE, 1, RAND);
        ts[1] = _ticket(orch2, sender, FACE, 1, RAND + 1);
        ts[2] = _ticket(orch, sender2, FACE, 1, RAND);
        _nextRound();
        ts[3] = _ticket(orch, sender, FACE, 2, RAND + 2);
        ts[4] = _ticket(orch, sender, FACE, 7, RAND);
        ts[4].auxData = _auxData(r0); // same group as tickets 0 and 2
        for (uint256 i; i < 5; ++i) {
            sigs[i] = _sign(ts[i].sender == sender ? SENDER_KEY : SENDER2_KEY, ts[i]);
            rands[i] = i == 1 ? RAND + 1 : i == 3 ? RAND + 2 : RAND;
        }
        vm.recordLogs();
        broker.batchRedeemWinningTickets(ts, sigs, rands);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 feeCalls;
        uint256 redeemed;
        for (uint256 i; i < logs.length; ++i) {
            if (
                logs[i].emitter == address(bonding)
                    && logs[i].topics[0] == BondingManager.FeesCredited.selector
            ) {
                ++feeCalls;
            }
            if (
                logs[i].emitter == address(broker)
                    && logs[i].topics[0] == TicketBroker.WinningTicketRedeemed.selector
            ) ++redeemed;
        }
        assertEq(redeemed, 5, "every ticket paid");
        assertEq(feeCalls, 3, "groups: (orch, r0) x3, (orch2, r0), (orch, r0 + 1)");
        assertEq(_feesHeld(), 5 * FACE);
        for (uint256 i; i < 5; ++i) {
            assertTrue(broker.isTicketUsed(ts[i]));
        }
    }

    function test_batch_failingTicketRevertsWholeBatchWithIndex() public {
        _fund(sender, 1 ether, 0);
        TicketBroker.Ticket[] memory ts = new TicketBroker.Ticket[](3);
        bytes[] memory sigs = new bytes[](3);
        uint256[] memory rands = new uint256[](3);
        for (uint256 i; i < 3; ++i) {
            ts[i] = _ticket(orch, sender, FACE, i + 1, RAND);
            sigs[i] = _sign(SENDER_KEY, ts[i]);
            rands[i] = RAND;
        }
        sigs[2] = _sign(SENDER2_KEY, ts[2]);
        vm.expectRevert(
            abi.encodeWithSelector(
                TicketBroker.BatchTicketFailed.selector, 2, TicketBroker.InvalidSignature.selector
            )
        );
        broker.batchRedeemWinningTickets(ts, sigs, rands);
        (uint256 deposit,,) = _funds(sender);
        assertEq(deposit, 1 ether, "nothing paid");
        assertFalse(broker.isTicketUsed(ts[0]), "nothing burnt");

        // A duplicate inside one batch is caught too.
        sigs[2] = _sign(SENDER_KEY, ts[2]);
        ts[1] = ts[0];
        sigs[1] = sigs[0];
        vm.expectRevert(
            abi.encodeWithSelector(
                TicketBroker.BatchTicketFailed.selector, 1, TicketBroker.TicketAlreadyUsed.selector
            )
        );
        broker.batchRedeemWinningTickets(ts, sigs, rands);
    }

    function test_batch_shapeErrors() public {
        TicketBroker.Ticket[] memory ts = new TicketBroker.Ticket[](0);
        bytes[] memory sigs = new bytes[](0);
        uint256[] memory rands = new uint256[](0);
        vm.expectRevert(TicketBroker.EmptyBatch.selector);
        broker.batchRedeemWinningTickets(ts, sigs, rands);
        ts = new TicketBroker.Ticket[](1);
        vm.expectRevert(TicketBroker.BatchLengthMismatch.selector);
        broker.batchRedeemWinningTickets(ts, sigs, rands);
        sigs = new bytes[](1);
        vm.expectRevert(TicketBroker.BatchLengthMismatch.selector);
        broker.batchRedeemWinningTickets(ts, sigs, rands);
    }

    // ------------------------------------------------------------ replay storage

    function test_usedTickets_oneEntryPerTicketHash() public {
        _fund(sender, 1 ether, 0);
        TicketBroker.Ticket memory a = _ticket(orch, sender, FACE, 1, RAND);
        TicketBroker.Ticket memory b = _ticket(orch, sender, FACE, 2, RAND);
        // Same nonce and rand hash, other face value: another ticket, so a sender cannot burn the
        // recipient's pending winner with a cheaper ticket of the same nonce.
        TicketBroker.Ticket memory c = _ticket(orch, sender, 1, 1, RAND);
        _redeem(c, _sign(SENDER_KEY, c), RAND);
        assertTrue(broker.usedTickets(_hash(c)));
        assertFalse(broker.usedTickets(_hash(a)));
        _redeem(a, _sign(SENDER_KEY, a), RAND);
        assertTrue(broker.usedTickets(_hash(a)));
        assertTrue(broker.isTicketUsed(a));
        assertFalse(broker.usedTickets(_hash(b)));
        assertFalse(broker.isTicketUsed(b));
    }

    function test_clearExpiredTickets() public {
        _fund(sender, 1 ether, 0);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        _redeem(t, sig, RAND);
        bytes32[] memory hashes = new bytes32[](2);
        hashes[0] = _hash(t);
        hashes[1] = keccak256("never used");

        assertEq(broker.clearExpiredTickets(hashes), 0, "live entry kept");
        assertTrue(broker.isTicketUsed(t));

        _advanceRounds(VALIDITY - 1);
        assertEq(broker.clearExpiredTickets(hashes), 0, "still live in its last valid round");

        _nextRound();
        vm.expectEmit(address(broker));
        emit TicketBroker.UsedTicketsCleared(1);
        assertEq(broker.clearExpiredTickets(hashes), 1);
        assertFalse(broker.usedTickets(hashes[0]), "slot deleted");
        // Clearing reopens nothing: the ticket is expired.
        vm.expectRevert(TicketBroker.TicketExpired.selector);
        _redeem(t, sig, RAND);
    }

    // ------------------------------------------------------------ ticket hash

    function test_getTicketHash_matchesPackedPreimage() public view {
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 9, RAND);
        assertEq(broker.getTicketHash(t), _hash(t));
        bytes memory preimage = abi.encodePacked(
            t.recipient, t.sender, t.faceValue, t.winProb, t.senderNonce, t.recipientRandHash, t.auxData
        );
        assertEq(preimage.length, 232);
    }

    // ------------------------------------------------------------ fuzz

    /// Payout is all or nothing: either the face value moves in full from the sender's funds to the
    /// BondingManager and the ticket is used, or the call reverts with InsufficientFunds and nothing moves.
    function testFuzz_payoutAllOrNothing(uint96 deposit, uint96 reserve, uint96 face, bool secondOrchestrator)
        public
    {
        face = uint96(bound(face, 1, 100 ether));
        deposit = uint96(bound(deposit, 0, 100 ether));
        reserve = uint96(bound(reserve, 0, 100 ether));
        vm.assume(uint256(deposit) + reserve > 0);
        if (secondOrchestrator) _activate(orch2, 1000 ether, 0, 0);
        _fund(sender, deposit, reserve);
        uint256 share = secondOrchestrator ? uint256(reserve) / 2 : reserve;
        TicketBroker.Ticket memory t = _ticket(orch, sender, face, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        if (uint256(deposit) + share < face) {
            vm.expectRevert(TicketBroker.InsufficientFunds.selector);
            _redeem(t, sig, RAND);
            (uint256 d, uint256 r,) = _funds(sender);
            assertEq(d, deposit);
            assertEq(r, reserve);
            assertFalse(broker.isTicketUsed(t));
            assertEq(_feesHeld(), 0);
        } else {
            _redeem(t, sig, RAND);
            (uint256 d, uint256 r,) = _funds(sender);
            assertEq(uint256(deposit) + reserve - d - r, face, "paid exactly the face value");
            assertEq(_feesHeld(), face);
            assertEq(address(broker).balance, d + r + face, "the fees stay in the broker");
            assertTrue(broker.isTicketUsed(t));
        }
    }

    /// A redemption marks exactly its own ticket used, whatever the nonces.
    function testFuzz_replay(uint256 nonce, uint256 other) public {
        vm.assume(nonce != other);
        _fund(sender, 1 ether, 0);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, nonce, RAND);
        TicketBroker.Ticket memory u = _ticket(orch, sender, FACE, other, RAND);
        _redeem(t, _sign(SENDER_KEY, t), RAND);
        assertTrue(broker.isTicketUsed(t));
        assertFalse(broker.isTicketUsed(u));
        bytes memory sig = _sign(SENDER_KEY, t);
        vm.expectRevert(TicketBroker.TicketAlreadyUsed.selector);
        _redeem(t, sig, RAND);
        _redeem(u, _sign(SENDER_KEY, u), RAND);
        assertTrue(broker.usedTickets(_hash(u)));
    }

    /// The win rule is exactly uint256(keccak256(sig || rand)) < winProb.
    function testFuzz_winRule(uint256 winProb, uint256 rand) public {
        _fund(sender, 1 ether, 0);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, rand);
        t.winProb = winProb;
        bytes memory sig = _sign(SENDER_KEY, t);
        bool wins = uint256(keccak256(abi.encodePacked(sig, rand))) < winProb;
        if (!wins) vm.expectRevert(TicketBroker.TicketDidNotWin.selector);
        _redeem(t, sig, rand);
        assertEq(broker.isTicketUsed(t), wins);
    }
}
