//! Real QUIC on loopback: one broadcaster, five orchestrators (one slow, one that dies
//! mid-stream, one that lies about its params), two transcoders each.

use std::sync::Arc;
use std::time::Duration;

use livepeer_core::{Ladder, PixelPrice, Signer, StreamId};
use livepeer_negotiate::proto::{FailReason, SchedulerConfig};
use livepeer_negotiate::test_utils::{BAD_FORMAT_MARKER, TestRegistry, TestTranscoder};
use livepeer_negotiate::{ErrorCode, NegotiateError};

use crate::harness::*;

const DUR: Duration = Duration::from_millis(500);

fn ladder() -> Ladder {
    "P240p30fps16x9,P360p30fps16x9".parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_orchestrators_slow_dying_and_lying() {
    trace();
    let registry = Arc::new(TestRegistry::new());
    let mut nodes = Vec::new();
    for (n, price, delay, lying) in [
        (1u8, 5u64, 10u64, false),
        (2, 6, 10, false),
        (3, 1, 3000, false), // slow and cheapest
        (4, 2, 10, false),   // dies mid-stream
        (5, 1, 10, true),    // lies about its params
    ] {
        let mut s = Spec::new(n, price);
        s.delay = Duration::from_millis(delay);
        s.lying = lying;
        nodes.push(orchestrator(s, &registry).await);
    }
    let (b, baddr) = broadcaster(registry.clone(), fast_config(DUR));
    let stream = StreamId::from_name("five");
    let session = b.start_stream(stream, ladder()).await.unwrap();
    let known = session.orchestrators();
    assert_eq!(known.len(), 4, "the lying orchestrator is left out");
    assert!(!known.contains(&nodes[4].orch.address()));

    let mut used = Vec::new();
    for seq in 0..12u64 {
        if seq == 5 {
            // O4 (cheap and fast, so in use by now) dies mid-stream.
            nodes[3].orch.close();
        }
        let seg = segment(seq, DUR);
        let r = session
            .transcode(seg.clone())
            .await
            .unwrap_or_else(|e| panic!("segment {seq}: {e}"));
        r.receipt
            .verify(&livepeer_core::test_utils::test_domain())
            .unwrap();
        for (p, rend) in ladder().profiles().iter().zip(&r.renditions) {
            assert_eq!(rend.data, TestTranscoder::derive(&seg.data, &p.name));
        }
        assert!(r.latency < DUR * 2, "segment {seq} took {:?}", r.latency);
        used.push(r.orchestrator);
    }
    let addr = |i: usize| nodes[i].orch.address();
    assert!(!used.contains(&addr(4)), "the liar never works");
    assert!(
        used[..5].contains(&addr(3)),
        "the dying one was in use: {used:?}"
    );
    assert!(
        !used[5..].contains(&addr(3)),
        "nothing goes to the dead one"
    );
    assert!(
        !used.contains(&addr(2)),
        "the slow one never wins: {used:?}"
    );
    // Attempts that lost the race run on for the scoreboard until their timeout.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let board = b.scoreboard();
    let board = board.lock().unwrap();
    let slow = board.stats(&addr(2)).expect("the slow one was tried");
    assert!(slow.latency_ratio.unwrap() > 1.0, "{slow:?}");
    let dead = board.stats(&addr(3)).unwrap();
    assert!(dead.failures >= 1, "{dead:?}");
    drop(board);

    // Paid with real tickets: every winner is signed by the broadcaster, pays the node that
    // received it and passes the contract's win rule; whoever worked holds credit.
    let mut won = 0;
    for (i, node) in nodes.iter().enumerate() {
        for w in node.winners.winners() {
            let t = &w.ticket;
            assert_eq!(t.ticket.recipient, addr(i));
            assert_eq!(t.ticket.sender, baddr);
            t.sig.verify_eip191(&t.ticket.hash(), &baddr).unwrap();
            assert!(livepeer_core::ticket::is_winning(
                &t.sig,
                &t.recipient_rand,
                &t.ticket.win_prob
            ));
            assert_eq!(
                livepeer_core::ticket::recipient_rand_hash(&t.recipient_rand),
                t.ticket.recipient_rand_hash
            );
            won += 1;
        }
    }
    assert!(won > 0, "one ticket in four wins");
    assert!(used.iter().any(|a| {
        nodes
            .iter()
            .any(|n| n.orch.address() == *a && n.payments.credit(baddr, stream).0 > 0.into())
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redundancy_input_errors_and_pool_failover() {
    trace();
    let registry = Arc::new(TestRegistry::new());
    let o1 = orchestrator(Spec::new(11, 1), &registry).await;
    let o2 = orchestrator(Spec::new(12, 2), &registry).await;
    let mut config = fast_config(DUR);
    let mut s = SchedulerConfig::default();
    s.redundancy = 2;
    s.min_timeout = DUR;
    config.scheduler = s;
    let (b, baddr) = broadcaster(registry.clone(), config);
    let stream = StreamId::from_name("redundant");
    let session = b.start_stream(stream, ladder()).await.unwrap();

    // Both orchestrators get the segment.
    session.transcode(segment(0, DUR)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let calls = |n: &Node| n.local.calls() + n.remote.calls();
    assert_eq!((calls(&o1), calls(&o2)), (1, 1));

    // A bad input is reported, not retried everywhere.
    let mut bad = segment(1, DUR);
    bad.data = [BAD_FORMAT_MARKER, &bad.data[..]].concat().into();
    match session.transcode(bad).await {
        Err(NegotiateError::SegmentFailed {
            reason: FailReason::InputRejected,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }

    // (The redundant copy of the bad segment may still be arriving at the other one.)
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A failing transcoder's task moves to the other member of the pool.
    o1.local.fail_next(1);
    o1.remote.fail_next(0);
    let before = calls(&o1);
    session.transcode(segment(2, DUR)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(calls(&o1), before + 2, "retried on the other transcoder");

    // The remote transcoder leaves: the pool shrinks and work continues locally.
    assert_eq!(o1.orch.pool().loads().len(), 2);
    o1.remote_node.close();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(o1.orch.pool().loads().len(), 1);
    session.transcode(segment(3, DUR)).await.unwrap();

    // Payments were credited and debited per (sender, stream).
    assert!(o1.payments.credit(baddr, stream).0 > 0.into());
    let _ = o2;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_price_overrides_and_pushed_updates() {
    trace();
    let registry = Arc::new(TestRegistry::new());
    let o = orchestrator(Spec::new(21, 7), &registry).await;
    let (b, _) = broadcaster(registry.clone(), fast_config(DUR));
    let entry = b.discover().await.unwrap().pop().unwrap();
    let req = b.job_request(StreamId::from_name("q"), &ladder()).unwrap();
    let (q, rtt) = b.quote(&entry, &req).await.unwrap();
    assert_eq!(q.price, PixelPrice::per_pixel(7));
    assert_eq!(q.ticket_params.recipient, o.orch.address());
    assert!(rtt < Duration::from_secs(1));
    // A new connection to the same orchestrator resumes TLS and binds again.
    b.disconnect_all();
    assert_eq!(b.quote(&entry, &req).await.unwrap().0.price, q.price);
    let mut rx = b.subscribe(&entry, &req).await.unwrap();
    assert_eq!(rx.recv().await.unwrap().price, PixelPrice::per_pixel(7));
    o.orch.set_price(PixelPrice::per_pixel(9));
    let pushed = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pushed.price, PixelPrice::per_pixel(9));
    // An override for one broadcaster.
    let registry2 = Arc::new(TestRegistry::new());
    let signer = key(31);
    let (payments, _) = validator(signer.address(), false);
    let orch = livepeer_negotiate::Orchestrator::builder(
        signer.clone(),
        livepeer_core::test_utils::test_domain(),
        payments,
        PixelPrice::per_pixel(7),
    )
    .with_price_override(b.address(), PixelPrice::per_pixel(3))
    .with_local_transcoder(
        Arc::new(TestTranscoder::new("x", Duration::ZERO)),
        1_000_000_000,
        4,
    )
    .start()
    .unwrap();
    registry2.register(TestRegistry::entry(
        signer.address(),
        orch.service_uri().unwrap(),
        1,
    ));
    let entry2 = livepeer_core::chain::RegistryReader::orchestrators(&*registry2)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let (q2, _) = b.quote(&entry2, &req).await.unwrap();
    assert_eq!(q2.price, PixelPrice::per_pixel(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_follow_pushed_prices_and_the_price_feed() {
    trace();
    let registry = Arc::new(TestRegistry::new());
    let o = orchestrator(Spec::new(51, 4), &registry).await;
    let (b, _) = broadcaster(registry.clone(), fast_config(DUR));
    let session = Arc::new(
        b.start_stream(StreamId::from_name("feed"), ladder())
            .await
            .unwrap(),
    );
    session.subscribe_updates().await.unwrap();
    o.orch.set_price(PixelPrice::per_pixel(6));
    let mut seen = PixelPrice::per_pixel(4);
    for _ in 0..50 {
        seen = session.quote_of(&o.orch.address()).unwrap().price;
        if seen == PixelPrice::per_pixel(6) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        seen,
        PixelPrice::per_pixel(6),
        "pushed update reached the session"
    );
    // A second orchestrator registers later: the price feed finds it.
    session.start_price_feed(Duration::from_millis(100));
    let o2 = orchestrator(Spec::new(52, 1), &registry).await;
    let mut found = false;
    for _ in 0..50 {
        if session.orchestrators().contains(&o2.orch.address()) {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(found, "the price feed picked up the new orchestrator");
    // It is cheaper, so it gets the next segment.
    let r = session.transcode(segment(0, DUR)).await.unwrap();
    assert_eq!(r.orchestrator, o2.orch.address());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_orchestrator_sends_work_elsewhere() {
    trace();
    let registry = Arc::new(TestRegistry::new());
    // The cheap one has room for one job at a time (capacity in pixels per second).
    let signer = key(61);
    let (payments, _) = validator(signer.address(), false);
    let small = livepeer_negotiate::Orchestrator::builder(
        signer.clone(),
        livepeer_core::test_utils::test_domain(),
        payments,
        PixelPrice::per_pixel(1),
    )
    .with_local_transcoder(
        Arc::new(TestTranscoder::new("small", Duration::from_millis(300))),
        1,
        8,
    )
    .start()
    .unwrap();
    registry.register(TestRegistry::entry(
        signer.address(),
        small.service_uri().unwrap(),
        100,
    ));
    let big = orchestrator(Spec::new(62, 5), &registry).await;
    let (b, _) = broadcaster(registry.clone(), fast_config(Duration::from_secs(2)));
    let session = b
        .start_stream(StreamId::from_name("capped"), ladder())
        .await
        .unwrap();
    let (r0, r1) = tokio::join!(
        session.transcode(segment(0, Duration::from_secs(2))),
        session.transcode(segment(1, Duration::from_secs(2)))
    );
    let who = [r0.unwrap().orchestrator, r1.unwrap().orchestrator];
    assert!(who.contains(&small.address()), "{who:?}");
    assert!(
        who.contains(&big.orch.address()),
        "the capped one sent work on: {who:?}"
    );
}

/// A draining orchestrator refuses quotes by name; the stream it admitted before is still
/// served, a stream it quoted but never admitted fails over to another orchestrator, and a
/// new stream is not quoted by it at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_orchestrator_serves_admitted_streams_and_refuses_new_ones() {
    trace();
    let registry = Arc::new(TestRegistry::new());
    let cheap = orchestrator(Spec::new(71, 1), &registry).await;
    let (b, _) = broadcaster(registry.clone(), fast_config(Duration::from_secs(2)));
    let old = b
        .start_stream(StreamId::from_name("old"), ladder())
        .await
        .unwrap();
    let first = old.transcode(segment(0, DUR)).await.unwrap();
    assert_eq!(first.orchestrator, cheap.orch.address());
    let other = orchestrator(Spec::new(72, 5), &registry).await;
    let quoted = b
        .start_stream(StreamId::from_name("quoted"), ladder())
        .await
        .unwrap();
    assert_eq!(quoted.orchestrators().len(), 2);
    assert!(!cheap.orch.is_draining());
    cheap.orch.drain();
    assert!(cheap.orch.is_draining());
    let entry = b
        .discover()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.address == cheap.orch.address())
        .unwrap();
    let req = b
        .job_request(StreamId::from_name("new"), &ladder())
        .unwrap();
    let e = b.quote(&entry, &req).await.unwrap_err();
    assert_eq!(e.remote_code(), Some(ErrorCode::Draining), "{e}");
    // The admitted stream is still served by it.
    let second = old.transcode(segment(1, DUR)).await.unwrap();
    assert_eq!(second.orchestrator, cheap.orch.address());
    // Never admitted there: refused by name, and the segment goes to the other one.
    let r = quoted.transcode(segment(0, DUR)).await.unwrap();
    assert_eq!(r.orchestrator, other.orch.address());
    let new = b
        .start_stream(StreamId::from_name("new"), ladder())
        .await
        .unwrap();
    assert_eq!(new.orchestrators(), vec![other.orch.address()]);
}
