//! EIP-712 typed data: the [`Domain`] that binds a signed [`crate::Receipt`] or
//! [`crate::SegmentClaim`] to one FaultVerifier deployment on one chain, and the hashing rules
//! the contract recomputes.
//!
//! A typed digest is `keccak256(0x19 ‖ 0x01 ‖ domainSeparator ‖ hashStruct(message))`, where
//! - `domainSeparator = keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256(NAME),
//!   keccak256(VERSION), chainId, verifyingContract))`,
//! - `hashStruct(s) = keccak256(typeHash ‖ encodeData(s))`, each member one 32-byte word:
//!   addresses and integers left-padded, `bytes32` as is, and a dynamic array as the keccak256
//!   of its elements each encoded as one 32-byte word.
//!
//! A signature made for one domain does not recover to its signer under another, so a
//! statement signed for a test network or another deployment is refused everywhere else.

use serde::{Deserialize, Serialize};

use crate::crypto::{keccak256, keccak256_concat};
use crate::primitives::{Address, H256};

/// The domain's `name`.
pub const NAME: &str = "livepeer-rs";
/// The domain's `version`.
pub const VERSION: &str = "1";
/// The EIP-712 type of the domain.
pub const DOMAIN_TYPE: &str =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
/// The EIP-712 type of a receipt.
pub const RECEIPT_TYPE: &str = "Receipt(address orchestrator,address broadcaster,bytes32 streamId,uint64 seq,bytes32 inputHash,bytes32[] profileIds,bytes32[] outputHashes,uint64[] pixels)";
/// The EIP-712 type of a segment claim.
pub const SEGMENT_CLAIM_TYPE: &str = "SegmentClaim(address broadcaster,address orchestrator,bytes32 streamId,uint64 seq,bytes32 inputHash,bytes32[] profileIds,uint64 durationMs)";

/// `keccak256(DOMAIN_TYPE)`.
pub fn domain_type_hash() -> H256 {
    H256::from(keccak256(DOMAIN_TYPE))
}

/// `keccak256(RECEIPT_TYPE)`.
pub fn receipt_type_hash() -> H256 {
    H256::from(keccak256(RECEIPT_TYPE))
}

/// `keccak256(SEGMENT_CLAIM_TYPE)`.
pub fn segment_claim_type_hash() -> H256 {
    H256::from(keccak256(SEGMENT_CLAIM_TYPE))
}

/// The deployment a statement is signed for: the chain and the FaultVerifier contract that
/// recovers the signers. `name` and `version` are the fixed [`NAME`] and [`VERSION`].
///
/// Nodes take it from their chain configuration (the chain id they connect to and the
/// deployment's FaultVerifier address); tools that check files without a chain take it from
/// the deployment those files belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Domain {
    /// The chain id (EIP-155).
    pub chain_id: u64,
    /// The FaultVerifier contract's address.
    pub verifying_contract: Address,
}

impl Domain {
    /// The domain of the FaultVerifier at `verifying_contract` on chain `chain_id`.
    pub fn new(chain_id: u64, verifying_contract: Address) -> Self {
        Domain {
            chain_id,
            verifying_contract,
        }
    }

    /// `keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256(NAME), keccak256(VERSION), chainId,
    /// verifyingContract))`: what the contract's `DOMAIN_SEPARATOR()` returns.
    pub fn separator(&self) -> H256 {
        H256::from(keccak256_concat(&[
            domain_type_hash().as_bytes(),
            &keccak256(NAME),
            &keccak256(VERSION),
            &uint_word(self.chain_id),
            &address_word(&self.verifying_contract),
        ]))
    }

    /// The digest that is signed: `keccak256(0x1901 ‖ separator ‖ struct_hash)`.
    pub fn digest(&self, struct_hash: &H256) -> H256 {
        H256::from(keccak256_concat(&[
            b"\x19\x01",
            self.separator().as_bytes(),
            struct_hash.as_bytes(),
        ]))
    }
}

/// A `uint` member as one 32-byte big-endian word.
pub(crate) fn uint_word(v: u64) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&v.to_be_bytes());
    w
}

/// An `address` member as one left-padded 32-byte word.
pub(crate) fn address_word(a: &Address) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(a.as_bytes());
    w
}

/// A `bytes32[]` member: keccak256 of the elements concatenated.
pub(crate) fn words_hash(v: &[H256]) -> [u8; 32] {
    let parts: Vec<&[u8]> = v.iter().map(|h| h.as_bytes()).collect();
    keccak256_concat(&parts)
}

/// A `uint64[]` member: keccak256 of the elements, each as one 32-byte word.
pub(crate) fn uints_hash(v: &[u64]) -> [u8; 32] {
    let words: Vec<[u8; 32]> = v.iter().map(|&x| uint_word(x)).collect();
    let parts: Vec<&[u8]> = words.iter().map(|w| w.as_slice()).collect();
    keccak256_concat(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_type_hash_is_the_standard_one() {
        // The EIP-712 domain type with all four of these fields, as every wallet hashes it.
        assert_eq!(
            format!("{:x}", domain_type_hash()),
            "8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f"
        );
    }

    #[test]
    fn separator_depends_on_chain_and_contract() {
        let a = Domain::new(1, Address::repeat_byte(1));
        let b = Domain::new(2, Address::repeat_byte(1));
        let c = Domain::new(1, Address::repeat_byte(2));
        assert_ne!(a.separator(), b.separator());
        assert_ne!(a.separator(), c.separator());
        let h = H256::repeat_byte(9);
        assert_ne!(a.digest(&h), b.digest(&h));
        assert_eq!(
            &a.digest(&h),
            &Domain::new(1, Address::repeat_byte(1)).digest(&h)
        );
    }

    #[test]
    fn empty_arrays_hash_to_the_empty_keccak() {
        assert_eq!(words_hash(&[]), keccak256([]));
        assert_eq!(uints_hash(&[]), keccak256([]));
        assert_eq!(uints_hash(&[5]), keccak256(uint_word(5)));
    }
}
