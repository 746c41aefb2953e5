//! Crash-safe persistence as a seam: a key-value [`Store`] with atomic multi-key transactions
//! and compare-and-set preconditions.
//!
//! What must survive a crash goes here: winning tickets not yet redeemed, sender nonces, the
//! fault ledger. A [`Batch`] is applied entirely or not at all, and only if every
//! precondition holds at commit time, so two racing writers cannot both move a ticket from
//! "queued" to "sent".
//!
//! Implementations: [`MemStore`] (in memory, for tests and ephemeral nodes) and, behind the
//! `redb` feature, `RedbStore` (an embedded copy-on-write database with durable commits).

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Mutex;

use thiserror::Error;

use crate::error::Fault;

#[cfg(feature = "redb")]
mod redb_store;
#[cfg(feature = "redb")]
pub use redb_store::RedbStore;

/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 1024;
/// Largest value accepted.
pub const MAX_VALUE_LEN: usize = 16 * 1024 * 1024;

/// A store operation failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A precondition of the batch did not hold; nothing was written.
    #[error("store conflict on key {key:?}: the value changed")]
    Conflict {
        /// The key whose value differed (lossy UTF-8).
        key: String,
    },
    /// A key or value exceeds the limits.
    #[error("store: {what} of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// `key` or `value`.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The backend failed (disk full, I/O error, corruption).
    #[error("store backend: {0}")]
    Backend(String),
    /// The store is held by another process (or another handle in this one).
    #[error("store in use: {0}")]
    InUse(String),
}

impl StoreError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            StoreError::Conflict { .. } | StoreError::TooLarge { .. } => Fault::Misuse,
            StoreError::Backend(_) | StoreError::InUse(_) => Fault::Backend,
        }
    }

    /// Whether this is a failed precondition.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}

/// Key-value pairs returned by [`Store::scan_prefix`], in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// One write in a [`Batch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Sets `key` to `value`.
    Put(Vec<u8>, Vec<u8>),
    /// Removes `key` (no error if absent).
    Delete(Vec<u8>),
}

/// A precondition: `key` must currently hold `expected` (`None`: must be absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Precondition {
    /// The key.
    pub key: Vec<u8>,
    /// Its expected current value.
    pub expected: Option<Vec<u8>>,
}

/// Writes applied atomically, after checking preconditions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Preconditions checked before any write.
    pub preconditions: Vec<Precondition>,
    /// Writes, applied in order.
    pub ops: Vec<Op>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a put.
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(Op::Put(key.into(), value.into()));
        self
    }

    /// Adds a delete.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(Op::Delete(key.into()));
        self
    }

    /// Requires `key` to hold `expected` (`None`: absent) when the batch commits.
    pub fn expect(&mut self, key: impl Into<Vec<u8>>, expected: Option<&[u8]>) -> &mut Self {
        self.preconditions.push(Precondition {
            key: key.into(),
            expected: expected.map(<[u8]>::to_vec),
        });
        self
    }

    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Checks every key and value against the limits.
    pub fn check_limits(&self) -> Result<(), StoreError> {
        let key_ok = |k: &[u8]| {
            if k.len() > MAX_KEY_LEN {
                return Err(StoreError::TooLarge {
                    what: "key",
                    len: k.len(),
                    max: MAX_KEY_LEN,
                });
            }
            Ok(())
        };
        for p in &self.preconditions {
            key_ok(&p.key)?;
        }
        for op in &self.ops {
            match op {
                Op::Put(k, v) => {
                    key_ok(k)?;
                    if v.len() > MAX_VALUE_LEN {
                        return Err(StoreError::TooLarge {
                            what: "value",
                            len: v.len(),
                            max: MAX_VALUE_LEN,
                        });
                    }
                }
                Op::Delete(k) => key_ok(k)?,
            }
        }
        Ok(())
    }
}

/// A crash-safe key-value store with atomic batches.
///
/// Contract: [`Store::commit`] is atomic and durable when it returns `Ok` (a crash right after
/// loses nothing); a crash during it leaves either all of the batch or none of it. Reads see
/// every batch committed before them. Calls may block on disk for milliseconds; callers on an
/// async runtime should not hold locks across them. Keys are ordered bytewise.
pub trait Store: Send + Sync {
    /// The value of `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every entry whose key starts with `prefix`, in key order, at most `limit` of them.
    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError>;
    /// Applies `batch` atomically if its preconditions hold; [`StoreError::Conflict`] and no
    /// change otherwise.
    fn commit(&self, batch: Batch) -> Result<(), StoreError>;
}

