//! A deterministic network simulation of the real protocol cores: broadcasters running the
//! [`StreamMachine`] and orchestrators running the [`OrchestratorMachine`], paying and
//! validating real tickets ([`PmSource`], [`PmValidator`]), over lossy links with delay and
//! jitter, on a virtual clock (the shape of quinn-proto's `Pair`). Only the transcoder is
//! simulated: a pool that takes a fixed time.
//!
//! Checked on every run: every segment ends completed or failed, exactly once; no payment
//! is made under an expired quote; every paid segment ends in a receipt, or a refusal with
//! nothing debited; no request is admitted or answered twice; quotes expire exactly at their
//! virtual time; a draining orchestrator takes no new stream; nothing is left in flight at
//! the end. The scenarios are in `scenarios.rs`.

mod bcast;
mod scenarios;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use livepeer_core::test_utils::TestEntropy;
use livepeer_core::transcode::{Rendition, TranscodeOutput};
use livepeer_core::{Address, Ladder, LocalSigner, PixelPrice, Pixels, Signer, Wei};
use livepeer_negotiate::proto::{
    ErrorCode, Message, OrchestratorAction, OrchestratorInput, OrchestratorMachine,
    OrchestratorRules, PriceBook, Quote, RequestId, ResultHeader, SegmentHeader, SignedJobRequest,
    WireError, unix_ms,
};
use livepeer_negotiate::test_utils::{LossyLink, TestPm, TestTranscoder};
use livepeer_negotiate::{PaymentValidator, PmValidator};
use livepeer_pm::test_utils::block_on;

use bcast::Bcast;

pub const SEG: Duration = Duration::from_secs(2);
const QUOTE_TTL: Duration = Duration::from_secs(20);
/// How long a broadcaster waits for a quote before it counts as failed.
const QUOTE_TIMEOUT: Duration = Duration::from_secs(2);

/// What crosses a link towards an orchestrator.
#[derive(Clone, Debug)]
enum Up {
    Quote(SignedJobRequest),
    Segment(Box<SegmentHeader>, Bytes),
}

/// What crosses a link back.
#[derive(Clone, Debug)]
enum Down {
    Quote(Box<Quote>),
    Result(Box<ResultHeader>, Vec<Bytes>),
    Error(WireError),
}

/// The simulation's knobs.
#[derive(Clone, Debug)]
pub struct Params {
    pub seed: u64,
    pub loss: f64,
    /// Segments per stream, one every [`SEG`].
    pub segments: u64,
    /// Orchestrator that drains, and when.
    pub drain: Option<(usize, Duration)>,
    /// One broadcaster per entry, its stream starting then.
    pub starts: Vec<Duration>,
    /// The schedulers' hedge fraction.
    pub hedge: Option<f64>,
}

impl Params {
    /// Three broadcasters (the third starts at 50 s), orchestrator 0 draining at 32 s,
    /// hedging at 0.7 of a segment.
    pub fn new(seed: u64, loss: f64, segments: u64) -> Self {
        Params {
            seed,
            loss,
            segments,
            drain: Some((0, Duration::from_secs(32))),
            starts: vec![Duration::ZERO, Duration::ZERO, Duration::from_secs(50)],
            hedge: Some(0.7),
        }
    }
}

struct Orch {
    machine: OrchestratorMachine,
    payments: PmValidator,
    work: Duration,
    /// Unreachable (every message dropped, both ways) in this window.
    down: Option<(Duration, Duration)>,
    /// Bodies of headers waiting for admission.
    bodies: HashMap<RequestId, Bytes>,
    /// Pool work: when it is done, for which request, with what.
    pool: Vec<(Instant, RequestId, TranscodeOutput)>,
    /// Which broadcaster each request came from.
    from: HashMap<RequestId, usize>,
}

/// What happened, for the invariants and for comparing runs.
#[derive(Debug, Default, PartialEq)]
pub struct Trace {
    /// (broadcaster, seq, orchestrator index, virtual ms, latency ms from submission) per
    /// completed segment.
    pub done: Vec<(usize, u64, usize, u128, u128)>,
    /// (broadcaster, seq) per failed segment.
    pub failed: Vec<(usize, u64)>,
    /// (broadcaster, seq, orchestrator index, virtual ms) per attempt dispatched.
    pub dispatches: Vec<(usize, u64, usize, u128)>,
    /// Quotes expired in books: (broadcaster, orchestrator, virtual ms, ms past the
    /// quote's expiry when it was dropped).
    pub expired: Vec<(usize, usize, u128, u64)>,
    /// Streams (broadcaster indices) each orchestrator admitted a segment of, with the
    /// virtual ms of the first admission.
    pub admitted: BTreeMap<(usize, usize), u128>,
    /// Tickets sent with segments.
    pub tickets: usize,
    /// Segment requests refused: (orchestrator, broadcaster, code).
    pub refused: Vec<(usize, usize, ErrorCode)>,
    /// Virtual ms of every quote each orchestrator issued.
    pub quoted: Vec<(usize, u128)>,
    /// Attempts that ended failed (timeouts not counted).
    pub attempts_failed: usize,
    /// Each broadcaster's scoreboard at the end: latency ratio per orchestrator.
    pub latency_ratio: Vec<Vec<Option<f64>>>,
}

