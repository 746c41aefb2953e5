//! Verification as a seam: the [`SegmentVerifier`] a broadcaster calls on every result.
//! `livepeer-verify` implements it; negotiation drops an orchestrator at once on a fault.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::eip712::Domain;
use crate::error::Fault;
use crate::media::Segment;
use crate::primitives::Address;
use crate::profile::Ladder;
use crate::receipt::{SignedReceipt, SignedSegmentClaim};
use crate::transcode::Rendition;

/// One transcoded segment to verify.
#[derive(Clone, Debug)]
pub struct VerificationRequest {
    /// What the broadcaster sent.
    pub segment: Segment,
    /// What it asked for.
    pub ladder: Ladder,
    /// What came back, in ladder order.
    pub renditions: Vec<Rendition>,
    /// The orchestrator's signed receipt.
    pub receipt: SignedReceipt,
    /// The broadcaster's own signed claim for the segment.
    pub claim: SignedSegmentClaim,
    /// The deployment both statements are signed for (the broadcaster's chain and
    /// FaultVerifier).
    pub domain: Domain,
}

/// What kind of fault was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FaultKind {
    /// The receipt's signature does not recover the orchestrator.
    BadReceiptSignature,
    /// The receipt disagrees with the claim (stream, sequence, input, profiles).
    ReceiptMismatch,
    /// A rendition's bytes do not hash to what the receipt signs.
    HashMismatch,
    /// A rendition's pixel count differs from the receipt's.
    PixelCountMismatch,
    /// Wrong codec, profile or container.
    WrongFormat,
    /// Wrong resolution.
    WrongResolution,
    /// Wrong frame rate, frame count or duration.
    WrongTiming,
    /// Bitrate outside the bounds the profile allows.
    BitrateOutOfBounds,
    /// The rendition does not decode.
    Undecodable,
    /// The picture differs too much from the source (SSIM/PSNR below threshold).
    PerceptualMismatch,
    /// A deterministic re-encode does not match bit for bit.
    ReencodeMismatch,
}

/// A fault found in one result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultReport {
    /// The orchestrator at fault.
    pub orchestrator: Address,
    /// What is wrong.
    pub kind: FaultKind,
    /// Which rendition, if one.
    pub rendition: Option<usize>,
    /// Human-readable detail with the measured values.
    pub detail: String,
    /// Whether the signed evidence proves it to the on-chain verifier (worth a challenge).
    pub provable: bool,
}

/// The outcome of verifying one result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Verdict {
    /// Every check passed; `sampled` says whether the deep checks ran too.
    Pass {
        /// Whether this segment was in the secret sample.
        sampled: bool,
    },
    /// A fault was found.
    Fault(FaultReport),
}

/// Verification could not run (not a verdict on the orchestrator).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The request is inconsistent (e.g. renditions and ladder differ in length).
    #[error("invalid verification request: {0}")]
    InvalidRequest(String),
    /// A decoder or metric backend failed.
    #[error("verification backend: {0}")]
    Backend(String),
}

impl VerifyError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            VerifyError::InvalidRequest(_) => Fault::Misuse,
            VerifyError::Backend(_) => Fault::Backend,
        }
    }
}

/// Verifies transcoded results.
///
/// Contract: cheap checks run on every call and cost a few percent of the transcode; deep
/// checks run on a secret sample the orchestrator cannot predict. May be called
/// concurrently; heavy work runs off the async executor.
#[async_trait]
pub trait SegmentVerifier: Send + Sync {
    /// Verifies one result.
    async fn verify(&self, req: &VerificationRequest) -> Result<Verdict, VerifyError>;
}
