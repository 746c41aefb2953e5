//! The broadcaster's per-stream protocol decisions as a sans-IO state machine: the quotes it
//! holds and until when ([`QuoteBook`], re-asked before they expire, dropped when they do),
//! which orchestrator gets each segment and when to hedge or fail over ([`Scheduler`]), when
//! to pay, whether a result is the one asked for ([`check_result`]), handing it to
//! verification, and each segment's final outcome.
//!
//! The driver feeds what happens with [`StreamMachine::handle`]; when
//! [`StreamMachine::poll_timeout`] passes it calls [`StreamMachine::handle_timeout`]. After
//! every call it drains [`StreamMachine::poll_action`] until `None` and carries the actions
//! out: asking for quotes, paying, sending a segment and reading its result, verifying, and
//! cancelling attempts. The outcome of each asynchronous action comes back as the matching
//! input (an answer may also be fed while draining). Every segment ends in exactly one
//! [`StreamAction::Completed`] or [`StreamAction::Failed`].
//!
//! Time is passed in as `now`; quotes carry Unix times on the wire, which the machine maps
//! onto `now` from the wall-clock reading it was created with. It never reads a clock.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use livepeer_core::verify::{Verdict, VerificationRequest};
use livepeer_core::{
    Address, Domain, H256, Ladder, PixelPrice, Segment, SegmentClaim, Signer, StreamId,
};
use tracing::debug;

use super::broadcaster::{Expected, QuoteBook, check_result};
use super::payment::PaymentError;
use super::pricing::fee_estimate;
use super::scheduler::{AttemptId, AttemptOutcome, SchedEvent, Scheduler};
use super::{ErrorCode, Quote, SegmentHeader};

mod events;
#[cfg(test)]
mod tests;

pub use events::{ExchangeError, QuoteReason, SegmentResult, StreamAction, StreamInput};

/// How a stream keeps its quotes and checks its results. Scheduling is the
/// [`Scheduler`]'s own configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamConfig {
    /// Quotes above this price are refused.
    pub max_price: Option<PixelPrice>,
    /// A held quote is asked again this long before it expires (but no earlier than half
    /// way through its life), so the book does not run dry.
    pub refresh_before: Duration,
    /// After a failed quote request the orchestrator is asked again after this long,
    /// doubling with each failure in a row.
    pub quote_retry: Duration,
    /// The longest wait between quote requests to an orchestrator that keeps failing.
    pub quote_retry_max: Duration,
    /// Whether checked results go to verification ([`StreamAction::Verify`]).
    pub verify: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            max_price: None,
            refresh_before: Duration::from_secs(10),
            quote_retry: Duration::from_secs(2),
            quote_retry_max: Duration::from_secs(60),
            verify: false,
        }
    }
}

/// Where one attempt stands.
#[derive(Debug)]
enum Step {
    /// Waiting for [`StreamInput::Paid`].
    Paying,
    /// Waiting for a fresh quote; if none comes the attempt ends with `fallback`.
    Requoting {
        fallback: AttemptOutcome,
        reason: String,
    },
    /// Sent; waiting for the result.
    Exchanging,
    /// Checked; waiting for the verdict.
    Verifying(Box<SegmentResult>),
}

#[derive(Debug)]
struct Attempt {
    seq: u64,
    orchestrator: Address,
    segment: Segment,
    input_hash: H256,
    step: Step,
    /// A fresh quote was already asked for once.
    requoted: bool,
    /// When it was last paid for (the latency's start).
    paid_at: Instant,
}

/// One stream's protocol core. See the [module docs](self) for the calling rules.
pub struct StreamMachine {
    signer: Arc<dyn Signer>,
    domain: Domain,
    stream_id: StreamId,
    ladder: Ladder,
    config: StreamConfig,
    sched: Scheduler,
    book: QuoteBook,
    /// A wall-clock reading: `epoch` was `epoch_unix_ms`.
    epoch: Instant,
    epoch_unix_ms: u64,
    /// Segments not finished, with their input hash.
    open: HashMap<u64, (Segment, H256)>,
    attempts: HashMap<AttemptId, Attempt>,
    /// Quote requests of ours in flight, with the failures in a row before each.
    asking: BTreeMap<Address, u32>,
    /// When to ask again after failures, and how many in a row.
    retry: BTreeMap<Address, (Instant, u32)>,
    /// When to refresh each held quote.
    refresh: BTreeMap<Address, Instant>,
    /// Verified results until the scheduler says whether they complete their segment.
    done: HashMap<AttemptId, SegmentResult>,
    actions: VecDeque<StreamAction>,
}

