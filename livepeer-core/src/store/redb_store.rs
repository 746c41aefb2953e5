//! [`RedbStore`]: the [`Store`] on redb, an embedded pure-Rust copy-on-write database whose
//! commits are durable (fsync) and atomic.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Batch, Op, Store, StoreError, lossy};

const KV: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("kv");

/// A [`Store`] in one redb database file.
pub struct RedbStore {
    db: Database,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl RedbStore {
    /// Opens the database at `path`, creating it if needed. A database left by a crash is
    /// recovered to its last committed state.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(backend)?;
        let tx = db.begin_write().map_err(backend)?;
        tx.open_table(KV).map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(RedbStore { db })
    }
}

impl Store for RedbStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read().map_err(backend)?;
        let table = tx.open_table(KV).map_err(backend)?;
        Ok(table.get(key).map_err(backend)?.map(|v| v.value().to_vec()))
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        limit: usize,
    ) -> Result<crate::store::Entries, StoreError> {
        let tx = self.db.begin_read().map_err(backend)?;
        let table = tx.open_table(KV).map_err(backend)?;
        let mut out = Vec::new();
        for item in table.range::<&[u8]>(prefix..).map_err(backend)? {
            let (k, v) = item.map_err(backend)?;
            if !k.value().starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        batch.check_limits()?;
        let tx = self.db.begin_write().map_err(backend)?;
        {
            let mut table = tx.open_table(KV).map_err(backend)?;
            for p in &batch.preconditions {
                let current = table
                    .get(p.key.as_slice())
                    .map_err(backend)?
                    .map(|v| v.value().to_vec());
                if current != p.expected {
                    // Dropping the transaction without commit aborts it.
                    return Err(StoreError::Conflict { key: lossy(&p.key) });
                }
            }
            for op in &batch.ops {
                match op {
                    Op::Put(k, v) => {
                        table.insert(k.as_slice(), v.as_slice()).map_err(backend)?;
                    }
                    Op::Delete(k) => {
                        table.remove(k.as_slice()).map_err(backend)?;
                    }
                }
            }
        }
        tx.commit().map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::check_store_contract;

    #[test]
    fn redb_store_meets_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        check_store_contract(&RedbStore::open(dir.path().join("db")).unwrap());
    }

    #[test]
    fn committed_data_survives_reopen_and_aborted_batches_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let s = RedbStore::open(&path).unwrap();
            let mut b = Batch::new();
            b.put(b"winner/1".to_vec(), b"ticket".to_vec());
            s.commit(b).unwrap();
            let mut b = Batch::new();
            b.put(b"winner/2".to_vec(), b"t2".to_vec())
                .expect(b"missing".to_vec(), Some(b"x"));
            assert!(s.commit(b).is_err());
        }
        let s = RedbStore::open(&path).unwrap();
        assert_eq!(s.get(b"winner/1").unwrap().as_deref(), Some(&b"ticket"[..]));
        assert_eq!(s.get(b"winner/2").unwrap(), None);
    }
}
