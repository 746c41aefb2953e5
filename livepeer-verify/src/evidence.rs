//! Evidence: what a broadcaster serves during a challenge window so a verifier can re-check
//! a fault. Bytes are content-addressed by blake3; a [`EvidenceManifest`] names the segment,
//! the ladder and the renditions, and is itself content-addressed; an index maps each
//! challenge to its manifest.
//!
//! The broadcaster fills an [`EvidenceStore`]; a verifier reads through [`EvidenceSource`]
//! (in process, or over QUIC with the `net` feature's `RemoteEvidence`). Nothing fetched is
//! trusted: the verifier checks every blob against its key and the hashes the receipt and
//! claim sign.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use livepeer_core::chain::{ChallengeId, FaultEvidence};
use livepeer_core::store::{Batch, Store, StoreError};
use livepeer_core::verify::FaultKind;
use livepeer_core::{Container, VideoCodec, VideoProfile};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A blake3 content address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContentKey(pub [u8; 32]);

impl ContentKey {
    /// The key of `data`.
    pub fn of(data: &[u8]) -> Self {
        ContentKey(*blake3::hash(data).as_bytes())
    }
}

impl fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentKey({})", hex::encode(&self.0[..8]))
    }
}

/// Largest manifest accepted, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;

/// Everything a verifier needs besides the on-chain evidence to re-check a fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EvidenceManifest {
    /// The receipt and claim, as challenged on chain.
    pub evidence: FaultEvidence,
    /// The ladder; its profile ids are the claim's.
    pub ladder: Vec<VideoProfile>,
    /// The source container.
    pub container: Container,
    /// The source codec.
    pub codec: VideoCodec,
    /// The source segment's bytes.
    pub segment: ContentKey,
    /// Each rendition's bytes, in ladder order.
    pub renditions: Vec<ContentKey>,
    /// Whether the deep checks found it (the verifier runs them too).
    pub deep: bool,
    /// The fault the broadcaster found.
    pub kind: FaultKind,
    /// The rendition at fault, if one.
    pub rendition: Option<usize>,
}

impl EvidenceManifest {
    /// Serializes to JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain data to a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a manifest, bounded in size.
    pub fn from_bytes(data: &[u8]) -> Result<Self, EvidenceError> {
        if data.len() > MAX_MANIFEST_BYTES {
            return Err(EvidenceError::Malformed(format!(
                "manifest of {} bytes",
                data.len()
            )));
        }
        serde_json::from_slice(data).map_err(|e| EvidenceError::Malformed(e.to_string()))
    }
}

/// Evidence could not be stored or fetched.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// What was served does not parse or does not match its key or the signed hashes.
    #[error("malformed evidence: {0}")]
    Malformed(String),
    /// The store behind it failed.
    #[error("evidence store: {0}")]
    Store(#[from] StoreError),
    /// The transport failed; retrying may help.
    #[error("evidence transport: {0}")]
    Transport(String),
}

impl EvidenceError {
    /// Who is at fault.
    pub fn fault(&self) -> livepeer_core::Fault {
        match self {
            EvidenceError::Malformed(_) => livepeer_core::Fault::Peer,
            EvidenceError::Store(e) => e.fault(),
            EvidenceError::Transport(_) => livepeer_core::Fault::Backend,
        }
    }
}

/// Serves evidence to a verifier.
///
/// Contract: returns `Ok(None)` for what it does not hold (the verifier treats missing
/// evidence as no evidence), `Err` only for failures worth retrying. Callers check every
/// blob against its key; implementations need not be trusted. May take a network round trip.
#[async_trait]
pub trait EvidenceSource: Send + Sync {
    /// The manifest key for a challenge.
    async fn manifest_key(
        &self,
        challenge: &ChallengeId,
    ) -> Result<Option<ContentKey>, EvidenceError>;
    /// The bytes under `key`.
    async fn fetch(&self, key: &ContentKey) -> Result<Option<Bytes>, EvidenceError>;
}

#[async_trait]
impl<T: EvidenceSource + ?Sized> EvidenceSource for Arc<T> {
    async fn manifest_key(
        &self,
        challenge: &ChallengeId,
    ) -> Result<Option<ContentKey>, EvidenceError> {
        (**self).manifest_key(challenge).await
    }
    async fn fetch(&self, key: &ContentKey) -> Result<Option<Bytes>, EvidenceError> {
        (**self).fetch(key).await
    }
}

/// Several sources asked in turn (for example every broadcaster a verifier serves): the
/// first that holds what is asked answers. A source's failure is returned only when no other
/// source holds it.
#[derive(Clone, Default)]
pub struct EvidenceSources(pub Vec<Arc<dyn EvidenceSource>>);

