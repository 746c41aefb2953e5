//! What the parties sign about a segment: the orchestrator's [`Receipt`] and the
//! broadcaster's [`SegmentClaim`].
//!
//! Both are EIP-712 typed data ([`crate::eip712`]): each has its own type string, so one kind
//! can never pass for the other, and each signature is bound to a [`Domain`] (a chain id and
//! the FaultVerifier's address), so a statement signed for one deployment is refused by every
//! other. The FaultVerifier contract recomputes the same struct hashes and digests and
//! recovers both signers on chain.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::crypto::{Signature, SignatureError, keccak256};
use crate::eip712::{
    Domain, address_word, receipt_type_hash, segment_claim_type_hash, uint_word, uints_hash,
    words_hash,
};
use crate::error::Fault;
use crate::media::StreamId;
use crate::primitives::{Address, H256};
use crate::profile::MAX_LADDER_RUNGS;
use crate::signer::{Signer, SignerError};

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

    /// EIP-712 `encodeData`: the nine words `typeHash, orchestrator, broadcaster, streamId,
    /// seq, keccak256(profileIds), keccak256(outputHashes), keccak256(pixels)` with
    /// `inputHash` in its place, each array hashed over its elements as 32-byte words.
    pub fn encode_data(&self) -> Vec<u8> {
        let words: [[u8; 32]; 9] = [
            receipt_type_hash().0,
            address_word(&self.orchestrator),
            address_word(&self.broadcaster),
            self.stream_id.0.0,
            uint_word(self.seq),
            self.input_hash.0,
            words_hash(&self.profile_ids),
            words_hash(&self.output_hashes),
            uints_hash(&self.pixels),
        ];
        words.concat()
    }

    /// The EIP-712 struct hash, keccak256 of [`Self::encode_data`]. It names the receipt in
    /// the FaultVerifier: a challenge's id is this hash.
    pub fn hash(&self) -> H256 {
        H256::from(keccak256(self.encode_data()))
    }

    /// The digest the orchestrator signs for `domain`.
    pub fn digest(&self, domain: &Domain) -> H256 {
        domain.digest(&self.hash())
    }

    /// Signs the receipt with the orchestrator's key, for `domain`.
    pub fn sign(self, signer: &dyn Signer, domain: &Domain) -> Result<SignedReceipt, ReceiptError> {
        self.validate()?;
        let signature = signer.sign_hash(&self.digest(domain))?;
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
    /// Signature over [`Receipt::digest`] by `receipt.orchestrator`.
    pub signature: Signature,
}

