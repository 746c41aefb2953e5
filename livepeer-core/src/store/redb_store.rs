//! [`RedbStore`]: the [`Store`] on redb, an embedded pure-Rust copy-on-write database whose
//! commits are durable (fsync) and atomic.
//!
//! After an I/O error (a full disk, most often) redb refuses every later call on the same
//! handle ("Previous I/O error occurred"). The store therefore drops its handle on any
//! backend error and opens the file again on the next call, which recovers the database to
//! its last committed state: once space is back, the store works again without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use redb::{Database, DatabaseError, ReadableDatabase, ReadableTable, TableDefinition};
use tracing::{info, warn};

use super::{Batch, Op, Store, StoreError, lossy};

const KV: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("kv");

/// A [`Store`] in one redb database file, reopened after I/O errors.
pub struct RedbStore {
    path: PathBuf,
    /// The open database; `None` after a backend error until the next call reopens it.
    db: Mutex<Option<Arc<Database>>>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Opens (creating if needed) the database and its table.
fn open_db(path: &Path) -> Result<Database, StoreError> {
    let db = Database::create(path).map_err(|e| match e {
        DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(path.display().to_string()),
        e => backend(e),
    })?;
    let tx = db.begin_write().map_err(backend)?;
    tx.open_table(KV).map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(db)
}

impl RedbStore {
    /// Opens the database at `path`, creating it if needed. A database left by a crash is
    /// recovered to its last committed state. [`StoreError::InUse`] when another process
    /// holds it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let db = open_db(&path)?;
        Ok(RedbStore {
            path,
            db: Mutex::new(Some(Arc::new(db))),
        })
    }

    /// The open database, reopening it when a backend error closed it.
    fn handle(&self) -> Result<Arc<Database>, StoreError> {
        let mut slot = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(db) = &*slot {
            return Ok(db.clone());
        }
        let db = Arc::new(open_db(&self.path)?);
        info!(path = %self.path.display(), "store reopened");
        *slot = Some(db.clone());
        Ok(db)
    }

    /// Runs `f` on the database. A backend error closes the handle (when no other call
    /// replaced it meanwhile), so the next call starts from a fresh one.
    fn with_db<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let db = self.handle()?;
        let r = f(&db);
        if let Err(StoreError::Backend(e)) = &r {
            warn!(path = %self.path.display(), error = %e, "store failed; reopening it on the next call");
            let mut slot = self.db.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, &db)) {
                *slot = None;
            }
        }
        r
    }
}

impl Store for RedbStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(backend)?;
            let table = tx.open_table(KV).map_err(backend)?;
            Ok(table.get(key).map_err(backend)?.map(|v| v.value().to_vec()))
        })
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        limit: usize,
    ) -> Result<crate::store::Entries, StoreError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(backend)?;
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
        })
    }

    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        batch.check_limits()?;
        self.with_db(|db| {
            let tx = db.begin_write().map_err(backend)?;
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
        })
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

    /// A small tmpfs mounted for one test (root only), unmounted on drop.
    struct SmallFs(tempfile::TempDir);

    impl SmallFs {
        fn mount(bytes: u64) -> Option<SmallFs> {
            let dir = tempfile::tempdir().ok()?;
            let ok = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
                .arg(dir.path())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            ok.then_some(SmallFs(dir))
        }
    }

    impl Drop for SmallFs {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg(self.0.path())
                .status();
        }
    }

    /// Fills the filesystem of `dir` with one file; returns its path.
    fn fill(dir: &std::path::Path) -> std::path::PathBuf {
        use std::io::Write as _;
        let path = dir.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
        path
    }

    #[test]
    fn a_full_disk_fails_commits_and_the_store_recovers_once_space_is_freed() {
        let Some(fs) = SmallFs::mount(8 << 20) else {
            eprintln!("SKIPPED: mounting a small tmpfs needs root");
            return;
        };
        let s = RedbStore::open(fs.0.path().join("db")).unwrap();
        let mut b = Batch::new();
        b.put(b"winner/1".to_vec(), b"before".to_vec());
        s.commit(b).unwrap();
        let filler = fill(fs.0.path());
        // Large values need new pages: the disk is full.
        let mut failed = 0;
        for i in 0..8u8 {
            let mut b = Batch::new();
            b.put(vec![b'w', i], vec![i; 1 << 20]);
            if s.commit(b).is_err() {
                failed += 1;
            }
        }
        assert!(failed > 0, "the full disk never refused a commit");
        std::fs::remove_file(filler).unwrap();
        // Space is back: the same store commits again, with nothing committed lost.
        let mut b = Batch::new();
        b.put(b"winner/2".to_vec(), vec![7; 1 << 20]);
        s.commit(b).unwrap();
        assert_eq!(s.get(b"winner/1").unwrap().as_deref(), Some(&b"before"[..]));
        assert_eq!(s.get(b"winner/2").unwrap().map(|v| v.len()), Some(1 << 20));
    }

    #[test]
    fn a_store_held_by_another_handle_is_reported_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let _held = RedbStore::open(&path).unwrap();
        assert!(matches!(RedbStore::open(&path), Err(StoreError::InUse(_))));
    }
}