fn ladder() -> Ladder {
    "P144p30fps16x9".parse().unwrap()
}

fn body(b: usize, seq: u64) -> Bytes {
    let mut v = format!("b{b} segment {seq} ").into_bytes();
    v.resize(2_000, (seq % 251) as u8);
    Bytes::from(v)
}

fn output(input: &[u8], l: &Ladder) -> TranscodeOutput {
    TranscodeOutput {
        renditions: l
            .profiles()
            .iter()
            .map(|p| Rendition {
                profile: p.clone(),
                data: TestTranscoder::derive(input, &p.name),
                frames: 60,
                pixels: Pixels(p.pixels_per_frame() * 60),
                duration: SEG,
            })
            .collect(),
        source_frames: 60,
    }
}

/// The simulated world: machines, links, the clock's origin and what was seen.
struct Sim {
    t0: Instant,
    base: SystemTime,
    orchs: Vec<Orch>,
    addrs: Vec<Address>,
    bcasts: Vec<Bcast>,
    up: Vec<Vec<LossyLink<(RequestId, Up)>>>,
    down: Vec<Vec<LossyLink<(RequestId, Down)>>>,
    next_request: RequestId,
    trace: Trace,
    /// Per (orchestrator, request): admitted (payment checked), how it ended, debited.
    admitted: HashSet<(usize, RequestId)>,
    terminal: HashMap<(usize, RequestId), &'static str>,
    debits: HashSet<(usize, RequestId)>,
}

impl Sim {
    fn wall(&self, now: Instant) -> SystemTime {
        self.base + (now - self.t0)
    }

    fn ms(&self, now: Instant) -> u128 {
        (now - self.t0).as_millis()
    }

    fn is_down(&self, oi: usize, now: Instant) -> bool {
        let t = now - self.t0;
        self.orchs[oi].down.is_some_and(|(a, b)| t >= a && t < b)
    }

    fn index(&self, o: &Address) -> usize {
        self.addrs.iter().position(|a| a == o).unwrap()
    }

    fn request_id(&mut self) -> RequestId {
        self.next_request += 1;
        self.next_request
    }

