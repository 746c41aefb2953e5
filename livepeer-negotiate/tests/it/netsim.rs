//! A deterministic network simulation of the real protocol cores: broadcasters running the
//! [`Scheduler`] and [`QuoteBook`] with [`check_result`], and orchestrators running the
//! [`OrchestratorMachine`], paying and validating real tickets ([`PmSource`],
//! [`PmValidator`]), over lossy links with delay and jitter, on a virtual clock (the shape of
//! quinn-proto's `Pair`). Only the transcoder is simulated: a pool that takes a fixed time.
//!
//! Checked: no segment is lost while one orchestrator is healthy; every paid segment ends in
//! a receipt, or a refusal with nothing debited; no request is admitted twice; quotes
//! expire exactly at their virtual time; a draining orchestrator takes no new stream.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use livepeer_core::test_utils::TestEntropy;
use livepeer_core::transcode::{Rendition, TranscodeOutput};
use livepeer_core::{
    Address, Container, H256, Ladder, LocalSigner, PixelPrice, Pixels, Region, ServiceId, Signer,
    StreamId, U256, VideoCodec, Wei, keccak256,
};
use livepeer_negotiate::proto::{
    AttemptId, AttemptOutcome, DefaultPolicy, ErrorCode, Expected, JobRequest, Message,
    OrchestratorAction, OrchestratorInput, OrchestratorMachine, OrchestratorRules, PriceBook,
    Quote, QuoteBook, RequestId, ResultHeader, SchedEvent, Scheduler, SchedulerConfig, ScoreConfig,
    Scoreboard, SegmentHeader, SignedJobRequest, WireError, check_result, fee_estimate, unix_ms,
};
use livepeer_negotiate::test_utils::{LossyLink, TestPm, TestTranscoder};
use livepeer_negotiate::{PaymentSource, PaymentValidator, PmSource, PmValidator};
use livepeer_pm::test_utils::block_on;

const SEG: Duration = Duration::from_secs(2);
const QUOTE_TTL: Duration = Duration::from_secs(20);
/// How often a broadcaster asks the orchestrators it holds no quote from.
const REQUOTE_EVERY: Duration = Duration::from_secs(3);

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
    pub segments: u64,
    /// Orchestrator that drains, and when.
    pub drain: Option<(usize, Duration)>,
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

enum Pending {
    Quote { asked: Instant },
    Attempt { attempt: AttemptId, seq: u64 },
}

struct Bcast {
    signer: Arc<LocalSigner>,
    stream: StreamId,
    /// When its stream starts.
    start: Duration,
    sched: Scheduler,
    book: QuoteBook,
    payments: PmSource<Arc<dyn Signer>>,
    /// Requests in flight by (orchestrator, request).
    pending: HashMap<(usize, RequestId), Pending>,
    next_seq: u64,
    last_requote: Option<Instant>,
}

