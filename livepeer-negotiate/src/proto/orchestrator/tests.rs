//! The orchestrator machine on its own: quotes and their expiry, subscriptions, admission of
//! segments, receipts, budgets given back, and draining.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use livepeer_core::transcode::{Rendition, TranscodeOutput};
use livepeer_core::{
    Container, Ladder, LocalSigner, PixelPrice, Pixels, Region, ServiceId, Signer, StreamId,
    VideoCodec, Wei, keccak256,
};
use livepeer_pm::TicketParams;

use super::*;
use crate::proto::JobRequest;

fn key(n: u8) -> Arc<LocalSigner> {
    Arc::new(LocalSigner::from_bytes(&[n; 32]).unwrap())
}

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn ladder() -> Ladder {
    "P240p30fps16x9".parse().unwrap()
}

fn machine() -> OrchestratorMachine {
    let rules = OrchestratorRules {
        quote_ttl: Duration::from_secs(10),
        max_body_bytes_in_flight: 250,
        session_idle: Duration::from_secs(30),
        ..OrchestratorRules::default()
    };
    let mut m = OrchestratorMachine::new(
        key(1),
        livepeer_core::test_utils::test_domain(),
        PriceBook::new(PixelPrice::per_pixel(3)),
        rules,
    );
    m.handle(t(0), OrchestratorInput::SetCapacity(1 << 40));
    m
}

fn job(b: &LocalSigner, stream: StreamId) -> SignedJobRequest {
    JobRequest {
        service: ServiceId::cpu_transcoding(),
        region: Region::global(),
        ladder: ladder(),
        broadcaster: b.address(),
        stream_id: stream,
        unix_ms: 0,
    }
    .sign(b)
    .unwrap()
}

fn params(recipient: Address, price: PixelPrice) -> TicketParams {
    let mut p = livepeer_pm::test_utils::fixture().params;
    p.recipient = recipient;
    p.price = price;
    p
}

fn body(seq: u64) -> Bytes {
    Bytes::from(vec![seq as u8; 100])
}

fn header(stream: StreamId, seq: u64) -> SegmentHeader {
    let data = body(seq);
    SegmentHeader {
        stream_id: stream,
        seq,
        duration_ms: 2000,
        container: Container::MpegTs,
        codec: VideoCodec::H264,
        ladder: ladder(),
        input_hash: H256::from(keccak256(&data)),
        body_len: data.len() as u64,
        payment: None,
    }
}

fn output(l: &Ladder) -> TranscodeOutput {
    TranscodeOutput {
        renditions: l
            .profiles()
            .iter()
            .map(|p| Rendition {
                profile: p.clone(),
                data: Bytes::from_static(b"rendition"),
                frames: 60,
                pixels: Pixels(p.pixels_per_frame() * 60),
                duration: Duration::from_secs(2),
            })
            .collect(),
        source_frames: 60,
    }
}

fn actions(m: &mut OrchestratorMachine) -> Vec<OrchestratorAction> {
    std::iter::from_fn(|| m.poll_action()).collect()
}

/// Answers whatever the machine asks of the validator and the pool (payments accepted,
/// transcodes succeed) until it goes quiet; returns the replies, refusals and debits.
fn settle(m: &mut OrchestratorMachine, now: SystemTime) -> Vec<OrchestratorAction> {
    let mut out = Vec::new();
    loop {
        let batch = actions(m);
        if batch.is_empty() {
            return out;
        }
        for a in batch {
            match a {
                OrchestratorAction::IssueParams {
                    request,
                    broadcaster: _,
                    price,
                } => {
                    let p = params(m.address(), price);
                    m.handle(
                        now,
                        OrchestratorInput::ParamsIssued {
                            request,
                            result: Ok(p),
                        },
                    );
                }
                OrchestratorAction::CheckPayment { request, .. } => m.handle(
                    now,
                    OrchestratorInput::PaymentChecked {
                        request,
                        result: Ok(Wei::ZERO),
                    },
                ),
                a @ OrchestratorAction::ReadBody { .. } => out.push(a),
                OrchestratorAction::Transcode { request, job } => m.handle(
                    now,
                    OrchestratorInput::Transcoded {
                        request,
                        result: Ok(output(&job.ladder)),
                    },
                ),
                a => out.push(a),
            }
        }
    }
}

fn code(a: &OrchestratorAction) -> Option<ErrorCode> {
    match a {
        OrchestratorAction::Refuse { error, .. } => Some(error.code),
        _ => None,
    }
}

#[test]
fn a_quote_names_the_price_params_capacity_and_expiry() {
    let mut m = machine();
    let b = key(2);
    let stream = StreamId::from_name("s");
    m.handle(
        t(5),
        OrchestratorInput::JobRequest {
            request: 1,
            peer: b.address(),
            job: job(&b, stream),
        },
    );
    let out = settle(&mut m, t(5));
    let [
        OrchestratorAction::Reply {
            request: 1,
            message: Message::Quote(q),
            finish: true,
        },
    ] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert_eq!(q.orchestrator, m.address());
    assert_eq!(q.price, PixelPrice::per_pixel(3));
    assert_eq!(q.ticket_params.price, q.price);
    assert_eq!(q.expires_unix_ms, unix_ms(t(15)), "now + ttl");
    assert_eq!(q.capacity_pps, 1 << 40);
    assert_eq!(m.requests(), 0);
}

