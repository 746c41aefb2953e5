//! The fault ledger: every fault found, per orchestrator, with its signed evidence and where
//! its challenge stands, persisted in a [`Store`] so a restart loses none.

use std::sync::Arc;

use livepeer_core::chain::{ChallengeId, ChallengeState, FaultEvidence};
use livepeer_core::store::{Batch, Store, StoreError};
use livepeer_core::verify::FaultReport;
use livepeer_core::{Address, H256};
use serde::{Deserialize, Serialize};

use crate::evidence::ContentKey;

/// Where a recorded fault stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FaultStatus {
    /// Recorded; not challenged (not provable, or not yet).
    Recorded,
    /// A challenge is open on chain.
    Challenged {
        /// The challenge.
        id: ChallengeId,
        /// The evidence manifest served for it.
        manifest: ContentKey,
    },
    /// The challenge ended: guilty, innocent or expired.
    Decided(ChallengeState),
}

/// One fault in the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FaultRecord {
    /// What was found.
    pub report: FaultReport,
    /// The signed receipt and claim.
    pub evidence: FaultEvidence,
    /// Where it stands.
    pub status: FaultStatus,
}

impl FaultRecord {
    /// A new record.
    pub fn new(report: FaultReport, evidence: FaultEvidence) -> Self {
        FaultRecord {
            report,
            evidence,
            status: FaultStatus::Recorded,
        }
    }

    /// The receipt hash: the record's key, and the challenge id if challenged.
    pub fn receipt_hash(&self) -> H256 {
        self.evidence.receipt.receipt.hash()
    }
}

const PREFIX: &[u8] = b"verify/faults/";
/// Most records returned by one listing.
pub const MAX_LISTED: usize = 10_000;

fn orch_prefix(o: &Address) -> Vec<u8> {
    let mut k = PREFIX.to_vec();
    k.extend_from_slice(hex::encode(o.as_bytes()).as_bytes());
    k.push(b'/');
    k
}

fn record_key(o: &Address, receipt: &H256) -> Vec<u8> {
    let mut k = orch_prefix(o);
    k.extend_from_slice(hex::encode(receipt.as_bytes()).as_bytes());
    k
}

fn encode(r: &FaultRecord) -> Vec<u8> {
    serde_json::to_vec(r).unwrap_or_default()
}

fn decode(v: &[u8]) -> Result<FaultRecord, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Backend(format!("fault record: {e}")))
}

/// The persisted fault ledger.
#[derive(Clone)]
pub struct FaultLedger {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for FaultLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultLedger")
    }
}

impl FaultLedger {
    /// A ledger kept in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        FaultLedger { store }
    }

    /// Records a fault; `false` when this receipt already has a record (kept as it was).
    pub fn record(&self, r: &FaultRecord) -> Result<bool, StoreError> {
        let k = record_key(&r.report.orchestrator, &r.receipt_hash());
        let mut b = Batch::new();
        b.expect(k.clone(), None).put(k, encode(r));
        match self.store.commit(b) {
            Ok(()) => Ok(true),
            Err(e) if e.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The record of `orchestrator`'s receipt `receipt`.
    pub fn get(
        &self,
        orchestrator: &Address,
        receipt: &H256,
    ) -> Result<Option<FaultRecord>, StoreError> {
        self.store
            .get(&record_key(orchestrator, receipt))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Moves a record to `status`, if it still holds what `current` holds.
    pub fn set_status(
        &self,
        current: &FaultRecord,
        status: FaultStatus,
    ) -> Result<FaultRecord, StoreError> {
        let k = record_key(&current.report.orchestrator, &current.receipt_hash());
        let next = FaultRecord {
            status,
            ..current.clone()
        };
        let mut b = Batch::new();
        b.expect(k.clone(), Some(&encode(current)))
            .put(k, encode(&next));
        self.store.commit(b)?;
        Ok(next)
    }

    /// Every record of `orchestrator`, oldest receipt hash first.
    pub fn faults_of(&self, orchestrator: &Address) -> Result<Vec<FaultRecord>, StoreError> {
        self.store
            .scan_prefix(&orch_prefix(orchestrator), MAX_LISTED)?
            .iter()
            .map(|(_, v)| decode(v))
            .collect()
    }

    /// Every record.
    pub fn all(&self) -> Result<Vec<FaultRecord>, StoreError> {
        self.store
            .scan_prefix(PREFIX, MAX_LISTED)?
            .iter()
            .map(|(_, v)| decode(v))
            .collect()
    }
}
