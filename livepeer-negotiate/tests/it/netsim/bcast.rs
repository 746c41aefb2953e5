//! The broadcasters of the simulation: a real [`StreamMachine`] each, and the little its
//! driver does (links, a payment source, a quote deadline).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livepeer_core::verify::Verdict;
use livepeer_core::{
    Address, Container, LocalSigner, Region, Segment, ServiceId, Signer, StreamId, U256, VideoCodec,
};
use livepeer_negotiate::proto::{
    AttemptId, DefaultPolicy, ExchangeError, JobRequest, RequestId, Scheduler, SchedulerConfig,
    Scoreboard, StreamAction, StreamConfig, StreamInput, StreamMachine,
};
use livepeer_negotiate::test_utils::TestPm;
use livepeer_negotiate::{PaymentSource, PmSource};
use livepeer_pm::test_utils::block_on;

use super::{Down, Params, QUOTE_TIMEOUT, SEG, Sim, Up, body, ladder};

enum Pending {
    Quote { asked: Instant },
    Attempt { attempt: AttemptId },
}

pub(super) struct Bcast {
    signer: Arc<LocalSigner>,
    stream: StreamId,
    /// When its stream starts.
    start: Duration,
    pub(super) machine: StreamMachine,
    board: Arc<Mutex<Scoreboard>>,
    payments: PmSource<Arc<dyn Signer>>,
    /// Requests in flight by (orchestrator, request).
    pending: HashMap<(usize, RequestId), Pending>,
    next_seq: u64,
    segments: u64,
    /// Whether every orchestrator was asked for a first quote.
    asked_all: bool,
    submitted: HashMap<u64, Instant>,
    /// The expiry of the last quote fed, per orchestrator.
    fed: HashMap<usize, u64>,
    dispatched: HashSet<AttemptId>,
}

impl Bcast {
    pub(super) fn new(
        k: usize,
        start: Duration,
        p: &Params,
        pm: &TestPm,
        t0: Instant,
        t0_unix_ms: u64,
    ) -> Self {
        let signer = Arc::new(LocalSigner::from_bytes(&[100 + k as u8; 32]).unwrap());
        let stream = StreamId::from_name(&format!("stream {k}"));
        let board = super::scoreboard();
        let mut config = SchedulerConfig::default();
        config.hedge_fraction = p.hedge;
        config.min_timeout = SEG;
        config.max_attempts = 8;
        let sched = Scheduler::new(config, Arc::new(DefaultPolicy::default()), board.clone());
        let mut config = StreamConfig::default();
        config.refresh_before = Duration::from_secs(6);
        config.quote_retry = Duration::from_secs(3);
        config.quote_retry_max = Duration::from_secs(24);
        let machine = StreamMachine::new(
            signer.clone(),
            livepeer_core::test_utils::test_domain(),
            stream,
            ladder(),
            config,
            sched,
            t0,
            t0_unix_ms,
        );
        Bcast {
            payments: pm.source(signer.clone()),
            signer,
            stream,
            start,
            machine,
            board,
            pending: HashMap::new(),
            next_seq: 0,
            segments: p.segments,
            asked_all: false,
            submitted: HashMap::new(),
            fed: HashMap::new(),
            dispatched: HashSet::new(),
        }
    }

    pub(super) fn address(&self) -> Address {
        self.signer.address()
    }

    /// When segment `next_seq` is due: a second after the stream starts, when the quotes
    /// are in, then one per segment duration.
    fn segment_due(&self, t0: Instant) -> Option<Instant> {
        (self.next_seq < self.segments)
            .then(|| t0 + self.start + Duration::from_secs(1) + SEG * self.next_seq as u32)
    }

    fn first_ask(&self, t0: Instant) -> Instant {
        t0 + self.start.saturating_sub(Duration::from_secs(1))
    }

