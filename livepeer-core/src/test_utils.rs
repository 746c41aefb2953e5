//! Test doubles for this and downstream crates' tests (feature `_test_utils`): a manual
//! clock, seeded entropy, a store that fails on demand to simulate crashes, and the signing
//! domain of tests that run without a chain.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::clock::Clock;
use crate::entropy::{EntropyError, EntropySource};
use crate::store::{Batch, MemStore, Store, StoreError};

/// The signing domain of tests without a chain: the local development chain id (31337) and
/// the placeholder FaultVerifier address `0xfafa…fa`.
pub fn test_domain() -> crate::eip712::Domain {
    crate::eip712::Domain::new(31337, crate::Address::repeat_byte(0xfa))
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct TestClock {
    base: Instant,
    unix_base: Duration,
    offset: Mutex<Duration>,
}

impl TestClock {
    /// A clock at `unix_time`.
    pub fn new(unix_time: Duration) -> Self {
        TestClock {
            base: Instant::now(),
            unix_base: unix_time,
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// Moves time forward.
    pub fn advance(&self, d: Duration) {
        *self.offset.lock().unwrap() += d;
    }
}

impl Default for TestClock {
    fn default() -> Self {
        Self::new(Duration::from_secs(1_700_000_000))
    }
}

impl Clock for TestClock {
    fn now(&self) -> Instant {
        self.base + *self.offset.lock().unwrap()
    }
    fn unix_time(&self) -> Duration {
        self.unix_base + *self.offset.lock().unwrap()
    }
}

/// Deterministic entropy from a seed (ChaCha20), for reproducible tests. Never use it for
/// real keys.
#[derive(Debug)]
pub struct TestEntropy(Mutex<ChaCha20Rng>);

impl TestEntropy {
    /// Entropy seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        TestEntropy(Mutex::new(ChaCha20Rng::seed_from_u64(seed)))
    }
}

impl EntropySource for TestEntropy {
    fn fill_bytes(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        self.0.lock().unwrap().fill_bytes(dest);
        Ok(())
    }
}

/// A [`MemStore`] whose commits fail once a budget of successful commits is spent: the
/// way to inject a crash at every step of a multi-step flow. A failed commit writes nothing.
#[derive(Debug)]
pub struct TestStore {
    inner: MemStore,
    commits_left: AtomicI64,
}

impl TestStore {
    /// A store that never fails.
    pub fn new() -> Self {
        TestStore {
            inner: MemStore::new(),
            commits_left: AtomicI64::new(i64::MAX),
        }
    }

    /// Lets `n` more commits succeed, then fails every one after.
    pub fn fail_after(&self, n: i64) {
        self.commits_left.store(n, Ordering::SeqCst);
    }

    /// What survives a crash now: a fresh store holding exactly what was committed.
    pub fn restart(&self) -> TestStore {
        TestStore {
            inner: self.inner.snapshot(),
            commits_left: AtomicI64::new(i64::MAX),
        }
    }
}

impl Default for TestStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Store for TestStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key)
    }
    fn scan_prefix(
        &self,
        prefix: &[u8],
        limit: usize,
    ) -> Result<crate::store::Entries, StoreError> {
        self.inner.scan_prefix(prefix, limit)
    }
    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        if self.commits_left.fetch_sub(1, Ordering::SeqCst) <= 0 {
            return Err(StoreError::Backend("injected crash".into()));
        }
        self.inner.commit(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::check_store_contract;

    #[test]
    fn test_store_fails_on_demand_and_restarts() {
        let s = TestStore::new();
        check_store_contract(&s);
        s.fail_after(1);
        let mut b = Batch::new();
        b.put(b"x".to_vec(), b"1".to_vec());
        s.commit(b.clone()).unwrap();
        assert!(s.commit(b).is_err());
        let r = s.restart();
        assert!(r.get(b"x").unwrap().is_some());
    }

    #[test]
    fn seeded_entropy_is_reproducible() {
        let (a, b) = (TestEntropy::new(1), TestEntropy::new(1));
        let (mut x, mut y) = ([0u8; 8], [0u8; 8]);
        a.fill_bytes(&mut x).unwrap();
        b.fill_bytes(&mut y).unwrap();
        assert_eq!(x, y);
    }

    #[test]
    fn clock_advances() {
        let c = TestClock::default();
        let t0 = c.now();
        c.advance(Duration::from_secs(3));
        assert_eq!(c.now() - t0, Duration::from_secs(3));
    }
}
