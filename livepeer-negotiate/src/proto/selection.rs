//! Choosing orchestrators: a [`Scoreboard`] of what each one did (shared by every stream of
//! a broadcaster), and the [`SelectionPolicy`] that ranks candidates with it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use livepeer_core::{Address, PixelPrice, U256};

/// One orchestrator a broadcaster may use, as discovery and its last quote describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Its address.
    pub address: Address,
    /// Its quoted price.
    pub price: PixelPrice,
    /// Its stake.
    pub stake: U256,
    /// The free capacity it quoted, pixels per second.
    pub capacity_pps: u64,
    /// How long its quote took.
    pub quote_rtt: Duration,
}

/// What one orchestrator has done for us.
#[derive(Clone, Debug, PartialEq)]
pub struct OrchestratorStats {
    /// Moving average of (segment round trip ÷ segment duration); `None` before any result.
    pub latency_ratio: Option<f64>,
    /// Moving average of failures (1) and successes (0).
    pub failure_rate: f64,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Suspended until then, if suspended.
    pub suspended_until: Option<Instant>,
    /// Segments it completed.
    pub successes: u64,
    /// Segments it failed.
    pub failures: u64,
}

impl Default for OrchestratorStats {
    fn default() -> Self {
        OrchestratorStats {
            latency_ratio: None,
            failure_rate: 0.0,
            consecutive_failures: 0,
            suspended_until: None,
            successes: 0,
            failures: 0,
        }
    }
}

/// How the scoreboard averages and suspends.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ScoreConfig {
    /// Weight of a new sample in the moving averages (0..=1).
    pub alpha: f64,
    /// First suspension.
    pub base_suspension: Duration,
    /// Longest suspension (it doubles with failures in a row up to this).
    pub max_suspension: Duration,
    /// Failures in a row before a suspension: one lost packet should cost an orchestrator
    /// score, not ten seconds out of the pool.
    pub suspend_after: u32,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig {
            alpha: 0.3,
            base_suspension: Duration::from_secs(10),
            max_suspension: Duration::from_secs(300),
            suspend_after: 2,
        }
    }
}

/// Per-orchestrator history, shared by every stream of one broadcaster.
#[derive(Clone, Debug, Default)]
pub struct Scoreboard {
    config: ScoreConfig,
    stats: HashMap<Address, OrchestratorStats>,
}

impl Scoreboard {
    /// An empty board.
    pub fn new(config: ScoreConfig) -> Self {
        Scoreboard {
            config,
            stats: HashMap::new(),
        }
    }

    /// What we know of `addr`.
    pub fn stats(&self, addr: &Address) -> Option<&OrchestratorStats> {
        self.stats.get(addr)
    }

    /// A completed segment: `rtt` for a segment of `duration`.
    pub fn record_success(&mut self, addr: Address, rtt: Duration, duration: Duration) {
        let a = self.config.alpha;
        let s = self.stats.entry(addr).or_default();
        let ratio = rtt.as_secs_f64() / duration.as_secs_f64().max(0.001);
        s.latency_ratio = Some(s.latency_ratio.map_or(ratio, |l| l + a * (ratio - l)));
        s.failure_rate *= 1.0 - a;
        s.consecutive_failures = 0;
        s.successes += 1;
    }

    /// An attempt cancelled because another orchestrator finished first: it took at least
    /// `elapsed`, so that lower bound is averaged into its latency (a slow orchestrator that
    /// is always hedged still pays for it).
    pub fn record_late(&mut self, addr: Address, elapsed: Duration, duration: Duration) {
        let a = self.config.alpha;
        let s = self.stats.entry(addr).or_default();
        let ratio = elapsed.as_secs_f64() / duration.as_secs_f64().max(0.001);
        s.latency_ratio = Some(
            s.latency_ratio
                .map_or(ratio, |l| l + a * (ratio - l).max(0.0)),
        );
    }

