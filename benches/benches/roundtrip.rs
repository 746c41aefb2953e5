//! One segment's full round trip through the network on one machine: the broadcaster pays
//! it with real tickets over QUIC, the orchestrator checks the tickets, persists any winner,
//! hands the segment to its transcoder pool, signs the receipt, streams the renditions back,
//! and the broadcaster runs its always-on checks. Beside it, the same segment through the
//! same software transcoder called directly: the difference is what the network costs.
//!
//! A 2 s 720p30 test-pattern segment to a 480p/360p ladder, one orchestrator on the
//! embedded chain.
//!
//! `cargo bench -p livepeer-benches --bench roundtrip`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use livepeer_core::{Ladder, Segment, StreamId};
use livepeer_examples::devnet::LogProgress;
use livepeer_examples::devnet::{Devnet, DevnetConfig};
use livepeer_transcode::testsrc::synthetic_segment;
use livepeer_transcode::{SoftwareConfig, SoftwareTranscoder, TranscodeJob};

const LADDER: &str = "480p,360p";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut cfg = DevnetConfig::default();
    cfg.orchestrators = 1;
    cfg.profiles = LADDER.into();
    // Deep checks (a local re-encode) would double a sampled segment's time; this measures
    // the network and the always-on checks.
    cfg.verification_rate = 0;
    let dn = rt
        .block_on(Devnet::start(&cfg, Arc::new(LogProgress)))
        .unwrap();
    let ladder: Ladder = LADDER.parse().unwrap();
    let session = rt
        .block_on(
            dn.broadcaster
                .broadcaster()
                .start_stream(StreamId::from_name("bench"), ladder.clone()),
        )
        .unwrap();
    let segs: Vec<Segment> = (0..4)
        .map(|k| synthetic_segment(1280, 720, 60, k).unwrap())
        .collect();
    let bare = SoftwareTranscoder::new(SoftwareConfig::default()).unwrap();
    let mut seq = 0u64;
    let mut next = || {
        let mut s = segs[(seq % 4) as usize].clone();
        s.seq = seq;
        seq += 1;
        s
    };

    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .configure_from_args();
    let mut g = c.benchmark_group("roundtrip");
    g.bench_function("segment through the network (720p -> 480p,360p)", |b| {
        b.iter(|| rt.block_on(session.transcode(next())).unwrap())
    });
    g.bench_function("same segment, transcoder called directly", |b| {
        b.iter(|| {
            bare.transcode_blocking(TranscodeJob {
                stream_id: StreamId::from_name("bare"),
                segment: segs[0].clone(),
                ladder: ladder.clone(),
            })
            .unwrap()
        })
    });
    g.finish();

    // Paired: the two back to back, alternating, so machine drift cancels out.
    let (mut net, mut direct) = (Vec::new(), Vec::new());
    for round in 0..10 {
        let mut a = || {
            let t = Instant::now();
            rt.block_on(session.transcode(next())).unwrap();
            t.elapsed()
        };
        let d = || {
            let t = Instant::now();
            bare.transcode_blocking(TranscodeJob {
                stream_id: StreamId::from_name("bare"),
                segment: segs[1].clone(),
                ladder: ladder.clone(),
            })
            .unwrap();
            t.elapsed()
        };
        if round % 2 == 0 {
            net.push(a());
            direct.push(d());
        } else {
            direct.push(d());
            net.push(a());
        }
    }
    let (n, d) = (median(net), median(direct));
    println!(
        "round trip median {:.1} ms vs direct transcode {:.1} ms: the network, tickets and checks add {:.1} ms ({:.1}%)",
        n.as_secs_f64() * 1e3,
        d.as_secs_f64() * 1e3,
        (n.as_secs_f64() - d.as_secs_f64()) * 1e3,
        (n.as_secs_f64() / d.as_secs_f64() - 1.0) * 100.0
    );
}
