//! The verifier node (the trusted-verifier role): for a challenge, it reads the evidence from
//! the chain, fetches the bytes the broadcaster serves, re-runs the broadcaster's checks and
//! votes. [`decide`] is the decision function; the broadcaster runs the same one before it
//! challenges.

use std::sync::Arc;

use bytes::Bytes;
use livepeer_core::chain::{ChainError, ChallengeId, FaultEvidence, TxOutcome, VerdictPoster};
use livepeer_core::media::MAX_SEGMENT_BYTES;
use thiserror::Error;

use crate::checker::{CheckError, CheckJob, Checker, Signed};
use crate::checks::Finding;
use crate::decode::DecodeError;
use crate::evidence::{ContentKey, EvidenceError, EvidenceManifest, EvidenceSource};

/// A verifier's decision on a challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// The evidence proves the fault.
    Guilty(Finding),
    /// It does not; the reason says why.
    Innocent(String),
}

impl Decision {
    /// Whether this is a guilty verdict.
    pub fn is_guilty(&self) -> bool {
        matches!(self, Decision::Guilty(_))
    }
}

/// The verifier node could not decide or vote.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Reading the challenge or voting failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// Fetching the evidence failed in a way worth retrying.
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    /// The local decoder failed.
    #[error("verifier backend: {0}")]
    Backend(String),
}

/// Evidence fetched for a challenge and checked against its keys.
#[derive(Clone, Debug)]
pub struct FetchedEvidence {
    /// The manifest.
    pub manifest: EvidenceManifest,
    /// The segment's bytes.
    pub segment: Bytes,
    /// The renditions' bytes.
    pub renditions: Vec<Bytes>,
}

async fn fetch_blob(
    source: &dyn EvidenceSource,
    key: &ContentKey,
) -> Result<Option<Bytes>, EvidenceError> {
    match source.fetch(key).await? {
        Some(b) if b.len() > MAX_SEGMENT_BYTES => {
            Err(EvidenceError::Malformed("blob too large".into()))
        }
        Some(b) if ContentKey::of(&b) != *key => Err(EvidenceError::Malformed(
            "blob does not match its key".into(),
        )),
        other => Ok(other),
    }
}

/// Fetches the evidence of `challenge` from `source`; `Ok(Err(reason))` when it is not
/// served or does not match its keys.
pub async fn fetch_evidence(
    source: &dyn EvidenceSource,
    challenge: &ChallengeId,
) -> Result<Result<FetchedEvidence, String>, EvidenceError> {
    let unusable = |e: EvidenceError| match e {
        EvidenceError::Malformed(m) => Ok(Err(m)),
        other => Err(other),
    };
    let Some(mk) = source.manifest_key(challenge).await? else {
        return Ok(Err("no evidence is served for this challenge".into()));
    };
    let manifest = match fetch_blob(source, &mk).await {
        Ok(Some(b)) => match EvidenceManifest::from_bytes(&b) {
            Ok(m) => m,
            Err(e) => return unusable(e),
        },
        Ok(None) => return Ok(Err("the manifest is not served".into())),
        Err(e) => return unusable(e),
    };
    let mut blobs = Vec::with_capacity(manifest.renditions.len() + 1);
    for k in std::iter::once(&manifest.segment).chain(&manifest.renditions) {
        match fetch_blob(source, k).await {
            Ok(Some(b)) => blobs.push(b),
            Ok(None) => return Ok(Err("a blob of the manifest is not served".into())),
            Err(e) => return unusable(e),
        }
    }
    let segment = blobs.remove(0);
    Ok(Ok(FetchedEvidence {
        manifest,
        segment,
        renditions: blobs,
    }))
}

/// The decision function: re-runs `checker` on the fetched evidence of the on-chain
/// `evidence`. Guilty only for a provable fault in bytes the receipt signs.
pub async fn decide(
    checker: &Checker,
    evidence: &FaultEvidence,
    fetched: FetchedEvidence,
) -> Result<Decision, NodeError> {
    let m = &fetched.manifest;
    if &m.evidence != evidence {
        return Ok(Decision::Innocent(
            "the manifest describes other evidence".into(),
        ));
    }
    let job = Arc::new(CheckJob {
        segment: fetched.segment,
        container: m.container,
        codec: m.codec,
        ladder: m.ladder.clone(),
        renditions: fetched.renditions,
        duration: std::time::Duration::from_millis(evidence.claim.claim.duration_ms),
        signed: Some(Signed {
            receipt: evidence.receipt.clone(),
            claim: evidence.claim.clone(),
            domain: evidence.domain,
        }),
    });
    // The re-encode only for services that promise deterministic output.
    let checker = if crate::reencode::applies_to(&evidence.service) {
        checker.clone()
    } else {
        checker.without_reencoder()
    };
    match checker.run(job, m.deep).await {
        Ok(r) => Ok(match r.finding {
            Some(f) if f.is_provable() => Decision::Guilty(f),
            Some(f) => Decision::Innocent(format!("not provable: {}", f.detail)),
            None => Decision::Innocent("every check passes".into()),
        }),
        Err(CheckError::Input(m)) => Ok(Decision::Innocent(m)),
        Err(CheckError::Decoder(DecodeError::Invalid(m))) => Ok(Decision::Innocent(format!(
            "the source does not decode: {m}"
        ))),
        Err(CheckError::Decoder(e)) => Err(NodeError::Backend(e.to_string())),
    }
}

/// A verifier node: decides challenges and posts its votes.
#[derive(Clone)]
pub struct VerifierNode {
    chain: Arc<dyn VerdictPoster>,
    source: Arc<dyn EvidenceSource>,
    checker: Checker,
}

impl std::fmt::Debug for VerifierNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierNode")
            .field("checker", &self.checker)
            .finish()
    }
}

impl VerifierNode {
    /// A node voting through `chain`, reading evidence from `source`, deciding with `checker`
    /// (configured as the broadcasters it serves configure theirs).
    pub fn new(
        chain: Arc<dyn VerdictPoster>,
        source: Arc<dyn EvidenceSource>,
        checker: Checker,
    ) -> Self {
        VerifierNode {
            chain,
            source,
            checker,
        }
    }

    /// Decides a challenge without voting.
    pub async fn decide(&self, id: ChallengeId) -> Result<Decision, NodeError> {
        let evidence = self.chain.challenge_evidence(id).await?;
        match fetch_evidence(self.source.as_ref(), &id).await? {
            Ok(fetched) => decide(&self.checker, &evidence, fetched).await,
            Err(reason) => Ok(Decision::Innocent(reason)),
        }
    }

    /// Decides a challenge and votes.
    pub async fn judge(&self, id: ChallengeId) -> Result<(Decision, TxOutcome), NodeError> {
        let d = self.decide(id).await?;
        tracing::info!(challenge = ?id.0, guilty = d.is_guilty(), "verifier vote");
        let tx = self.chain.vote(id, d.is_guilty()).await?;
        Ok((d, tx))
    }
}
