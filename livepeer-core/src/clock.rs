//! Time as a seam. Protocol cores take `now` as an argument; drivers read it from a
//! [`Clock`], which tests replace with a manual one.

use std::ops::Deref;
use std::time::{Duration, Instant};

/// A source of the current time.
///
/// Contract: `now` is monotonic (never goes backwards); `unix_time` is wall-clock time for
/// timestamps that leave the process, and may jump.
pub trait Clock: Send + Sync {
    /// Monotonic now.
    fn now(&self) -> Instant;
    /// Time since the Unix epoch.
    fn unix_time(&self) -> Duration;
}

impl<T> Clock for T
where
    T: Deref + Send + Sync,
    T::Target: Clock,
{
    fn now(&self) -> Instant {
        self.deref().now()
    }
    fn unix_time(&self) -> Duration {
        self.deref().unix_time()
    }
}
