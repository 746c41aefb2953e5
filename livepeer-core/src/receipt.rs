//! What the parties sign about a segment: the orchestrator's [`Receipt`] and the
//! broadcaster's [`SegmentClaim`].
//!
//! Both are hashed as Solidity would hash them (`keccak256(abi.encode(...))`, with a type tag
//! as the first word so one kind can never pass for the other) and personal-signed (EIP-191),
//! so the FaultVerifier contract can recompute the hashes and recover both signers on chain.

use ethabi::Token;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::crypto::{Signature, SignatureError, keccak256};
use crate::error::Fault;
use crate::media::StreamId;
use crate::primitives::{Address, H256, U256};
use crate::profile::MAX_LADDER_RUNGS;
use crate::signer::{Signer, SignerError};

/// Type tag of receipts: `keccak256("livepeer-rs.receipt.v1")`.
pub fn receipt_type_tag() -> H256 {
    H256::from(keccak256(b"livepeer-rs.receipt.v1"))
}

/// Type tag of segment claims: `keccak256("livepeer-rs.segment-claim.v1")`.
pub fn segment_claim_type_tag() -> H256 {
    H256::from(keccak256(b"livepeer-rs.segment-claim.v1"))
}

/// Why a receipt or claim is rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The per-rendition lists have different lengths.
    #[error(
        "receipt lists disagree: {profiles} profiles, {outputs} outputs, {pixels} pixel counts"
    )]
    LengthMismatch {
        /// Profile ids.
        profiles: usize,
        /// Output hashes.
        outputs: usize,
        /// Pixel counts.
        pixels: usize,
    },
    /// More renditions than a ladder may have.
    #[error("{0} renditions is more than the maximum of {MAX_LADDER_RUNGS}")]
    TooManyRenditions(usize),
    /// The signature is malformed or from someone else.
    #[error("receipt signature: {0}")]
    Signature(#[from] SignatureError),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signer(#[from] SignerError),
}

impl ReceiptError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            ReceiptError::Signer(_) => Fault::Backend,
            _ => Fault::Peer,
        }
    }
}

fn word(h: &H256) -> Token {
    Token::FixedBytes(h.as_bytes().to_vec())
}

fn words(v: &[H256]) -> Token {
    Token::Array(v.iter().map(word).collect())
}

/// The orchestrator's signed statement of what it did with one segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Receipt {
    /// The orchestrator (signer).
    pub orchestrator: Address,
    /// The broadcaster the work was for.
    pub broadcaster: Address,
    /// The stream.
    pub stream_id: StreamId,
    /// The segment's sequence number.
    pub seq: u64,
    /// keccak256 of the input segment bytes.
    pub input_hash: H256,
    /// Profile ids ([`crate::profile::VideoProfile::id`]), one per rendition.
    pub profile_ids: Vec<H256>,
    /// keccak256 of each rendition's bytes.
    pub output_hashes: Vec<H256>,
    /// Pixels in each rendition (width × height × frames).
    pub pixels: Vec<u64>,
}

impl Receipt {
    /// Checks the per-rendition lists agree.
    pub fn validate(&self) -> Result<(), ReceiptError> {
        let (p, o, x) = (
            self.profile_ids.len(),
            self.output_hashes.len(),
            self.pixels.len(),
        );
        if p != o || p != x {
            return Err(ReceiptError::LengthMismatch {
                profiles: p,
                outputs: o,
                pixels: x,
            });
        }
        if p > MAX_LADDER_RUNGS {
            return Err(ReceiptError::TooManyRenditions(p));
        }
        Ok(())
    }

    /// `abi.encode(tag, orchestrator, broadcaster, streamId, seq, inputHash, profileIds,
    /// outputHashes, pixels)`.
    pub fn abi_encode(&self) -> Vec<u8> {
        ethabi::encode(&[
            word(&receipt_type_tag()),
            Token::Address(self.orchestrator),
            Token::Address(self.broadcaster),
            word(&self.stream_id.0),
            Token::Uint(U256::from(self.seq)),
            word(&self.input_hash),
            words(&self.profile_ids),
            words(&self.output_hashes),
            Token::Array(
                self.pixels
                    .iter()
                    .map(|&p| Token::Uint(U256::from(p)))
                    .collect(),
            ),
        ])
    }

    /// keccak256 of [`Self::abi_encode`].
    pub fn hash(&self) -> H256 {
        H256::from(keccak256(self.abi_encode()))
    }

    /// Signs the receipt with the orchestrator's key.
    pub fn sign(self, signer: &dyn Signer) -> Result<SignedReceipt, ReceiptError> {
        self.validate()?;
        let signature = signer.sign_message_hash(&self.hash())?;
        Ok(SignedReceipt {
            receipt: self,
            signature,
        })
    }
}

/// A receipt with the orchestrator's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    /// The receipt.
    pub receipt: Receipt,
    /// EIP-191 signature over [`Receipt::hash`] by `receipt.orchestrator`.
    pub signature: Signature,
}

impl SignedReceipt {
    /// Checks the lists agree and that `receipt.orchestrator` signed it.
    pub fn verify(&self) -> Result<(), ReceiptError> {
        self.receipt.validate()?;
        self.signature
            .verify_eip191(&self.receipt.hash(), &self.receipt.orchestrator)?;
        Ok(())
    }
}