    /// A failed segment (error answer, bad reply, timeout): averages it in and, after
    /// `suspend_after` failures in a row, suspends the orchestrator for a time that doubles
    /// with each further failure in a row.
    pub fn record_failure(&mut self, addr: Address, now: Instant) {
        let after = self.config.suspend_after.max(1);
        self.failed(addr, now, after);
    }

    /// An orchestrator that could not be reached (dead connection, and a fresh one failed
    /// too): counted as a failure and suspended at once, for a time that doubles with each
    /// failure in a row. Sending it the next segment would only wait out another timeout.
    pub fn record_unreachable(&mut self, addr: Address, now: Instant) {
        self.failed(addr, now, 1);
    }

    fn failed(&mut self, addr: Address, now: Instant, after: u32) {
        let a = self.config.alpha;
        let (base, max) = (self.config.base_suspension, self.config.max_suspension);
        let s = self.stats.entry(addr).or_default();
        s.failure_rate += a * (1.0 - s.failure_rate);
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        s.failures += 1;
        if s.consecutive_failures >= after {
            let factor = 1u32 << (s.consecutive_failures - after).min(16);
            s.suspended_until = Some(now + base.saturating_mul(factor).min(max));
        }
    }

    /// A proven fault (verification): suspended for the longest time at once.
    pub fn record_fault(&mut self, addr: Address, now: Instant) {
        let max = self.config.max_suspension;
        let s = self.stats.entry(addr).or_default();
        s.failure_rate = 1.0;
        s.failures += 1;
        s.suspended_until = Some(now + max);
    }

    /// Whether `addr` is suspended at `now`. Suspensions end at their deadline, whatever
    /// happened since.
    pub fn is_suspended(&self, addr: &Address, now: Instant) -> bool {
        self.stats
            .get(addr)
            .and_then(|s| s.suspended_until)
            .is_some_and(|t| now < t)
    }
}

/// Ranks candidates. Implement it for custom selection logic.
///
/// Contract: returns indices into `candidates`, best first, each at most once; it may leave
/// out candidates it never wants. Called on every dispatch, so it must be cheap.
pub trait SelectionPolicy: Send + Sync {
    /// Ranks `candidates` at `now` given the shared history.
    fn rank(&self, now: Instant, candidates: &[Candidate], board: &Scoreboard) -> Vec<usize>;
}

impl<T: SelectionPolicy + ?Sized> SelectionPolicy for std::sync::Arc<T> {
    fn rank(&self, now: Instant, candidates: &[Candidate], board: &Scoreboard) -> Vec<usize> {
        (**self).rank(now, candidates, board)
    }
}

/// The default policy: a weighted cost of price (relative to the cheapest candidate),
/// latency (the moving average, or the quote's round trip before any result), failures and
/// stake (a larger share lowers the cost). Suspended candidates rank last, soonest-expiring
/// first, so they are used only when nothing else is left.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DefaultPolicy {
    /// Weight of price.
    pub price_weight: f64,
    /// Weight of latency.
    pub latency_weight: f64,
    /// Weight of the failure rate.
    pub failure_weight: f64,
    /// Weight of stake share.
    pub stake_weight: f64,
    /// Extra weight on the part of the latency ratio above 1: an orchestrator slower than
    /// real time cannot keep up with a live stream whatever its price.
    pub realtime_penalty: f64,
}

impl Default for DefaultPolicy {
    fn default() -> Self {
        DefaultPolicy {
            price_weight: 1.0,
            latency_weight: 2.0,
            failure_weight: 4.0,
            stake_weight: 0.5,
            realtime_penalty: 10.0,
        }
    }
}

fn price_f64(p: &PixelPrice) -> f64 {
    let f = |v: U256| v.low_u128() as f64 * if v.bits() > 128 { f64::MAX } else { 1.0 };
    f(p.wei) / f(p.pixels).max(1.0)
}

fn stake_f64(v: U256) -> f64 {
    if v.bits() > 120 {
        2f64.powi(v.bits() as i32)
    } else {
        v.low_u128() as f64
    }
}

