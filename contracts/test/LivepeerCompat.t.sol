// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./base/Fixture.sol";
import {TicketBroker} from "../src/TicketBroker.sol";
import {BondingManager} from "../src/BondingManager.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @dev A sender contract whose receive hook tries to redeem a batch while its withdrawal pays it.
contract BatchReenteringSender {
    TicketBroker internal immutable broker;
    TicketBroker.Ticket[] internal pending;
    bytes[] internal pendingSigs;
    uint256[] internal pendingRands;
    bytes public batchError;
    uint256 public received;

    constructor(TicketBroker broker_) {
        broker = broker_;
    }

    function fundAndUnlock() external payable {
        broker.fundDepositAndReserve{value: msg.value}(msg.value, 0);
        broker.unlock();
    }

    function arm(TicketBroker.Ticket calldata t, bytes calldata sig, uint256 rand) external {
        delete pending;
        delete pendingSigs;
        delete pendingRands;
        pending.push(t);
        pendingSigs.push(sig);
        pendingRands.push(rand);
    }

    function withdraw() external {
        broker.withdraw();
    }

    receive() external payable {
        received += msg.value;
        try broker.batchRedeemWinningTickets(pending, pendingSigs, pendingRands) {}
        catch (bytes memory err) {
            batchError = err;
        }
    }
}