    /// Orchestrators: deliveries, pool work done, timers; then their actions.
    fn step_orchestrators(&mut self, now: Instant) {
        let wall = self.wall(now);
        let ms = self.ms(now);
        for oi in 0..self.orchs.len() {
            let unreachable = self.is_down(oi, now);
            let o = &mut self.orchs[oi];
            for (bi, links) in self.up.iter_mut().enumerate() {
                while let Some((request, msg)) = links[oi].poll_deliver(now) {
                    if unreachable {
                        continue;
                    }
                    let peer = self.bcasts[bi].address();
                    o.from.insert(request, bi);
                    let input = match msg {
                        Up::Quote(job) => OrchestratorInput::JobRequest { request, peer, job },
                        Up::Segment(header, data) => {
                            o.bodies.insert(request, data);
                            OrchestratorInput::SegmentHeader {
                                request,
                                peer,
                                header: *header,
                            }
                        }
                    };
                    o.machine.handle(wall, input);
                }
            }
            let (ready, rest): (Vec<_>, Vec<_>) = o.pool.drain(..).partition(|(t, _, _)| *t <= now);
            o.pool = rest;
            for (_, request, out) in ready {
                let result = Ok(out);
                o.machine
                    .handle(wall, OrchestratorInput::Transcoded { request, result });
            }
            if o.machine.poll_timeout().is_some_and(|t| t <= wall) {
                o.machine.handle_timeout(wall);
            }
            while let Some(a) = self.orchs[oi].machine.poll_action() {
                let request = a.request();
                let o = &mut self.orchs[oi];
                let bi = o.from.get(&request).copied().unwrap_or(0);
                let reply = match a {
                    OrchestratorAction::IssueParams {
                        broadcaster, price, ..
                    } => {
                        let result = block_on(o.payments.quote_params(broadcaster, price));
                        let input = OrchestratorInput::ParamsIssued { request, result };
                        o.machine.handle(wall, input);
                        None
                    }
                    OrchestratorAction::CheckPayment {
                        sender,
                        stream,
                        batch,
                        fee_estimate,
                        ..
                    } => {
                        let result = block_on(o.payments.accept(
                            batch.as_ref(),
                            sender,
                            stream,
                            fee_estimate,
                        ));
                        if result.is_ok() {
                            assert!(self.admitted.insert((oi, request)), "admitted twice");
                            self.trace.admitted.entry((oi, bi)).or_insert(ms);
                        }
                        let input = OrchestratorInput::PaymentChecked { request, result };
                        o.machine.handle(wall, input);
                        None
                    }
                    OrchestratorAction::ReadBody { .. } => {
                        let body = o.bodies.remove(&request).unwrap();
                        o.machine
                            .handle(wall, OrchestratorInput::Body { request, body });
                        None
                    }
                    OrchestratorAction::Transcode { job, .. } => {
                        let out = output(&job.segment.data, &job.ladder);
                        o.pool.push((now + o.work, request, out));
                        None
                    }
                    OrchestratorAction::Debit {
                        sender,
                        stream,
                        fee,
                        ..
                    } => {
                        assert!(self.debits.insert((oi, request)), "debited twice");
                        o.payments.debit(sender, stream, fee);
                        None
                    }
                    OrchestratorAction::Reply {
                        message: Message::Quote(q),
                        ..
                    } => {
                        assert_eq!(
                            q.expires_unix_ms,
                            unix_ms(wall) + QUOTE_TTL.as_millis() as u64,
                            "a quote holds for the ttl from when it is issued"
                        );
                        self.trace.quoted.push((oi, ms));
                        Some((Down::Quote(Box::new(q)), "quote"))
                    }
                    OrchestratorAction::SendResult { header, bodies, .. } => {
                        Some((Down::Result(Box::new(header), bodies), "result"))
                    }
                    OrchestratorAction::Refuse { error, .. } => {
                        Some((Down::Error(error), "refused"))
                    }
                    other => panic!("unexpected {other:?}"),
                };
                if let Some((d, what)) = reply {
                    let first = self.terminal.insert((oi, request), what);
                    assert!(first.is_none(), "request {request} at {oi} answered twice");
                    let o = &mut self.orchs[oi];
                    o.machine
                        .handle(wall, OrchestratorInput::Closed { request });
                    o.bodies.remove(&request);
                    if !unreachable {
                        let _ = self.down[bi][oi].handle_send(now, (request, d));
                    }
                }
            }
        }
    }

    /// When the next thing happens (at the latest `end`).
    fn next_event(&self, now: Instant, end: Instant, p: &Params) -> Instant {
        let from_wall = |t: SystemTime| self.t0 + t.duration_since(self.base).unwrap_or_default();
        let mut next = end;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = next.min(t);
            }
        };
        for b in &self.bcasts {
            for t in b.deadlines(self.t0) {
                consider(Some(t));
            }
        }
        for o in &self.orchs {
            consider(o.machine.poll_timeout().map(from_wall));
            consider(o.pool.iter().map(|(t, _, _)| *t).min());
            if let Some((a, b)) = o.down {
                for edge in [a, b] {
                    consider(Some(self.t0 + edge).filter(|t| *t > now));
                }
            }
        }
        for l in self.up.iter().flatten() {
            consider(l.poll_timeout());
        }
        for l in self.down.iter().flatten() {
            consider(l.poll_timeout());
        }
        if let Some((_, at)) = p.drain {
            consider(Some(self.t0 + at).filter(|t| *t > now));
        }
        next.max(now + Duration::from_micros(1))
    }
}

fn link<T>(p: &Params, salt: u64) -> LossyLink<T> {
    LossyLink::new(
        Duration::from_millis(20),
        Duration::from_millis(20),
        p.loss,
        p.seed ^ salt,
    )
}

