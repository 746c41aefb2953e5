// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./base/Fixture.sol";
import {FaultVerifier} from "../src/FaultVerifier.sol";
import {TrustedVerifier} from "../src/TrustedVerifier.sol";
import {ServiceRegistry} from "../src/ServiceRegistry.sol";
import {BondingManager} from "../src/BondingManager.sol";
import {IFaultVerifier} from "../src/interfaces/IFaultVerifier.sol";
import {IBondingManager} from "../src/interfaces/IBondingManager.sol";
import {IServiceRegistry} from "../src/interfaces/IServiceRegistry.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract FaultVerifierTest is Fixture {
    bytes32 internal constant SERVICE = "transcode/cpu";
    bytes32 internal constant UNVERIFIED = "transcode/gpu";
    uint256 internal constant SECP_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    function setUp() public override {
        super.setUp();
        _activate(orch, 1000 ether, 0, 0);
        ServiceRegistry.Service[] memory s = new ServiceRegistry.Service[](2);
        s[0] = ServiceRegistry.Service(SERVICE, address(trusted));
        s[1] = ServiceRegistry.Service(UNVERIFIED, address(0));
        vm.prank(orch);
        registry.setServices(s);
        vm.deal(sender, 10 ether);
    }

    function _receipt() internal view returns (FaultVerifier.Receipt memory r) {
        bytes32[] memory profiles = new bytes32[](2);
        profiles[0] = "h264 720p";
        profiles[1] = "h264 360p";
        bytes32[] memory outputs = new bytes32[](2);
        outputs[0] = keccak256("out720");
        outputs[1] = keccak256("out360");
        uint64[] memory pixels = new uint64[](2);
        pixels[0] = 1280 * 720 * 60;
        pixels[1] = 640 * 360 * 60;
        r = FaultVerifier.Receipt({
            orchestrator: orch,
            broadcaster: sender,
            streamId: keccak256("stream"),
            seq: 42,
            inputHash: keccak256("input"),
            profileIds: profiles,
            outputHashes: outputs,
            pixels: pixels
        });
    }

    function _claim() internal view returns (FaultVerifier.SegmentClaim memory c) {
        FaultVerifier.Receipt memory r = _receipt();
        c = FaultVerifier.SegmentClaim({
            broadcaster: sender,
            orchestrator: orch,
            streamId: r.streamId,
            seq: r.seq,
            inputHash: r.inputHash,
            profileIds: r.profileIds,
            durationMs: 2000
        });
    }

    bytes32 internal constant RECEIPT_TYPE = keccak256(
        "Receipt(address orchestrator,address broadcaster,bytes32 streamId,uint64 seq,bytes32 inputHash,"
        "bytes32[] profileIds,bytes32[] outputHashes,uint64[] pixels)"
    );
    bytes32 internal constant CLAIM_TYPE = keccak256(
        "SegmentClaim(address broadcaster,address orchestrator,bytes32 streamId,uint64 seq,bytes32 inputHash,"
        "bytes32[] profileIds,uint64 durationMs)"
    );

    /// @dev EIP-712 arrays: the keccak256 of their elements, each one 32-byte word.
    function _words(bytes32[] memory a) internal pure returns (bytes32 h) {
        bytes memory packed;
        for (uint256 i = 0; i < a.length; i++) {
            packed = bytes.concat(packed, a[i]);
        }
        h = keccak256(packed);
    }

    function _uints(uint64[] memory a) internal pure returns (bytes32 h) {
        bytes memory packed;
        for (uint256 i = 0; i < a.length; i++) {
            packed = bytes.concat(packed, bytes32(uint256(a[i])));
        }
        h = keccak256(packed);
    }

    function _receiptHash(FaultVerifier.Receipt memory r) internal pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                abi.encode(RECEIPT_TYPE, r.orchestrator, r.broadcaster, r.streamId, r.seq, r.inputHash),
                abi.encode(_words(r.profileIds), _words(r.outputHashes), _uints(r.pixels))
            )
        );
    }

    function _claimHash(FaultVerifier.SegmentClaim memory c) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                CLAIM_TYPE,
                c.broadcaster,
                c.orchestrator,
                c.streamId,
                c.seq,
                c.inputHash,
                _words(c.profileIds),
                c.durationMs
            )
        );
    }

    function _separator(uint256 chainId, address verifying) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("livepeer-rs"),
                keccak256("1"),
                chainId,
                verifying
            )
        );
    }

    function _digestFor(uint256 chainId, address verifying, bytes32 structHash)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(hex"1901", _separator(chainId, verifying), structHash));
    }

    function _signFor(uint256 key, uint256 chainId, address verifying, bytes32 structHash)
        internal
        pure
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, _digestFor(chainId, verifying, structHash));
        return abi.encodePacked(r, s, v);
    }

    /// @dev Signs `structHash` for the deployed FaultVerifier on the current chain.
    function _signTyped(uint256 key, bytes32 structHash) internal view returns (bytes memory) {
        return _signFor(key, block.chainid, address(fault), structHash);
    }

    /// @dev Who `sig` recovers to for `structHash` on the deployed FaultVerifier.
    function _recoverHere(bytes memory sig, bytes32 structHash) internal view returns (address) {
        bytes32 rr;
        bytes32 ss;
        assembly {
            rr := mload(add(sig, 32))
            ss := mload(add(sig, 64))
        }
        return ecrecover(_digestFor(block.chainid, address(fault), structHash), uint8(sig[64]), rr, ss);
    }

    function _open(FaultVerifier.Receipt memory r, FaultVerifier.SegmentClaim memory c)
        internal
        returns (bytes32)
    {
        bytes memory rs = _signTyped(ORCH_KEY, _receiptHash(r));
        bytes memory cs = _signTyped(SENDER_KEY, _claimHash(c));
        vm.prank(sender);
        return fault.openChallenge{value: CHALLENGE_BOND}(r, rs, c, cs, SERVICE);
    }

    function _openDefault() internal returns (bytes32) {
        return _open(_receipt(), _claim());
    }

    // ------------------------------------------------------------ construction and hashes

    function test_constructor() public {
        IBondingManager b = IBondingManager(address(bonding));
        IServiceRegistry s = IServiceRegistry(address(registry));
        vm.expectRevert(FaultVerifier.ZeroAddress.selector);
        new FaultVerifier(IBondingManager(address(0)), s, 1, 1, 1, 1);
        vm.expectRevert(FaultVerifier.ZeroAddress.selector);
        new FaultVerifier(b, IServiceRegistry(address(0)), 1, 1, 1, 1);
        vm.expectRevert(FaultVerifier.InvalidParameter.selector);
        new FaultVerifier(b, s, 1, 0, 1, 1);
        vm.expectRevert(FaultVerifier.InvalidParameter.selector);
        new FaultVerifier(b, s, 1, 1, 1_000_001, 1);
        vm.expectRevert(FaultVerifier.InvalidParameter.selector);
        new FaultVerifier(b, s, 1, 1, 1, 1_000_001);
        assertEq(fault.challengeBond(), CHALLENGE_BOND);
        assertEq(fault.challengeWindow(), CHALLENGE_WINDOW);
        assertEq(fault.slashFractionPPM(), SLASH_PPM);
        assertEq(fault.finderFeePPM(), FINDER_PPM);
        assertEq(address(fault.bondingManager()), address(bonding));
        assertEq(address(fault.serviceRegistry()), address(registry));
        assertEq(fault.RECEIPT_TYPEHASH(), RECEIPT_TYPE);
        assertEq(fault.SEGMENT_CLAIM_TYPEHASH(), CLAIM_TYPE);
    }

    function test_hashes() public view {
        assertEq(fault.receiptHash(_receipt()), _receiptHash(_receipt()));
        assertEq(fault.claimHash(_claim()), _claimHash(_claim()));
        assertEq(
            fault.receiptDigest(_receipt()),
            _digestFor(block.chainid, address(fault), _receiptHash(_receipt()))
        );
        assertEq(fault.claimDigest(_claim()), _digestFor(block.chainid, address(fault), _claimHash(_claim())));
        // Empty arrays hash to the keccak256 of nothing.
        FaultVerifier.Receipt memory r = _receipt();
        r.profileIds = new bytes32[](0);
        r.outputHashes = new bytes32[](0);
        r.pixels = new uint64[](0);
        assertEq(fault.receiptHash(r), _receiptHash(r));
    }

    function test_eip712Domain() public {
        (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifying,
            bytes32 salt,
            uint256[] memory extensions
        ) = fault.eip712Domain();
        assertTrue(fields == hex"0f");
        assertEq(name, "livepeer-rs", "name");
        assertEq(version, "1", "version");
        assertEq(chainId, block.chainid);
        assertEq(verifying, address(fault));
        assertEq(salt, bytes32(0));
        assertEq(extensions.length, 0);
        assertEq(fault.DOMAIN_SEPARATOR(), _separator(block.chainid, address(fault)));
        // After a fork to another chain id the separator follows the chain.
        vm.chainId(block.chainid + 1);
        assertEq(fault.DOMAIN_SEPARATOR(), _separator(block.chainid, address(fault)));
        (,,, chainId,,,) = fault.eip712Domain();
        assertEq(chainId, block.chainid);
    }

    // ------------------------------------------------------------ replay across domains

    /// A receipt and claim signed for another chain id do not recover to their signers here.
    function test_attack_replayFromAnotherChain() public {
        FaultVerifier.Receipt memory r = _receipt();
        FaultVerifier.SegmentClaim memory c = _claim();
        uint256 otherChain = block.chainid + 1;
        bytes memory rs = _signFor(ORCH_KEY, otherChain, address(fault), _receiptHash(r));
        bytes memory cs = _signFor(SENDER_KEY, otherChain, address(fault), _claimHash(c));
        vm.startPrank(sender);
        vm.expectRevert(
            abi.encodeWithSelector(
                FaultVerifier.ReceiptSignerMismatch.selector, _recoverHere(rs, _receiptHash(r))
            )
        );
        fault.openChallenge{value: CHALLENGE_BOND}(r, rs, c, _signTyped(SENDER_KEY, _claimHash(c)), SERVICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                FaultVerifier.ClaimSignerMismatch.selector, _recoverHere(cs, _claimHash(c))
            )
        );
        fault.openChallenge{value: CHALLENGE_BOND}(r, _signTyped(ORCH_KEY, _receiptHash(r)), c, cs, SERVICE);
        vm.stopPrank();

        // Statements signed here stop being valid once the chain id changes (a fork).
        rs = _signTyped(ORCH_KEY, _receiptHash(r));
        cs = _signTyped(SENDER_KEY, _claimHash(c));
        vm.chainId(otherChain);
        address recovered = _recoverHere(rs, _receiptHash(r));
        assertTrue(recovered != orch);
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(FaultVerifier.ReceiptSignerMismatch.selector, recovered));
        fault.openChallenge{value: CHALLENGE_BOND}(r, rs, c, cs, SERVICE);
    }

    /// A receipt signed for another FaultVerifier deployment, or personal-signed over its hash, is refused.
    function test_attack_replayFromAnotherDeployment() public {
        FaultVerifier.Receipt memory r = _receipt();
        FaultVerifier.SegmentClaim memory c = _claim();
        bytes memory cs = _signTyped(SENDER_KEY, _claimHash(c));
        FaultVerifier other = new FaultVerifier(
            IBondingManager(address(bonding)), IServiceRegistry(address(registry)), 1, 1, 1, 1
        );
        assertTrue(other.DOMAIN_SEPARATOR() != fault.DOMAIN_SEPARATOR());
        bytes memory rs = _signFor(ORCH_KEY, block.chainid, address(other), _receiptHash(r));
        vm.startPrank(sender);
        vm.expectRevert(
            abi.encodeWithSelector(
                FaultVerifier.ReceiptSignerMismatch.selector, _recoverHere(rs, _receiptHash(r))
            )
        );
        fault.openChallenge{value: CHALLENGE_BOND}(r, rs, c, cs, SERVICE);
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(ORCH_KEY, _personalDigest(_receiptHash(r)));
        rs = abi.encodePacked(rr, ss, v);
        vm.expectRevert(
            abi.encodeWithSelector(
                FaultVerifier.ReceiptSignerMismatch.selector, _recoverHere(rs, _receiptHash(r))
            )
        );
        fault.openChallenge{value: CHALLENGE_BOND}(r, rs, c, cs, SERVICE);
        vm.stopPrank();
        assertEq(address(fault).balance, 0);
    }

    // ------------------------------------------------------------ opening

    function test_openChallenge() public {
        FaultVerifier.Receipt memory r = _receipt();
        bytes32 id = _receiptHash(r);
        vm.expectEmit(address(fault));
        emit FaultVerifier.ChallengeOpened(
            id,
            orch,
            sender,
            address(trusted),
            SERVICE,
            _claimHash(_claim()),
            CHALLENGE_BOND,
            block.number + CHALLENGE_WINDOW
        );
        assertEq(_openDefault(), id);
        (IFaultVerifier.Status status, address verifier, uint256 deadline) = fault.challengeState(id);
        assertTrue(status == IFaultVerifier.Status.Pending);
        assertEq(verifier, address(trusted));
        assertEq(deadline, block.number + CHALLENGE_WINDOW);
        FaultVerifier.Challenge memory c = fault.getChallenge(id);
        assertEq(c.challenger, sender);
        assertEq(c.bond, CHALLENGE_BOND);
        assertEq(c.serviceId, SERVICE);
        assertEq(address(fault).balance, CHALLENGE_BOND);
    }

    function test_open_oncePerReceipt() public {
        bytes32 id = _openDefault();
        FaultVerifier.Receipt memory r = _receipt();
        FaultVerifier.SegmentClaim memory c = _claim();
        bytes memory rs = _signTyped(ORCH_KEY, _receiptHash(r));
        bytes memory cs = _signTyped(SENDER_KEY, _claimHash(c));
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(FaultVerifier.ReceiptAlreadyChallenged.selector, id));
        fault.openChallenge{value: CHALLENGE_BOND}(r, rs, c, cs, SERVICE);
    }

    function test_open_rejectsBadEvidence() public {
        FaultVerifier.Receipt memory r = _receipt();
        FaultVerifier.SegmentClaim memory c = _claim();
        bytes memory rs = _signTyped(ORCH_KEY, _receiptHash(r));
        bytes memory cs = _signTyped(SENDER_KEY, _claimHash(c));
        vm.startPrank(sender);

        vm.expectRevert(
            abi.encodeWithSelector(FaultVerifier.InvalidBond.selector, CHALLENGE_BOND, CHALLENGE_BOND - 1)
        );
        fault.openChallenge{value: CHALLENGE_BOND - 1}(r, rs, c, cs, SERVICE);

        c.orchestrator = orch2;
        vm.expectRevert(FaultVerifier.PartiesMismatch.selector);
        fault.openChallenge{value: CHALLENGE_BOND}(r, rs, c, cs, SERVICE);
        c = _claim();
        c.seq = 43;
        vm.expectRevert(FaultVerifier.SegmentMismatch.selector);
        fault.openChallenge{value: CHALLENGE_BOND}(r, rs, c, cs, SERVICE);
        c = _claim();
        c.inputHash = bytes32(0);
        vm.expectRevert(FaultVerifier.SegmentMismatch.selector);
        fault.openChallenge{value: CHALLENGE_BOND}(r, rs, c, cs, SERVICE);
        c = _claim();
        r.pixels = new uint64[](1);
        vm.expectRevert(FaultVerifier.MalformedReceipt.selector);
        fault.openChallenge{value: CHALLENGE_BOND}(r, rs, c, cs, SERVICE);
        r = _receipt();

        // Receipt signed by someone else; claim signed by someone else.
        bytes memory forged = _signTyped(ORCH2_KEY, _receiptHash(r));
        vm.expectRevert(abi.encodeWithSelector(FaultVerifier.ReceiptSignerMismatch.selector, orch2));
        fault.openChallenge{value: CHALLENGE_BOND}(r, forged, c, cs, SERVICE);
        forged = _signTyped(SENDER2_KEY, _claimHash(c));
        vm.expectRevert(abi.encodeWithSelector(FaultVerifier.ClaimSignerMismatch.selector, sender2));
        fault.openChallenge{value: CHALLENGE_BOND}(r, rs, c, forged, SERVICE);

        // Malformed signatures.
        vm.expectRevert(FaultVerifier.InvalidSignatureLength.selector);
        fault.openChallenge{value: CHALLENGE_BOND}(
            r, abi.encodePacked(bytes32(0), bytes32(0)), c, cs, SERVICE
        );
        bytes memory badV = bytes.concat(rs);
        badV[64] = 0x01;
        vm.expectRevert(FaultVerifier.InvalidSignatureV.selector);
        fault.openChallenge{value: CHALLENGE_BOND}(r, badV, c, cs, SERVICE);
        bytes32 rr;
        bytes32 ss;
        assembly {
            rr := mload(add(rs, 32))
            ss := mload(add(rs, 64))
        }
        bytes memory highS = abi.encodePacked(rr, bytes32(SECP_N - uint256(ss)), uint8(27));
        vm.expectRevert(FaultVerifier.InvalidSignatureS.selector);
        fault.openChallenge{value: CHALLENGE_BOND}(r, highS, c, cs, SERVICE);
        vm.expectRevert(FaultVerifier.InvalidSignature.selector);
        fault.openChallenge{value: CHALLENGE_BOND}(
            r, abi.encodePacked(bytes32(0), ss, uint8(27)), c, cs, SERVICE
        );

        // A service without verifier, and one the orchestrator does not offer.
        vm.expectRevert(
            abi.encodeWithSelector(FaultVerifier.ServiceNotChallengeable.selector, orch, UNVERIFIED)
        );
        fault.openChallenge{value: CHALLENGE_BOND}(r, rs, c, cs, UNVERIFIED);
        vm.expectRevert(
            abi.encodeWithSelector(FaultVerifier.ServiceNotChallengeable.selector, orch, bytes32("x"))
        );
        fault.openChallenge{value: CHALLENGE_BOND}(r, rs, c, cs, "x");
        vm.stopPrank();

        // Only the broadcaster may challenge.
        vm.deal(orch2, 1 ether);
        vm.prank(orch2);
        vm.expectRevert(abi.encodeWithSelector(FaultVerifier.NotBroadcaster.selector, orch2));
        fault.openChallenge{value: CHALLENGE_BOND}(r, rs, c, cs, SERVICE);
        assertEq(address(fault).balance, 0);
    }

    // ------------------------------------------------------------ verdicts

    function test_guiltyVerdict_slashesAndPaysFinder() public {
        bytes32 id = _openDefault();
        uint256 supply = token.totalSupply();
        vm.prank(voter1);
        trusted.vote(id, true);
        (uint256 g, uint256 i, bool decided) = trusted.tally(id);
        assertEq(g, 1);
        assertEq(i, 0);
        assertFalse(decided);
        vm.expectEmit(address(fault));
        emit FaultVerifier.ChallengeResolved(id, true);
        vm.expectEmit(address(bonding));
        emit BondingManager.Slashed(orch, sender, 500 ether, 50 ether);
        vm.prank(voter2);
        trusted.vote(id, true);
        (,, decided) = trusted.tally(id);
        assertTrue(decided);
        (IFaultVerifier.Status status,,) = fault.challengeState(id);
        assertTrue(status == IFaultVerifier.Status.Guilty);
        assertEq(token.balanceOf(sender), 50 ether, "finder fee");
        assertEq(supply - token.totalSupply(), 450 ether, "burnt");
        assertEq(bonding.pendingStake(orch), 500 ether);
        assertEq(fault.credits(sender), CHALLENGE_BOND, "bond returned");
        uint256 before = sender.balance;
        vm.prank(sender);
        fault.withdraw();
        assertEq(sender.balance - before, CHALLENGE_BOND);
        // The third voter comes too late.
        vm.prank(voter3);
        vm.expectRevert(abi.encodeWithSelector(TrustedVerifier.NotAssigned.selector, id));
        trusted.vote(id, false);
    }

    function test_innocentVerdict_forfeitsBondToOrchestrator() public {
        bytes32 id = _openDefault();
        vm.prank(voter1);
        trusted.vote(id, false);
        vm.prank(voter3);
        trusted.vote(id, false);
        (IFaultVerifier.Status status,,) = fault.challengeState(id);
        assertTrue(status == IFaultVerifier.Status.Innocent);
        assertEq(fault.credits(orch), CHALLENGE_BOND);
        assertEq(fault.credits(sender), 0);
        assertEq(bonding.pendingStake(orch), 1000 ether, "not slashed");
        vm.prank(orch);
        fault.withdraw();
        assertEq(orch.balance, CHALLENGE_BOND);
    }

    function test_resolve_errors() public {
        bytes32 id = _openDefault();
        vm.expectRevert(abi.encodeWithSelector(FaultVerifier.NotVerifier.selector, address(this)));
        fault.resolve(id, true);
        vm.roll(block.number + CHALLENGE_WINDOW + 1);
        uint256 deadline = block.number - 1;
        vm.prank(address(trusted));
        vm.expectRevert(abi.encodeWithSelector(FaultVerifier.ChallengeWindowClosed.selector, deadline));
        fault.resolve(id, true);
    }

    function test_closeExpiredChallenge() public {
        bytes32 id = _openDefault();
        uint256 deadline = block.number + CHALLENGE_WINDOW;
        vm.expectRevert(abi.encodeWithSelector(FaultVerifier.ChallengeWindowOpen.selector, deadline));
        fault.closeExpiredChallenge(id);
        vm.roll(deadline + 1);
        vm.expectEmit(address(fault));
        emit FaultVerifier.ChallengeExpired(id);
        fault.closeExpiredChallenge(id);
        assertEq(fault.credits(sender), CHALLENGE_BOND);
        vm.expectRevert(
            abi.encodeWithSelector(
                FaultVerifier.ChallengeNotPending.selector, id, IFaultVerifier.Status.Expired
            )
        );
        fault.closeExpiredChallenge(id);
        vm.prank(voter1);
        vm.expectRevert(abi.encodeWithSelector(TrustedVerifier.NotAssigned.selector, id));
        trusted.vote(id, true);
    }

    function test_withdraw_nothing() public {
        vm.expectRevert(FaultVerifier.NothingToWithdraw.selector);
        fault.withdraw();
    }

    function test_verifierSwitchDoesNotDodgeChallenge() public {
        ServiceRegistry.Service[] memory none = new ServiceRegistry.Service[](0);
        vm.prank(orch);
        registry.setServices(none);
        bytes32 id = _openDefault();
        (, address verifier,) = fault.challengeState(id);
        assertEq(verifier, address(trusted));
    }

    // ------------------------------------------------------------ TrustedVerifier administration

    function test_trusted_constructorAndAdmin() public {
        address[] memory none = new address[](0);
        vm.expectRevert(TrustedVerifier.ZeroAddress.selector);
        new TrustedVerifier(IFaultVerifier(address(0)), none, 1);
        vm.expectRevert(abi.encodeWithSelector(TrustedVerifier.InvalidQuorum.selector, 1, 0));
        new TrustedVerifier(IFaultVerifier(address(fault)), none, 1);
        address[] memory dup = new address[](2);
        dup[0] = voter1;
        dup[1] = voter1;
        vm.expectRevert(abi.encodeWithSelector(TrustedVerifier.AlreadyVoter.selector, voter1));
        new TrustedVerifier(IFaultVerifier(address(fault)), dup, 1);

        assertEq(trusted.voterCount(), 3);
        assertEq(trusted.quorum(), 2);
        assertEq(address(trusted.faultVerifier()), address(fault));
        vm.expectRevert(abi.encodeWithSelector(TrustedVerifier.InvalidQuorum.selector, 4, 3));
        trusted.setQuorum(4);
        vm.expectRevert(abi.encodeWithSelector(TrustedVerifier.InvalidQuorum.selector, 0, 3));
        trusted.setQuorum(0);
        vm.expectEmit(address(trusted));
        emit TrustedVerifier.VoterAdded(address(0xA4));
        trusted.addVoter(address(0xA4));
        vm.expectRevert(TrustedVerifier.ZeroAddress.selector);
        trusted.addVoter(address(0));
        vm.expectEmit(address(trusted));
        emit TrustedVerifier.QuorumSet(3);
        trusted.setQuorum(3);
        vm.expectEmit(address(trusted));
        emit TrustedVerifier.VoterRemoved(address(0xA4));
        trusted.removeVoter(address(0xA4));
        vm.expectRevert(abi.encodeWithSelector(TrustedVerifier.InvalidQuorum.selector, 3, 2));
        trusted.removeVoter(voter1);
        vm.expectRevert(abi.encodeWithSelector(TrustedVerifier.NotVoter.selector, address(0xA4)));
        trusted.removeVoter(address(0xA4));
        vm.prank(voter1);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, voter1));
        trusted.addVoter(voter1);
    }

    function test_trusted_voteErrors() public {
        bytes32 id = _openDefault();
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(TrustedVerifier.NotVoter.selector, address(0xBAD)));
        trusted.vote(id, true);
        vm.prank(voter1);
        vm.expectRevert(abi.encodeWithSelector(TrustedVerifier.NotAssigned.selector, bytes32("unknown")));
        trusted.vote("unknown", true);
        vm.prank(voter1);
        vm.expectEmit(address(trusted));
        emit TrustedVerifier.VoteCast(id, voter1, true);
        trusted.vote(id, true);
        assertTrue(trusted.hasVoted(id, voter1));
        vm.prank(voter1);
        vm.expectRevert(abi.encodeWithSelector(TrustedVerifier.AlreadyVoted.selector, id, voter1));
        trusted.vote(id, false);
    }

    /// Any receipt the orchestrator signed can be challenged exactly once by its broadcaster.
    function testFuzz_openChallenge(bytes32 streamId, uint64 seq, bytes32 input, uint64 duration) public {
        FaultVerifier.Receipt memory r = _receipt();
        r.streamId = streamId;
        r.seq = seq;
        r.inputHash = input;
        FaultVerifier.SegmentClaim memory c = _claim();
        c.streamId = streamId;
        c.seq = seq;
        c.inputHash = input;
        c.durationMs = duration;
        bytes32 id = _open(r, c);
        assertEq(id, fault.receiptHash(r));
        assertEq(fault.getChallenge(id).claimHash, fault.claimHash(c));
    }
}
