//! The stream machine on its own: a segment's path through payment, exchange, checks and
//! verification; quote refresh, expiry and retries; stale params; failover on faults,
//! refusals and timeouts.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Mutex;

use bytes::Bytes;
use livepeer_core::verify::{FaultKind, FaultReport};
use livepeer_core::{Container, LocalSigner, Receipt, SignedReceipt, U256, VideoCodec, keccak256};
use livepeer_pm::TicketParams;

use super::*;
use crate::proto::{
    DefaultPolicy, FailReason, RenditionMeta, ResultHeader, SchedulerConfig, ScoreConfig,
    Scoreboard, WireError,
};

const SEG: Duration = Duration::from_secs(2);
const EPOCH_MS: u64 = 1_700_000_000_000;

fn key(n: u8) -> Arc<LocalSigner> {
    Arc::new(LocalSigner::from_bytes(&[n; 32]).unwrap())
}

fn ladder() -> Ladder {
    "P144p30fps16x9".parse().unwrap()
}

fn params(recipient: Address, price: PixelPrice) -> TicketParams {
    let mut p = livepeer_pm::test_utils::fixture().params;
    p.recipient = recipient;
    p.price = price;
    p
}

/// A quote from orchestrator key `n` at `price`, expiring `ttl_s` after the epoch.
fn quote(n: u8, price: u64, expires_s: u64) -> StreamInput {
    let o = key(n).address();
    let price = PixelPrice::per_pixel(price);
    StreamInput::Quote {
        orchestrator: o,
        quote: Quote {
            orchestrator: o,
            price,
            ticket_params: params(o, price),
            capacity_pps: 1 << 30,
            expires_unix_ms: EPOCH_MS + expires_s * 1000,
        },
        stake: U256::from(100),
        rtt: Duration::from_millis(20),
    }
}

fn segment(seq: u64) -> Segment {
    Segment {
        seq,
        duration: SEG,
        data: Bytes::from(vec![seq as u8; 100]),
        container: Container::MpegTs,
        codec: VideoCodec::H264,
    }
}

/// The result orchestrator key `n` sends for `seg` of the broadcaster's stream.
fn result(n: u8, attempt: AttemptId, seg: &Segment) -> StreamInput {
    let l = ladder();
    let bodies: Vec<Bytes> = l
        .profiles()
        .iter()
        .map(|p| Bytes::from(format!("{} {}", p.name, seg.seq)))
        .collect();
    let pixels: Vec<u64> = l
        .profiles()
        .iter()
        .map(|p| p.pixels_per_frame() * 60)
        .collect();
    let receipt: SignedReceipt = Receipt {
        orchestrator: key(n).address(),
        broadcaster: key(100).address(),
        stream_id: StreamId::from_name("s"),
        seq: seg.seq,
        input_hash: seg.keccak(),
        profile_ids: l.ids(),
        output_hashes: bodies.iter().map(|b| H256::from(keccak256(b))).collect(),
        pixels: pixels.clone(),
    }
    .sign(&*key(n), &livepeer_core::test_utils::test_domain())
    .unwrap();
    StreamInput::Result {
        attempt,
        header: ResultHeader {
            receipt,
            renditions: bodies
                .iter()
                .zip(&pixels)
                .map(|(b, px)| RenditionMeta {
                    frames: 60,
                    pixels: *px,
                    duration_ms: 2000,
                    len: b.len() as u64,
                })
                .collect(),
            source_frames: 60,
        },
        bodies,
    }
}

fn machine(t0: Instant, verify: bool) -> StreamMachine {
    let config = SchedulerConfig {
        hedge_fraction: None,
        min_timeout: SEG,
        ..SchedulerConfig::default()
    };
    let board = Arc::new(Mutex::new(Scoreboard::new(ScoreConfig::default())));
    let sched = Scheduler::new(config, Arc::new(DefaultPolicy::default()), board);
    let config = StreamConfig {
        verify,
        ..StreamConfig::default()
    };
    StreamMachine::new(
        key(100),
        livepeer_core::test_utils::test_domain(),
        StreamId::from_name("s"),
        ladder(),
        config,
        sched,
        t0,
        EPOCH_MS,
    )
}

fn actions(m: &mut StreamMachine) -> Vec<StreamAction> {
    std::iter::from_fn(|| m.poll_action()).collect()
}