impl fmt::Debug for EvidenceSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EvidenceSources({})", self.0.len())
    }
}

impl EvidenceSources {
    /// The first source's `Some`; else the last failure; else `None`.
    async fn first<'a, T, Fut>(
        &'a self,
        ask: impl Fn(&'a Arc<dyn EvidenceSource>) -> Fut,
    ) -> Result<Option<T>, EvidenceError>
    where
        Fut: std::future::Future<Output = Result<Option<T>, EvidenceError>>,
    {
        let mut failed = None;
        for s in &self.0 {
            match ask(s).await {
                Ok(Some(v)) => return Ok(Some(v)),
                Ok(None) => {}
                Err(e) => failed = Some(e),
            }
        }
        failed.map_or(Ok(None), Err)
    }
}

#[async_trait]
impl EvidenceSource for EvidenceSources {
    async fn manifest_key(
        &self,
        challenge: &ChallengeId,
    ) -> Result<Option<ContentKey>, EvidenceError> {
        self.first(|s| s.manifest_key(challenge)).await
    }

    async fn fetch(&self, key: &ContentKey) -> Result<Option<Bytes>, EvidenceError> {
        self.first(|s| s.fetch(key)).await
    }
}

const BLOB: &[u8] = b"verify/evidence/blob/";
const INDEX: &[u8] = b"verify/evidence/challenge/";

fn key(prefix: &[u8], id: &[u8; 32]) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(hex::encode(id).as_bytes());
    k
}

/// The broadcaster's content-addressed evidence, persisted in a [`Store`] so it survives a
/// restart for the whole challenge window.
#[derive(Clone)]
pub struct EvidenceStore {
    store: Arc<dyn Store>,
}

impl fmt::Debug for EvidenceStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EvidenceStore")
    }
}

impl EvidenceStore {
    /// Evidence kept in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        EvidenceStore { store }
    }

    /// Stores `data` and returns its key (storing the same bytes twice is a no-op).
    pub fn put(&self, data: &[u8]) -> Result<ContentKey, EvidenceError> {
        let k = ContentKey::of(data);
        let mut b = Batch::new();
        b.put(key(BLOB, &k.0), data.to_vec());
        self.store.commit(b)?;
        Ok(k)
    }

    /// Stores a manifest and indexes it under its challenge (the receipt hash).
    pub fn put_manifest(&self, m: &EvidenceManifest) -> Result<ContentKey, EvidenceError> {
        let bytes = m.to_bytes();
        let k = ContentKey::of(&bytes);
        let challenge = m.evidence.receipt.receipt.hash();
        let mut b = Batch::new();
        b.put(key(BLOB, &k.0), bytes)
            .put(key(INDEX, &challenge.0), k.0.to_vec());
        self.store.commit(b)?;
        Ok(k)
    }

    /// The bytes under `k`, checked against the key.
    pub fn get(&self, k: &ContentKey) -> Result<Option<Bytes>, EvidenceError> {
        match self.store.get(&key(BLOB, &k.0))? {
            Some(v) if ContentKey::of(&v) == *k => Ok(Some(Bytes::from(v))),
            Some(_) => Err(EvidenceError::Malformed(
                "stored blob does not match its key".into(),
            )),
            None => Ok(None),
        }
    }

    /// Removes a challenge's manifest, segment and renditions once it is decided.
    pub fn remove(&self, m: &EvidenceManifest) -> Result<(), EvidenceError> {
        let mut b = Batch::new();
        b.delete(key(INDEX, &m.evidence.receipt.receipt.hash().0));
        b.delete(key(BLOB, &ContentKey::of(&m.to_bytes()).0));
        for k in std::iter::once(&m.segment).chain(&m.renditions) {
            b.delete(key(BLOB, &k.0));
        }
        self.store.commit(b)?;
        Ok(())
    }
}

#[async_trait]
impl EvidenceSource for EvidenceStore {
    async fn manifest_key(
        &self,
        challenge: &ChallengeId,
    ) -> Result<Option<ContentKey>, EvidenceError> {
        match self.store.get(&key(INDEX, &challenge.0.0))? {
            Some(v) => {
                let arr: [u8; 32] = v
                    .try_into()
                    .map_err(|_| EvidenceError::Malformed("index entry".into()))?;
                Ok(Some(ContentKey(arr)))
            }
            None => Ok(None),
        }
    }

    async fn fetch(&self, k: &ContentKey) -> Result<Option<Bytes>, EvidenceError> {
        self.get(k)
    }
}
