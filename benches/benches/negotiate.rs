//! Negotiation over QUIC on loopback: quote round trip, discovery fan-out to 100 and 1,000
//! in-process orchestrators (fresh connections and live ones), time from broadcaster start
//! to the first transcoded segment, and the cost of failover when the chosen orchestrator
//! dies mid-stream.
//!
//! Every orchestrator is a real quinn endpoint with its own key, self-signed certificate
//! and address binding; the transcoder is the deterministic test double.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::print_stderr)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use livepeer_core::{
    Container, Ladder, LocalSigner, PixelPrice, Segment, Signer, StreamId, VideoCodec, Wei,
};
use livepeer_negotiate::proto::SchedulerConfig;
use livepeer_negotiate::quinn::tls;
use livepeer_negotiate::test_utils::{TestPm, TestRegistry, TestTranscoder};
use livepeer_negotiate::{Broadcaster, BroadcasterConfig, Orchestrator};
use tokio::runtime::Runtime;

fn key(i: u32) -> Arc<LocalSigner> {
    let mut k = [0u8; 32];
    k[28..].copy_from_slice(&(i + 1).to_be_bytes());
    Arc::new(LocalSigner::from_bytes(&k).expect("key"))
}

/// The chain and ticket terms every node of the bench shares.
fn pm() -> &'static TestPm {
    static PM: std::sync::OnceLock<TestPm> = std::sync::OnceLock::new();
    PM.get_or_init(|| TestPm::new(Wei::from_u128(1_000_000)))
}

fn orchestrator(
    i: u32,
    price: u64,
    delay: Duration,
    registry: &TestRegistry,
) -> (Orchestrator, Arc<TestTranscoder>) {
    let signer = key(i);
    let payments = Arc::new(pm().validator(signer.address()).0);
    let t = Arc::new(TestTranscoder::new("bench", delay));
    let o = Orchestrator::builder(
        signer.clone(),
        livepeer_core::test_utils::test_domain(),
        payments,
        PixelPrice::per_pixel(price),
    )
    .with_local_transcoder(t.clone(), 1_000_000_000, 64)
    .start()
    .expect("orchestrator");
    registry.register(TestRegistry::entry(
        signer.address(),
        o.service_uri().unwrap(),
        100,
    ));
    (o, t)
}

fn broadcaster(registry: Arc<TestRegistry>, quote_timeout: Duration) -> Broadcaster {
    let signer = key(1_000_000);
    let mut c = BroadcasterConfig::default();
    c.quote_timeout = quote_timeout;
    let mut s = SchedulerConfig::default();
    s.min_timeout = Duration::from_secs(2);
    c.scheduler = s;
    Broadcaster::builder(
        signer.clone(),
        livepeer_core::test_utils::test_domain(),
        registry,
        Arc::new(pm().source(signer)),
    )
    .with_config(c)
    .build()
    .expect("broadcaster")
}

fn ladder() -> Ladder {
    "P240p30fps16x9,P360p30fps16x9".parse().unwrap()
}

fn segment(seq: u64) -> Segment {
    Segment {
        seq,
        duration: Duration::from_secs(2),
        data: Bytes::from(vec![(seq % 251) as u8; 200_000]),
        container: Container::MpegTs,
        codec: VideoCodec::H264,
    }
}

fn rt() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn bench_quote(c: &mut Criterion) {
    let rt = rt();
    let registry = Arc::new(TestRegistry::new());
    let (b, entry, req, _o) = rt.block_on(async {
        let o = orchestrator(0, 1, Duration::ZERO, &registry);
        let b = broadcaster(registry.clone(), Duration::from_secs(5));
        let entry = b.discover().await.unwrap().pop().unwrap();
        let req = b.job_request(StreamId::from_name("q"), &ladder()).unwrap();
        b.quote(&entry, &req).await.unwrap();
        (b, entry, req, o)
    });
    let mut g = c.benchmark_group("negotiate");
    g.bench_function("quote round trip (live connection)", |bn| {
        bn.iter(|| rt.block_on(b.quote(&entry, &req)).unwrap())
    });
    g.bench_function(
        "quote round trip (new connection, TLS resumed, + binding)",
        |bn| {
            bn.iter(|| {
                b.disconnect_all();
                rt.block_on(b.quote(&entry, &req)).unwrap()
            })
        },
    );
    g.finish();
}