/// What happened, for the invariants and for comparing runs.
#[derive(Debug, Default, PartialEq)]
pub struct Trace {
    /// (broadcaster, seq, orchestrator index, virtual ms) per completed segment.
    pub done: Vec<(usize, u64, usize, u128)>,
    /// (broadcaster, seq) per failed segment.
    pub failed: Vec<(usize, u64)>,
    /// (broadcaster, seq, orchestrator index, virtual ms) per dispatch.
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

/// One simulation: 3 broadcasters (the third starts at 50 s) and 5 orchestrators, the
/// cheapest unreachable from 20 s to 60 s, one slower than real time, and the one named in
/// `p.drain` draining.
pub fn run(p: &Params) -> Trace {
    let t0 = Instant::now();
    let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let wall = |now: Instant| base + (now - t0);
    let pm = TestPm::new(Wei::from_u128(10_000_000));
    let specs = [
        (1u8, 5u64, 300u64, None),
        (2, 6, 350, None),
        (3, 4, 3_000, None),
        (4, 1, 250, Some((20u64, 60u64))),
        (5, 8, 400, None),
    ];
    let mut orchs: Vec<Orch> = specs
        .iter()
        .map(|&(n, price, work, down)| {
            let signer = Arc::new(LocalSigner::from_bytes(&[n; 32]).unwrap());
            let (payments, _) = pm.validator(signer.address());
            let mut rules = OrchestratorRules::default();
            rules.quote_ttl = QUOTE_TTL;
            let mut machine = OrchestratorMachine::new(
                signer,
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
    let mut config = SchedulerConfig::default();
    config.hedge_fraction = Some(0.7);
    config.min_timeout = SEG;
    config.max_attempts = 8;
    let mut bcasts: Vec<Bcast> = (0..3u8)
        .map(|k| {
            let signer = Arc::new(LocalSigner::from_bytes(&[100 + k; 32]).unwrap());
            let board = Arc::new(Mutex::new(Scoreboard::new(ScoreConfig::default())));
            Bcast {
                payments: pm.source(signer.clone()),
                signer,
                stream: StreamId::from_name(&format!("stream {k}")),
                start: if k == 2 {
                    Duration::from_secs(50)
                } else {
                    Duration::ZERO
                },
                sched: Scheduler::new(config.clone(), Arc::new(DefaultPolicy::default()), board),
                book: QuoteBook::new(None),
                pending: HashMap::new(),
                next_seq: 0,
                last_requote: None,
            }
        })
        .collect();
    fn link<T>(p: &Params, salt: u64) -> LossyLink<T> {
        LossyLink::new(
            Duration::from_millis(20),
            Duration::from_millis(20),
            p.loss,
            p.seed ^ salt,
        )
    }
    let mut up: Vec<Vec<LossyLink<(RequestId, Up)>>> = (0..bcasts.len())
        .map(|b| {
            (0..orchs.len())
                .map(|o| link(p, (b * 16 + o) as u64))
                .collect()
        })
        .collect();
    let mut down: Vec<Vec<LossyLink<(RequestId, Down)>>> = (0..bcasts.len())
        .map(|b| {
            (0..orchs.len())
                .map(|o| link(p, (1000 + b * 16 + o) as u64))
                .collect()
        })
        .collect();
    let mut trace = Trace::default();
    let mut next_request: RequestId = 0;
    // Per (orchestrator, request): admitted (payment checked) and answered, for the
    // invariants.
    let mut admitted: HashSet<(usize, RequestId)> = HashSet::new();
    let mut terminal: HashMap<(usize, RequestId), &'static str> = HashMap::new();
    let mut debits: HashSet<(usize, RequestId)> = HashSet::new();
    let mut drained_at: Option<Instant> = None;
    let ms = |now: Instant| (now - t0).as_millis();
    let end = t0 + SEG * (p.segments as u32) + Duration::from_secs(60);
    let mut now = t0;
    while now < end {
        let is_down = |o: &Orch| {
            o.down
                .is_some_and(|(a, b)| (now - t0) >= a && (now - t0) < b)
        };
        if let Some((o, at)) = p.drain
            && drained_at.is_none()
            && now - t0 >= at
        {
            orchs[o].machine.handle(wall(now), OrchestratorInput::Drain);
            drained_at = Some(now);
        }
        // Broadcasters: new segments, quote expiry, asking for missing quotes.
        for (bi, b) in bcasts.iter_mut().enumerate() {
            // The first segment a second after the stream starts, when the quotes are in.
            let due = t0 + b.start + Duration::from_secs(1) + SEG * b.next_seq as u32;
            if b.next_seq < p.segments && due <= now {
                b.sched.handle_segment(now, b.next_seq, SEG);
                b.next_seq += 1;
            }
            let due_ms = b.book.poll_timeout();
            for o in b.book.handle_timeout(unix_ms(wall(now))) {
                let oi = addrs.iter().position(|a| *a == o).unwrap();
                let late = unix_ms(wall(now)) - due_ms.unwrap_or(0);
                trace.expired.push((bi, oi, ms(now), late));
            }
            if now - t0 >= b.start.saturating_sub(Duration::from_secs(1))
                && b.last_requote.is_none_or(|t| now - t >= REQUOTE_EVERY)
            {
                b.last_requote = Some(now);
                for (oi, o) in addrs.iter().enumerate() {
                    let asking = b.pending.iter().any(|((x, _), q)| {
                        *x == oi
                            && matches!(q, Pending::Quote { asked } if now - *asked < REQUOTE_EVERY)
                    });
                    // Refreshed before it runs out, as a price feed would.
                    let fresh = b.book.get(o).is_some_and(|h| {
                        h.quote.expires_unix_ms > unix_ms(wall(now + 2 * REQUOTE_EVERY))
                    });
                    if !fresh && !asking {
                        let job = JobRequest {
                            service: ServiceId::cpu_transcoding(),
                            region: Region::global(),
                            ladder: ladder(),
                            broadcaster: b.signer.address(),
                            stream_id: b.stream,
                            unix_ms: unix_ms(wall(now)),
                        }
                        .sign(&*b.signer)
                        .unwrap();
                        next_request += 1;
                        b.pending
                            .insert((oi, next_request), Pending::Quote { asked: now });
                        let _ = up[bi][oi].handle_send(now, (next_request, Up::Quote(job)));
                    }
                }
            }
            b.sched.set_candidates(b.book.candidates());
        }
        // Orchestrators: deliveries, pool work done, timers; then their actions.
        for (oi, o) in orchs.iter_mut().enumerate() {
            let unreachable = is_down(o);
            for (bi, links) in up.iter_mut().enumerate() {
                while let Some((request, msg)) = links[oi].poll_deliver(now) {
                    if unreachable {
                        continue;
                    }
                    let peer = bcasts[bi].signer.address();
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
                    o.machine.handle(wall(now), input);
                }
            }
            let (ready, rest): (Vec<_>, Vec<_>) = o.pool.drain(..).partition(|(t, _, _)| *t <= now);
            o.pool = rest;
            for (_, request, out) in ready {
                o.machine.handle(
                    wall(now),
                    OrchestratorInput::Transcoded {
                        request,
                        result: Ok(out),
                    },
                );
            }
            if o.machine.poll_timeout().is_some_and(|t| t <= wall(now)) {
                o.machine.handle_timeout(wall(now));
            }
            while let Some(a) = o.machine.poll_action() {
                let request = a.request();
                let bi = o.from.get(&request).copied().unwrap_or(0);
                let mut reply = |o: &mut Orch, d: Down, what: &'static str| {
                    let first = terminal.insert((oi, request), what);
                    assert!(first.is_none(), "request {request} at {oi} answered twice");
                    o.machine
                        .handle(wall(now), OrchestratorInput::Closed { request });
                    o.bodies.remove(&request);
                    if !unreachable {
                        let _ = down[bi][oi].handle_send(now, (request, d));
                    }
                };
                match a {
                    OrchestratorAction::IssueParams {
                        broadcaster, price, ..
                    } => {
                        let result = block_on(o.payments.quote_params(broadcaster, price));
                        o.machine.handle(
                            wall(now),
                            OrchestratorInput::ParamsIssued { request, result },
                        );
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
                            assert!(admitted.insert((oi, request)), "admitted twice");
                            trace.admitted.entry((oi, bi)).or_insert(ms(now));
                        }
                        o.machine.handle(
                            wall(now),
                            OrchestratorInput::PaymentChecked { request, result },
                        );
                    }
                    OrchestratorAction::ReadBody { .. } => {
                        let body = o.bodies.remove(&request).unwrap();
                        o.machine
                            .handle(wall(now), OrchestratorInput::Body { request, body });
                    }
                    OrchestratorAction::Transcode { job, .. } => {
                        let out = output(&job.segment.data, &job.ladder);
                        o.pool.push((now + o.work, request, out));
                    }
                    OrchestratorAction::Debit {
                        sender,
                        stream,
                        fee,
                        ..
                    } => {
                        assert!(debits.insert((oi, request)), "debited twice");
                        o.payments.debit(sender, stream, fee);
                    }
                    OrchestratorAction::Reply {
                        message: Message::Quote(q),
                        ..
                    } => {
                        assert_eq!(
                            q.expires_unix_ms,
                            unix_ms(wall(now)) + QUOTE_TTL.as_millis() as u64,
                            "a quote holds for the ttl from when it is issued"
                        );
                        trace.quoted.push((oi, ms(now)));
                        reply(o, Down::Quote(Box::new(q)), "quote");
                    }
                    OrchestratorAction::SendResult { header, bodies, .. } => {
                        reply(o, Down::Result(Box::new(header), bodies), "result")
                    }
                    OrchestratorAction::Refuse { error, .. } => {
                        reply(o, Down::Error(error), "refused")
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        // Broadcasters: answers.
        for (bi, b) in bcasts.iter_mut().enumerate() {
            for (oi, o) in addrs.iter().enumerate() {
                let unreachable = is_down(&orchs[oi]);
                while let Some((request, msg)) = down[bi][oi].poll_deliver(now) {
                    let Some(pending) = b.pending.remove(&(oi, request)) else {
                        continue;
                    };
                    if unreachable {
                        continue;
                    }
                    match (pending, msg) {
                        (Pending::Quote { asked }, Down::Quote(q)) => {
                            let r = b.book.handle_quote(
                                unix_ms(wall(now)),
                                *o,
                                *q,
                                U256::from(100),
                                now - asked,
                            );
                            assert!(r.is_ok(), "an honest quote: {r:?}");
                        }
                        (Pending::Quote { .. }, _) => {
                            b.book.remove(o);
                        }
                        (Pending::Attempt { attempt, seq }, Down::Result(r, bodies)) => {
                            let data = body(bi, seq);
                            let expected = Expected {
                                broadcaster: b.signer.address(),
                                orchestrator: *o,
                                stream_id: b.stream,
                                seq,
                                input_hash: H256::from(keccak256(&data)),
                                ladder: &ladder(),
                            };
                            let outcome = match check_result(&expected, &r, bodies) {
                                Ok(_) => AttemptOutcome::Success,
                                Err(e) => panic!("an honest result was rejected: {e}"),
                            };
                            b.sched.handle_outcome(now, attempt, outcome);
                        }
                        (Pending::Attempt { attempt, .. }, Down::Error(w)) => {
                            trace.refused.push((oi, bi, w.code));
                            let outcome = if w.code.is_draining() {
                                b.book.remove(o);
                                AttemptOutcome::Unreachable
                            } else if w.code.is_input_error() {
                                AttemptOutcome::InputRejected
                            } else {
                                if matches!(
                                    w.code,
                                    ErrorCode::LowPMBalance | ErrorCode::TicketParamsExpired
                                ) {
                                    // Stale params or credit: ask for a fresh quote.
                                    b.book.remove(o);
                                }
                                AttemptOutcome::Failed
                            };
                            b.sched.handle_outcome(now, attempt, outcome);
                        }
                        (Pending::Attempt { attempt, .. }, Down::Quote(_)) => {
                            b.sched.handle_outcome(now, attempt, AttemptOutcome::Failed)
                        }
                    }
                }
            }
            b.sched.set_candidates(b.book.candidates());
            b.sched.handle_timeout(now);
            // Outputs: drain until idle (a refused payment feeds an outcome, so loop).
            loop {
                let mut failed_now = Vec::new();
                while let Some(ev) = b.sched.poll_event() {
                    match ev {
                        SchedEvent::Dispatch {
                            seq,
                            attempt,
                            orchestrator,
                            ..
                        } => {
                            let oi = addrs.iter().position(|a| *a == orchestrator).unwrap();
                            trace.dispatches.push((bi, seq, oi, ms(now)));
                            let held = b.book.get(&orchestrator).unwrap();
                            assert!(
                                held.quote.expires_unix_ms > unix_ms(wall(now)),
                                "dispatch on an expired quote"
                            );
                            let quote = held.quote.clone();
                            let fee = fee_estimate(&quote.price, &ladder(), SEG);
                            let payment = match block_on(b.payments.pay(&quote, b.stream, fee)) {
                                Ok(p) => p,
                                Err(_) => {
                                    b.book.remove(&orchestrator);
                                    failed_now.push(attempt);
                                    continue;
                                }
                            };
                            trace.tickets += payment.as_ref().map_or(0, |b| b.tickets.len());
                            let data = body(bi, seq);
                            let header = SegmentHeader {
                                stream_id: b.stream,
                                seq,
                                duration_ms: SEG.as_millis() as u64,
                                container: Container::MpegTs,
                                codec: VideoCodec::H264,
                                ladder: ladder(),
                                input_hash: H256::from(keccak256(&data)),
                                body_len: data.len() as u64,
                                payment,
                            };
                            next_request += 1;
                            b.pending
                                .insert((oi, next_request), Pending::Attempt { attempt, seq });
                            let msg = Up::Segment(Box::new(header), data);
                            let _ = up[bi][oi].handle_send(now, (next_request, msg));
                        }
                        SchedEvent::Cancel { attempt, .. } => {
                            b.pending.retain(
                                |_, p| !matches!(p, Pending::Attempt { attempt: a, .. } if *a == attempt),
                            );
                        }
                        SchedEvent::Completed {
                            seq, orchestrator, ..
                        } => {
                            let oi = addrs.iter().position(|a| *a == orchestrator).unwrap();
                            trace.done.push((bi, seq, oi, ms(now)));
                        }
                        SchedEvent::Failed { seq, .. } => trace.failed.push((bi, seq)),
                        _ => {}
                    }
                }
                if failed_now.is_empty() {
                    break;
                }
                b.sched.set_candidates(b.book.candidates());
                for attempt in failed_now {
                    b.sched.handle_outcome(now, attempt, AttemptOutcome::Failed);
                }
            }
        }
        // Advance the virtual clock to the next thing that happens.
        let from_wall = |t: SystemTime| t0 + t.duration_since(base).unwrap_or_default();
        let from_ms = |m: u64| t0 + Duration::from_millis(m - unix_ms(base));
        let mut next = end;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = next.min(t);
            }
        };
        for b in &bcasts {
            consider(b.sched.poll_timeout());
            consider(b.book.poll_timeout().map(from_ms));
            consider(
                (b.next_seq < p.segments)
                    .then(|| t0 + b.start + Duration::from_secs(1) + SEG * b.next_seq as u32),
            );
            consider(b.last_requote.map(|t| t + REQUOTE_EVERY));
        }
        for o in &orchs {
            consider(o.machine.poll_timeout().map(from_wall));
            consider(o.pool.iter().map(|(t, _, _)| *t).min());
        }
        for l in up.iter().flatten() {
            consider(l.poll_timeout());
        }
        for l in down.iter().flatten() {
            consider(l.poll_timeout());
        }
        if let Some((_, at)) = p.drain
            && drained_at.is_none()
        {
            consider(Some(t0 + at));
        }
        if let Some((a, b)) = orchs.iter().find_map(|o| o.down) {
            for edge in [a, b] {
                if t0 + edge > now {
                    consider(Some(t0 + edge));
                }
            }
        }
        now = next.max(now + Duration::from_micros(1));
    }
    // Every admitted request was answered with a receipt or refused, and debited only with
    // a receipt: a refusal after payment leaves the credit with the broadcaster.
    for key in &admitted {
        let t = terminal.get(key).copied();
        assert!(
            matches!(t, Some("result" | "refused")),
            "admitted request {key:?} ended {t:?}"
        );
        assert_eq!(debits.contains(key), t == Some("result"), "{key:?}");
    }
    for o in &orchs {
        assert_eq!(o.machine.body_bytes_in_flight(), 0);
        assert_eq!(o.machine.requests(), 0, "requests left in {:?}", o.machine);
    }
    trace
}

fn params(seed: u64, loss: f64, segments: u64) -> Params {
    Params {
        seed,
        loss,
        segments,
        drain: Some((0, Duration::from_secs(32))),
    }
}

#[test]
fn real_machines_lose_no_segment_under_loss_an_outage_and_a_drain() {
    let p = params(7, 0.05, 60);
    let t = run(&p);
    assert!(t.failed.is_empty(), "failed: {:?}", t.failed);
    assert!(t.tickets >= 180, "paid with real tickets: {}", t.tickets);
    for bi in 0..3 {
        let mut seqs: Vec<u64> = t.done.iter().filter(|d| d.0 == bi).map(|d| d.1).collect();
        seqs.sort();
        assert_eq!(
            seqs,
            (0..p.segments).collect::<Vec<_>>(),
            "broadcaster {bi}"
        );
    }
    // Nothing comes back from the unreachable one while it is out.
    assert!(
        !t.done
            .iter()
            .any(|d| d.2 == 3 && (20_100..60_000).contains(&d.3)),
        "a result from an unreachable orchestrator"
    );
    // Quotes nobody could refresh (the unreachable one's) were dropped at their expiry, not
    // later.
    assert!(t.expired.iter().any(|e| e.1 == 3), "{:?}", t.expired);
    assert!(t.expired.iter().all(|e| e.3 <= 1), "{:?}", t.expired);
    // The drained one quotes nothing after the drain and takes no new stream, but serves
    // the streams it took before until their quotes run out.
    let drain_ms = 32_000;
    assert!(t.quoted.iter().all(|&(o, at)| o != 0 || at < drain_ms));
    assert!(t.admitted.get(&(0, 0)).is_some_and(|&at| at < drain_ms));
    assert!(
        !t.admitted.contains_key(&(0, 2)),
        "a new stream admitted while draining"
    );
    assert!(
        !t.refused
            .iter()
            .any(|&(o, b, code)| o == 0 && b != 2 && code == ErrorCode::Draining),
        "a segment of an admitted stream refused while draining"
    );
    assert!(
        t.done.iter().any(|d| d.2 == 0 && d.3 > drain_ms),
        "admitted streams still served while draining"
    );
    assert!(
        t.done.iter().any(|d| d.0 == 2),
        "the late stream went elsewhere"
    );
}

#[test]
fn real_machines_same_seed_same_trace() {
    let a = run(&params(3, 0.1, 30));
    let b = run(&params(3, 0.1, 30));
    assert_eq!(a, b);
    let c = run(&params(4, 0.1, 30));
    assert_ne!(a.dispatches, c.dispatches);
}
