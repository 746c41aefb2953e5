//! The broadcaster's per-stream segment scheduler: which orchestrator gets each segment,
//! redundancy, hedging of late segments, failover, and never dropping a segment silently.
//!
//! Sans-IO: feed it segments ([`Scheduler::handle_segment`]), attempt outcomes
//! ([`Scheduler::handle_outcome`]) and timeouts ([`Scheduler::handle_timeout`], when
//! [`Scheduler::poll_timeout`] passes); after every call drain
//! [`Scheduler::poll_event`] until `None` and carry out the events. Each segment ends in
//! exactly one [`SchedEvent::Completed`] or [`SchedEvent::Failed`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livepeer_core::Address;

use super::selection::{Candidate, Scoreboard, SelectionPolicy};

/// Identifies one attempt at one segment.
pub type AttemptId = u64;

/// How the scheduler spreads and retries segments.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SchedulerConfig {
    /// Orchestrators each segment goes to at once (1 = no redundancy).
    pub redundancy: usize,
    /// A segment with no result after this fraction of its duration is sent to one more
    /// orchestrator (hedging), and again after each further such interval, up to
    /// `max_attempts`; `None` disables hedging.
    pub hedge_fraction: Option<f64>,
    /// An attempt with no result after `timeout_factor` × the segment's duration (at least
    /// `min_timeout`) counts as failed.
    pub timeout_factor: f64,
    /// Floor of the attempt timeout.
    pub min_timeout: Duration,
    /// Most attempts per segment, hedges and retries included.
    pub max_attempts: usize,
    /// Let attempts that lost the race run to completion (their results are discarded) so
    /// the scoreboard learns every orchestrator's real latency; otherwise they are cancelled
    /// when the segment completes.
    pub finish_losers: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            redundancy: 1,
            hedge_fraction: Some(0.7),
            timeout_factor: 2.0,
            min_timeout: Duration::from_secs(2),
            max_attempts: 5,
            finish_losers: true,
        }
    }
}

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// A verified result.
    Success,
    /// The orchestrator failed (error answer, bad reply, attempt timeout); try another.
    Failed,
    /// The orchestrator could not be reached (the connection died or timed out, and a fresh
    /// one failed too): it is suspended at once, so no later segment waits on a dead node.
    Unreachable,
    /// The input is at fault: another orchestrator would fail the same way.
    InputRejected,
    /// Verification proved a fault: suspend the orchestrator for the longest time.
    Fault,
}

/// Why a segment could not be transcoded. Always reported, never silent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailReason {
    /// The input was rejected as invalid.
    InputRejected,
    /// Every attempt failed.
    Exhausted {
        /// Attempts made.
        attempts: usize,
    },
    /// No orchestrator to send it to.
    NoCandidates,
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchedEvent {
    /// Send segment `seq` to `orchestrator` as attempt `attempt`.
    Dispatch {
        /// The segment.
        seq: u64,
        /// The attempt.
        attempt: AttemptId,
        /// Where to.
        orchestrator: Address,
        /// Whether this is a hedge or a retry (not a first send).
        retry: bool,
    },
    /// Stop attempt `attempt` (the segment is done elsewhere, or it timed out).
    Cancel {
        /// The segment.
        seq: u64,
        /// The attempt.
        attempt: AttemptId,
    },
    /// Segment `seq` is done; use attempt `attempt`'s result.
    Completed {
        /// The segment.
        seq: u64,
        /// The attempt.
        attempt: AttemptId,
        /// Who did it.
        orchestrator: Address,
    },
    /// Segment `seq` failed for good.
    Failed {
        /// The segment.
        seq: u64,
        /// Why.
        reason: FailReason,
    },
}

#[derive(Debug)]
struct Attempt {
    seq: u64,
    orchestrator: Address,
    started: Instant,
    timeout_at: Instant,
    duration: Duration,
    /// The segment is done; this attempt only runs on for the scoreboard.
    shadow: bool,
}

#[derive(Debug)]
struct SegState {
    duration: Duration,
    tried: Vec<Address>,
    excluded: Vec<Address>,
    hedge_at: Option<Instant>,
}

/// Schedules the segments of one stream.
pub struct Scheduler {
    config: SchedulerConfig,
    policy: Arc<dyn SelectionPolicy>,
    board: Arc<Mutex<Scoreboard>>,
    candidates: Vec<Candidate>,
    segments: BTreeMap<u64, SegState>,
    attempts: HashMap<AttemptId, Attempt>,
    events: VecDeque<SchedEvent>,
    next_attempt: AttemptId,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("segments", &self.segments.len())
            .field("attempts", &self.attempts.len())
            .finish()
    }
}

