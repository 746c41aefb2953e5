//! The nodes as an app embeds them, on the embedded chain with the real contracts: builders
//! refusing bad settings, and a file streamed with the README's lines through an
//! orchestrator built with its builder, its metrics, health and drain.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

#[cfg(feature = "livepeer")]
mod livepeer;
#[cfg(feature = "livepeer")]
mod livepeer_gateway;
#[cfg(feature = "livepeer")]
mod livepeer_python;
mod net;

use std::sync::Arc;
use std::time::Duration;

use livepeer_core::chain::TicketFunding as _;
use livepeer_core::{Ladder, LocalSigner, U256, Wei};
use livepeer_node::{BroadcasterNode, NodeError, OrchestratorNode};
use livepeer_transcode::{SoftwareConfig, SoftwareTranscoder};

use net::{Net, http_get};

fn software(av1: bool) -> Arc<SoftwareTranscoder> {
    let mut c = SoftwareConfig::default();
    c.enable_av1 = av1;
    Arc::new(SoftwareTranscoder::new(c).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builders_refuse_inconsistent_settings_at_build_time() {
    let net = Net::start().await;
    let (key, chain) = net.account(3).await;
    let dir = tempfile::tempdir().unwrap();
    let orch = || OrchestratorNode::builder(chain.clone()).state_dir(dir.path());
    let t = software(false);

    let e = orch().transcoder(t.clone()).build().await.unwrap_err();
    assert!(matches!(e, NodeError::MissingSigner), "{e}");
    let other = LocalSigner::from_bytes(&[7u8; 32]).unwrap();
    let e = orch()
        .key(other)
        .transcoder(t.clone())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(e, NodeError::AccountMismatch { .. }), "{e}");
    let e = orch().key(key.clone()).build().await.unwrap_err();
    assert!(matches!(e, NodeError::NoTranscoder), "{e}");
    // A ladder with an AV1 rung, and a transcoder built without AV1.
    let ladder = Ladder::parse("360p").unwrap();
    let mut av1 = ladder.profiles()[0].clone();
    av1.codec = livepeer_core::VideoCodec::Av1;
    av1.h264_profile = None;
    av1.container = livepeer_core::Container::Ivf;
    let e = orch()
        .key(key.clone())
        .transcoder(t.clone())
        .require_ladder(Ladder::new(vec![av1]).unwrap())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(e, NodeError::LadderUnsupported { .. }), "{e}");
    let mut rc = livepeer_pm::RecipientConfig::default();
    rc.max_face_value = Some(Wei(rc.ticket_ev.0 / 2));
    let e = orch()
        .key(key.clone())
        .transcoder(t.clone())
        .tickets(rc)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(e, NodeError::Config(_)), "{e}");

    // A broadcaster with nothing deposited, and one asking for no verification at all.
    let bdir = tempfile::tempdir().unwrap();
    let bc = || BroadcasterNode::builder(chain.clone()).state_dir(bdir.path());
    let e = bc().build().await.unwrap_err();
    assert!(matches!(e, NodeError::MissingSigner), "{e}");
    let e = bc().key(key.clone()).build().await.unwrap_err();
    assert!(matches!(e, NodeError::Unfunded(_)), "{e}");
    let e = bc()
        .key(key)
        .verification_rate(0)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(e, NodeError::Config(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_streams_in_the_readme_lines_with_metrics_health_and_drain() {
    let Some(input) = net::clip() else {
        eprintln!("skipped: no ffmpeg to make the input clip");
        return;
    };
    let net = Net::start().await;
    let orch = net.orchestrator(1, software(false)).await;
    let ops = orch.ops;
    let node = orch.node;
    let health = node.health().clone();
    for _ in 0..100 {
        if health.ready().is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, body) = http_get(ops, "/readyz").await;
    assert_eq!(code, 200, "{body}");
    let (key, chain) = net.account(2).await;
    let eth = Wei(U256::exp10(19));
    chain.fund_deposit_and_reserve(eth, eth).await.unwrap();
    let state = tempfile::tempdir().unwrap();
    let out = state.path().join("out");

    // The README's lines, on this chain.
    let node_b = BroadcasterNode::builder(chain)
        .key(key)
        .state_dir(state.path())
        .build()
        .await
        .unwrap();
    let ladder = Ladder::parse("240p").unwrap();
    let stats = node_b.stream_file(&input, &ladder, &out).await.unwrap();
    node_b.shutdown().await.unwrap();

    assert!(stats.segments_in >= 3, "{stats:?}");
    assert_eq!(stats.segments_out, stats.segments_in, "{stats:?}");
    assert_eq!(stats.segments_failed, 0);
    assert!(stats.master.exists());
    assert!(node_b.tickets_sent() > 0);
    assert_eq!(
        node_b.ledger().all().unwrap().len(),
        0,
        "honest work is no fault"
    );

    let (code, metrics) = http_get(ops, "/metrics").await;
    assert_eq!(code, 200);
    let addr = format!("{:?}", node.address());
    for name in [
        "livepeer_segments_in_total",
        "livepeer_segments_out_total",
        "livepeer_segment_latency_seconds_bucket",
        "livepeer_tickets_sent_total",
        "livepeer_deposit_wei",
        "livepeer_redemption_queue_depth",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
    let orch_out = metrics
        .lines()
        .find(|l| {
            l.starts_with("livepeer_segments_out_total")
                && l.contains("role=\"orchestrator\"")
                && l.to_lowercase().contains(&addr.to_lowercase())
        })
        .unwrap_or_else(|| panic!("no orchestrator segment count:\n{metrics}"));
    let n: f64 = orch_out.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(n as u64, stats.segments_out, "{orch_out}");
    let (code, _) = http_get(ops, "/healthz").await;
    assert_eq!(code, 200);

    // Drain: not ready from the first moment, and every winner redeemed before it ends.
    let won = node.winners().winners().len();
    let drained = {
        let node = &node;
        async move { node.drain().await }
    };
    tokio::pin!(drained);
    tokio::select! {
        r = &mut drained => r.unwrap(),
        () = tokio::time::sleep(Duration::from_millis(50)) => {
            let (code, body) = http_get(ops, "/readyz").await;
            assert_eq!(code, 503, "{body}");
            assert!(body.contains("draining"), "{body}");
            drained.await.unwrap();
        }
    }
    assert!(node.pending().is_zero(), "winners left after the drain");
    let redeemed = node
        .winners()
        .records()
        .unwrap()
        .iter()
        .filter(|r| matches!(r.state, livepeer_pm::WinnerState::Redeemed { .. }))
        .count();
    assert_eq!(redeemed, won, "every winner redeemed");
    eprintln!(
        "{} segments, {} tickets sent, {won} won and redeemed",
        stats.segments_out,
        node_b.tickets_sent()
    );
}
