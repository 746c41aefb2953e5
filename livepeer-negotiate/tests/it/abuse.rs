//! Bad input and abuse over real QUIC: oversized, malformed and unknown frames, slow drip,
//! too many streams, invalid tickets, connection limits and identity failures. Each gets a
//! typed error and a closed stream while the connection and other streams live on.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use livepeer_core::{Ladder, LocalSigner, Signer, StreamId};
use livepeer_negotiate::payment::{TicketBatch, TicketSig};
use livepeer_negotiate::proto::{
    ErrorCode, FrameDecoder, Message, ReadLimits, SegmentHeader, chunk_frames,
};
use livepeer_negotiate::quinn::{Limit, tls};
use livepeer_negotiate::test_utils::{TestRegistry, TestTranscoder};
use livepeer_negotiate::{NegotiateError, OrchestratorConfig, TranscoderNode};
use livepeer_pm::{Sender, SenderConfig};

use crate::harness::*;

async fn exchange(conn: &quinn::Connection, bytes: &[u8]) -> Message {
    let (mut s, mut r) = conn.open_bi().await.unwrap();
    let _ = s.write_all(bytes).await;
    let _ = s.finish();
    let data = tokio::time::timeout(Duration::from_secs(5), r.read_to_end(1 << 20))
        .await
        .unwrap()
        .unwrap();
    let mut d = FrameDecoder::new();
    d.handle_data(&data);
    d.poll_frame().unwrap().expect("a reply")
}

