//! The receipt and segment claim vectors the contracts write (`contracts/vectors/tickets.json`,
//! from `contracts/test/Vectors.t.sol`): every type hash, struct hash, domain separator and
//! digest is recomputed here, every signature recovers to its signer, and signing again with
//! the vector's key gives the same bytes (RFC 6979 nonces on both sides).

#![allow(clippy::expect_used, clippy::panic)]

use livepeer_core::eip712::{self, Domain};
use livepeer_core::primitives::parse_hex_bytes;
use livepeer_core::{
    Address, H256, LocalSigner, Receipt, SegmentClaim, Signature, SignedReceipt,
    SignedSegmentClaim, Signer, StreamId, parse_address, parse_h256,
};
use serde_json::Value;

const VECTORS: &str = include_str!("../../../contracts/vectors/tickets.json");

fn vectors(kind: &str) -> Vec<Value> {
    let all: Value = serde_json::from_str(VECTORS).expect("the vectors file is JSON");
    let list = all[kind].as_array().expect("a list of vectors").clone();
    assert!(!list.is_empty(), "no {kind} vectors");
    list
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

fn h256(v: &Value, key: &str) -> H256 {
    parse_h256(text(v, key)).expect("a 32-byte hex string")
}

fn address(v: &Value, key: &str) -> Address {
    parse_address(text(v, key)).expect("a checksummed address")
}

fn uint(v: &Value, key: &str) -> u64 {
    text(v, key).parse().expect("a decimal u64")
}

fn h256s(v: &Value, key: &str) -> Vec<H256> {
    v[key]
        .as_array()
        .expect("a list")
        .iter()
        .map(|x| parse_h256(x.as_str().expect("a hex string")).expect("a 32-byte hex string"))
        .collect()
}

fn uints(v: &Value, key: &str) -> Vec<u64> {
    v[key]
        .as_array()
        .expect("a list")
        .iter()
        .map(|x| {
            x.as_str()
                .expect("a string")
                .parse()
                .expect("a decimal u64")
        })
        .collect()
}

fn signature(v: &Value) -> Signature {
    let bytes = parse_hex_bytes("signature", text(v, "signature"), 65).expect("hex");
    Signature::from_slice(&bytes).expect("a canonical signature")
}

fn signer(v: &Value) -> LocalSigner {
    LocalSigner::from_hex(text(v, "privateKey")).expect("a valid key")
}

/// The vector's domain, after checking its name, version and separator.
fn domain(v: &Value) -> Domain {
    let d = &v["domain"];
    assert_eq!(text(d, "name"), eip712::NAME);
    assert_eq!(text(d, "version"), eip712::VERSION);
    let domain = Domain::new(uint(d, "chainId"), address(d, "verifyingContract"));
    assert_eq!(domain.separator(), h256(d, "separator"));
    domain
}

/// Domains that differ from `d` in the chain id or in the verifying contract only.
fn others(d: &Domain) -> [Domain; 2] {
    let mut contract = d.verifying_contract;
    contract.0[19] ^= 1;
    [
        Domain::new(d.chain_id + 1, d.verifying_contract),
        Domain::new(d.chain_id, contract),
    ]
}

#[test]
fn receipt_vectors() {
    for v in vectors("receipts") {
        let name = text(&v, "name");
        let domain = domain(&v);
        assert_eq!(text(&v, "type"), eip712::RECEIPT_TYPE, "{name}");
        assert_eq!(eip712::receipt_type_hash(), h256(&v, "typeHash"), "{name}");
        let receipt = Receipt {
            orchestrator: address(&v, "orchestrator"),
            broadcaster: address(&v, "broadcaster"),
            stream_id: StreamId(h256(&v, "streamId")),
            seq: uint(&v, "seq"),
            input_hash: h256(&v, "inputHash"),
            profile_ids: h256s(&v, "profileIds"),
            output_hashes: h256s(&v, "outputHashes"),
            pixels: uints(&v, "pixels"),
        };
        assert_eq!(receipt.hash(), h256(&v, "structHash"), "{name}");
        assert_eq!(receipt.digest(&domain), h256(&v, "digest"), "{name}");
        let key = signer(&v);
        assert_eq!(key.address(), address(&v, "signer"), "{name}");
        assert_eq!(key.address(), receipt.orchestrator, "{name}");
        let signed = SignedReceipt {
            receipt: receipt.clone(),
            signature: signature(&v),
        };
        signed.verify(&domain).expect("the vector verifies");
        let ours = receipt.sign(&key, &domain).expect("signs");
        assert_eq!(
            ours.signature, signed.signature,
            "{name}: RFC 6979 signature"
        );
        for other in others(&domain) {
            assert!(signed.verify(&other).is_err(), "{name}: {other:?}");
        }
    }
}

#[test]
fn segment_claim_vectors() {
    for v in vectors("segmentClaims") {
        let name = text(&v, "name");
        let domain = domain(&v);
        assert_eq!(text(&v, "type"), eip712::SEGMENT_CLAIM_TYPE, "{name}");
        assert_eq!(
            eip712::segment_claim_type_hash(),
            h256(&v, "typeHash"),
            "{name}"
        );
        let claim = SegmentClaim {
            broadcaster: address(&v, "broadcaster"),
            orchestrator: address(&v, "orchestrator"),
            stream_id: StreamId(h256(&v, "streamId")),
            seq: uint(&v, "seq"),
            input_hash: h256(&v, "inputHash"),
            profile_ids: h256s(&v, "profileIds"),
            duration_ms: uint(&v, "durationMs"),
        };
        assert_eq!(claim.hash(), h256(&v, "structHash"), "{name}");
        assert_eq!(claim.digest(&domain), h256(&v, "digest"), "{name}");
        let key = signer(&v);
        assert_eq!(key.address(), address(&v, "signer"), "{name}");
        assert_eq!(key.address(), claim.broadcaster, "{name}");
        let signed = SignedSegmentClaim {
            claim: claim.clone(),
            signature: signature(&v),
        };
        signed.verify(&domain).expect("the vector verifies");
        let ours = claim.sign(&key, &domain).expect("signs");
        assert_eq!(
            ours.signature, signed.signature,
            "{name}: RFC 6979 signature"
        );
        for other in others(&domain) {
            assert!(signed.verify(&other).is_err(), "{name}: {other:?}");
        }
    }
}