impl Scheduler {
    /// A scheduler ranking with `policy` over a `board` shared with other streams.
    pub fn new(
        config: SchedulerConfig,
        policy: Arc<dyn SelectionPolicy>,
        board: Arc<Mutex<Scoreboard>>,
    ) -> Self {
        Scheduler {
            config,
            policy,
            board,
            candidates: Vec::new(),
            segments: BTreeMap::new(),
            attempts: HashMap::new(),
            events: VecDeque::new(),
            next_attempt: 0,
        }
    }

    /// Replaces the candidates (from discovery or the price feed).
    pub fn set_candidates(&mut self, candidates: Vec<Candidate>) {
        self.candidates = candidates;
    }

    /// The candidates.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// Segments not finished yet.
    pub fn in_flight(&self) -> usize {
        self.segments.len()
    }

    /// A new segment `seq` of `duration` at `now`.
    pub fn handle_segment(&mut self, now: Instant, seq: u64, duration: Duration) {
        self.handle_segment_excluding(now, seq, duration, Vec::new());
    }

    /// [`handle_segment`](Self::handle_segment) that never sends the segment to an
    /// orchestrator in `excluded` (for example the one whose result a re-encode checks).
    pub fn handle_segment_excluding(
        &mut self,
        now: Instant,
        seq: u64,
        duration: Duration,
        excluded: Vec<Address>,
    ) {
        if self.segments.contains_key(&seq) {
            return;
        }
        let hedge_at = self
            .config
            .hedge_fraction
            .map(|f| now + duration.mul_f64(f.max(0.0)));
        self.segments.insert(
            seq,
            SegState {
                duration,
                tried: Vec::new(),
                excluded,
                hedge_at,
            },
        );
        let mut sent = 0;
        for _ in 0..self.config.redundancy.max(1) {
            if self.dispatch(now, seq, false) {
                sent += 1;
            }
        }
        if sent == 0 {
            self.fail(seq, FailReason::NoCandidates);
        }
    }

    /// Attempt `attempt` ended at `now` with `outcome`.
    pub fn handle_outcome(&mut self, now: Instant, attempt: AttemptId, outcome: AttemptOutcome) {
        let Some(a) = self.attempts.remove(&attempt) else {
            return;
        };
        let duration = a.duration;
        {
            let mut board = self.board.lock().unwrap_or_else(|e| e.into_inner());
            match outcome {
                AttemptOutcome::Success => {
                    board.record_success(a.orchestrator, now - a.started, duration)
                }
                AttemptOutcome::Failed => board.record_failure(a.orchestrator, now),
                AttemptOutcome::Unreachable => board.record_unreachable(a.orchestrator, now),
                AttemptOutcome::Fault => board.record_fault(a.orchestrator, now),
                AttemptOutcome::InputRejected => {}
            }
        }
        if a.shadow || !self.segments.contains_key(&a.seq) {
            return;
        }
        match outcome {
            AttemptOutcome::Success => {
                self.events.push_back(SchedEvent::Completed {
                    seq: a.seq,
                    attempt,
                    orchestrator: a.orchestrator,
                });
                self.complete(now, a.seq, duration);
            }
            AttemptOutcome::InputRejected => self.fail(a.seq, FailReason::InputRejected),
            AttemptOutcome::Failed | AttemptOutcome::Unreachable | AttemptOutcome::Fault => {
                self.retry_or_fail(now, a.seq)
            }
        }
    }