/// CPU time of this process in milliseconds: the time on CPU of each of its threads from
/// `/proc/self/task/*/schedstat` (nanoseconds), or user + system from `/proc/self/stat`
/// (1/100 s) where that is missing; zero where neither exists.
fn cpu_ms() -> f64 {
    let threads: Option<u64> = std::fs::read_dir("/proc/self/task").ok().map(|d| {
        d.filter_map(|t| {
            let s = std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok()?;
            s.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
    });
    if let Some(ns) = threads.filter(|&ns| ns > 0) {
        return ns as f64 / 1e6;
    }
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of the file (utime, stime) are 11 and 12 after the command name; the
    // kernel counts them in 1/100 s.
    (ticks(11) + ticks(12)) * 10.0
}

/// Prints the quotes that failed (a regression shows up as drops under a burst).
fn report(outcomes: &[livepeer_negotiate::quinn::QuoteOutcome], n: u32) {
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().err().map(|e| e.to_string()))
        .collect();
    if !failed.is_empty() || outcomes.len() != n as usize {
        eprintln!(
            "{} of {n} quotes failed: {:?}",
            failed.len(),
            &failed[..failed.len().min(3)]
        );
    }
}

/// The reference the fresh fan-out is measured against: 100 bare QUIC handshakes with the
/// same TLS and transport settings, each followed by one stream (200 B out, 300 B back),
/// with no address binding, signed request or pricing.
fn bench_bare_handshakes(c: &mut Criterion) {
    const N: usize = 100;
    let mut g = c.benchmark_group("negotiate fan-out");
    g.sample_size(10);
    let rt = rt();
    let servers: Vec<_> = rt.block_on(async {
        (0..N)
            .map(|_| {
                let server = tls::server_config(32).unwrap();
                let ep = tls::endpoint("127.0.0.1:0".parse().unwrap(), Some(server)).unwrap();
                // Answers every stream of every connection with 300 bytes.
                let server = ep.clone();
                tokio::spawn(async move {
                    while let Some(incoming) = server.accept().await {
                        tokio::spawn(async move {
                            let Ok(c) = incoming.await else { return };
                            while let Ok((mut s, mut r)) = c.accept_bi().await {
                                tokio::spawn(async move {
                                    let _ = r.read_to_end(1000).await;
                                    let _ = s.write_all(&[7; 300]).await;
                                    let _ = s.finish();
                                    let _ = s.stopped().await;
                                });
                            }
                        });
                    }
                });
                ep
            })
            .collect()
    });
    let addrs: Vec<_> = servers.iter().map(|e| e.local_addr().unwrap()).collect();
    let client = tls::client_config(livepeer_negotiate::ALPN, 64).unwrap();
    g.bench_function("bare handshake + one stream, 100 (fresh connections)", |bn| {
        bn.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let ep = rt.block_on(async { tls::endpoint("127.0.0.1:0".parse().unwrap(), None) });
                let ep = ep.unwrap();
                let (t, cpu) = (Instant::now(), cpu_ms());
                let conns = rt.block_on(async {
                    let mut set = tokio::task::JoinSet::new();
                    for a in &addrs {
                        let connecting = ep.connect_with(client.clone(), *a, "bare").unwrap();
                        set.spawn(async move {
                            let c = connecting.await.unwrap();
                            let (mut s, mut r) = c.open_bi().await.unwrap();
                            s.write_all(&[1; 200]).await.unwrap();
                            s.finish().unwrap();
                            assert_eq!(r.read_to_end(1000).await.unwrap().len(), 300);
                            c
                        });
                    }
                    set.join_all().await
                });
                total += t.elapsed();
                let cpu = cpu_ms() - cpu;
                eprintln!(
                    "bare {N}: {:.1} ms wall, {cpu:.0} ms CPU ({:.2} ms per connection, client and servers)",
                    t.elapsed().as_secs_f64() * 1e3,
                    cpu / N as f64
                );
                for c in conns {
                    c.close(0u8.into(), b"");
                }
                rt.block_on(ep.wait_idle());
            }
            total
        })
    });
    for s in servers {
        s.close(0u8.into(), b"");
    }
    g.finish();
}

