// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./base/Fixture.sol";
import {TicketBroker} from "../src/TicketBroker.sol";
import {BondingManager} from "../src/BondingManager.sol";
import {FaultVerifier} from "../src/FaultVerifier.sol";
import {IFaultVerifier} from "../src/interfaces/IFaultVerifier.sol";
import {StakeToken} from "../src/StakeToken.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @dev A sender contract whose receive hook tries to re-enter the broker while it is paid out.
contract ReenteringSender {
    TicketBroker internal immutable broker;
    TicketBroker.Ticket internal pending;
    bytes internal pendingSig;
    uint256 internal pendingRand;
    bytes public withdrawError;
    bytes public redeemError;
    uint256 public received;

    constructor(TicketBroker broker_) {
        broker = broker_;
    }

    function fundAndUnlock() external payable {
        broker.fundDepositAndReserve{value: msg.value}(msg.value, 0);
        broker.unlock();
    }

    function arm(TicketBroker.Ticket calldata t, bytes calldata sig, uint256 rand) external {
        pending = t;
        pendingSig = sig;
        pendingRand = rand;
    }

    function withdraw() external {
        broker.withdraw();
    }

    receive() external payable {
        received += msg.value;
        try broker.withdraw() {}
        catch (bytes memory err) {
            withdrawError = err;
        }
        try broker.redeemWinningTicket(pending, pendingSig, pendingRand) {}
        catch (bytes memory err) {
            redeemError = err;
        }
    }
}

/// @dev An orchestrator contract whose receive hook tries to withdraw its fees twice.
contract ReenteringOrchestrator {
    BondingManager internal immutable bonding;
    bytes public reentryError;
    uint256 public received;

    constructor(BondingManager bonding_) {
        bonding = bonding_;
    }

    function setUpStake(StakeToken token, uint256 amount) external {
        token.approve(address(bonding), amount);
        bonding.bond(amount, address(this));
        bonding.registerOrchestrator(0, 0);
    }

    function withdrawFees(uint256 amount) external {
        bonding.withdrawFees(payable(address(this)), amount);
    }

    receive() external payable {
        received += msg.value;
        try bonding.withdrawFees(payable(address(this)), msg.value) {}
        catch (bytes memory err) {
            reentryError = err;
        }
    }
}