impl<T> Store for T
where
    T: Deref + Send + Sync,
    T::Target: Store,
{
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.deref().get(key)
    }
    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        self.deref().scan_prefix(prefix, limit)
    }
    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        self.deref().commit(batch)
    }
}

/// An in-memory [`Store`]: atomic, but gone when the process ends.
#[derive(Debug, Default)]
pub struct MemStore {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every entry: what a process restarted on the same data would see.
    pub fn snapshot(&self) -> MemStore {
        MemStore {
            map: Mutex::new(self.lock().clone()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        // A poisoned lock only means another thread panicked mid-read; every write below is
        // applied to a clone first, so the map itself is always consistent.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn lossy(k: &[u8]) -> String {
    String::from_utf8_lossy(k).into_owned()
}

impl Store for MemStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().get(key).cloned())
    }

    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        Ok(self
            .lock()
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        batch.check_limits()?;
        let mut map = self.lock();
        for p in &batch.preconditions {
            if map.get(&p.key) != p.expected.as_ref() {
                return Err(StoreError::Conflict { key: lossy(&p.key) });
            }
        }
        for op in batch.ops {
            match op {
                Op::Put(k, v) => {
                    map.insert(k, v);
                }
                Op::Delete(k) => {
                    map.remove(&k);
                }
            }
        }
        Ok(())
    }
}

/// Runs the behaviour every [`Store`] must show; used by the tests of each implementation.
#[cfg(any(test, feature = "_test_utils"))]
pub fn check_store_contract(store: &dyn Store) {
    #![allow(clippy::unwrap_used, clippy::panic)]
    let mut b = Batch::new();
    b.put(b"a/1".to_vec(), b"x".to_vec())
        .put(b"a/2".to_vec(), b"y".to_vec())
        .put(b"b/1".to_vec(), b"z".to_vec());
    store.commit(b).unwrap();
    assert_eq!(store.get(b"a/1").unwrap().as_deref(), Some(&b"x"[..]));
    let scan = store.scan_prefix(b"a/", 10).unwrap();
    assert_eq!(scan.len(), 2);
    assert_eq!(scan[0].0, b"a/1");
    assert_eq!(store.scan_prefix(b"a/", 1).unwrap().len(), 1);

    // A failed precondition writes nothing, not even the ops before the failing check.
    let mut b = Batch::new();
    b.expect(b"a/1".to_vec(), Some(b"wrong"))
        .put(b"c/1".to_vec(), b"w".to_vec())
        .delete(b"a/2".to_vec());
    assert!(store.commit(b).unwrap_err().is_conflict());
    assert_eq!(store.get(b"c/1").unwrap(), None);
    assert!(store.get(b"a/2").unwrap().is_some());

    // Preconditions on presence and absence.
    let mut b = Batch::new();
    b.expect(b"a/1".to_vec(), Some(b"x"))
        .expect(b"c/1".to_vec(), None)
        .put(b"c/1".to_vec(), b"w".to_vec())
        .delete(b"a/2".to_vec());
    store.commit(b).unwrap();
    assert_eq!(store.get(b"c/1").unwrap().as_deref(), Some(&b"w"[..]));
    assert_eq!(store.get(b"a/2").unwrap(), None);

    // Limits.
    let mut b = Batch::new();
    b.put(vec![0u8; MAX_KEY_LEN + 1], b"v".to_vec());
    assert!(matches!(store.commit(b), Err(StoreError::TooLarge { .. })));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_store_meets_the_contract() {
        check_store_contract(&MemStore::new());
    }

    #[test]
    fn snapshot_is_independent() {
        let s = MemStore::new();
        let mut b = Batch::new();
        b.put(b"k".to_vec(), b"v".to_vec());
        s.commit(b).unwrap();
        let snap = s.snapshot();
        let mut b = Batch::new();
        b.delete(b"k".to_vec());
        s.commit(b).unwrap();
        assert!(snap.get(b"k").unwrap().is_some());
    }
}