#[test]
fn requests_not_signed_by_the_peer_or_for_other_services_are_refused() {
    let mut m = machine();
    let (b, other) = (key(2), key(3));
    let stream = StreamId::from_name("s");
    m.handle(
        t(0),
        OrchestratorInput::JobRequest {
            request: 1,
            peer: other.address(),
            job: job(&b, stream),
        },
    );
    let mut j = job(&b, stream).request;
    j.service = ServiceId::gpu_transcoding();
    m.handle(
        t(0),
        OrchestratorInput::JobRequest {
            request: 2,
            peer: b.address(),
            job: j.sign(&*b).unwrap(),
        },
    );
    let out = actions(&mut m);
    assert_eq!(code(&out[0]), Some(ErrorCode::Unauthorized));
    assert_eq!(out.len(), 2, "{out:?}");
}

#[test]
fn subscriptions_refresh_at_half_the_ttl_and_on_price_changes() {
    let mut m = machine();
    let b = key(2);
    let stream = StreamId::from_name("s");
    m.handle(
        t(0),
        OrchestratorInput::Subscribe {
            request: 7,
            peer: b.address(),
            job: job(&b, stream),
        },
    );
    let out = settle(&mut m, t(0));
    assert!(matches!(
        out.as_slice(),
        [OrchestratorAction::Reply {
            message: Message::QuoteUpdate(_),
            finish: false,
            ..
        }]
    ));
    assert_eq!(m.poll_timeout(), Some(t(5)));
    m.handle_timeout(t(4));
    assert!(actions(&mut m).is_empty(), "not due yet");
    m.handle_timeout(t(5));
    let out = settle(&mut m, t(5));
    let [
        OrchestratorAction::Reply {
            message: Message::QuoteUpdate(q),
            ..
        },
    ] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert_eq!(q.expires_unix_ms, unix_ms(t(15)));
    m.handle(t(6), OrchestratorInput::SetPrice(PixelPrice::per_pixel(9)));
    let out = settle(&mut m, t(6));
    let [
        OrchestratorAction::Reply {
            message: Message::QuoteUpdate(q),
            ..
        },
    ] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert_eq!(q.price, PixelPrice::per_pixel(9));
    m.handle(t(7), OrchestratorInput::Closed { request: 7 });
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn a_paid_segment_gets_a_receipt_and_gives_its_budget_back() {
    let mut m = machine();
    let b = key(2);
    let stream = StreamId::from_name("s");
    let h = header(stream, 4);
    m.handle(
        t(0),
        OrchestratorInput::SegmentHeader {
            request: 1,
            peer: b.address(),
            header: h.clone(),
        },
    );
    let out = actions(&mut m);
    let [
        OrchestratorAction::CheckPayment {
            fee_estimate,
            sender,
            ..
        },
    ] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert_eq!(*sender, b.address());
    assert_eq!(
        *fee_estimate,
        crate::proto::fee_estimate(&PixelPrice::per_pixel(3), &ladder(), h.duration())
    );
    assert_eq!(m.body_bytes_in_flight(), 100);
    m.handle(
        t(0),
        OrchestratorInput::PaymentChecked {
            request: 1,
            result: Ok(Wei::ZERO),
        },
    );
    assert!(matches!(
        actions(&mut m).as_slice(),
        [OrchestratorAction::ReadBody { request: 1 }]
    ));
    m.handle(
        t(0),
        OrchestratorInput::Body {
            request: 1,
            body: body(4),
        },
    );
    let out = settle(&mut m, t(0));
    let [
        OrchestratorAction::Debit { fee, .. },
        OrchestratorAction::SendResult {
            header: r, bodies, ..
        },
    ] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        *fee,
        PixelPrice::per_pixel(3).fee(output(&ladder()).total_pixels())
    );
    let rc = &r.receipt.receipt;
    assert!(
        r.receipt
            .verify(&livepeer_core::test_utils::test_domain())
            .is_ok()
    );
    assert_eq!(
        (rc.orchestrator, rc.broadcaster),
        (m.address(), b.address())
    );
    assert_eq!(
        (rc.stream_id, rc.seq, rc.input_hash),
        (stream, 4, h.input_hash)
    );
    assert_eq!(bodies.len(), 1);
    assert_eq!(m.body_bytes_in_flight(), 0);
    assert!(m.has_session(b.address(), stream));
    m.handle(t(0), OrchestratorInput::Closed { request: 1 });
    assert_eq!(m.requests(), 0);
}