/// The one payment asked for: (attempt, who, retry).
fn pay(a: &[StreamAction]) -> (AttemptId, Address, bool) {
    let pays: Vec<_> = a
        .iter()
        .filter_map(|a| match a {
            StreamAction::Pay {
                attempt,
                orchestrator,
                retry,
                quote,
                ..
            } => {
                assert_eq!(quote.orchestrator, *orchestrator);
                Some((*attempt, *orchestrator, *retry))
            }
            _ => None,
        })
        .collect();
    assert_eq!(pays.len(), 1, "{a:?}");
    pays[0]
}

fn paid(m: &mut StreamMachine, now: Instant, attempt: AttemptId) -> Vec<StreamAction> {
    let input = StreamInput::Paid {
        attempt,
        result: Ok(None),
    };
    m.handle(now, input);
    actions(m)
}

/// Two orchestrators quoted, 1 the cheaper, both until 60 s.
fn quoted(t0: Instant, verify: bool) -> StreamMachine {
    let mut m = machine(t0, verify);
    m.handle(t0, quote(1, 1, 60));
    m.handle(t0, quote(2, 5, 60));
    assert!(actions(&mut m).is_empty());
    m
}

#[test]
fn a_segment_is_paid_sent_checked_and_completed() {
    let t0 = Instant::now();
    let mut m = quoted(t0, false);
    let seg = segment(3);
    m.handle(
        t0,
        StreamInput::Segment {
            segment: seg.clone(),
            excluded: vec![],
        },
    );
    let (attempt, to, retry) = pay(&actions(&mut m));
    assert_eq!((to, retry), (key(1).address(), false));
    let sent = paid(&mut m, t0, attempt);
    match &sent[..] {
        [StreamAction::Send { header, body, .. }] => {
            assert_eq!(header.seq, 3);
            assert_eq!(header.input_hash, seg.keccak());
            assert_eq!(body, &seg.data);
        }
        other => panic!("{other:?}"),
    }
    let t1 = t0 + Duration::from_millis(700);
    m.handle(t1, result(1, attempt, &seg));
    match &actions(&mut m)[..] {
        [StreamAction::Completed { result, .. }] => {
            assert_eq!(result.seq, 3);
            assert_eq!(result.orchestrator, key(1).address());
            assert_eq!(result.latency, Duration::from_millis(700));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((m.in_flight(), m.attempts()), (0, 0));
}

#[test]
fn quotes_are_refreshed_before_expiry_dropped_at_it_and_retried_with_backoff() {
    let t0 = Instant::now();
    let mut m = machine(t0, false);
    m.handle(t0, quote(1, 1, 20));
    let at = |s: u64| t0 + Duration::from_secs(s);
    // Asked again 10 s before it expires.
    assert_eq!(m.poll_timeout(), Some(at(10)));
    m.handle_timeout(at(10));
    let ask = actions(&mut m);
    assert!(matches!(
        ask[..],
        [StreamAction::RequestQuote {
            reason: QuoteReason::Refresh,
            ..
        }]
    ));
    // The refresh fails: asked again after 2 s, then 4 s, 8 s.
    let o = key(1).address();
    m.handle(at(10), StreamInput::QuoteFailed { orchestrator: o });
    assert_eq!(m.poll_timeout(), Some(at(12)));
    m.handle_timeout(at(12));
    assert_eq!(actions(&mut m).len(), 1);
    m.handle(at(12), StreamInput::QuoteFailed { orchestrator: o });
    assert_eq!(m.poll_timeout(), Some(at(16)));
    m.handle_timeout(at(16));
    assert_eq!(actions(&mut m).len(), 1);
    m.handle(at(16), StreamInput::QuoteFailed { orchestrator: o });
    // Dropped exactly at its expiry, not asked twice.
    assert_eq!(m.poll_timeout(), Some(at(20)));
    assert_eq!(m.orchestrators(), vec![o]);
    m.handle_timeout(at(20));
    assert!(matches!(
        actions(&mut m)[..],
        [StreamAction::QuoteExpired { orchestrator }] if orchestrator == o
    ));
    assert!(m.orchestrators().is_empty());
    // With no quote a segment fails at once, by name.
    m.handle(
        at(21),
        StreamInput::Segment {
            segment: segment(0),
            excluded: vec![],
        },
    );
    assert!(matches!(
        actions(&mut m)[..],
        [StreamAction::Failed {
            seq: 0,
            reason: FailReason::NoCandidates
        }]
    ));
    // The retry brings it back.
    assert_eq!(m.poll_timeout(), Some(at(24)));
    m.handle_timeout(at(24));
    assert!(matches!(
        actions(&mut m)[..],
        [StreamAction::RequestQuote {
            reason: QuoteReason::Retry,
            ..
        }]
    ));
    m.handle(at(24), quote(1, 1, 80));
    assert_eq!(m.orchestrators(), vec![o]);
    // A stray failure (not asked) changes nothing.
    m.handle(at(25), StreamInput::QuoteFailed { orchestrator: o });
    assert_eq!(m.orchestrators(), vec![o]);
    assert_eq!(m.poll_timeout(), Some(at(70)));
}

#[test]
fn stale_params_get_one_fresh_quote_then_the_segment_fails_over() {
    let t0 = Instant::now();
    let mut m = quoted(t0, false);
    m.handle(
        t0,
        StreamInput::Segment {
            segment: segment(0),
            excluded: vec![],
        },
    );
    let (attempt, _, _) = pay(&actions(&mut m));
    m.handle(
        t0,
        StreamInput::Paid {
            attempt,
            result: Err(PaymentError::TicketParamsExpired),
        },
    );
    assert!(matches!(
        actions(&mut m)[..],
        [StreamAction::RequestQuote {
            reason: QuoteReason::Stale,
            ..
        }]
    ));
    // The fresh quote: the same attempt pays under it.
    m.handle(t0, quote(1, 2, 90));
    let (again, to, retry) = pay(&actions(&mut m));
    assert_eq!((again, to, retry), (attempt, key(1).address(), false));
    assert!(matches!(
        paid(&mut m, t0, attempt)[..],
        [StreamAction::Send { .. }]
    ));
    // Still refused for stale credit: no second re-quote; the other one gets it.
    let error = ExchangeError::Refused(WireError::new(ErrorCode::LowPMBalance, "low"));
    m.handle(t0, StreamInput::ExchangeFailed { attempt, error });
    let a = actions(&mut m);
    assert!(matches!(
        a[0],
        StreamAction::AttemptFailed {
            outcome: AttemptOutcome::Failed,
            ..
        }
    ));
    let (_, to, retry) = pay(&a);
    assert_eq!((to, retry), (key(2).address(), true));
}

#[test]
fn a_dead_connection_asks_once_and_then_counts_as_unreachable() {
    let t0 = Instant::now();
    let mut m = quoted(t0, false);
    let seg = segment(0);
    m.handle(
        t0,
        StreamInput::Segment {
            segment: seg,
            excluded: vec![],
        },
    );
    let (attempt, o, _) = pay(&actions(&mut m));
    paid(&mut m, t0, attempt);
    let error = ExchangeError::Connection("reset".into());
    m.handle(t0, StreamInput::ExchangeFailed { attempt, error });
    assert_eq!(actions(&mut m).len(), 1);
    m.handle(t0, StreamInput::QuoteFailed { orchestrator: o });
    let a = actions(&mut m);
    assert!(matches!(
        a[0],
        StreamAction::AttemptFailed {
            outcome: AttemptOutcome::Unreachable,
            ..
        }
    ));
    assert_eq!(pay(&a).1, key(2).address());
}

#[test]
fn a_receipt_signed_for_another_deployment_is_a_fault() {
    let t0 = Instant::now();
    let mut m = quoted(t0, false);
    let seg = segment(4);
    m.handle(
        t0,
        StreamInput::Segment {
            segment: seg.clone(),
            excluded: vec![],
        },
    );
    let (attempt, to, _) = pay(&actions(&mut m));
    assert_eq!(to, key(1).address());
    paid(&mut m, t0, attempt);
    let mut input = result(1, attempt, &seg);
    let StreamInput::Result { header, .. } = &mut input else {
        unreachable!()
    };
    let d = livepeer_core::test_utils::test_domain();
    let elsewhere = livepeer_core::Domain::new(d.chain_id + 1, d.verifying_contract);
    header.receipt = header
        .receipt
        .receipt
        .clone()
        .sign(&*key(1), &elsewhere)
        .unwrap();
    m.handle(t0, input);
    assert!(matches!(
        actions(&mut m)[0],
        StreamAction::AttemptFailed {
            outcome: AttemptOutcome::Fault,
            ..
        }
    ));
}

#[test]
fn bad_results_and_verification_faults_fail_over_and_a_pass_completes() {
    let t0 = Instant::now();
    let mut m = quoted(t0, true);
    let seg = segment(5);
    m.handle(
        t0,
        StreamInput::Segment {
            segment: seg.clone(),
            excluded: vec![],
        },
    );
    let (first, _, _) = pay(&actions(&mut m));
    paid(&mut m, t0, first);
    // Signed by someone else: a fault, no verification asked.
    m.handle(t0, result(3, first, &seg));
    let a = actions(&mut m);
    assert!(matches!(
        a[0],
        StreamAction::AttemptFailed {
            outcome: AttemptOutcome::Fault,
            ..
        }
    ));
    let (second, to, _) = pay(&a);
    assert_eq!(to, key(2).address());
    paid(&mut m, t0, second);
    m.handle(t0, result(2, second, &seg));
    let request = match &actions(&mut m)[..] {
        [StreamAction::Verify { attempt, request }] if *attempt == second => request.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(request.claim.claim.seq, 5);
    assert!(
        request
            .claim
            .verify(&livepeer_core::test_utils::test_domain())
            .is_ok()
    );
    let fault = FaultReport {
        orchestrator: to,
        kind: FaultKind::WrongResolution,
        rendition: Some(0),
        detail: String::new(),
        provable: true,
    };
    m.handle(
        t0,
        StreamInput::Verified {
            attempt: second,
            verdict: Ok(Verdict::Fault(fault)),
        },
    );
    // Proven faulty: the segment is tried again, and a pass completes it.
    let a = actions(&mut m);
    assert!(matches!(
        a[0],
        StreamAction::AttemptFailed {
            outcome: AttemptOutcome::Fault,
            ..
        }
    ));
    let (third, to, retry) = pay(&a);
    assert!(retry);
    paid(&mut m, t0, third);
    let n = if to == key(1).address() { 1 } else { 2 };
    m.handle(t0, result(n, third, &seg));
    assert!(matches!(actions(&mut m)[..], [StreamAction::Verify { .. }]));
    m.handle(
        t0,
        StreamInput::Verified {
            attempt: third,
            verdict: Ok(Verdict::Pass { sampled: false }),
        },
    );
    match &actions(&mut m)[..] {
        [StreamAction::Completed { attempt, result }] => {
            assert_eq!((*attempt, result.orchestrator), (third, to));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn refusals_by_name_input_errors_draining_and_timeouts() {
    let t0 = Instant::now();
    let mut m = quoted(t0, false);
    let submit = |m: &mut StreamMachine, now: Instant, seq: u64| {
        m.handle(
            now,
            StreamInput::Segment {
                segment: segment(seq),
                excluded: vec![],
            },
        );
        pay(&actions(m)).0
    };
    // A bad input is not retried elsewhere.
    let a = submit(&mut m, t0, 0);
    paid(&mut m, t0, a);
    let error = ExchangeError::Refused(WireError::new(ErrorCode::InvalidInput, "bad"));
    m.handle(t0, StreamInput::ExchangeFailed { attempt: a, error });
    assert!(matches!(
        actions(&mut m)[..],
        [
            StreamAction::AttemptFailed { .. },
            StreamAction::Failed {
                seq: 0,
                reason: FailReason::InputRejected
            }
        ]
    ));
    // Draining: its quote is dropped and the segment goes to the other one.
    let a = submit(&mut m, t0, 1);
    paid(&mut m, t0, a);
    let error = ExchangeError::Refused(WireError::new(ErrorCode::Draining, "draining"));
    m.handle(t0, StreamInput::ExchangeFailed { attempt: a, error });
    let b = pay(&actions(&mut m));
    assert_eq!(b.1, key(2).address());
    assert_eq!(m.orchestrators(), vec![key(2).address()]);
    // No answer: the attempt times out, is cancelled, and the segment is tried again.
    paid(&mut m, t0, b.0);
    assert_eq!(m.poll_timeout(), Some(t0 + 2 * SEG));
    m.handle_timeout(t0 + 2 * SEG);
    let a = actions(&mut m);
    assert!(
        matches!(a[0], StreamAction::Cancel { attempt } if attempt == b.0),
        "{a:?}"
    );
    assert!(pay(&a).2);
    // A late answer to the cancelled attempt is ignored.
    m.handle(t0 + 3 * SEG, result(2, b.0, &segment(1)));
    assert!(actions(&mut m).is_empty());
}