fn bench_fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group("negotiate fan-out");
    g.sample_size(10);
    for n in [100u32, 1000] {
        let rt = rt();
        let registry = Arc::new(TestRegistry::new());
        let nodes: Vec<_> = rt.block_on(async {
            (0..n)
                .map(|i| orchestrator(i, 1 + u64::from(i % 7), Duration::ZERO, &registry).0)
                .collect()
        });
        let req = {
            let b = rt.block_on(async { broadcaster(registry.clone(), Duration::from_secs(30)) });
            b.job_request(StreamId::from_name("fan"), &ladder())
                .unwrap()
        };
        g.bench_function(format!("discover + quote {n} (fresh connections)"), |bn| {
            bn.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let b = rt
                        .block_on(async { broadcaster(registry.clone(), Duration::from_secs(30)) });
                    let t = Instant::now();
                    let cpu = cpu_ms();
                    let ok = rt.block_on(async {
                        let entries = b.discover().await.unwrap();
                        b.gather_quotes(entries, &req).await
                    });
                    total += t.elapsed();
                    let cpu = cpu_ms() - cpu;
                    eprintln!(
                        "fan-out {n} fresh: {:.1} ms wall, {cpu:.0} ms CPU ({:.2} ms per connection, client and servers)",
                        t.elapsed().as_secs_f64() * 1e3,
                        cpu / f64::from(n)
                    );
                    report(&ok, n);
                    // The teardown belongs to this iteration, not to the next one's
                    // measurement.
                    b.disconnect_all();
                    rt.block_on(b.endpoint().wait_idle());
                }
                total
            })
        });
        let live = rt.block_on(async { broadcaster(registry.clone(), Duration::from_secs(30)) });
        rt.block_on(async {
            let e = live.discover().await.unwrap();
            live.gather_quotes(e, &req).await
        });
        g.bench_function(format!("discover + quote {n} (live connections)"), |bn| {
            bn.iter(|| {
                let ok = rt.block_on(async {
                    let entries = live.discover().await.unwrap();
                    live.gather_quotes(entries, &req).await
                });
                report(&ok, n);
            })
        });
        for o in nodes {
            o.close();
        }
    }
    g.finish();
}

fn bench_stream(c: &mut Criterion) {
    let rt = rt();
    let mut g = c.benchmark_group("negotiate stream");
    g.sample_size(20);
    let registry = Arc::new(TestRegistry::new());
    let _nodes: Vec<_> = rt.block_on(async {
        (0..5)
            .map(|i| orchestrator(2000 + i, 1 + u64::from(i), Duration::ZERO, &registry))
            .collect()
    });
    g.bench_function(
        "start to first transcoded segment (5 orchestrators)",
        |bn| {
            bn.iter(|| {
                let b =
                    rt.block_on(async { broadcaster(registry.clone(), Duration::from_secs(5)) });
                rt.block_on(async {
                    let s = b
                        .start_stream(StreamId::from_name("first"), ladder())
                        .await
                        .unwrap();
                    s.transcode(segment(0)).await.unwrap()
                });
                b.disconnect_all();
            })
        },
    );
    // Failover: the chosen orchestrator dies while the segment is in flight.
    for (name, silent) in [("closes", false), ("hangs", true)] {
        g.bench_function(
            format!("segment latency when the chosen orchestrator {name} mid-segment"),
            |bn| {
                bn.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for k in 0..iters {
                        let registry = Arc::new(TestRegistry::new());
                        let base = 3000 + (k as u32 % 1000) * 2;
                        let (dying, dt) = rt.block_on(async {
                            orchestrator(base, 1, Duration::from_millis(50), &registry)
                        });
                        let (backup, _) = rt.block_on(async {
                            orchestrator(base + 1, 5, Duration::ZERO, &registry)
                        });
                        let b = rt.block_on(async {
                            broadcaster(registry.clone(), Duration::from_secs(5))
                        });
                        let s = rt
                            .block_on(b.start_stream(StreamId::from_name("fail"), ladder()))
                            .unwrap();
                        let r0 = rt.block_on(s.transcode(segment(0))).unwrap();
                        assert_eq!(r0.orchestrator, dying.address());
                        if silent {
                            // It accepts the segment and never answers, as a hung host would.
                            dt.set_delay(Duration::from_secs(3600));
                        }
                        let t = Instant::now();
                        let r1 = rt.block_on(async {
                            let kill = async {
                                if !silent {
                                    tokio::time::sleep(Duration::from_millis(10)).await;
                                    dying.close();
                                }
                            };
                            let (r, ()) = tokio::join!(s.transcode(segment(1)), kill);
                            r
                        });
                        total += t.elapsed();
                        let r1 = r1.expect("no segment lost");
                        assert_eq!(r1.orchestrator, backup.address());
                        drop(s);
                        b.disconnect_all();
                        dying.close();
                        backup.close();
                    }
                    total
                })
            },
        );
    }
    g.bench_function("segment latency, healthy orchestrator", |bn| {
        let registry = Arc::new(TestRegistry::new());
        let (_o, _) =
            rt.block_on(async { orchestrator(5000, 1, Duration::from_millis(50), &registry) });
        let b = rt.block_on(async { broadcaster(registry.clone(), Duration::from_secs(5)) });
        let s = rt
            .block_on(b.start_stream(StreamId::from_name("ok"), ladder()))
            .unwrap();
        let mut seq = 0;
        bn.iter(|| {
            seq += 1;
            rt.block_on(s.transcode(segment(seq))).unwrap()
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_quote,
    bench_bare_handshakes,
    bench_fanout,
    bench_stream
);
criterion_main!(benches);