impl SignedReceipt {
    /// Checks the lists agree and that `receipt.orchestrator` signed it for `domain`.
    pub fn verify(&self, domain: &Domain) -> Result<(), ReceiptError> {
        self.receipt.validate()?;
        self.signature
            .verify(&self.receipt.digest(domain), &self.receipt.orchestrator)?;
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
    /// EIP-712 `encodeData`: the eight words `typeHash, broadcaster, orchestrator, streamId,
    /// seq, inputHash, keccak256(profileIds), durationMs`.
    pub fn encode_data(&self) -> Vec<u8> {
        let words: [[u8; 32]; 8] = [
            segment_claim_type_hash().0,
            address_word(&self.broadcaster),
            address_word(&self.orchestrator),
            self.stream_id.0.0,
            uint_word(self.seq),
            self.input_hash.0,
            words_hash(&self.profile_ids),
            uint_word(self.duration_ms),
        ];
        words.concat()
    }

    /// The EIP-712 struct hash, keccak256 of [`Self::encode_data`].
    pub fn hash(&self) -> H256 {
        H256::from(keccak256(self.encode_data()))
    }

    /// The digest the broadcaster signs for `domain`.
    pub fn digest(&self, domain: &Domain) -> H256 {
        domain.digest(&self.hash())
    }

    /// Signs the claim with the broadcaster's key, for `domain`.
    pub fn sign(
        self,
        signer: &dyn Signer,
        domain: &Domain,
    ) -> Result<SignedSegmentClaim, ReceiptError> {
        if self.profile_ids.len() > MAX_LADDER_RUNGS {
            return Err(ReceiptError::TooManyRenditions(self.profile_ids.len()));
        }
        let signature = signer.sign_hash(&self.digest(domain))?;
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
    /// Signature over [`SegmentClaim::digest`] by `claim.broadcaster`.
    pub signature: Signature,
}

impl SignedSegmentClaim {
    /// Checks that `claim.broadcaster` signed it for `domain`.
    pub fn verify(&self, domain: &Domain) -> Result<(), ReceiptError> {
        if self.claim.profile_ids.len() > MAX_LADDER_RUNGS {
            return Err(ReceiptError::TooManyRenditions(
                self.claim.profile_ids.len(),
            ));
        }
        self.signature
            .verify(&self.claim.digest(domain), &self.claim.broadcaster)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keccak256_concat;
    use crate::signer::LocalSigner;

    fn domain() -> Domain {
        Domain::new(31337, Address::repeat_byte(0xfa))
    }

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
    fn encode_data_is_one_word_per_member_with_hashed_arrays() {
        let r = receipt(Address::repeat_byte(0xaa), Address::repeat_byte(0xbb));
        let enc = r.encode_data();
        assert_eq!(enc.len(), 32 * 9);
        assert_eq!(&enc[..32], receipt_type_hash().as_bytes());
        assert_eq!(&enc[32..44], &[0; 12]);
        assert_eq!(&enc[44..64], &[0xaa; 20]);
        assert_eq!(&enc[5 * 32..6 * 32], &[1; 32]);
        assert_eq!(
            &enc[6 * 32..7 * 32],
            &keccak256_concat(&[&[2; 32], &[3; 32]])
        );
        let mut px = [[0u8; 32]; 2];
        px[0][24..].copy_from_slice(&r.pixels[0].to_be_bytes());
        px[1][24..].copy_from_slice(&r.pixels[1].to_be_bytes());
        assert_eq!(&enc[8 * 32..], &keccak256_concat(&[&px[0], &px[1]]));
        let claim = SegmentClaim {
            broadcaster: r.broadcaster,
            orchestrator: r.orchestrator,
            stream_id: r.stream_id,
            seq: r.seq,
            input_hash: r.input_hash,
            profile_ids: r.profile_ids.clone(),
            duration_ms: 2000,
        };
        let enc = claim.encode_data();
        assert_eq!(enc.len(), 32 * 8);
        assert_eq!(&enc[..32], segment_claim_type_hash().as_bytes());
        assert_eq!(&enc[7 * 32 + 24..], &2000u64.to_be_bytes());
    }

    #[test]
    fn sign_and_verify_receipt_and_claim() {
        let o = LocalSigner::from_bytes(&[1u8; 32]).unwrap();
        let b = LocalSigner::from_bytes(&[2u8; 32]).unwrap();
        let d = domain();
        let r = receipt(o.address(), b.address());
        let sr = r.clone().sign(&o, &d).unwrap();
        sr.verify(&d).unwrap();
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
        let sc = claim.sign(&b, &d).unwrap();
        sc.verify(&d).unwrap();
        assert_ne!(sc.claim.hash(), sr.receipt.hash());

        let mut forged = sr.clone();
        forged.receipt.pixels[0] += 1;
        assert!(matches!(
            forged.verify(&d),
            Err(ReceiptError::Signature(SignatureError::WrongSigner { .. }))
        ));
        let wrong = r.clone().sign(&b, &d).unwrap();
        assert!(wrong.verify(&d).is_err());
    }

    #[test]
    fn a_signature_for_another_chain_or_contract_is_refused() {
        let o = LocalSigner::from_bytes(&[1u8; 32]).unwrap();
        let b = LocalSigner::from_bytes(&[2u8; 32]).unwrap();
        let d = domain();
        let other_chain = Domain::new(1, d.verifying_contract);
        let other_contract = Domain::new(d.chain_id, Address::repeat_byte(0xfb));
        let r = receipt(o.address(), b.address());
        let sr = r.clone().sign(&o, &d).unwrap();
        let claim = SegmentClaim {
            broadcaster: b.address(),
            orchestrator: o.address(),
            stream_id: r.stream_id,
            seq: r.seq,
            input_hash: r.input_hash,
            profile_ids: r.profile_ids.clone(),
            duration_ms: 2000,
        };
        let sc = claim.sign(&b, &d).unwrap();
        for other in [other_chain, other_contract] {
            assert!(matches!(
                sr.verify(&other),
                Err(ReceiptError::Signature(SignatureError::WrongSigner { .. }))
            ));
            assert!(matches!(
                sc.verify(&other),
                Err(ReceiptError::Signature(SignatureError::WrongSigner { .. }))
            ));
        }
        // A personal-sign over the struct hash (the old form) is not a typed-data signature.
        let personal = SignedReceipt {
            receipt: r.clone(),
            signature: o.sign_message_hash(&r.hash()).unwrap(),
        };
        assert!(personal.verify(&d).is_err());
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
        assert!(r.sign(&s, &domain()).is_err());
    }
}