impl DefaultPolicy {
    /// The cost of one candidate (lower is better).
    pub fn cost(&self, c: &Candidate, min_price: f64, total_stake: f64, board: &Scoreboard) -> f64 {
        let price = price_f64(&c.price);
        let rel_price = if min_price > 0.0 {
            price / min_price - 1.0
        } else if price > 0.0 {
            1.0
        } else {
            0.0
        };
        let stats = board.stats(&c.address);
        // Before any result, a quote round trip of 100 ms counts as a ratio of 0.5.
        let latency = stats
            .and_then(|s| s.latency_ratio)
            .unwrap_or(c.quote_rtt.as_secs_f64() * 5.0);
        let failures = stats.map_or(0.0, |s| s.failure_rate);
        let share = if total_stake > 0.0 {
            stake_f64(c.stake) / total_stake
        } else {
            0.0
        };
        self.price_weight * rel_price
            + self.latency_weight * latency
            + self.realtime_penalty * (latency - 1.0).max(0.0)
            + self.failure_weight * failures
            - self.stake_weight * share
    }
}

impl SelectionPolicy for DefaultPolicy {
    fn rank(&self, now: Instant, candidates: &[Candidate], board: &Scoreboard) -> Vec<usize> {
        let min_price = candidates
            .iter()
            .map(|c| price_f64(&c.price))
            .fold(f64::INFINITY, f64::min);
        let total_stake: f64 = candidates.iter().map(|c| stake_f64(c.stake)).sum();
        let mut scored: Vec<(bool, f64, usize)> = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let suspended = board.is_suspended(&c.address, now);
                let key = if suspended {
                    board
                        .stats(&c.address)
                        .and_then(|s| s.suspended_until)
                        .map_or(0.0, |t| t.saturating_duration_since(now).as_secs_f64())
                } else {
                    self.cost(c, min_price, total_stake, board)
                };
                (suspended, key, i)
            })
            .collect();
        scored.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
        scored.into_iter().map(|(_, _, i)| i).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(n: u8, price: u64, rtt_ms: u64) -> Candidate {
        Candidate {
            address: Address::repeat_byte(n),
            price: PixelPrice::per_pixel(price),
            stake: U256::from(100),
            capacity_pps: 1,
            quote_rtt: Duration::from_millis(rtt_ms),
        }
    }

    #[test]
    fn cheaper_faster_first_and_suspension_expires() {
        let now = Instant::now();
        let mut board = Scoreboard::new(ScoreConfig::default());
        let cs = vec![cand(1, 10, 5), cand(2, 5, 5), cand(3, 5, 200)];
        let p = DefaultPolicy::default();
        // A 200 ms quote costs more than twice the price.
        assert_eq!(p.rank(now, &cs, &board), vec![1, 0, 2]);
        board.record_failure(cs[1].address, now);
        assert!(
            !board.is_suspended(&cs[1].address, now),
            "one failure is not enough"
        );
        board.record_failure(cs[1].address, now);
        assert_eq!(p.rank(now, &cs, &board)[2], 1, "suspended ranks last");
        assert!(board.is_suspended(&cs[1].address, now + Duration::from_secs(9)));
        assert!(!board.is_suspended(&cs[1].address, now + Duration::from_secs(10)));
        board.record_failure(cs[1].address, now);
        assert!(board.is_suspended(&cs[1].address, now + Duration::from_secs(19)));
        assert!(!board.is_suspended(&cs[1].address, now + Duration::from_secs(20)));
        // Latency history outweighs a quote.
        board.record_success(
            cs[2].address,
            Duration::from_millis(100),
            Duration::from_secs(2),
        );
        board.record_success(
            cs[0].address,
            Duration::from_secs(3),
            Duration::from_secs(2),
        );
        let later = now + Duration::from_secs(100);
        assert_eq!(p.rank(later, &cs, &board)[0], 2);
    }
}
