// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {TestBase} from "./TestBase.sol";
import {RoundsManager} from "../../src/RoundsManager.sol";
import {StakeToken} from "../../src/StakeToken.sol";
import {BondingManager} from "../../src/BondingManager.sol";
import {TicketBroker} from "../../src/TicketBroker.sol";
import {ServiceRegistry} from "../../src/ServiceRegistry.sol";
import {FaultVerifier} from "../../src/FaultVerifier.sol";
import {TrustedVerifier} from "../../src/TrustedVerifier.sol";
import {IRoundsManager} from "../../src/interfaces/IRoundsManager.sol";
import {IStakeToken} from "../../src/interfaces/IStakeToken.sol";
import {IBondingManager} from "../../src/interfaces/IBondingManager.sol";
import {IServiceRegistry} from "../../src/interfaces/IServiceRegistry.sol";
import {IFaultVerifier} from "../../src/interfaces/IFaultVerifier.sol";

/// @notice Deploys and wires the whole system in the documented order, plus helpers shared by the tests.
abstract contract Fixture is TestBase {
    uint256 internal constant ROUND_LENGTH = 100;
    uint256 internal constant MIN_ACTIVE_STAKE = 100 ether;
    uint256 internal constant UNBONDING_PERIOD = 7;
    uint256 internal constant INFLATION_PPB = 1_000_000; // 0.1% of the supply per round
    uint256 internal constant UNLOCK_PERIOD = 3;
    uint256 internal constant VALIDITY = 2;
    uint256 internal constant GRACE_BLOCKS = 1000;
    uint256 internal constant CHALLENGE_BOND = 0.1 ether;
    uint256 internal constant CHALLENGE_WINDOW = 500;
    uint256 internal constant SLASH_PPM = 500_000;
    uint256 internal constant FINDER_PPM = 100_000;
    uint256 internal constant SUPPLY = 10_000_000 ether;

    uint256 internal constant SENDER_KEY = 0xB0B;
    uint256 internal constant SENDER2_KEY = 0xB0C;
    uint256 internal constant ORCH_KEY = 0x0C1;
    uint256 internal constant ORCH2_KEY = 0x0C2;

    RoundsManager internal rounds;
    StakeToken internal token;
    BondingManager internal bonding;
    TicketBroker internal broker;
    ServiceRegistry internal registry;
    FaultVerifier internal fault;
    TrustedVerifier internal trusted;

    address internal sender;
    address internal sender2;
    address internal orch;
    address internal orch2;
    address internal voter1 = address(0xA1);
    address internal voter2 = address(0xA2);
    address internal voter3 = address(0xA3);

    function setUp() public virtual {
        vm.roll(10 * ROUND_LENGTH);
        sender = vm.addr(SENDER_KEY);
        sender2 = vm.addr(SENDER2_KEY);
        orch = vm.addr(ORCH_KEY);
        orch2 = vm.addr(ORCH2_KEY);
        _deploy();
        rounds.initializeRound();
    }

    function _deploy() internal {
        rounds = new RoundsManager(ROUND_LENGTH);
        token = new StakeToken("Livepeer-rs Stake", "LPS", address(this), SUPPLY);
        bonding = new BondingManager(
            IStakeToken(address(token)),
            IRoundsManager(address(rounds)),
            MIN_ACTIVE_STAKE,
            UNBONDING_PERIOD,
            INFLATION_PPB
        );
        registry = new ServiceRegistry(IBondingManager(address(bonding)), GRACE_BLOCKS);
        broker = new TicketBroker(
            IRoundsManager(address(rounds)), IBondingManager(address(bonding)), UNLOCK_PERIOD, VALIDITY
        );
        fault = new FaultVerifier(
            IBondingManager(address(bonding)),
            IServiceRegistry(address(registry)),
            CHALLENGE_BOND,
            CHALLENGE_WINDOW,
            SLASH_PPM,
            FINDER_PPM
        );
        address[] memory voters = new address[](3);
        voters[0] = voter1;
        voters[1] = voter2;
        voters[2] = voter3;
        trusted = new TrustedVerifier(IFaultVerifier(address(fault)), voters, 2);
        token.setMinter(address(bonding));
        bonding.initialize(address(broker), address(fault));
    }

    // ------------------------------------------------------------ time

    function _round() internal view returns (uint256) {
        return rounds.currentRound();
    }

    /// @dev Moves to the first block of the next round and initializes it.
    function _nextRound() internal {
        vm.roll((block.number / ROUND_LENGTH + 1) * ROUND_LENGTH);
        rounds.initializeRound();
    }

    function _advanceRounds(uint256 n) internal {
        for (uint256 i; i < n; ++i) {
            _nextRound();
        }
    }

    // ------------------------------------------------------------ staking

    function _give(address to, uint256 amount) internal {
        token.transfer(to, amount);
    }

    function _bond(address delegator, uint256 amount, address to) internal {
        _give(delegator, amount);
        vm.startPrank(delegator);
        token.approve(address(bonding), amount);
        bonding.bond(amount, to);
        vm.stopPrank();
    }

    /// @dev Bonds `stake` to itself, registers, and moves to the next round so that it is active.
    function _activate(address o, uint256 stake, uint256 rewardCut, uint256 feeShare) internal {
        _registerOnly(o, stake, rewardCut, feeShare);
        _nextRound();
    }

    function _registerOnly(address o, uint256 stake, uint256 rewardCut, uint256 feeShare) internal {
        _bond(o, stake, o);
        vm.prank(o);
        bonding.registerOrchestrator(rewardCut, feeShare);
    }

    // ------------------------------------------------------------ tickets

    function _fund(address s, uint256 deposit, uint256 reserve) internal {
        vm.deal(s, s.balance + deposit + reserve);
        vm.prank(s);
        broker.fundDepositAndReserve{value: deposit + reserve}(deposit, reserve);
    }

    /// @dev A sender's deposit, reserve and withdraw round, read through Livepeer's `getSenderInfo` layout.
    function _funds(address s)
        internal
        view
        returns (uint256 deposit, uint256 reserve, uint256 withdrawRound)
    {
        (TicketBroker.SenderInfo memory info, TicketBroker.ReserveInfo memory r) = broker.getSenderInfo(s);
        return (info.deposit, r.fundsRemaining, info.withdrawRound);
    }

    /// @dev Wei the broker holds for fees credited in the BondingManager (fees stay in the broker until a
    /// withdrawal): its balance minus the funds of the fixture's two senders.
    function _feesHeld() internal view returns (uint256) {
        (uint256 d1, uint256 r1,) = _funds(sender);
        (uint256 d2, uint256 r2,) = _funds(sender2);
        return address(broker).balance - d1 - r1 - d2 - r2;
    }

    function _auxData(uint256 round) internal view returns (bytes memory) {
        return abi.encodePacked(round, rounds.blockHashForRound(round));
    }

    function _ticket(address recipient, address s, uint256 faceValue, uint256 nonce, uint256 rand)
        internal
        view
        returns (TicketBroker.Ticket memory t)
    {
        t = TicketBroker.Ticket({
            recipient: recipient,
            sender: s,
            faceValue: faceValue,
            winProb: type(uint256).max,
            senderNonce: nonce,
            recipientRandHash: keccak256(abi.encodePacked(rand)),
            auxData: _auxData(_round())
        });
    }

    function _hash(TicketBroker.Ticket memory t) internal pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                t.recipient, t.sender, t.faceValue, t.winProb, t.senderNonce, t.recipientRandHash, t.auxData
            )
        );
    }

    function _personalDigest(bytes32 hash) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", hash));
    }

    function _signHash(uint256 key, bytes32 hash) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, _personalDigest(hash));
        return abi.encodePacked(r, s, v);
    }

    function _sign(uint256 key, TicketBroker.Ticket memory t) internal pure returns (bytes memory) {
        return _signHash(key, _hash(t));
    }

    function _redeem(TicketBroker.Ticket memory t, bytes memory sig, uint256 rand) internal {
        broker.redeemWinningTicket(t, sig, rand);
    }
}