    /// Checks attempt timeouts and hedges at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<AttemptId> = self
            .attempts
            .iter()
            .filter(|(_, a)| a.timeout_at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(a) = self.attempts.get(&id) {
                let seq = a.seq;
                // It took at least this long: that counts against its latency too.
                self.board
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .record_late(a.orchestrator, now - a.started, a.duration);
                self.events
                    .push_back(SchedEvent::Cancel { seq, attempt: id });
            }
            self.handle_outcome(now, id, AttemptOutcome::Failed);
        }
        let due: Vec<u64> = self
            .segments
            .iter()
            .filter(|(_, s)| s.hedge_at.is_some_and(|t| t <= now))
            .map(|(seq, _)| *seq)
            .collect();
        for seq in due {
            let frac = self.config.hedge_fraction.unwrap_or(1.0).max(0.05);
            if let Some(s) = self.segments.get_mut(&seq) {
                // Still no result one hedge interval later (the hedge was lost too, or is
                // slow): hedge again, up to `max_attempts`.
                s.hedge_at = Some(now + s.duration.mul_f64(frac));
            }
            self.dispatch(now, seq, true);
        }
    }

    /// When to call [`Self::handle_timeout`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let a = self.attempts.values().map(|a| a.timeout_at).min();
        let h = self.segments.values().filter_map(|s| s.hedge_at).min();
        match (a, h) {
            (Some(a), Some(h)) => Some(a.min(h)),
            (x, y) => x.or(y),
        }
    }

    /// The next thing to do.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SchedEvent> {
        self.events.pop_front()
    }

    fn attempt_timeout(&self, duration: Duration) -> Duration {
        duration
            .mul_f64(self.config.timeout_factor.max(0.0))
            .max(self.config.min_timeout)
    }

    fn retry_or_fail(&mut self, now: Instant, seq: u64) {
        let pending = self.attempts.values().any(|a| a.seq == seq && !a.shadow);
        if pending {
            return;
        }
        if !self.dispatch(now, seq, true) {
            let attempts = self.segments.get(&seq).map_or(0, |s| s.tried.len());
            let reason = if attempts == 0 {
                FailReason::NoCandidates
            } else {
                FailReason::Exhausted { attempts }
            };
            self.fail(seq, reason);
        }
    }

    /// Sends `seq` to the best orchestrator not already working on it. Prefers ones not
    /// tried yet for this segment. Returns whether it dispatched.
    fn dispatch(&mut self, now: Instant, seq: u64, retry: bool) -> bool {
        let Some(seg) = self.segments.get(&seq) else {
            return false;
        };
        if seg.tried.len() >= self.config.max_attempts {
            return false;
        }
        let ranked = {
            let board = self.board.lock().unwrap_or_else(|e| e.into_inner());
            self.policy.rank(now, &self.candidates, &board)
        };
        let busy: Vec<Address> = self
            .attempts
            .values()
            .filter(|a| a.seq == seq && !a.shadow)
            .map(|a| a.orchestrator)
            .collect();
        let allowed = ranked
            .iter()
            .filter_map(|&i| self.candidates.get(i))
            .filter(|c| !seg.excluded.contains(&c.address));
        let pick = allowed
            .clone()
            .find(|c| !seg.tried.contains(&c.address))
            .or_else(|| allowed.clone().find(|c| !busy.contains(&c.address)))
            .map(|c| c.address);
        let Some(orchestrator) = pick else {
            return false;
        };
        let timeout = self.attempt_timeout(seg.duration);
        let duration = seg.duration;
        let id = self.next_attempt;
        self.next_attempt += 1;
        if let Some(seg) = self.segments.get_mut(&seq) {
            seg.tried.push(orchestrator);
        }
        self.attempts.insert(
            id,
            Attempt {
                seq,
                orchestrator,
                started: now,
                timeout_at: now + timeout,
                duration,
                shadow: false,
            },
        );
        self.events.push_back(SchedEvent::Dispatch {
            seq,
            attempt: id,
            orchestrator,
            retry,
        });
        true
    }

    fn fail(&mut self, seq: u64, reason: FailReason) {
        self.events.push_back(SchedEvent::Failed { seq, reason });
        self.finish(seq);
    }

    /// `seq` is done: its other attempts run on as shadows (or are cancelled and recorded
    /// as late, without `finish_losers`).
    fn complete(&mut self, now: Instant, seq: u64, duration: Duration) {
        if self.config.finish_losers {
            self.segments.remove(&seq);
            for a in self.attempts.values_mut().filter(|a| a.seq == seq) {
                a.shadow = true;
            }
            return;
        }
        {
            let mut board = self.board.lock().unwrap_or_else(|e| e.into_inner());
            for a in self.attempts.values().filter(|a| a.seq == seq) {
                board.record_late(a.orchestrator, now - a.started, duration);
            }
        }
        self.finish(seq);
    }

    /// Forgets `seq` and cancels its other attempts.
    fn finish(&mut self, seq: u64) {
        self.segments.remove(&seq);
        let rest: Vec<AttemptId> = self
            .attempts
            .iter()
            .filter(|(_, a)| a.seq == seq)
            .map(|(id, _)| *id)
            .collect();
        for id in rest {
            self.attempts.remove(&id);
            self.events
                .push_back(SchedEvent::Cancel { seq, attempt: id });
        }
    }
}