#[test]
fn refusals_before_work_take_nothing_and_keep_nothing() {
    let mut m = machine();
    let b = key(2);
    let stream = StreamId::from_name("s");
    // A body whose hash is wrong.
    let mut h = header(stream, 1);
    h.input_hash = H256::zero();
    m.handle(
        t(0),
        OrchestratorInput::SegmentHeader {
            request: 1,
            peer: b.address(),
            header: h,
        },
    );
    settle(&mut m, t(0));
    m.handle(
        t(0),
        OrchestratorInput::Body {
            request: 1,
            body: body(1),
        },
    );
    assert_eq!(code(&actions(&mut m)[0]), Some(ErrorCode::InvalidInput));
    assert_eq!(m.body_bytes_in_flight(), 0);
    // Two bodies of 100 fit the budget of 250, a third does not and is refused before its
    // payment is asked for.
    for r in 2..4 {
        m.handle(
            t(0),
            OrchestratorInput::SegmentHeader {
                request: r,
                peer: b.address(),
                header: header(stream, r),
            },
        );
    }
    assert_eq!(actions(&mut m).len(), 2);
    m.handle(
        t(0),
        OrchestratorInput::SegmentHeader {
            request: 4,
            peer: b.address(),
            header: header(stream, 4),
        },
    );
    assert_eq!(
        code(&actions(&mut m)[0]),
        Some(ErrorCode::OrchestratorCapped)
    );
    // A refused payment and a closed stream give their reservations back.
    m.handle(
        t(0),
        OrchestratorInput::PaymentChecked {
            request: 2,
            result: Err(PaymentError::LowPMBalance),
        },
    );
    assert_eq!(code(&actions(&mut m)[0]), Some(ErrorCode::LowPMBalance));
    m.handle(t(0), OrchestratorInput::Closed { request: 3 });
    assert_eq!(m.body_bytes_in_flight(), 0);
}

#[test]
fn draining_refuses_new_work_and_serves_admitted_streams() {
    let mut m = machine();
    let b = key(2);
    let (old, new) = (StreamId::from_name("old"), StreamId::from_name("new"));
    m.handle(
        t(0),
        OrchestratorInput::Subscribe {
            request: 1,
            peer: b.address(),
            job: job(&b, old),
        },
    );
    m.handle(
        t(0),
        OrchestratorInput::SegmentHeader {
            request: 2,
            peer: b.address(),
            header: header(old, 0),
        },
    );
    settle(&mut m, t(0));
    m.handle(
        t(0),
        OrchestratorInput::Body {
            request: 2,
            body: body(0),
        },
    );
    settle(&mut m, t(0));
    m.handle(t(1), OrchestratorInput::Drain);
    assert!(m.is_draining());
    // The subscription ends with the named refusal.
    assert_eq!(code(&actions(&mut m)[0]), Some(ErrorCode::Draining));
    m.handle(
        t(2),
        OrchestratorInput::JobRequest {
            request: 3,
            peer: b.address(),
            job: job(&b, new),
        },
    );
    m.handle(
        t(2),
        OrchestratorInput::SegmentHeader {
            request: 4,
            peer: b.address(),
            header: header(new, 0),
        },
    );
    let out = actions(&mut m);
    assert_eq!(
        out.iter().filter_map(code).collect::<Vec<_>>(),
        [ErrorCode::Draining, ErrorCode::Draining]
    );
    // The stream admitted before is still served.
    m.handle(
        t(3),
        OrchestratorInput::SegmentHeader {
            request: 5,
            peer: b.address(),
            header: header(old, 1),
        },
    );
    settle(&mut m, t(3));
    m.handle(
        t(3),
        OrchestratorInput::Body {
            request: 5,
            body: body(1),
        },
    );
    let out = settle(&mut m, t(3));
    assert!(
        matches!(out.last(), Some(OrchestratorAction::SendResult { .. })),
        "{out:?}"
    );
    // Idle past `session_idle`, it counts as new.
    let later = m.poll_timeout().unwrap();
    assert!(later <= t(33));
    m.handle_timeout(t(40));
    assert!(!m.has_session(b.address(), old));
    m.handle(
        t(40),
        OrchestratorInput::SegmentHeader {
            request: 6,
            peer: b.address(),
            header: header(old, 2),
        },
    );
    assert_eq!(code(&actions(&mut m)[0]), Some(ErrorCode::Draining));
}

#[test]
fn params_asked_before_a_drain_are_not_quoted_after_it() {
    let mut m = machine();
    let b = key(2);
    m.handle(
        t(0),
        OrchestratorInput::JobRequest {
            request: 1,
            peer: b.address(),
            job: job(&b, StreamId::from_name("s")),
        },
    );
    assert_eq!(actions(&mut m).len(), 1);
    m.handle(t(0), OrchestratorInput::Drain);
    m.handle(
        t(0),
        OrchestratorInput::ParamsIssued {
            request: 1,
            result: Ok(params(m.address(), PixelPrice::per_pixel(3))),
        },
    );
    assert_eq!(code(&actions(&mut m)[0]), Some(ErrorCode::Draining));
}
