//! The broadcaster's side of a challenge: serve the evidence, confirm the verifier's decision
//! function finds the fault in exactly what is served, open the challenge on chain, and
//! follow it to its verdict in the ledger.

use std::sync::Arc;

use livepeer_core::chain::{ChainError, ChallengeId, ChallengeState, FaultChallenger};
use livepeer_core::store::StoreError;
use thiserror::Error;

use crate::checker::{CheckJob, Checker};
use crate::evidence::{EvidenceError, EvidenceManifest, EvidenceStore};
use crate::ledger::{FaultLedger, FaultRecord, FaultStatus};
use crate::node::{Decision, NodeError, decide, fetch_evidence};

/// A challenge was not opened or not followed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// The fault cannot be proven on chain (a bad receipt, bytes the receipt does not sign).
    #[error("the fault is not provable on chain")]
    NotProvable,
    /// The verifier's decision function does not confirm the fault on the served evidence,
    /// so a challenge would lose its bond.
    #[error("the verifier would not confirm the fault: {0}")]
    NotConfirmed(String),
    /// The record is not in a state this step applies to.
    #[error("fault record in the wrong state: {0:?}")]
    WrongState(FaultStatus),
    /// The chain call failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// Storing the evidence failed.
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] StoreError),
    /// The re-check itself failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// Opens and follows challenges for recorded faults.
#[derive(Clone)]
pub struct Challenger {
    chain: Arc<dyn FaultChallenger>,
    evidence: EvidenceStore,
    ledger: FaultLedger,
    checker: Checker,
}

impl std::fmt::Debug for Challenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Challenger")
    }
}

impl Challenger {
    /// A challenger on `chain`, serving from `evidence`, recording in `ledger`, confirming
    /// with `checker` (the verifier's configuration).
    pub fn new(
        chain: Arc<dyn FaultChallenger>,
        evidence: EvidenceStore,
        ledger: FaultLedger,
        checker: Checker,
    ) -> Self {
        Challenger {
            chain,
            evidence,
            ledger,
            checker,
        }
    }

    /// The evidence store the verifier reads.
    pub fn evidence(&self) -> &EvidenceStore {
        &self.evidence
    }

    /// Challenges the recorded fault `record` found in `job`: stores the evidence, re-runs the
    /// verifier's decision on exactly what is stored, and only then opens the challenge.
    pub async fn challenge(
        &self,
        record: &FaultRecord,
        job: &CheckJob,
        deep: bool,
    ) -> Result<ChallengeId, ChallengeError> {
        if !record.report.provable {
            return Err(ChallengeError::NotProvable);
        }
        if record.status != FaultStatus::Recorded {
            return Err(ChallengeError::WrongState(record.status.clone()));
        }
        let segment = self.evidence.put(&job.segment)?;
        let renditions = job
            .renditions
            .iter()
            .map(|r| self.evidence.put(r))
            .collect::<Result<Vec<_>, _>>()?;
        let manifest = EvidenceManifest {
            evidence: record.evidence.clone(),
            ladder: job.ladder.clone(),
            container: job.container,
            codec: job.codec,
            segment,
            renditions,
            deep,
            kind: record.report.kind,
            rendition: record.report.rendition,
        };
        let mk = self.evidence.put_manifest(&manifest)?;
        let id = ChallengeId(record.receipt_hash());
        let fetched = match fetch_evidence(&self.evidence, &id).await? {
            Ok(f) => f,
            Err(reason) => return Err(ChallengeError::NotConfirmed(reason)),
        };
        match decide(&self.checker, &record.evidence, fetched).await? {
            Decision::Guilty(_) => {}
            Decision::Innocent(reason) => {
                self.evidence.remove(&manifest)?;
                return Err(ChallengeError::NotConfirmed(reason));
            }
        }
        let bond = self.chain.challenge_bond().await?;
        let opened = self.chain.open_challenge(&record.evidence, bond).await?;
        self.ledger.set_status(
            record,
            FaultStatus::Challenged {
                id: opened,
                manifest: mk,
            },
        )?;
        tracing::info!(orchestrator = ?record.report.orchestrator, challenge = ?opened.0, "challenge opened");
        Ok(opened)
    }

    /// Reads where a challenged record stands on chain and records a verdict once there is
    /// one (the evidence is then dropped). Returns the record as it now is.
    pub async fn refresh(&self, record: &FaultRecord) -> Result<FaultRecord, ChallengeError> {
        let FaultStatus::Challenged { id, .. } = record.status.clone() else {
            return Err(ChallengeError::WrongState(record.status.clone()));
        };
        let state = self.chain.challenge_state(id).await?;
        if matches!(state, ChallengeState::Open { .. }) {
            return Ok(record.clone());
        }
        let next = self
            .ledger
            .set_status(record, FaultStatus::Decided(state))?;
        if let Some(Ok(m)) = self
            .evidence
            .get(&match &record.status {
                FaultStatus::Challenged { manifest, .. } => *manifest,
                _ => return Ok(next),
            })?
            .map(|b| EvidenceManifest::from_bytes(&b))
        {
            self.evidence.remove(&m)?;
        }
        Ok(next)
    }
}