/// The broadcaster's signed statement of what it sent: the other half of fault evidence.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SegmentClaim {
    /// The broadcaster (signer).
    pub broadcaster: Address,
    /// The orchestrator the segment went to.
    pub orchestrator: Address,
    /// The stream.
    pub stream_id: StreamId,
    /// The segment's sequence number.
    pub seq: u64,
    /// keccak256 of the segment bytes.
    pub input_hash: H256,
    /// The profile ids asked for.
    pub profile_ids: Vec<H256>,
    /// The segment's duration in milliseconds.
    pub duration_ms: u64,
}

impl SegmentClaim {
    /// `abi.encode(tag, broadcaster, orchestrator, streamId, seq, inputHash, profileIds,
    /// durationMs)`.
    pub fn abi_encode(&self) -> Vec<u8> {
        ethabi::encode(&[
            word(&segment_claim_type_tag()),
            Token::Address(self.broadcaster),
            Token::Address(self.orchestrator),
            word(&self.stream_id.0),
            Token::Uint(U256::from(self.seq)),
            word(&self.input_hash),
            words(&self.profile_ids),
            Token::Uint(U256::from(self.duration_ms)),
        ])
    }

    /// keccak256 of [`Self::abi_encode`].
    pub fn hash(&self) -> H256 {
        H256::from(keccak256(self.abi_encode()))
    }

    /// Signs the claim with the broadcaster's key.
    pub fn sign(self, signer: &dyn Signer) -> Result<SignedSegmentClaim, ReceiptError> {
        if self.profile_ids.len() > MAX_LADDER_RUNGS {
            return Err(ReceiptError::TooManyRenditions(self.profile_ids.len()));
        }
        let signature = signer.sign_message_hash(&self.hash())?;
        Ok(SignedSegmentClaim {
            claim: self,
            signature,
        })
    }

    /// Whether this claim and `receipt` describe the same segment between the same parties.
    pub fn matches(&self, receipt: &Receipt) -> bool {
        self.broadcaster == receipt.broadcaster
            && self.orchestrator == receipt.orchestrator
            && self.stream_id == receipt.stream_id
            && self.seq == receipt.seq
            && self.input_hash == receipt.input_hash
            && self.profile_ids == receipt.profile_ids
    }
}

/// A segment claim with the broadcaster's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedSegmentClaim {
    /// The claim.
    pub claim: SegmentClaim,
    /// EIP-191 signature over [`SegmentClaim::hash`] by `claim.broadcaster`.
    pub signature: Signature,
}

impl SignedSegmentClaim {
    /// Checks that `claim.broadcaster` signed it.
    pub fn verify(&self) -> Result<(), ReceiptError> {
        if self.claim.profile_ids.len() > MAX_LADDER_RUNGS {
            return Err(ReceiptError::TooManyRenditions(
                self.claim.profile_ids.len(),
            ));
        }
        self.signature
            .verify_eip191(&self.claim.hash(), &self.claim.broadcaster)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::LocalSigner;

    fn receipt(o: Address, b: Address) -> Receipt {
        Receipt {
            orchestrator: o,
            broadcaster: b,
            stream_id: StreamId::from_name("stream"),
            seq: 7,
            input_hash: H256::repeat_byte(1),
            profile_ids: vec![H256::repeat_byte(2), H256::repeat_byte(3)],
            output_hashes: vec![H256::repeat_byte(4), H256::repeat_byte(5)],
            pixels: vec![1280 * 720 * 60, 640 * 360 * 60],
        }
    }

    #[test]
    fn abi_layout_is_head_then_tails() {
        let r = receipt(Address::repeat_byte(0xaa), Address::repeat_byte(0xbb));
        let enc = r.abi_encode();
        // 9 head words, then three arrays of (length + 2 elements).
        assert_eq!(enc.len(), 32 * (9 + 3 * 3));
        assert_eq!(&enc[..32], receipt_type_tag().as_bytes());
        assert_eq!(&enc[32 + 12..64], &[0xaa; 20]);
        // The offset of the first array points just past the head.
        assert_eq!(
            U256::from_big_endian(&enc[6 * 32..7 * 32]),
            U256::from(9 * 32)
        );
    }

    #[test]
    fn sign_and_verify_receipt_and_claim() {
        let o = LocalSigner::from_bytes(&[1u8; 32]).unwrap();
        let b = LocalSigner::from_bytes(&[2u8; 32]).unwrap();
        let r = receipt(o.address(), b.address());
        let sr = r.clone().sign(&o).unwrap();
        sr.verify().unwrap();
        let claim = SegmentClaim {
            broadcaster: b.address(),
            orchestrator: o.address(),
            stream_id: r.stream_id,
            seq: r.seq,
            input_hash: r.input_hash,
            profile_ids: r.profile_ids.clone(),
            duration_ms: 2000,
        };
        assert!(claim.matches(&r));
        let sc = claim.sign(&b).unwrap();
        sc.verify().unwrap();
        assert_ne!(sc.claim.hash(), sr.receipt.hash());

        let mut forged = sr.clone();
        forged.receipt.pixels[0] += 1;
        assert!(matches!(
            forged.verify(),
            Err(ReceiptError::Signature(SignatureError::WrongSigner { .. }))
        ));
        let wrong = r.clone().sign(&b).unwrap();
        assert!(wrong.verify().is_err());
    }

    #[test]
    fn mismatched_lists_are_rejected() {
        let mut r = receipt(Address::zero(), Address::zero());
        r.pixels.pop();
        assert!(matches!(
            r.validate(),
            Err(ReceiptError::LengthMismatch { .. })
        ));
        let s = LocalSigner::from_bytes(&[1u8; 32]).unwrap();
        assert!(r.sign(&s).is_err());
    }
}