/// @notice Livepeer's read interface and events, the recipient and round checks, and the documented
/// differences from Livepeer's redemption rules.
contract LivepeerCompatTest is Fixture {
    uint256 internal constant FACE = 0.01 ether;
    uint256 internal constant RAND = 0xfeed;

    function setUp() public override {
        super.setUp();
        _activate(orch, 1000 ether, 100_000, 500_000);
    }

    function _one(TicketBroker.Ticket memory t, bytes memory sig, uint256 rand)
        internal
        pure
        returns (TicketBroker.Ticket[] memory ts, bytes[] memory sigs, uint256[] memory rands)
    {
        ts = new TicketBroker.Ticket[](1);
        sigs = new bytes[](1);
        rands = new uint256[](1);
        ts[0] = t;
        sigs[0] = sig;
        rands[0] = rand;
    }

    // ------------------------------------------------------------ selectors and events

    function test_selectorsAndEventTopics_matchLivepeer() public pure {
        assertEq(TicketBroker.getSenderInfo.selector, bytes4(keccak256("getSenderInfo(address)")));
        assertEq(TicketBroker.getReserveInfo.selector, bytes4(keccak256("getReserveInfo(address)")));
        assertEq(TicketBroker.claimedReserve.selector, bytes4(keccak256("claimedReserve(address,address)")));
        assertEq(
            TicketBroker.claimableReserve.selector, bytes4(keccak256("claimableReserve(address,address)"))
        );
        assertEq(TicketBroker.isUnlockInProgress.selector, bytes4(keccak256("isUnlockInProgress(address)")));
        assertEq(TicketBroker.usedTickets.selector, bytes4(keccak256("usedTickets(bytes32)")));
        assertEq(
            TicketBroker.WinningTicketRedeemed.selector,
            keccak256("WinningTicketRedeemed(address,address,uint256,uint256,uint256,uint256,bytes)")
        );
        assertEq(
            TicketBroker.WinningTicketTransfer.selector,
            keccak256("WinningTicketTransfer(address,address,uint256)")
        );
        assertEq(TicketBroker.ReserveClaimed.selector, keccak256("ReserveClaimed(address,address,uint256)"));
        // The funding and unlocking events go-livepeer's sender watcher subscribes to.
        assertEq(TicketBroker.DepositFunded.selector, keccak256("DepositFunded(address,uint256)"));
        assertEq(TicketBroker.ReserveFunded.selector, keccak256("ReserveFunded(address,uint256)"));
        assertEq(TicketBroker.Withdrawal.selector, keccak256("Withdrawal(address,uint256,uint256)"));
        assertEq(TicketBroker.Unlock.selector, keccak256("Unlock(address,uint256,uint256)"));
        assertEq(TicketBroker.UnlockCancelled.selector, keccak256("UnlockCancelled(address)"));
    }

    /// getSenderInfo returns Livepeer's 128 bytes: (deposit, withdrawRound) then (fundsRemaining,
    /// claimedInCurrentRound).
    function test_getSenderInfo_rawLayout() public {
        _fund(sender, 1 ether, 2 ether);
        TicketBroker.Ticket memory t = _ticket(orch, sender, 1 ether + FACE, 1, RAND);
        _redeem(t, _sign(SENDER_KEY, t), RAND);
        vm.prank(sender);
        broker.unlock();
        (bool ok, bytes memory out) =
            address(broker).staticcall(abi.encodeCall(TicketBroker.getSenderInfo, (sender)));
        assertTrue(ok);
        assertEq(out.length, 128);
        (uint256 deposit, uint256 withdrawRound, uint256 fundsRemaining, uint256 claimed) =
            abi.decode(out, (uint256, uint256, uint256, uint256));
        assertEq(deposit, 0);
        assertEq(withdrawRound, _round() + UNLOCK_PERIOD);
        assertEq(fundsRemaining, 2 ether - FACE);
        assertEq(claimed, FACE);
        (ok, out) = address(broker).staticcall(abi.encodeCall(TicketBroker.getReserveInfo, (sender)));
        assertEq(out, abi.encode(2 ether - FACE, FACE));
    }

    function test_reserveViews_perRound() public {
        _fund(sender, 0, 1 ether);
        assertFalse(broker.isUnlockInProgress(sender));
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        _redeem(t, _sign(SENDER_KEY, t), RAND);
        assertEq(broker.claimedReserve(sender, orch), FACE);
        assertEq(broker.claimedReserve(sender, orch2), 0);
        TicketBroker.ReserveInfo memory info = broker.getReserveInfo(sender);
        assertEq(info.fundsRemaining, 1 ether - FACE);
        assertEq(info.claimedInCurrentRound, FACE);
        // Claims count per round, as in Livepeer.
        _nextRound();
        assertEq(broker.claimedReserve(sender, orch), 0);
        assertEq(broker.getReserveInfo(sender).claimedInCurrentRound, 0);
        vm.prank(sender);
        broker.unlock();
        assertTrue(broker.isUnlockInProgress(sender));
        vm.prank(sender);
        broker.cancelUnlock();
        assertFalse(broker.isUnlockInProgress(sender));
    }

    function test_newViews_malformedCalldataChangesNothing() public {
        _fund(sender, 1 ether, 1 ether);
        bytes4[4] memory oneAddress = [
            TicketBroker.getSenderInfo.selector,
            TicketBroker.getReserveInfo.selector,
            TicketBroker.isUnlockInProgress.selector,
            TicketBroker.claimedReserve.selector
        ];
        for (uint256 i; i < oneAddress.length; ++i) {
            (bool ok,) = address(broker).call(abi.encodePacked(oneAddress[i], bytes20(sender)));
            assertFalse(ok, "truncated address accepted");
            (ok,) =
                address(broker).call(abi.encodePacked(oneAddress[i], uint256(uint160(sender)) | (1 << 160)));
            assertFalse(ok, "dirty address accepted");
        }
        (bool ok2,) = address(broker).call(abi.encodePacked(TicketBroker.usedTickets.selector, bytes31(0)));
        assertFalse(ok2, "truncated hash accepted");
        (ok2,) =
            address(broker).call(abi.encodePacked(TicketBroker.clearExpiredTickets.selector, uint256(32)));
        assertFalse(ok2, "array without a length accepted");
        (uint256 d, uint256 r, uint256 w) = _funds(sender);
        assertEq(d + r + w, 2 ether, "nothing changed");
    }

    // ------------------------------------------------------------ the recipient must be registered

    /// A sender signs a ticket to an address of its own that is not an orchestrator, to take its deposit
    /// back at once instead of unlocking it. The fee credit refuses it and nothing moves.
    function test_attack_ticketToUnregisteredRecipient_reverts() public {
        _fund(sender, 1 ether, 1 ether);
        address mine = address(0xB0B0);
        TicketBroker.Ticket memory t = _ticket(mine, sender, 1 ether, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.NotRegistered.selector, mine));
        _redeem(t, sig, RAND);
        (TicketBroker.Ticket[] memory ts, bytes[] memory sigs, uint256[] memory rands) = _one(t, sig, RAND);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.NotRegistered.selector, mine));
        broker.batchRedeemWinningTickets(ts, sigs, rands);
        (uint256 d, uint256 r,) = _funds(sender);
        assertEq(d + r, 2 ether);
        assertFalse(broker.isTicketUsed(t));
        assertEq(_feesHeld(), 0);
    }

    function test_redeem_resignedRecipient_reverts_registeredInactivePaid() public {
        _fund(sender, 1 ether, 0);
        // Registered this round, so not active yet: paid from the deposit all the same.
        _registerOnly(orch2, 1 ether, 0, 0);
        assertFalse(bonding.isActive(orch2));
        TicketBroker.Ticket memory t = _ticket(orch2, sender, FACE, 1, RAND);
        _redeem(t, _sign(SENDER_KEY, t), RAND);
        // Resigned: its remaining winners are refused.
        vm.prank(orch);
        bonding.resign();
        t = _ticket(orch, sender, FACE, 2, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.NotRegistered.selector, orch));
        _redeem(t, sig, RAND);
        assertFalse(broker.isTicketUsed(t));
    }

    // ------------------------------------------------------------ the current round must be initialized

    function test_redeem_currentRoundNotInitialized_reverts() public {
        _fund(sender, 1 ether, 0);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        // The next round starts but nobody initialized it.
        vm.roll((block.number / ROUND_LENGTH + 1) * ROUND_LENGTH);
        assertFalse(rounds.currentRoundInitialized());
        vm.expectRevert(TicketBroker.RoundNotInitialized.selector);
        _redeem(t, sig, RAND);
        (TicketBroker.Ticket[] memory ts, bytes[] memory sigs, uint256[] memory rands) = _one(t, sig, RAND);
        vm.expectRevert(
            abi.encodeWithSelector(
                TicketBroker.BatchTicketFailed.selector, 0, TicketBroker.RoundNotInitialized.selector
            )
        );
        broker.batchRedeemWinningTickets(ts, sigs, rands);
        assertFalse(broker.isTicketUsed(t));
        rounds.initializeRound();
        _redeem(t, sig, RAND);
        assertTrue(broker.usedTickets(_hash(t)));
    }

    // ------------------------------------------------------------ documented differences from Livepeer

    /// Livepeer redeems a zero face value for nothing and spends the ticket; we refuse it.
    function test_difference_zeroFaceValue_refused() public {
        _fund(sender, 1 ether, 0);
        TicketBroker.Ticket memory t = _ticket(orch, sender, 0, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        vm.expectRevert(TicketBroker.ZeroFaceValue.selector);
        _redeem(t, sig, RAND);
        assertFalse(broker.usedTickets(_hash(t)));
    }

    /// Livepeer pays what the deposit holds and spends the ticket; we refuse and keep it, so it is paid in
    /// full once the sender has funds again within the ticket's validity.
    function test_difference_faceAboveDepositNoReserve_keptForLater() public {
        _fund(sender, FACE / 2, 0);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        vm.expectRevert(TicketBroker.InsufficientFunds.selector);
        _redeem(t, sig, RAND);
        assertFalse(broker.usedTickets(_hash(t)));
        _fund(sender, FACE, 0);
        _redeem(t, sig, RAND);
        (uint256 d,,) = _funds(sender);
        assertEq(d, FACE / 2);
        assertEq(_feesHeld(), FACE);
    }

    // ------------------------------------------------------------ reentrancy

    function test_attack_batchReentrancyDuringWithdraw() public {
        BatchReenteringSender attacker = new BatchReenteringSender(broker);
        vm.deal(address(this), 1 ether);
        attacker.fundAndUnlock{value: 1 ether}();
        _fund(sender, 1 ether, 0);
        _advanceRounds(UNLOCK_PERIOD);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        attacker.arm(t, sig, RAND);
        attacker.withdraw();
        assertEq(attacker.received(), 1 ether, "paid once");
        assertEq(
            attacker.batchError(),
            abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)
        );
        assertFalse(broker.isTicketUsed(t));
        _redeem(t, sig, RAND);
    }
}