    /// Everything this broadcaster waits for.
    pub(super) fn deadlines(&self, t0: Instant) -> Vec<Instant> {
        let quotes = self.pending.values().filter_map(|p| match p {
            Pending::Quote { asked } => Some(*asked + QUOTE_TIMEOUT),
            Pending::Attempt { .. } => None,
        });
        self.machine
            .poll_timeout()
            .into_iter()
            .chain(self.segment_due(t0))
            .chain((!self.asked_all).then(|| self.first_ask(t0)))
            .chain(quotes)
            .collect()
    }

    /// The scoreboard's latency ratio of each of `addrs`.
    pub(super) fn latency_ratios(&self, addrs: &[Address]) -> Vec<Option<f64>> {
        let board = self.board.lock().unwrap();
        addrs
            .iter()
            .map(|a| board.stats(a).and_then(|s| s.latency_ratio))
            .collect()
    }
}

impl Sim {
    /// New segments, quote deadlines and timers of broadcaster `bi`; then its actions.
    pub(super) fn step_broadcaster(&mut self, bi: usize, now: Instant) {
        let t0 = self.t0;
        if !self.bcasts[bi].asked_all && now >= self.bcasts[bi].first_ask(t0) {
            self.bcasts[bi].asked_all = true;
            for oi in 0..self.orchs.len() {
                self.ask(bi, oi, now);
            }
        }
        let b = &mut self.bcasts[bi];
        if b.segment_due(t0).is_some_and(|t| t <= now) {
            let seq = b.next_seq;
            b.next_seq += 1;
            b.submitted.insert(seq, now);
            let segment = Segment {
                seq,
                duration: SEG,
                data: body(bi, seq),
                container: Container::MpegTs,
                codec: VideoCodec::H264,
            };
            let excluded = Vec::new();
            b.machine
                .handle(now, StreamInput::Segment { segment, excluded });
        }
        let late: Vec<(usize, RequestId)> = b
            .pending
            .iter()
            .filter(|(_, p)| matches!(p, Pending::Quote { asked } if *asked + QUOTE_TIMEOUT <= now))
            .map(|(k, _)| *k)
            .collect();
        for (oi, request) in late {
            b.pending.remove(&(oi, request));
            let orchestrator = self.addrs[oi];
            b.machine
                .handle(now, StreamInput::QuoteFailed { orchestrator });
        }
        if b.machine.poll_timeout().is_some_and(|t| t <= now) {
            b.machine.handle_timeout(now);
        }
        self.drain(bi, now);
    }

    /// Answers arriving at broadcaster `bi`; then its actions.
    pub(super) fn deliver_to_broadcaster(&mut self, bi: usize, now: Instant) {
        for oi in 0..self.orchs.len() {
            let unreachable = self.is_down(oi, now);
            let orchestrator = self.addrs[oi];
            while let Some((request, msg)) = self.down[bi][oi].poll_deliver(now) {
                let b = &mut self.bcasts[bi];
                let Some(pending) = b.pending.remove(&(oi, request)) else {
                    continue;
                };
                if unreachable {
                    continue;
                }
                let input = match (pending, msg) {
                    (Pending::Quote { asked }, Down::Quote(q)) => {
                        b.fed.insert(oi, q.expires_unix_ms);
                        StreamInput::Quote {
                            orchestrator,
                            quote: *q,
                            stake: U256::from(100),
                            rtt: now - asked,
                        }
                    }
                    (Pending::Quote { .. }, _) => StreamInput::QuoteFailed { orchestrator },
                    (Pending::Attempt { attempt }, Down::Result(header, bodies)) => {
                        StreamInput::Result {
                            attempt,
                            header: *header,
                            bodies,
                        }
                    }
                    (Pending::Attempt { attempt }, Down::Error(w)) => {
                        self.trace.refused.push((oi, bi, w.code));
                        let error = ExchangeError::Refused(w);
                        StreamInput::ExchangeFailed { attempt, error }
                    }
                    (Pending::Attempt { attempt }, Down::Quote(_)) => {
                        let error = ExchangeError::BadReply("a quote".into());
                        StreamInput::ExchangeFailed { attempt, error }
                    }
                };
                b.machine.handle(now, input);
            }
        }
        self.drain(bi, now);
    }