contract AttacksTest is Fixture {
    uint256 internal constant FACE = 0.01 ether;
    uint256 internal constant RAND = 0xfeed;
    uint256 internal constant SECP_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    function setUp() public override {
        super.setUp();
        _activate(orch, 1000 ether, 100_000, 500_000);
    }

    function _signed(uint256 nonce) internal view returns (TicketBroker.Ticket memory t, bytes memory sig) {
        t = _ticket(orch, sender, FACE, nonce, RAND);
        sig = _sign(SENDER_KEY, t);
    }

    function _senderState() internal view returns (bytes32) {
        (uint256 d, uint256 r, uint256 w) = _funds(sender);
        return keccak256(abi.encode(d, r, w, address(broker).balance, address(bonding).balance));
    }

    // ------------------------------------------------------------ Livepeer #657 and #663

    /// #657: a sender with only a reserve front-runs the redemption with a 1-wei deposit. The reference
    /// broker used to pay the dust and burn the ticket. Here the ticket is paid in full (dust from the
    /// deposit, the rest from the recipient's reserve share).
    function test_attack_oneWeiFrontrunDeposit_paysInFull() public {
        _fund(sender, 0, 1 ether);
        (TicketBroker.Ticket memory t, bytes memory sig) = _signed(1);
        vm.deal(sender, 1);
        vm.prank(sender);
        broker.fundDeposit{value: 1}();
        _redeem(t, sig, RAND);
        assertEq(_feesHeld(), FACE, "full face value credited");
        (uint256 d, uint256 r,) = _funds(sender);
        assertEq(d, 0);
        assertEq(r, 1 ether - (FACE - 1));
    }

    /// #657 where the reserve share cannot cover the rest: the redemption reverts and the ticket survives.
    function test_attack_oneWeiFrontrunDeposit_noReserve_ticketSurvives() public {
        (TicketBroker.Ticket memory t, bytes memory sig) = _signed(1);
        _fund(sender, 1, 0);
        bytes32 before = _senderState();
        vm.expectRevert(TicketBroker.InsufficientFunds.selector);
        _redeem(t, sig, RAND);
        assertEq(_senderState(), before, "nothing moved");
        assertFalse(broker.isTicketUsed(t), "ticket not burnt");
        _fund(sender, FACE, 0);
        _redeem(t, sig, RAND);
        assertEq(_feesHeld(), FACE);
    }

    /// #663: deposit + whole reserve covers the face value but the recipient's share does not. The
    /// reference pays the share and burns the ticket; here it reverts and the ticket can be redeemed in
    /// full once the sender has funds again.
    function test_attack_partialPayout_reverts_ticketSurvives() public {
        _activate(orch2, 1000 ether, 0, 0);
        _fund(sender, 0, 1 ether); // share per orchestrator: 0.5 ether
        TicketBroker.Ticket memory t = _ticket(orch, sender, 0.8 ether, 1, RAND);
        bytes memory sig = _sign(SENDER_KEY, t);
        bytes32 before = _senderState();
        vm.expectRevert(TicketBroker.InsufficientFunds.selector);
        _redeem(t, sig, RAND);
        assertEq(_senderState(), before);
        assertFalse(broker.isTicketUsed(t));

        _fund(sender, 0.3 ether, 0);
        _redeem(t, sig, RAND);
        assertEq(_feesHeld(), 0.8 ether);
        (uint256 d, uint256 r,) = _funds(sender);
        assertEq(d, 0);
        assertEq(r, 0.5 ether);
    }

    // ------------------------------------------------------------ replay and expiry

    function test_attack_reusedTicket() public {
        _fund(sender, 1 ether, 0);
        (TicketBroker.Ticket memory t, bytes memory sig) = _signed(1);
        _redeem(t, sig, RAND);
        bytes32 before = _senderState();
        vm.expectRevert(TicketBroker.TicketAlreadyUsed.selector);
        _redeem(t, sig, RAND);
        // The malleable twin (r, n - s, v ^ 1) is refused before the replay check could be bypassed.
        (bytes32 r, bytes32 s, uint8 v) = _split(sig);
        bytes memory twin = abi.encodePacked(r, bytes32(SECP_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        vm.expectRevert(TicketBroker.InvalidSignatureS.selector);
        _redeem(t, twin, RAND);
        assertEq(_senderState(), before);
    }

    function test_attack_expiredTicket() public {
        _fund(sender, 1 ether, 0);
        (TicketBroker.Ticket memory t, bytes memory sig) = _signed(1);
        (TicketBroker.Ticket memory t2, bytes memory sig2) = _signed(2);
        _advanceRounds(VALIDITY - 1);
        _redeem(t2, sig2, RAND); // last valid round
        _nextRound();
        bytes32 before = _senderState();
        vm.expectRevert(TicketBroker.TicketExpired.selector);
        _redeem(t, sig, RAND);
        assertEq(_senderState(), before);
    }

    function test_attack_wrongCreationRoundBlockHash() public {
        _fund(sender, 1 ether, 0);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        t.auxData = abi.encodePacked(_round(), keccak256("not the block hash"));
        bytes memory sig = _sign(SENDER_KEY, t);
        vm.expectRevert(TicketBroker.InvalidCreationRoundBlockHash.selector);
        _redeem(t, sig, RAND);

        // A round that was never initialized.
        vm.roll(block.number + ROUND_LENGTH);
        t.auxData = abi.encodePacked(_round(), bytes32(0));
        sig = _sign(SENDER_KEY, t);
        vm.expectRevert(TicketBroker.InvalidCreationRoundBlockHash.selector);
        _redeem(t, sig, RAND);

        // A future round, and an absurd one that must not overflow the expiry arithmetic.
        t.auxData = abi.encodePacked(_round() + 5, bytes32(uint256(1)));
        sig = _sign(SENDER_KEY, t);
        vm.expectRevert(TicketBroker.InvalidCreationRoundBlockHash.selector);
        _redeem(t, sig, RAND);
        t.auxData = abi.encodePacked(type(uint256).max, bytes32(uint256(1)));
        sig = _sign(SENDER_KEY, t);
        vm.expectRevert(TicketBroker.InvalidCreationRoundBlockHash.selector);
        _redeem(t, sig, RAND);
    }

    // ------------------------------------------------------------ signatures

    function _split(bytes memory sig) internal pure returns (bytes32 r, bytes32 s, uint8 v) {
        assembly {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
    }

    function test_attack_wrongSigner() public {
        _fund(sender, 1 ether, 0);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        bytes memory sig = _sign(SENDER2_KEY, t);
        vm.expectRevert(TicketBroker.InvalidSignature.selector);
        _redeem(t, sig, RAND);
        // Signing the raw hash without the EIP-191 prefix is not accepted either.
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(SENDER_KEY, _hash(t));
        vm.expectRevert(TicketBroker.InvalidSignature.selector);
        _redeem(t, abi.encodePacked(r, s, v), RAND);
    }

    function test_attack_signatureLength() public {
        _fund(sender, 1 ether, 0);
        (TicketBroker.Ticket memory t, bytes memory sig) = _signed(1);
        (bytes32 r, bytes32 s, uint8 v) = _split(sig);
        bytes memory short = abi.encodePacked(r, s); // 64 bytes (EIP-2098 form is refused)
        bytes memory long = abi.encodePacked(r, s, v, uint8(0));
        vm.expectRevert(TicketBroker.InvalidSignatureLength.selector);
        _redeem(t, short, RAND);
        vm.expectRevert(TicketBroker.InvalidSignatureLength.selector);
        _redeem(t, long, RAND);
        vm.expectRevert(TicketBroker.InvalidSignatureLength.selector);
        _redeem(t, "", RAND);
    }

    function test_attack_highS() public {
        _fund(sender, 1 ether, 0);
        (TicketBroker.Ticket memory t, bytes memory sig) = _signed(1);
        (bytes32 r, bytes32 s, uint8 v) = _split(sig);
        bytes memory high = abi.encodePacked(r, bytes32(SECP_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        vm.expectRevert(TicketBroker.InvalidSignatureS.selector);
        _redeem(t, high, RAND);
    }

    function test_attack_wrongV() public {
        _fund(sender, 1 ether, 0);
        (TicketBroker.Ticket memory t, bytes memory sig) = _signed(1);
        (bytes32 r, bytes32 s, uint8 v) = _split(sig);
        uint8[4] memory bad = [uint8(0), 1, 26, 29];
        for (uint256 i; i < bad.length; ++i) {
            vm.expectRevert(TicketBroker.InvalidSignatureV.selector);
            _redeem(t, abi.encodePacked(r, s, bad[i]), RAND);
        }
        // The other valid v recovers another key.
        vm.expectRevert(TicketBroker.InvalidSignature.selector);
        _redeem(t, abi.encodePacked(r, s, v == 27 ? uint8(28) : uint8(27)), RAND);
        // r = 0 recovers nothing.
        vm.expectRevert(TicketBroker.InvalidSignature.selector);
        _redeem(t, abi.encodePacked(bytes32(0), s, v), RAND);
    }

    function test_attack_wrongRecipientRand() public {
        _fund(sender, 1 ether, 0);
        (TicketBroker.Ticket memory t, bytes memory sig) = _signed(1);
        vm.expectRevert(TicketBroker.InvalidRecipientRand.selector);
        _redeem(t, sig, RAND + 1);
    }

    function test_attack_malformedTicketFields() public {
        _fund(sender, 1 ether, 0);
        TicketBroker.Ticket memory t = _ticket(orch, sender, FACE, 1, RAND);
        t.recipient = address(0);
        vm.expectRevert(TicketBroker.InvalidRecipient.selector);
        _redeem(t, _sign(SENDER_KEY, t), RAND);
        t = _ticket(orch, sender, FACE, 1, RAND);
        t.sender = address(0);
        vm.expectRevert(TicketBroker.InvalidSender.selector);
        _redeem(t, _sign(SENDER_KEY, t), RAND);
        t = _ticket(orch, sender, 0, 1, RAND);
        vm.expectRevert(TicketBroker.ZeroFaceValue.selector);
        _redeem(t, _sign(SENDER_KEY, t), RAND);
        t = _ticket(orch, sender, FACE, 1, RAND);
        t.auxData = "";
        vm.expectRevert(TicketBroker.InvalidAuxData.selector);
        _redeem(t, _sign(SENDER_KEY, t), RAND);
        t.auxData = abi.encodePacked(_auxData(_round()), uint8(0));
        vm.expectRevert(TicketBroker.InvalidAuxData.selector);
        _redeem(t, _sign(SENDER_KEY, t), RAND);
    }

    function test_attack_malformedCalldata_changesNothing() public {
        _fund(sender, 1 ether, 0);
        (TicketBroker.Ticket memory t, bytes memory sig) = _signed(1);
        bytes memory good = abi.encodeCall(TicketBroker.redeemWinningTicket, (t, sig, RAND));
        bytes32 before = _senderState();
        // Truncated calldata.
        bytes memory truncated = new bytes(good.length - 40);
        for (uint256 i; i < truncated.length; ++i) {
            truncated[i] = good[i];
        }
        (bool ok,) = address(broker).call(truncated);
        assertFalse(ok, "truncated calldata accepted");
        // An offset pointing outside the calldata.
        bytes memory badOffset = bytes.concat(good);
        badOffset[35] = 0xff;
        (ok,) = address(broker).call(badOffset);
        assertFalse(ok, "bad offset accepted");
        // Unknown selector, and plain ETH: there is no fallback.
        (ok,) = address(broker).call(abi.encodeWithSignature("nope()"));
        assertFalse(ok);
        vm.deal(address(this), 1 ether);
        (ok,) = address(broker).call{value: 1 ether}("");
        assertFalse(ok, "plain ETH accepted by the broker");
        (ok,) = address(bonding).call{value: 1 ether}("");
        assertFalse(ok, "plain ETH accepted by the bonding manager");
        assertEq(_senderState(), before);
        assertFalse(broker.isTicketUsed(t));
        _redeem(t, sig, RAND);
    }

    /// Addresses with dirty upper bits are refused by the ABI checks before any field is used: the
    /// redemption's later plain calldata loads only ever see validated words.
    function test_attack_dirtyAddressBits_refused() public {
        _fund(sender, 1 ether, 0);
        (TicketBroker.Ticket memory t, bytes memory sig) = _signed(1);
        bytes memory good = abi.encodeCall(TicketBroker.redeemWinningTicket, (t, sig, RAND));
        // The ticket's head starts at 4 + 0x60: recipient word, then sender word.
        for (uint256 field; field < 2; ++field) {
            bytes memory dirty = bytes.concat(good);
            dirty[4 + 0x60 + field * 32] = 0x01;
            (bool ok,) = address(broker).call(dirty);
            assertFalse(ok, "dirty address accepted");
        }
        assertFalse(broker.isTicketUsed(t));
        _redeem(t, sig, RAND);
        assertTrue(broker.isTicketUsed(t));
    }

    // ------------------------------------------------------------ authorization

    function test_attack_unauthorizedSlash() public {
        uint256 stakeBefore = bonding.pendingStake(orch);
        vm.prank(orch2);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.Unauthorized.selector, orch2));
        bonding.slash(orch, 1_000_000, orch2, 1_000_000);
        vm.expectRevert(abi.encodeWithSelector(BondingManager.Unauthorized.selector, address(this)));
        bonding.slash(orch, 1_000_000, address(this), 1_000_000);
        assertEq(bonding.pendingStake(orch), stakeBefore);
    }

    function test_attack_unauthorizedFeeCredit() public {
        vm.deal(address(this), 1 ether);
        uint256 round = _round();
        vm.expectRevert(abi.encodeWithSelector(BondingManager.Unauthorized.selector, address(this)));
        bonding.creditFees(orch, round, 1 ether);
        assertEq(bonding.pendingFees(orch), 0);
    }

    function test_attack_unauthorizedVerdictAndWiring() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                FaultVerifier.ChallengeNotPending.selector, bytes32(0), IFaultVerifier.Status.None
            )
        );
        fault.resolve(bytes32(0), true);
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, orch));
        bonding.initialize(orch, orch);
        vm.expectRevert(BondingManager.AlreadyInitialized.selector);
        bonding.initialize(orch, orch);
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(StakeToken.NotMinter.selector, orch));
        token.mint(orch, 1);
        vm.prank(orch);
        vm.expectRevert(abi.encodeWithSelector(StakeToken.NotDeployer.selector, orch));
        token.setMinter(orch);
        vm.expectRevert(StakeToken.MinterAlreadySet.selector);
        token.setMinter(orch);
    }

    // ------------------------------------------------------------ reentrancy

    function test_attack_reentrancyOnWithdrawAndRedeem() public {
        ReenteringSender attacker = new ReenteringSender(broker);
        vm.deal(address(this), 1 ether);
        attacker.fundAndUnlock{value: 1 ether}();
        // A valid ticket (from an ordinary sender) that the hook tries to redeem mid-withdrawal.
        _fund(sender, 1 ether, 0);
        (TicketBroker.Ticket memory t, bytes memory sig) = _signed(1);
        attacker.arm(t, sig, RAND);
        _advanceRounds(UNLOCK_PERIOD);
        // Re-sign against a live round so that only the guard can stop it.
        t = _ticket(orch, sender, FACE, 2, RAND);
        sig = _sign(SENDER_KEY, t);
        attacker.arm(t, sig, RAND);

        attacker.withdraw();
        bytes memory guard =
            abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        assertEq(attacker.received(), 1 ether, "paid once");
        assertEq(attacker.withdrawError(), guard, "withdraw re-entry blocked");
        assertEq(attacker.redeemError(), guard, "redeem re-entry blocked");
        assertEq(address(broker).balance, 1 ether, "only the honest sender's deposit is left");
        assertFalse(broker.isTicketUsed(t));
        _redeem(t, sig, RAND);
    }

    function test_attack_reentrancyOnWithdrawFees() public {
        ReenteringOrchestrator o = new ReenteringOrchestrator(bonding);
        _give(address(o), 1000 ether);
        o.setUpStake(token, 1000 ether);
        _fund(sender, 1 ether, 0);
        TicketBroker.Ticket memory t = _ticket(address(o), sender, FACE, 1, RAND);
        _redeem(t, _sign(SENDER_KEY, t), RAND);
        assertEq(bonding.pendingFees(address(o)), FACE);
        o.withdrawFees(FACE / 2);
        assertEq(o.received(), FACE / 2, "paid once");
        assertEq(
            o.reentryError(),
            abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)
        );
        assertEq(bonding.pendingFees(address(o)), FACE / 2);
        assertEq(_feesHeld(), FACE / 2);
    }
}