impl std::fmt::Debug for StreamMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamMachine")
            .field("stream_id", &self.stream_id)
            .field("quotes", &self.book.len())
            .field("segments", &self.open.len())
            .field("attempts", &self.attempts.len())
            .finish()
    }
}

impl StreamMachine {
    /// A machine for `stream_id` and `ladder`, signing claims with `signer` for `domain`
    /// (and taking only receipts signed for it), spreading segments with `scheduler`. `now`
    /// was `now_unix_ms` on the wall clock: quote expiries are mapped onto `now` from this
    /// reading.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        signer: Arc<dyn Signer>,
        domain: Domain,
        stream_id: StreamId,
        ladder: Ladder,
        config: StreamConfig,
        scheduler: Scheduler,
        now: Instant,
        now_unix_ms: u64,
    ) -> Self {
        StreamMachine {
            signer,
            domain,
            stream_id,
            ladder,
            book: QuoteBook::new(config.max_price),
            config,
            sched: scheduler,
            epoch: now,
            epoch_unix_ms: now_unix_ms,
            open: HashMap::new(),
            attempts: HashMap::new(),
            asking: BTreeMap::new(),
            retry: BTreeMap::new(),
            refresh: BTreeMap::new(),
            done: HashMap::new(),
            actions: VecDeque::new(),
        }
    }

    /// The stream.
    pub fn stream_id(&self) -> StreamId {
        self.stream_id
    }

    /// The renditions asked for.
    pub fn ladder(&self) -> &Ladder {
        &self.ladder
    }

    /// The quotes held.
    pub fn quotes(&self) -> &QuoteBook {
        &self.book
    }

    /// The quote held for `orchestrator`.
    pub fn quote(&self, orchestrator: &Address) -> Option<&Quote> {
        self.book.get(orchestrator).map(|h| &h.quote)
    }

    /// Orchestrators with a quote held.
    pub fn orchestrators(&self) -> Vec<Address> {
        self.book.candidates().iter().map(|c| c.address).collect()
    }

    /// Segments not finished yet.
    pub fn in_flight(&self) -> usize {
        self.open.len()
    }

    /// Attempts not finished yet (losers running on for the scoreboard included).
    pub fn attempts(&self) -> usize {
        self.attempts.len()
    }

    /// Unix milliseconds at `now`.
    pub fn unix_ms_at(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.epoch).as_millis();
        self.epoch_unix_ms
            .saturating_add(u64::try_from(since).unwrap_or(u64::MAX))
    }

    fn instant_at(&self, unix_ms: u64) -> Instant {
        self.epoch + Duration::from_millis(unix_ms.saturating_sub(self.epoch_unix_ms))
    }

    /// The next thing to do.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<StreamAction> {
        self.actions.pop_front()
    }

    /// When to call [`Self::handle_timeout`] next: an attempt's timeout or hedge, or a
    /// quote's refresh, expiry or retry.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.sched.poll_timeout(),
            self.book.poll_timeout().map(|ms| self.instant_at(ms)),
            self.refresh.values().min().copied(),
            self.retry.values().map(|r| r.0).min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Drops expired quotes, asks for quotes that are due, and checks attempt timeouts and
    /// hedges, at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
        let due: Vec<(Address, QuoteReason)> = self
            .refresh
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(a, _)| (*a, QuoteReason::Refresh))
            .chain(
                self.retry
                    .iter()
                    .filter(|(_, r)| r.0 <= now)
                    .map(|(a, _)| (*a, QuoteReason::Retry)),
            )
            .collect();
        for (o, reason) in due {
            self.refresh.remove(&o);
            self.ask(o, reason);
        }
        self.sched.handle_timeout(now);
        self.drive(now);
    }

    /// Feeds one input at `now`.
    pub fn handle(&mut self, now: Instant, input: StreamInput) {
        self.expire(now);
        match input {
            StreamInput::Quote {
                orchestrator,
                quote,
                stake,
                rtt,
            } => {
                let asked = self.asking.contains_key(&orchestrator);
                let at = self.unix_ms_at(now);
                match self.book.handle_quote(at, orchestrator, quote, stake, rtt) {
                    Ok(()) => self.quote_taken(now, orchestrator),
                    Err(e) => {
                        debug!(stream = ?self.stream_id, ?orchestrator, error = %e, "quote not taken");
                        if asked {
                            self.quote_failed(now, orchestrator);
                        }
                    }
                }
            }
            StreamInput::QuoteFailed { orchestrator } => {
                if self.asking.contains_key(&orchestrator) {
                    self.quote_failed(now, orchestrator);
                }
            }
            StreamInput::Forget { orchestrator } => {
                self.book.remove(&orchestrator);
                self.asking.remove(&orchestrator);
                self.retry.remove(&orchestrator);
                self.refresh.remove(&orchestrator);
                self.sync_candidates();
                self.end_requoting(now, orchestrator);
            }
            StreamInput::Segment { segment, excluded } => {
                let seq = segment.seq;
                if let Entry::Vacant(v) = self.open.entry(seq) {
                    let duration = segment.duration;
                    let hash = segment.keccak();
                    v.insert((segment, hash));
                    self.sched
                        .handle_segment_excluding(now, seq, duration, excluded);
                }
            }
            StreamInput::Paid { attempt, result } => self.paid(now, attempt, result),
            StreamInput::Result {
                attempt,
                header,
                bodies,
            } => self.result(now, attempt, header, bodies),
            StreamInput::ExchangeFailed { attempt, error } => {
                self.exchange_failed(now, attempt, error)
            }
            StreamInput::Verified { attempt, verdict } => {
                let verifying = self
                    .attempts
                    .get(&attempt)
                    .is_some_and(|a| matches!(a.step, Step::Verifying(_)));
                let step = self
                    .attempts
                    .get_mut(&attempt)
                    .filter(|_| verifying)
                    .map(|a| std::mem::replace(&mut a.step, Step::Exchanging));
                match (step, verdict) {
                    (Some(_), Ok(Verdict::Fault(f))) => self.fail(
                        now,
                        attempt,
                        AttemptOutcome::Fault,
                        format!("bad result: verification fault: {:?}", f.kind),
                    ),
                    (Some(Step::Verifying(r)), _) => self.succeed(now, attempt, *r),
                    _ => {}
                }
            }
        }
        self.drive(now);
    }

    /// Drops the quotes expired at `now` and asks their orchestrators again.
    fn expire(&mut self, now: Instant) {
        let expired = self.book.handle_timeout(self.unix_ms_at(now));
        if expired.is_empty() {
            return;
        }
        for o in expired {
            self.refresh.remove(&o);
            self.actions
                .push_back(StreamAction::QuoteExpired { orchestrator: o });
            if !self.retry.contains_key(&o) {
                self.ask(o, QuoteReason::Expired);
            }
        }
        self.sync_candidates();
    }

    /// Asks `o` for a quote unless a request of ours is in flight.
    fn ask(&mut self, o: Address, reason: QuoteReason) {
        if self.asking.contains_key(&o) {
            return;
        }
        let failures = self.retry.remove(&o).map_or(0, |r| r.1);
        self.asking.insert(o, failures);
        self.actions.push_back(StreamAction::RequestQuote {
            orchestrator: o,
            reason,
        });
    }

    fn quote_taken(&mut self, now: Instant, o: Address) {
        self.asking.remove(&o);
        self.retry.remove(&o);
        if let Some(h) = self.book.get(&o) {
            let expires = self.instant_at(h.quote.expires_unix_ms);
            let life = expires.saturating_duration_since(now);
            let at = (expires - self.config.refresh_before.min(life)).max(now + life / 2);
            self.refresh.insert(o, at);
        }
        self.sync_candidates();
        // Attempts that waited for a fresh quote pay under it.
        let waiting: Vec<AttemptId> = self
            .attempts
            .iter()
            .filter(|(_, a)| a.orchestrator == o && matches!(a.step, Step::Requoting { .. }))
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            if let Some(a) = self.attempts.get_mut(&id) {
                a.step = Step::Paying;
                a.paid_at = now;
            }
            self.pay(now, id, false);
        }
    }

    /// A request of ours to `o` failed: ask again after a backoff; the quote held stays
    /// until it expires.
    fn quote_failed(&mut self, now: Instant, o: Address) {
        let failures = self.asking.remove(&o).unwrap_or(0).saturating_add(1);
        let wait = self
            .config
            .quote_retry
            .saturating_mul(1 << (failures - 1).min(16))
            .min(self.config.quote_retry_max);
        self.retry.insert(o, (now + wait, failures));
        self.end_requoting(now, o);
    }

    /// Attempts that waited for a fresh quote from `o` end as they would have without one.
    fn end_requoting(&mut self, now: Instant, o: Address) {
        let waiting: Vec<AttemptId> = self
            .attempts
            .iter()
            .filter(|(_, a)| a.orchestrator == o && matches!(a.step, Step::Requoting { .. }))
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            if let Some(Attempt {
                step: Step::Requoting { fallback, reason },
                ..
            }) = self.attempts.get(&id)
            {
                let (fallback, reason) = (*fallback, reason.clone());
                self.fail(now, id, fallback, reason);
            }
        }
    }

    fn sync_candidates(&mut self) {
        self.sched.set_candidates(self.book.candidates());
    }

    /// Emits the payment for attempt `id` under the quote held.
    fn pay(&mut self, now: Instant, id: AttemptId, retry: bool) {
        let Some(a) = self.attempts.get(&id) else {
            return;
        };
        let Some(held) = self.book.get(&a.orchestrator) else {
            // Only reachable through a quote dropped in between: the attempt fails.
            return self.fail(now, id, AttemptOutcome::Failed, "no quote held".into());
        };
        let fee = fee_estimate(&held.quote.price, &self.ladder, a.segment.duration);
        self.actions.push_back(StreamAction::Pay {
            attempt: id,
            seq: a.seq,
            orchestrator: a.orchestrator,
            quote: Box::new(held.quote.clone()),
            fee,
            retry,
        });
    }

    fn paid(
        &mut self,
        now: Instant,
        id: AttemptId,
        result: Result<Option<livepeer_pm::TicketBatch>, PaymentError>,
    ) {
        let Some(a) = self.attempts.get_mut(&id) else {
            return;
        };
        if !matches!(a.step, Step::Paying) {
            return;
        }
        match result {
            Ok(payment) => {
                a.step = Step::Exchanging;
                let seg = &a.segment;
                let header = SegmentHeader {
                    stream_id: self.stream_id,
                    seq: seg.seq,
                    duration_ms: u64::try_from(seg.duration.as_millis()).unwrap_or(u64::MAX),
                    container: seg.container,
                    codec: seg.codec,
                    ladder: self.ladder.clone(),
                    input_hash: a.input_hash,
                    body_len: seg.data.len() as u64,
                    payment,
                };
                self.actions.push_back(StreamAction::Send {
                    attempt: id,
                    orchestrator: a.orchestrator,
                    header: Box::new(header),
                    body: seg.data.clone(),
                });
            }
            // Params that expired while quoted: a fresh quote is the cure.
            Err(e @ PaymentError::TicketParamsExpired) => {
                self.stale(now, id, AttemptOutcome::Failed, format!("payment: {e}"))
            }
            Err(e) => self.fail(now, id, AttemptOutcome::Failed, format!("payment: {e}")),
        }
    }

    /// Attempt `id` met stale params or credit, or a dead connection: the first time, it
    /// waits for a fresh quote from the same orchestrator and goes on under it; otherwise it
    /// ends with `fallback`.
    fn stale(&mut self, now: Instant, id: AttemptId, fallback: AttemptOutcome, reason: String) {
        let Some(a) = self.attempts.get_mut(&id) else {
            return;
        };
        if a.requoted {
            return self.fail(now, id, fallback, reason);
        }
        a.requoted = true;
        a.step = Step::Requoting { fallback, reason };
        let o = a.orchestrator;
        self.ask(o, QuoteReason::Stale);
    }

    fn exchange_failed(&mut self, now: Instant, id: AttemptId, error: ExchangeError) {
        let Some(a) = self.attempts.get(&id) else {
            return;
        };
        if !matches!(a.step, Step::Exchanging) {
            return;
        }
        let o = a.orchestrator;
        let reason = error.to_string();
        match &error {
            ExchangeError::Refused(w) if w.code.is_input_error() => {
                self.fail(now, id, AttemptOutcome::InputRejected, reason)
            }
            // Healthy but taking no new streams: as good as unavailable for this one.
            ExchangeError::Refused(w) if w.code.is_draining() => {
                self.book.remove(&o);
                self.refresh.remove(&o);
                self.sync_candidates();
                self.fail(now, id, AttemptOutcome::Unreachable, reason)
            }
            ExchangeError::Refused(w)
                if matches!(
                    w.code,
                    ErrorCode::TicketParamsExpired | ErrorCode::LowPMBalance
                ) =>
            {
                self.stale(now, id, AttemptOutcome::Failed, reason)
            }
            // Perhaps a connection to a previous run whose params died with it: a fresh
            // quote on a fresh connection settles both; still dead after it, unreachable.
            ExchangeError::Connection(_) => {
                self.stale(now, id, AttemptOutcome::Unreachable, reason)
            }
            ExchangeError::BadReply(_) => self.fail(now, id, AttemptOutcome::Fault, reason),
            ExchangeError::Refused(_) | ExchangeError::Other(_) => {
                self.fail(now, id, AttemptOutcome::Failed, reason)
            }
        }
    }

    fn result(
        &mut self,
        now: Instant,
        id: AttemptId,
        header: super::ResultHeader,
        bodies: Vec<bytes::Bytes>,
    ) {
        let Some(a) = self.attempts.get(&id) else {
            return;
        };
        if !matches!(a.step, Step::Exchanging) {
            return;
        }
        let expected = Expected {
            domain: self.domain,
            broadcaster: self.signer.address(),
            orchestrator: a.orchestrator,
            stream_id: self.stream_id,
            seq: a.seq,
            input_hash: a.input_hash,
            ladder: &self.ladder,
        };
        let renditions = match check_result(&expected, &header, bodies) {
            Ok(r) => r,
            Err(e) => {
                return self.fail(now, id, AttemptOutcome::Fault, format!("bad result: {e}"));
            }
        };
        let result = SegmentResult {
            seq: a.seq,
            orchestrator: a.orchestrator,
            renditions,
            receipt: header.receipt,
            latency: now.saturating_duration_since(a.paid_at),
        };
        // A loser running on for the scoreboard needs no verdict.
        if !self.config.verify || !self.open.contains_key(&a.seq) {
            return self.succeed(now, id, result);
        }
        let claim = SegmentClaim {
            broadcaster: self.signer.address(),
            orchestrator: a.orchestrator,
            stream_id: self.stream_id,
            seq: a.seq,
            input_hash: a.input_hash,
            profile_ids: self.ladder.ids(),
            duration_ms: u64::try_from(a.segment.duration.as_millis()).unwrap_or(u64::MAX),
        }
        .sign(&*self.signer, &self.domain);
        let claim = match claim {
            Ok(c) => c,
            Err(e) => {
                return self.fail(now, id, AttemptOutcome::Failed, format!("receipt: {e}"));
            }
        };
        let request = VerificationRequest {
            segment: a.segment.clone(),
            ladder: self.ladder.clone(),
            renditions: result.renditions.clone(),
            receipt: result.receipt.clone(),
            claim,
            domain: self.domain,
        };
        if let Some(a) = self.attempts.get_mut(&id) {
            a.step = Step::Verifying(Box::new(result));
        }
        self.actions.push_back(StreamAction::Verify {
            attempt: id,
            request: Box::new(request),
        });
    }

    fn succeed(&mut self, now: Instant, id: AttemptId, result: SegmentResult) {
        if self.attempts.remove(&id).is_some() {
            self.done.insert(id, result);
            self.sched.handle_outcome(now, id, AttemptOutcome::Success);
        }
    }

    fn fail(&mut self, now: Instant, id: AttemptId, outcome: AttemptOutcome, reason: String) {
        let Some(a) = self.attempts.remove(&id) else {
            return;
        };
        self.actions.push_back(StreamAction::AttemptFailed {
            attempt: id,
            seq: a.seq,
            orchestrator: a.orchestrator,
            outcome,
            reason,
        });
        self.sched.handle_outcome(now, id, outcome);
    }

    /// Carries out the scheduler's events until it is idle.
    fn drive(&mut self, now: Instant) {
        while let Some(ev) = self.sched.poll_event() {
            match ev {
                SchedEvent::Dispatch {
                    seq,
                    attempt,
                    orchestrator,
                    retry,
                } => {
                    let Some((segment, input_hash)) = self.open.get(&seq).cloned() else {
                        self.sched
                            .handle_outcome(now, attempt, AttemptOutcome::Failed);
                        continue;
                    };
                    self.attempts.insert(
                        attempt,
                        Attempt {
                            seq,
                            orchestrator,
                            segment,
                            input_hash,
                            step: Step::Paying,
                            requoted: false,
                            paid_at: now,
                        },
                    );
                    self.pay(now, attempt, retry);
                }
                SchedEvent::Cancel { attempt, .. } => {
                    if self.attempts.remove(&attempt).is_some() {
                        self.actions.push_back(StreamAction::Cancel { attempt });
                    }
                }
                SchedEvent::Completed { seq, attempt, .. } => {
                    self.open.remove(&seq);
                    match self.done.remove(&attempt) {
                        Some(r) => self.actions.push_back(StreamAction::Completed {
                            attempt,
                            result: Box::new(r),
                        }),
                        // Unreachable: a success is only reported with its result.
                        None => self.actions.push_back(StreamAction::Failed {
                            seq,
                            reason: super::FailReason::Exhausted { attempts: 0 },
                        }),
                    }
                }
                SchedEvent::Failed { seq, reason } => {
                    self.open.remove(&seq);
                    self.actions.push_back(StreamAction::Failed { seq, reason });
                }
            }
        }
        // Results of attempts that lost the race are not needed.
        self.done.clear();
    }
}