    /// Asks orchestrator `oi` for a quote for broadcaster `bi`'s stream.
    fn ask(&mut self, bi: usize, oi: usize, now: Instant) {
        let wall = self.wall(now);
        let request = self.request_id();
        let b = &mut self.bcasts[bi];
        let job = JobRequest {
            service: ServiceId::cpu_transcoding(),
            region: Region::global(),
            ladder: ladder(),
            broadcaster: b.signer.address(),
            stream_id: b.stream,
            unix_ms: livepeer_negotiate::proto::unix_ms(wall),
        }
        .sign(&*b.signer)
        .unwrap();
        b.pending
            .insert((oi, request), Pending::Quote { asked: now });
        let _ = self.up[bi][oi].handle_send(now, (request, Up::Quote(job)));
    }

    /// Carries out broadcaster `bi`'s actions until it has none; payments and verdicts are
    /// answered at once.
    fn drain(&mut self, bi: usize, now: Instant) {
        let unix_now = livepeer_negotiate::proto::unix_ms(self.wall(now));
        let ms = self.ms(now);
        while let Some(action) = self.bcasts[bi].machine.poll_action() {
            match action {
                StreamAction::RequestQuote { orchestrator, .. } => {
                    let oi = self.index(&orchestrator);
                    let asking = self.bcasts[bi]
                        .pending
                        .iter()
                        .any(|((o, _), p)| *o == oi && matches!(p, Pending::Quote { .. }));
                    // One request in flight answers every ask.
                    if !asking {
                        self.ask(bi, oi, now);
                    }
                }
                StreamAction::QuoteExpired { orchestrator } => {
                    let oi = self.index(&orchestrator);
                    let expiry = self.bcasts[bi].fed[&oi];
                    self.trace.expired.push((bi, oi, ms, unix_now - expiry));
                }
                StreamAction::Pay {
                    attempt,
                    seq,
                    orchestrator,
                    quote,
                    fee,
                    ..
                } => {
                    assert!(
                        quote.expires_unix_ms > unix_now,
                        "payment under an expired quote"
                    );
                    let oi = self.index(&orchestrator);
                    let b = &mut self.bcasts[bi];
                    if b.dispatched.insert(attempt) {
                        self.trace.dispatches.push((bi, seq, oi, ms));
                    }
                    let result = block_on(b.payments.pay(&quote, b.stream, fee));
                    b.machine.handle(now, StreamInput::Paid { attempt, result });
                }
                StreamAction::Send {
                    attempt,
                    orchestrator,
                    header,
                    body,
                } => {
                    let oi = self.index(&orchestrator);
                    self.trace.tickets += header.payment.as_ref().map_or(0, |p| p.tickets.len());
                    let request = self.request_id();
                    self.bcasts[bi]
                        .pending
                        .insert((oi, request), Pending::Attempt { attempt });
                    let msg = Up::Segment(header, body);
                    let _ = self.up[bi][oi].handle_send(now, (request, msg));
                }
                StreamAction::Verify { attempt, .. } => {
                    let verdict = Ok(Verdict::Pass { sampled: false });
                    self.bcasts[bi]
                        .machine
                        .handle(now, StreamInput::Verified { attempt, verdict });
                }
                StreamAction::Cancel { attempt } => {
                    self.bcasts[bi].pending.retain(
                        |_, p| !matches!(p, Pending::Attempt { attempt: a } if *a == attempt),
                    );
                }
                StreamAction::AttemptFailed { .. } => self.trace.attempts_failed += 1,
                StreamAction::Completed { result, .. } => {
                    let oi = self.index(&result.orchestrator);
                    let since = self.bcasts[bi].submitted[&result.seq];
                    let latency = (now - since).as_millis();
                    self.trace.done.push((bi, result.seq, oi, ms, latency));
                }
                StreamAction::Failed { seq, .. } => self.trace.failed.push((bi, seq)),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
