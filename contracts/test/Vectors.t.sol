// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./base/Fixture.sol";
import {TicketBroker} from "../src/TicketBroker.sol";
import {FaultVerifier} from "../src/FaultVerifier.sol";
import {ServiceRegistry} from "../src/ServiceRegistry.sol";

/// @notice Builds contracts/vectors/tickets.json, the vectors the Rust side checks too, and checks every
/// vector against the deployed contracts. With WRITE_VECTORS=true the file is (re)written; otherwise the
/// test fails when the committed file differs from what the contracts produce.
///
/// JSON conventions: integers are decimal strings (uint256 values exceed JSON's exact range), byte strings
/// are 0x-prefixed lowercase hex, addresses are EIP-55 checksummed.
contract VectorsTest is Fixture {
    string internal constant PATH = "vectors/tickets.json";
    /// @dev Block hash pinned for the block before round 10, so the vectors do not depend on the test EVM.
    bytes32 internal constant ROUND_10_HASH =
        0x41b1a0649752af1b28b3dc29a1556eee781e4a4c3a1f7f53f90fa834de098c4d;

    uint256 internal constant KEY_SENDER = uint256(keccak256("livepeer-rs/vectors/sender"));
    uint256 internal constant KEY_RECIPIENT = uint256(keccak256("livepeer-rs/vectors/recipient"));

    function setUp() public override {
        vm.roll(10 * ROUND_LENGTH);
        vm.setBlockhash(10 * ROUND_LENGTH - 1, ROUND_10_HASH);
        _deploy();
        rounds.initializeRound();
        // Fees go to registered orchestrators only.
        _registerOnly(vm.addr(KEY_RECIPIENT), 1 ether, 0, 0);
    }

    // ------------------------------------------------------------ JSON helpers

    function _q(string memory s) internal pure returns (string memory) {
        return string.concat('"', s, '"');
    }

    function _kv(string memory k, string memory v) internal pure returns (string memory) {
        return string.concat(_q(k), ": ", v);
    }

    function _str(string memory k, string memory v) internal pure returns (string memory) {
        return _kv(k, _q(v));
    }

    function _uint(string memory k, uint256 v) internal pure returns (string memory) {
        return _str(k, vm.toString(v));
    }

    function _hex(string memory k, bytes memory v) internal pure returns (string memory) {
        return _str(k, vm.toString(v));
    }

    function _b32(string memory k, bytes32 v) internal pure returns (string memory) {
        return _str(k, vm.toString(v));
    }

    function _addr(string memory k, address v) internal pure returns (string memory) {
        return _str(k, vm.toString(v));
    }

    function _bool(string memory k, bool v) internal pure returns (string memory) {
        return _kv(k, v ? "true" : "false");
    }

    function _obj(string[] memory fields, string memory indent) internal pure returns (string memory out) {
        out = "{\n";
        for (uint256 i; i < fields.length; ++i) {
            out = string.concat(out, indent, "  ", fields[i], i + 1 < fields.length ? ",\n" : "\n");
        }
        out = string.concat(out, indent, "}");
    }

    function _arr(string[] memory items, string memory indent) internal pure returns (string memory out) {
        if (items.length == 0) return "[]";
        out = "[\n";
        for (uint256 i; i < items.length; ++i) {
            out = string.concat(out, indent, "  ", items[i], i + 1 < items.length ? ",\n" : "\n");
        }
        out = string.concat(out, indent, "]");
    }

    function _b32Array(bytes32[] memory v) internal pure returns (string memory out) {
        out = "[";
        for (uint256 i; i < v.length; ++i) {
            out = string.concat(out, i == 0 ? "" : ", ", _q(vm.toString(v[i])));
        }
        out = string.concat(out, "]");
    }

    function _u64Array(uint64[] memory v) internal pure returns (string memory out) {
        out = "[";
        for (uint256 i; i < v.length; ++i) {
            out = string.concat(out, i == 0 ? "" : ", ", _q(vm.toString(uint256(v[i]))));
        }
        out = string.concat(out, "]");
    }

    // ------------------------------------------------------------ ticket hash vectors

    function _zeroTicket() internal pure returns (TicketBroker.Ticket memory t) {
        t.auxData = "";
    }

    function _ticketFields(TicketBroker.Ticket memory t) internal pure returns (string[] memory f) {
        f = new string[](7);
        f[0] = _addr("recipient", t.recipient);
        f[1] = _addr("sender", t.sender);
        f[2] = _uint("faceValue", t.faceValue);
        f[3] = _uint("winProb", t.winProb);
        f[4] = _uint("senderNonce", t.senderNonce);
        f[5] = _b32("recipientRandHash", t.recipientRandHash);
        f[6] = _hex("auxData", t.auxData);
    }

    function _hashVector(string memory name, TicketBroker.Ticket memory t, bytes32 expected)
        internal
        view
        returns (string memory)
    {
        bytes32 h = _hash(t);
        if (expected != bytes32(0)) assertEq(h, expected, name);
        assertEq(broker.getTicketHash(t), h, "contract hash");
        string[] memory f = new string[](4);
        f[0] = _str("name", name);
        f[1] = _kv("ticket", _obj(_ticketFields(t), "      "));
        f[2] = _uint("preimageLength", 168 + t.auxData.length);
        f[3] = _b32("hash", h);
        return _obj(f, "    ");
    }

    function _hashVectors() internal view returns (string memory) {
        string[] memory items = new string[](9);
        TicketBroker.Ticket memory t = _zeroTicket();
        t.senderNonce = type(uint32).max;
        items[0] = _hashVector(
            "go: senderNonce = 2^32-1, empty auxData",
            t,
            0xe1393fc7f6de093780674022f96cb8e3872235167d037c04d554e58c0e63d280
        );
        t = _zeroTicket();
        t.senderNonce = 1;
        items[1] = _hashVector(
            "go: senderNonce = 1, empty auxData",
            t,
            0xce0918ba94518293e9712effbe5fca4f1f431089833a5b8c257cb1e024595f68
        );
        t = _zeroTicket();
        t.faceValue = 1;
        t.winProb = 500;
        items[2] = _hashVector(
            "go: faceValue = 1, winProb = 500, empty auxData",
            t,
            0x87ef13f2d37e4d5352a01d3c77b8179d80e0887f1953bfabfd0bfd7b0f689ddd
        );
        t = _zeroTicket();
        t.faceValue = 500;
        t.winProb = 1;
        items[3] = _hashVector(
            "go: faceValue = 500, winProb = 1, empty auxData",
            t,
            0xaa4b35071043587992ac8b9dd1b2cf1d8311130e6458cf0b2342484e21af5f5b
        );
        t = _zeroTicket();
        t.recipient = 0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F;
        items[4] = _hashVector(
            "go: recipient set, empty auxData",
            t,
            0x81e353ae39046e2b77b9f996abbaeed527fda559b61ef90f299c4499dd508ccc
        );
        t = _zeroTicket();
        t.recipientRandHash = ROUND_10_HASH;
        items[5] = _hashVector(
            "go: recipientRandHash set, empty auxData",
            t,
            0xbe5eaf9a49a39540b9bb02f1a21904f61324a29819e2c032824bfaa10c100b17
        );
        t = _zeroTicket();
        t.auxData = abi.encodePacked(uint256(10), ROUND_10_HASH);
        items[6] = _hashVector(
            "go: creationRound = 10 with block hash, 64-byte auxData",
            t,
            0xe502907c16036ab3d11b78c5a2e93c20f3d6415c67f91de4ed01348182b3b2e2
        );
        items[7] = _hashVector("all fields set", _fullTicket(1, 0x1234), bytes32(0));
        t = _fullTicket(type(uint256).max, type(uint256).max);
        t.faceValue = type(uint256).max;
        items[8] = _hashVector("maximal integers", t, bytes32(0));
        return _arr(items, "  ");
    }

    // ------------------------------------------------------------ signature and win vectors

    function _fullTicket(uint256 nonce, uint256 rand) internal pure returns (TicketBroker.Ticket memory t) {
        t = TicketBroker.Ticket({
            recipient: vm.addr(KEY_RECIPIENT),
            sender: vm.addr(KEY_SENDER),
            faceValue: 0.01 ether,
            winProb: type(uint256).max / 1000,
            senderNonce: nonce,
            recipientRandHash: keccak256(abi.encodePacked(rand)),
            auxData: abi.encodePacked(uint256(10), ROUND_10_HASH)
        });
    }

    function _draw(bytes memory sig, uint256 rand) internal pure returns (uint256) {
        return uint256(keccak256(abi.encodePacked(sig, rand)));
    }

    /// @dev One signature vector; the ticket is redeemed (or refused) on the deployed broker.
    function _sigVector(string memory name, TicketBroker.Ticket memory t, uint256 rand)
        internal
        returns (string memory)
    {
        bytes32 h = _hash(t);
        bytes memory sig = _signHash(KEY_SENDER, h);
        uint256 draw = _draw(sig, rand);
        bool wins = draw < t.winProb;
        if (wins) {
            broker.redeemWinningTicket(t, sig, rand);
            assertTrue(broker.isTicketUsed(t), name);
        } else {
            vm.expectRevert(TicketBroker.TicketDidNotWin.selector);
            broker.redeemWinningTicket(t, sig, rand);
        }
        string[] memory f = new string[](10);
        f[0] = _str("name", name);
        f[1] = _b32("privateKey", bytes32(KEY_SENDER));
        f[2] = _addr("signer", vm.addr(KEY_SENDER));
        f[3] = _kv("ticket", _obj(_ticketFields(t), "      "));
        f[4] = _b32("ticketHash", h);
        f[5] = _b32("digest", _personalDigest(h));
        f[6] = _hex("signature", sig);
        f[7] = _b32("recipientRand", bytes32(rand));
        f[8] = _b32("draw", bytes32(draw));
        f[9] = _bool("wins", wins);
        return _obj(f, "    ");
    }

    function _sigVectors() internal returns (string memory) {
        _fund(vm.addr(KEY_SENDER), 10 ether, 0);
        string[] memory items = new string[](7);
        uint256 rand = uint256(keccak256("livepeer-rs/vectors/rand"));

        TicketBroker.Ticket memory t = _fullTicket(1, rand);
        t.winProb = type(uint256).max;
        items[0] = _sigVector("winProb = max: wins", t, rand);

        t = _fullTicket(2, rand);
        t.winProb = 0;
        items[1] = _sigVector("winProb = 0: loses", t, rand);

        t = _fullTicket(3, rand);
        t.winProb = type(uint256).max / 3;
        items[2] = _sigVector("winProb = max/3", t, rand);

        // A realistic ticket: winProb = 1/1000 of the maximum; nonces 4..6 with one rand.
        items[3] = _sigVector("winProb = max/1000, nonce 4", _fullTicket(4, rand), rand);
        items[4] = _sigVector("winProb = max/1000, nonce 5", _fullTicket(5, rand), rand);
        t = _fullTicket(6, rand + 1);
        t.winProb = type(uint256).max / 2;
        items[5] = _sigVector("winProb = max/2, other rand", t, rand + 1);
        // The first nonce from 7 on that wins at max/2 with the other rand (found deterministically).
        uint256 nonce = 7;
        while (true) {
            t = _fullTicket(nonce, rand + 1);
            t.winProb = type(uint256).max / 2;
            if (_draw(_signHash(KEY_SENDER, _hash(t)), rand + 1) < t.winProb) break;
            ++nonce;
        }
        items[6] = _sigVector("winProb = max/2, a winning nonce", t, rand + 1);
        return _arr(items, "  ");
    }

    // ------------------------------------------------------------ receipts and claims

    function _receipt(uint256 profiles) internal pure returns (FaultVerifier.Receipt memory r) {
        r.orchestrator = vm.addr(KEY_RECIPIENT);
        r.broadcaster = vm.addr(KEY_SENDER);
        r.streamId = keccak256("livepeer-rs/vectors/stream");
        r.seq = 7;
        r.inputHash = keccak256("segment 7 input");
        r.profileIds = new bytes32[](profiles);
        r.outputHashes = new bytes32[](profiles);
        r.pixels = new uint64[](profiles);
        bytes32[3] memory ids =
            [bytes32("h264 1080p -> 720p"), bytes32("h264 1080p -> 480p"), bytes32("av1 360p")];
        uint64[3] memory px = [uint64(1280 * 720 * 60), uint64(854 * 480 * 60), uint64(640 * 360 * 60)];
        for (uint256 i; i < profiles; ++i) {
            r.profileIds[i] = ids[i];
            r.outputHashes[i] = keccak256(abi.encodePacked("segment 7 output ", i));
            r.pixels[i] = px[i];
        }
    }

    function _claimOf(FaultVerifier.Receipt memory r)
        internal
        pure
        returns (FaultVerifier.SegmentClaim memory c)
    {
        c = FaultVerifier.SegmentClaim({
            broadcaster: r.broadcaster,
            orchestrator: r.orchestrator,
            streamId: r.streamId,
            seq: r.seq,
            inputHash: r.inputHash,
            profileIds: r.profileIds,
            durationMs: 2000
        });
    }

    function _receiptVector(string memory name, FaultVerifier.Receipt memory r)
        internal
        view
        returns (string memory)
    {
        bytes32 h = fault.receiptHash(r);
        bytes32 digest = fault.receiptDigest(r);
        bytes memory sig = _signDigest(KEY_RECIPIENT, digest);
        string[] memory f = new string[](17);
        f[0] = _str("name", name);
        f[1] = _kv("domain", _domain());
        f[2] = _str(
            "type",
            "Receipt(address orchestrator,address broadcaster,bytes32 streamId,uint64 seq,bytes32 inputHash,bytes32[] profileIds,bytes32[] outputHashes,uint64[] pixels)"
        );
        f[3] = _b32("typeHash", fault.RECEIPT_TYPEHASH());
        f[4] = _addr("orchestrator", r.orchestrator);
        f[5] = _addr("broadcaster", r.broadcaster);
        f[6] = _b32("streamId", r.streamId);
        f[7] = _uint("seq", r.seq);
        f[8] = _b32("inputHash", r.inputHash);
        f[9] = _kv("profileIds", _b32Array(r.profileIds));
        f[10] = _kv("outputHashes", _b32Array(r.outputHashes));
        f[11] = _kv("pixels", _u64Array(r.pixels));
        f[12] = _b32("structHash", h);
        f[13] = _b32("privateKey", bytes32(KEY_RECIPIENT));
        f[14] = _b32("digest", digest);
        f[15] = _hex("signature", sig);
        f[16] = _addr("signer", vm.addr(KEY_RECIPIENT));
        return _obj(f, "    ");
    }

    function _claimVector(string memory name, FaultVerifier.SegmentClaim memory c)
        internal
        view
        returns (string memory)
    {
        bytes32 h = fault.claimHash(c);
        bytes32 digest = fault.claimDigest(c);
        bytes memory sig = _signDigest(KEY_SENDER, digest);
        string[] memory f = new string[](16);
        f[0] = _str("name", name);
        f[1] = _kv("domain", _domain());
        f[2] = _str(
            "type",
            "SegmentClaim(address broadcaster,address orchestrator,bytes32 streamId,uint64 seq,bytes32 inputHash,bytes32[] profileIds,uint64 durationMs)"
        );
        f[3] = _b32("typeHash", fault.SEGMENT_CLAIM_TYPEHASH());
        f[4] = _addr("broadcaster", c.broadcaster);
        f[5] = _addr("orchestrator", c.orchestrator);
        f[6] = _b32("streamId", c.streamId);
        f[7] = _uint("seq", c.seq);
        f[8] = _b32("inputHash", c.inputHash);
        f[9] = _kv("profileIds", _b32Array(c.profileIds));
        f[10] = _uint("durationMs", c.durationMs);
        f[11] = _b32("structHash", h);
        f[12] = _b32("privateKey", bytes32(KEY_SENDER));
        f[13] = _b32("digest", digest);
        f[14] = _hex("signature", sig);
        f[15] = _addr("signer", vm.addr(KEY_SENDER));
        return _obj(f, "    ");
    }

    /// @dev The FaultVerifier's EIP-712 domain, as its eip712Domain() reports it, with its separator.
    function _domain() internal view returns (string memory) {
        (, string memory name, string memory version, uint256 chainId, address verifying,,) =
            fault.eip712Domain();
        string[] memory f = new string[](5);
        f[0] = _str("name", name);
        f[1] = _str("version", version);
        f[2] = _uint("chainId", chainId);
        f[3] = _addr("verifyingContract", verifying);
        f[4] = _b32("separator", fault.DOMAIN_SEPARATOR());
        return _obj(f, "      ");
    }

    function _signDigest(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev The receipt/claim vectors are also opened as challenges on the deployed FaultVerifier, which
    /// recomputes both hashes and recovers both signers.
    function _evidenceVectors() internal returns (string memory receipts, string memory claims) {
        string[] memory rs = new string[](2);
        string[] memory cs = new string[](2);
        uint256[2] memory sizes = [uint256(3), 0];
        string[2] memory names = ["three renditions", "no renditions"];
        vm.prank(vm.addr(KEY_RECIPIENT));
        registry.setServices(_service());
        for (uint256 i; i < 2; ++i) {
            FaultVerifier.Receipt memory r = _receipt(sizes[i]);
            FaultVerifier.SegmentClaim memory c = _claimOf(r);
            rs[i] = _receiptVector(names[i], r);
            cs[i] = _claimVector(names[i], c);
            bytes memory receiptSig = _signDigest(KEY_RECIPIENT, fault.receiptDigest(r));
            bytes memory claimSig = _signDigest(KEY_SENDER, fault.claimDigest(c));
            vm.deal(r.broadcaster, 1 ether);
            vm.prank(r.broadcaster);
            fault.openChallenge{value: CHALLENGE_BOND}(r, receiptSig, c, claimSig, "verify/segment");
        }
        return (_arr(rs, "  "), _arr(cs, "  "));
    }

    function _service() internal view returns (ServiceRegistry.Service[] memory s) {
        s = new ServiceRegistry.Service[](1);
        s[0] = ServiceRegistry.Service("verify/segment", address(trusted));
    }

    // ------------------------------------------------------------ the file

    function test_vectors() public {
        string memory hashes = _hashVectors();
        string memory sigs = _sigVectors();
        (string memory receipts, string memory claims) = _evidenceVectors();
        string[] memory top = new string[](6);
        top[0] = _str("format", "livepeer-rs contract vectors v1");
        top[1] = _str(
            "conventions",
            "integers: decimal strings; bytes: 0x lowercase hex; addresses: EIP-55; signatures: r || s || v, v in {27, 28}, low s; tickets are signed over the EIP-191 digest keccak256(0x19 'Ethereum Signed Message:\\n32' || hash); receipts and segment claims over the EIP-712 digest keccak256(0x1901 || domain separator || struct hash); ticket wins iff uint256(keccak256(signature || recipientRand)) < winProb"
        );
        top[2] = _kv("ticketHashes", hashes);
        top[3] = _kv("signatures", sigs);
        top[4] = _kv("receipts", receipts);
        top[5] = _kv("segmentClaims", claims);
        string memory json = string.concat(_obj(top, ""), "\n");
        if (vm.envOr("WRITE_VECTORS", false)) {
            vm.writeFile(PATH, json);
        } else {
            assertEq(vm.readFile(PATH), json, "vectors/tickets.json is stale: run scripts/vectors.sh");
        }
    }
}