fn code(m: &Message) -> ErrorCode {
    match m {
        Message::Error(e) => e.code,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn ladder() -> Ladder {
    "P240p30fps16x9".parse().unwrap()
}

fn limits() -> OrchestratorConfig {
    let mut c = OrchestratorConfig::default();
    c.read_limits = ReadLimits::new(Duration::from_millis(300), Duration::from_secs(1));
    c.max_streams_per_connection = 2;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_typed_errors_and_the_connection_lives_on() {
    trace();
    let registry = Arc::new(TestRegistry::new());
    let mut spec = Spec::new(41, 1);
    spec.config = limits();
    let _o = orchestrator(spec, &registry).await;
    let (b, _) = broadcaster(registry.clone(), fast_config(Duration::from_secs(1)));
    let entry = b.discover().await.unwrap().pop().unwrap();
    let conn = b.connection(&entry).await.unwrap();

    // Oversized (refused from its header), unknown type, and garbage payload.
    assert_eq!(
        code(&exchange(&conn, &[0x02, 0x00, 0x10, 0x00, 0x00]).await),
        ErrorCode::Malformed
    );
    assert_eq!(
        code(&exchange(&conn, &[0x7f, 0, 0, 0, 1, 0]).await),
        ErrorCode::Malformed
    );
    assert_eq!(
        code(&exchange(&conn, &[0x02, 0, 0, 0, 3, 0xff, 0xff, 0xff]).await),
        ErrorCode::Malformed
    );
    // A message type the stream does not start with.
    let chunk = chunk_frames(&Bytes::from_static(b"x")).next().unwrap();
    assert_eq!(
        code(&exchange(&conn, &chunk).await),
        ErrorCode::UnexpectedMessage
    );
    // Truncated.
    let req = b.job_request(StreamId::from_name("s"), &ladder()).unwrap();
    let frame = Message::JobRequest(req.clone()).encode().unwrap();
    assert_eq!(
        code(&exchange(&conn, &frame[..frame.len() - 1]).await),
        ErrorCode::Malformed
    );

    // Slow drip: one byte every 200 ms keeps the idle deadline but not the total one.
    let (mut s, mut r) = conn.open_bi().await.unwrap();
    let t0 = std::time::Instant::now();
    let drip = tokio::spawn(async move {
        for byte in frame.iter() {
            if s.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let data = r.read_to_end(1 << 16).await.unwrap();
    drip.abort();
    let mut d = FrameDecoder::new();
    d.handle_data(&data);
    assert_eq!(code(&d.poll_frame().unwrap().unwrap()), ErrorCode::Timeout);
    assert!(t0.elapsed() < Duration::from_secs(3));

    // The connection is still good.
    assert!(conn.close_reason().is_none());
    b.quote(&entry, &req).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_limit_holds_until_stalled_streams_time_out() {
    trace();
    let registry = Arc::new(TestRegistry::new());
    let mut spec = Spec::new(42, 1);
    spec.config = limits();
    let _o = orchestrator(spec, &registry).await;
    // A broadcaster that waits at most 100 ms for a stream (less than the orchestrator's
    // 300 ms idle deadline).
    let mut impatient = fast_config(Duration::from_secs(1));
    impatient.read_limits = ReadLimits::new(Duration::from_millis(100), Duration::from_secs(1));
    let (b, _) = broadcaster(registry.clone(), impatient);
    let entry = b.discover().await.unwrap().pop().unwrap();
    let conn = b.connection(&entry).await.unwrap();
    let mut held = Vec::new();
    for _ in 0..2 {
        let (mut s, r) = conn.open_bi().await.unwrap();
        s.write_all(&[0x02]).await.unwrap();
        held.push((s, r));
    }
    // A third stream must wait for credit, and a request that finds none in time gets a
    // typed capacity error, not a transport one.
    let third = tokio::time::timeout(Duration::from_millis(150), conn.open_bi()).await;
    assert!(third.is_err(), "a third concurrent stream was allowed");
    let req = b.job_request(StreamId::from_name("s"), &ladder()).unwrap();
    match b.quote(&entry, &req).await {
        Err(e @ NegotiateError::AtCapacity(Limit::Streams)) => assert!(e.is_at_capacity()),
        other => panic!("{other:?}"),
    }
    assert!(conn.close_reason().is_none(), "the connection lives on");
    // The stalled streams hit the idle deadline, get an error, and free their slots.
    for (_, r) in held.iter_mut() {
        let data = r.read_to_end(1 << 16).await.unwrap();
        let mut d = FrameDecoder::new();
        d.handle_data(&data);
        assert_eq!(code(&d.poll_frame().unwrap().unwrap()), ErrorCode::Timeout);
    }
    drop(held);
    tokio::time::timeout(Duration::from_secs(3), b.quote(&entry, &req))
        .await
        .expect("a slot frees up")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_are_checked_before_any_work() {
    trace();
    let registry = Arc::new(TestRegistry::new());
    let o = orchestrator(Spec::new(43, 1), &registry).await;
    let (b, baddr) = broadcaster(registry.clone(), fast_config(Duration::from_secs(1)));
    let entry = b.discover().await.unwrap().pop().unwrap();
    let conn = b.connection(&entry).await.unwrap();
    let stream = StreamId::from_name("pay");
    let req = b.job_request(stream, &ladder()).unwrap();
    let (q, _) = b.quote(&entry, &req).await.unwrap();
    let seg = segment(0, Duration::from_secs(1));
    let send = |payment: Option<TicketBatch>| {
        let mut wire = Message::SegmentHeader(SegmentHeader {
            stream_id: stream,
            seq: 0,
            duration_ms: 1000,
            container: seg.container,
            codec: seg.codec,
            ladder: ladder(),
            input_hash: seg.keccak(),
            body_len: seg.data.len() as u64,
            payment,
        })
        .encode()
        .unwrap()
        .to_vec();
        for c in chunk_frames(&seg.data) {
            wire.extend_from_slice(&c);
        }
        wire
    };
    let forger = LocalSigner::from_bytes(&[99; 32]).unwrap();
    let forged = TicketBatch::new(
        q.ticket_params.clone(),
        baddr,
        (1..100)
            .map(|nonce| {
                let sig = forger.sign_hash(&livepeer_core::H256::zero()).unwrap();
                TicketSig::new(nonce, sig.as_bytes().to_vec())
            })
            .collect(),
    );
    let calls = o.local.calls() + o.remote.calls();
    assert_eq!(
        code(&exchange(&conn, &send(Some(forged.clone()))).await),
        ErrorCode::InvalidTicket
    );
    let mut other_sender = forged.clone();
    other_sender.sender = forger.address();
    assert_eq!(
        code(&exchange(&conn, &send(Some(other_sender))).await),
        ErrorCode::InvalidTicket
    );
    assert_eq!(
        code(&exchange(&conn, &send(None)).await),
        ErrorCode::LowPMBalance
    );
    // Refused from the header alone: a declared 200 MB body is never read.
    let head_only = Message::SegmentHeader(SegmentHeader {
        stream_id: stream,
        seq: 9,
        duration_ms: 1000,
        container: seg.container,
        codec: seg.codec,
        ladder: ladder(),
        input_hash: seg.keccak(),
        body_len: 200_000_000,
        payment: None,
    })
    .encode()
    .unwrap();
    let (mut s, mut r) = conn.open_bi().await.unwrap();
    s.write_all(&head_only).await.unwrap();
    let data = tokio::time::timeout(Duration::from_secs(2), r.read_to_end(1 << 16))
        .await
        .expect("answered before any body")
        .unwrap();
    let mut d = FrameDecoder::new();
    d.handle_data(&data);
    assert_eq!(
        code(&d.poll_frame().unwrap().unwrap()),
        ErrorCode::LowPMBalance
    );
    // Properly signed tickets, but their params expired.
    let mut sender = Sender::new(key(200), SenderConfig::default());
    let funds = livepeer_pm::test_utils::fixture_funds();
    let id = sender
        .start_session(q.orchestrator, q.ticket_params.clone(), &funds, 1000)
        .unwrap();
    let stale = sender.create_batch(&id, 3).unwrap();
    pm().expire(&o.payments);
    assert_eq!(
        code(&exchange(&conn, &send(Some(stale))).await),
        ErrorCode::TicketParamsExpired
    );
    assert_eq!(
        o.local.calls() + o.remote.calls(),
        calls,
        "no work before payment"
    );
    // The session re-quotes on expired params and goes on.
    let session = b.start_stream(stream, ladder()).await.unwrap();
    pm().expire(&o.payments);
    session
        .transcode(segment(1, Duration::from_secs(1)))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identities_and_connection_limits_are_enforced() {
    trace();
    let registry = Arc::new(TestRegistry::new());
    let mut spec = Spec::new(44, 1);
    spec.config.max_connections = 2; // the remote transcoder holds one
    let o = orchestrator(spec, &registry).await;
    // The registry names another address for this URI: refused.
    let liar = Arc::new(TestRegistry::new());
    liar.register(TestRegistry::entry(
        key(45).address(),
        o.orch.service_uri().unwrap(),
        1,
    ));
    let (b, _) = broadcaster(liar.clone(), fast_config(Duration::from_secs(1)));
    let e = b.discover().await.unwrap().pop().unwrap();
    match b.connection(&e).await {
        Err(NegotiateError::Identity(_)) => {}
        other => panic!("{other:?}"),
    }
    // A transcoder not on the list is refused.
    let ep = tls::endpoint("127.0.0.1:0".parse().unwrap(), None).unwrap();
    let r = TranscoderNode::connect(
        &ep,
        o.orch.local_addr().unwrap(),
        o.orch.address(),
        key(46),
        Arc::new(TestTranscoder::new("intruder", Duration::ZERO)),
        1,
        1,
        None,
    )
    .await;
    assert!(r.is_err());
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Connection limit: the transcoder and one broadcaster fit, a second one does not.
    let (b1, _) = broadcaster(registry.clone(), fast_config(Duration::from_secs(1)));
    let entry = b1.discover().await.unwrap().pop().unwrap();
    b1.connection(&entry).await.unwrap();
    let (b2, _) = broadcaster(registry.clone(), fast_config(Duration::from_secs(1)));
    match b2.connection(&entry).await {
        Err(NegotiateError::AtCapacity(Limit::Connections)) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(o.orch.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_behind_a_failed_binding_is_dropped() {
    trace();
    let registry = Arc::new(TestRegistry::new());
    let o = orchestrator(Spec::new(47, 1), &registry).await;
    let liar = Arc::new(TestRegistry::new());
    liar.register(TestRegistry::entry(
        key(48).address(),
        o.orch.service_uri().unwrap(),
        1,
    ));
    let (b, _) = broadcaster(liar, fast_config(Duration::from_secs(1)));
    let e = b.discover().await.unwrap().pop().unwrap();
    let req = b
        .job_request(StreamId::from_name("liar"), &ladder())
        .unwrap();
    // The request rides behind the binding on the fresh connection and the orchestrator (a
    // real one, registered under another address) answers it; the answer is dropped
    // because the binding fails, and the connection is not kept.
    for _ in 0..2 {
        match b.quote(&e, &req).await {
            Err(NegotiateError::Identity(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    // The honest registry entry still works, on a fresh connection and on the kept one.
    let (b, _) = broadcaster(registry, fast_config(Duration::from_secs(1)));
    let e = b.discover().await.unwrap().pop().unwrap();
    let (q, _) = b.quote(&e, &req_for(&b)).await.unwrap();
    assert_eq!(q.orchestrator, o.orch.address());
    b.quote(&e, &req_for(&b)).await.unwrap();
}

fn req_for(b: &livepeer_negotiate::Broadcaster) -> livepeer_negotiate::proto::SignedJobRequest {
    b.job_request(StreamId::from_name("honest"), &ladder())
        .unwrap()
}

/// A header-only segment frame declaring `body_len` bytes, unpaid.
fn declared(stream: StreamId, seq: u64, body_len: u64) -> Bytes {
    let seg = segment(seq, Duration::from_secs(1));
    Message::SegmentHeader(SegmentHeader {
        stream_id: stream,
        seq,
        duration_ms: 1000,
        container: seg.container,
        codec: seg.codec,
        ladder: ladder(),
        input_hash: seg.keccak(),
        body_len,
        payment: None,
    })
    .encode()
    .unwrap()
}

async fn wait_for(what: impl Fn() -> bool) {
    for _ in 0..200 {
        if what() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 2 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_bodies_in_flight_stay_within_the_memory_budget() {
    trace();
    let registry = Arc::new(TestRegistry::new());
    let mut spec = Spec::new(49, 1);
    let size = segment(0, Duration::from_secs(1)).data.len() as u64;
    // Room for one segment body at a time over all connections.
    spec.config.max_body_bytes_in_flight = size * 3 / 2;
    spec.delay = Duration::from_millis(400);
    let o = orchestrator(spec, &registry).await;
    let (b, _) = broadcaster(registry.clone(), fast_config(Duration::from_secs(2)));
    let stream = StreamId::from_name("budget");
    let session = b.start_stream(stream, ladder()).await.unwrap();
    let first =
        tokio::spawn(async move { session.transcode(segment(0, Duration::from_secs(1))).await });
    wait_for(|| o.orch.body_bytes_in_flight() == size).await;
    // A second body does not fit while the first is in flight: refused by name from its
    // header, before payment and before any body byte.
    let entry = b.discover().await.unwrap().pop().unwrap();
    let conn = b.connection(&entry).await.unwrap();
    assert_eq!(
        code(&exchange(&conn, &declared(stream, 1, size)).await),
        ErrorCode::OrchestratorCapped
    );
    first.await.unwrap().unwrap();
    wait_for(|| o.orch.body_bytes_in_flight() == 0).await;
    // Room again: the same header now gets as far as the payment check, and a refused
    // payment gives its reservation back.
    assert_eq!(
        code(&exchange(&conn, &declared(stream, 2, size)).await),
        ErrorCode::LowPMBalance
    );
    assert_eq!(o.orch.body_bytes_in_flight(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_risk_policy_stops_work_before_it_starts() {
    use livepeer_core::chain::SenderInfo;
    use livepeer_core::{PixelPrice, Wei};
    use livepeer_negotiate::{PaymentError, PaymentValidator};
    trace();
    let o_key = key(50);
    let (v, _) = validator(o_key.address(), false);
    let b_key = key(51);
    pm().fund(b_key.address());
    let stream = StreamId::from_name("risk");
    let fee = Wei::from_u128(1);
    let params = v
        .quote_params(b_key.address(), PixelPrice::per_pixel(1))
        .await
        .unwrap();
    let mut sender = Sender::new(b_key.clone(), SenderConfig::default());
    let funds = livepeer_pm::test_utils::fixture_funds();
    let id = sender
        .start_session(o_key.address(), params, &funds, 1000)
        .unwrap();
    let batch = sender.create_batch(&id, 3).unwrap();
    v.accept(Some(&batch), b_key.address(), stream, fee)
        .await
        .unwrap();
    let credit = v.credit(b_key.address(), stream);
    // The deposit and reserve are drained: the policy stops work, on held credit and on new
    // tickets alike, and takes nothing.
    let drained = SenderInfo {
        deposit: Wei::ZERO,
        withdraw_round: 0,
        reserve_remaining: Wei::ZERO,
        reserve_claimed_this_round: Wei::ZERO,
    };
    v.handle_funds(
        b_key.address(),
        livepeer_pm::SenderFunds::new(drained, Wei::ZERO, 1, v.block()),
    );
    match v.accept(None, b_key.address(), stream, fee).await {
        Err(PaymentError::SenderFunds(reason)) => assert!(reason.contains("LowBalance")),
        other => panic!("{other:?}"),
    }
    let more = sender.create_batch(&id, 3).unwrap();
    match v.accept(Some(&more), b_key.address(), stream, fee).await {
        Err(PaymentError::SenderFunds(_)) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(v.credit(b_key.address(), stream), credit, "nothing taken");
}

/// A broadcaster that asks before its deposit lands is refused, and served once it has paid
/// in: the refusal reads its funds again (at most every `FUNDS_RETRY_AFTER`), no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_made_after_a_refusal_is_seen_without_a_restart() {
    use livepeer_core::PixelPrice;
    use livepeer_negotiate::payment::FUNDS_RETRY_AFTER;
    use livepeer_negotiate::{PaymentError, PaymentValidator};
    trace();
    let (v, _) = validator(key(52).address(), false);
    let late = key(53).address();
    let price = PixelPrice::per_pixel(1);
    match v.quote_params(late, price).await {
        Err(PaymentError::SenderFunds(_)) => {}
        other => panic!("an unfunded sender was quoted: {other:?}"),
    }
    pm().fund(late);
    // Refusals in quick succession do not read the chain each time...
    assert!(matches!(
        v.quote_params(late, price).await,
        Err(PaymentError::SenderFunds(_))
    ));
    // ...but the next one after the retry interval does, and sees the deposit.
    tokio::time::sleep(FUNDS_RETRY_AFTER + std::time::Duration::from_millis(100)).await;
    let params = v
        .quote_params(late, price)
        .await
        .expect("funded sender quoted");
    assert_eq!(params.recipient, key(52).address());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_handshakes_do_not_lock_out_a_paying_broadcaster() {
    trace();
    let registry = Arc::new(TestRegistry::new());
    let mut spec = Spec::new(50, 1);
    spec.config.max_connections = 64;
    let o = orchestrator(spec, &registry).await;
    let target = o.orch.local_addr().unwrap();
    // Twice as many handshakes as there are connection slots, opened and never finished:
    // real Initial packets (captured from a client talking to a silent socket), sent on
    // from a socket that never reads an answer.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let attacker = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client_ep = tls::endpoint("127.0.0.1:0".parse().unwrap(), None).unwrap();
    let client = tls::client_config(livepeer_negotiate::ALPN, 4).unwrap();
    let mut held = Vec::new();
    let mut buf = vec![0u8; 2048];
    for _ in 0..128 {
        held.push(
            client_ep
                .connect_with(client.clone(), silent.local_addr().unwrap(), "x")
                .unwrap(),
        );
        let n = tokio::time::timeout(Duration::from_secs(2), silent.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        attacker.send_to(&buf[..n], target).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A paying broadcaster still gets in, at once.
    let (b, _) = broadcaster(registry.clone(), fast_config(Duration::from_secs(1)));
    let entry = b.discover().await.unwrap().pop().unwrap();
    let req = b.job_request(StreamId::from_name("s"), &ladder()).unwrap();
    tokio::time::timeout(Duration::from_secs(3), b.quote(&entry, &req))
        .await
        .expect("quote in time")
        .expect("a quote, not a refusal");
    assert!(o.orch.connections() < 64, "{}", o.orch.connections());
    drop(held);
}