/// One simulation: the broadcasters of `p.starts` and 5 orchestrators, the cheapest
/// unreachable from 20 s to 60 s, one slower than real time, and the one named in `p.drain`
/// draining.
pub fn run(p: &Params) -> Trace {
    let t0 = Instant::now();
    let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let pm = TestPm::new(Wei::from_u128(10_000_000));
    let specs = [
        (1u8, 5u64, 300u64, None),
        (2, 6, 350, None),
        (3, 4, 3_000, None),
        (4, 1, 250, Some((20u64, 60u64))),
        (5, 8, 400, None),
    ];
    let orchs: Vec<Orch> = specs
        .iter()
        .map(|&(n, price, work, down)| {
            let signer = Arc::new(LocalSigner::from_bytes(&[n; 32]).unwrap());
            let (payments, _) = pm.validator(signer.address());
            let mut rules = OrchestratorRules::default();
            rules.quote_ttl = QUOTE_TTL;
            let mut machine = OrchestratorMachine::new(
                signer,
                livepeer_core::test_utils::test_domain(),
                PriceBook::new(PixelPrice::per_pixel(price)),
                rules,
            );
            machine.handle(base, OrchestratorInput::SetCapacity(1 << 40));
            Orch {
                machine,
                payments: payments.with_entropy(Arc::new(TestEntropy::new(p.seed ^ u64::from(n)))),
                work: Duration::from_millis(work),
                down: down.map(|(a, b)| (Duration::from_secs(a), Duration::from_secs(b))),
                bodies: HashMap::new(),
                pool: Vec::new(),
                from: HashMap::new(),
            }
        })
        .collect();
    let addrs: Vec<Address> = orchs.iter().map(|o| o.machine.address()).collect();
    let bcasts: Vec<Bcast> = p
        .starts
        .iter()
        .enumerate()
        .map(|(k, start)| Bcast::new(k, *start, p, &pm, t0, unix_ms(base)))
        .collect();
    let (nb, no) = (bcasts.len(), orchs.len());
    let up = (0..nb)
        .map(|b| (0..no).map(|o| link(p, (b * 16 + o) as u64)).collect())
        .collect();
    let down = (0..nb)
        .map(|b| {
            (0..no)
                .map(|o| link(p, (1000 + b * 16 + o) as u64))
                .collect()
        })
        .collect();
    let mut sim = Sim {
        t0,
        base,
        orchs,
        addrs,
        bcasts,
        up,
        down,
        next_request: 0,
        trace: Trace::default(),
        admitted: HashSet::new(),
        terminal: HashMap::new(),
        debits: HashSet::new(),
    };
    let mut drained = false;
    let end = t0 + SEG * (p.segments as u32) + Duration::from_secs(60);
    let mut now = t0;
    while now < end {
        if let Some((o, at)) = p.drain
            && !drained
            && now - t0 >= at
        {
            let wall = sim.wall(now);
            sim.orchs[o].machine.handle(wall, OrchestratorInput::Drain);
            drained = true;
        }
        for bi in 0..sim.bcasts.len() {
            sim.step_broadcaster(bi, now);
        }
        sim.step_orchestrators(now);
        for bi in 0..sim.bcasts.len() {
            sim.deliver_to_broadcaster(bi, now);
        }
        now = sim.next_event(now, end, p);
    }
    sim.finish(p)
}

impl Sim {
    /// The end-of-run invariants; returns the trace.
    fn finish(mut self, p: &Params) -> Trace {
        // Every admitted request was answered with a receipt or refused, and debited only
        // with a receipt: a refusal after payment leaves the credit with the broadcaster.
        for key in &self.admitted {
            let t = self.terminal.get(key).copied();
            assert!(
                matches!(t, Some("result" | "refused")),
                "admitted request {key:?} ended {t:?}"
            );
            assert_eq!(self.debits.contains(key), t == Some("result"), "{key:?}");
        }
        for o in &self.orchs {
            assert_eq!(o.machine.body_bytes_in_flight(), 0);
            assert_eq!(o.machine.requests(), 0, "requests left in {:?}", o.machine);
        }
        // Every segment ended exactly once, and nothing is left in flight.
        for (bi, b) in self.bcasts.iter().enumerate() {
            assert_eq!(b.machine.in_flight(), 0, "broadcaster {bi}");
            let mut ended: Vec<u64> = self
                .trace
                .done
                .iter()
                .filter(|d| d.0 == bi)
                .map(|d| d.1)
                .chain(self.trace.failed.iter().filter(|f| f.0 == bi).map(|f| f.1))
                .collect();
            ended.sort();
            assert_eq!(
                ended,
                (0..p.segments).collect::<Vec<_>>(),
                "broadcaster {bi}"
            );
        }
        self.trace.latency_ratio = self
            .bcasts
            .iter()
            .map(|b| b.latency_ratios(&self.addrs))
            .collect();
        self.trace
    }
}

/// Shared by the scenarios.
fn scoreboard() -> Arc<Mutex<livepeer_negotiate::proto::Scoreboard>> {
    Arc::new(Mutex::new(livepeer_negotiate::proto::Scoreboard::new(
        livepeer_negotiate::proto::ScoreConfig::default(),
    )))
}
