//! Segment verification against transcoding, on one 2 s 720p30 segment (the synthetic
//! source of livepeer-transcode) transcoded to a 720p/480p/360p ladder by the software
//! transcoder: (a) the transcode, (b) the always-on checks of the whole result (headers,
//! signatures, hashes, pixel counts; then the same plus the first key frame of the source
//! and every rendition decoded with OpenH264 and compared), (c) one sampled perceptual
//! check (every frame of every rendition). Criterion reports wall medians; a process CPU
//! time pass (from `/proc/self/stat`, all threads) prints each as a share of the transcode,
//! against a target of at most 5% for the always-on checks.
//!
//! `cargo bench -p livepeer-benches --bench verify`. Needs no outside tool.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use livepeer_core::transcode::TranscodeOutput;
use livepeer_core::verify::VerificationRequest;
use livepeer_core::{H256, Ladder, LocalSigner, Receipt, Segment, SegmentClaim, Signer, StreamId};
use livepeer_transcode::testsrc::synthetic_segment;
use livepeer_transcode::{SoftwareConfig, SoftwareTranscoder, TranscodeJob};
use livepeer_verify::openh264::{SoftwareDecoder, SoftwareScaler};
use livepeer_verify::{CheckJob, Checker, VerifyConfig};

const LADDER: &str = "720p,480p,360p";

fn job(segment: &Segment, ladder: &Ladder) -> TranscodeJob {
    TranscodeJob {
        stream_id: StreamId::from_name("bench-verify"),
        segment: segment.clone(),
        ladder: ladder.clone(),
    }
}

/// The signed request a broadcaster checks: the segment, the ladder, the renditions, the
/// orchestrator's receipt and the broadcaster's claim.
fn request(segment: &Segment, ladder: &Ladder, out: &TranscodeOutput) -> VerificationRequest {
    let o = LocalSigner::from_bytes(&[0x11; 32]).unwrap();
    let b = LocalSigner::from_bytes(&[0x22; 32]).unwrap();
    let stream_id = StreamId::from_name("bench-verify");
    let receipt = Receipt {
        orchestrator: o.address(),
        broadcaster: b.address(),
        stream_id,
        seq: segment.seq,
        input_hash: segment.keccak(),
        profile_ids: ladder.ids(),
        output_hashes: out
            .renditions
            .iter()
            .map(|r| H256::from(livepeer_core::keccak256(&r.data)))
            .collect(),
        pixels: out.renditions.iter().map(|r| r.pixels.0).collect(),
    }
    .sign(&o, &livepeer_core::test_utils::test_domain())
    .unwrap();
    let claim = SegmentClaim {
        broadcaster: b.address(),
        orchestrator: o.address(),
        stream_id,
        seq: segment.seq,
        input_hash: segment.keccak(),
        profile_ids: ladder.ids(),
        duration_ms: segment.duration.as_millis() as u64,
    }
    .sign(&b, &livepeer_core::test_utils::test_domain())
    .unwrap();
    VerificationRequest {
        segment: segment.clone(),
        ladder: ladder.clone(),
        renditions: out.renditions.clone(),
        receipt,
        claim,
        domain: livepeer_core::test_utils::test_domain(),
    }
}

/// Process CPU time (user + system, every thread) from `/proc/self/stat`, in clock ticks of
/// 10 ms; `None` off Linux.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "n/a".into(),
        |d| format!("{:.1} ms", d.as_secs_f64() * 1e3),
    )
}

/// CPU and wall time per run of `f`, over enough runs to take at least `min` of wall time.
fn per_run(min: Duration, mut f: impl FnMut()) -> (Option<Duration>, Duration) {
    let (c0, t0) = (cpu_time(), Instant::now());
    let mut n = 0u32;
    while n < 3 || t0.elapsed() < min {
        f();
        n += 1;
    }
    let wall = t0.elapsed() / n;
    let cpu = cpu_time().zip(c0).map(|(c1, c0)| (c1 - c0) / n);
    (cpu, wall)
}

fn bench_verify(c: &mut Criterion) {
    let segment = synthetic_segment(1280, 720, 60, 1).unwrap();
    let ladder: Ladder = LADDER.parse().unwrap();
    let transcoder = SoftwareTranscoder::new(SoftwareConfig::default()).unwrap();
    let out = transcoder
        .transcode_blocking(job(&segment, &ladder))
        .unwrap();
    let req = request(&segment, &ladder, &out);
    let check_job = CheckJob::from_request(&req);
    let headers_only = Checker::new(VerifyConfig::default());
    let decoding = Checker::new(VerifyConfig::default())
        .with_decoder(Arc::new(SoftwareDecoder::new()), Arc::new(SoftwareScaler));
    // The inputs are honest: every check must pass, or the numbers mean nothing.
    for (checker, deep) in [
        (&headers_only, false),
        (&decoding, false),
        (&decoding, true),
    ] {
        let r = check_job.with_input(|i| checker.check(i, deep)).unwrap();
        assert_eq!(r.finding, None, "honest segment flagged");
    }

    let mut g = c.benchmark_group("verify_720p_ladder");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("transcode", |b| {
        b.iter(|| {
            transcoder
                .transcode_blocking(job(&segment, &ladder))
                .unwrap()
        });
    });
    g.bench_function("always_on_headers", |b| {
        b.iter(|| {
            check_job
                .with_input(|i| headers_only.check(i, false))
                .unwrap()
        });
    });
    g.bench_function("always_on_key_frames", |b| {
        b.iter(|| check_job.with_input(|i| decoding.check(i, false)).unwrap());
    });
    g.bench_function("sampled_perceptual", |b| {
        b.iter(|| check_job.with_input(|i| decoding.check(i, true)).unwrap());
    });
    g.finish();

    // Process CPU time, all threads included (the transcoder uses worker threads).
    let secs = Duration::from_secs(3);
    let (t_cpu, t_wall) = per_run(secs, || {
        transcoder
            .transcode_blocking(job(&segment, &ladder))
            .unwrap();
    });
    let rows = [
        ("always-on, headers only", &headers_only, false),
        ("always-on, with key frames", &decoding, false),
        ("sampled perceptual", &decoding, true),
    ];
    println!("CPU per 2 s 720p30 segment, ladder {LADDER}:");
    println!("  transcode: {} CPU, {:.1?} wall", ms(t_cpu), t_wall);
    for (name, checker, deep) in rows {
        let (cpu, wall) = per_run(secs, || {
            check_job.with_input(|i| checker.check(i, deep)).unwrap();
        });
        let ratio = cpu
            .zip(t_cpu)
            .map(|(c, t)| format!("{:.2}%", 100.0 * c.as_secs_f64() / t.as_secs_f64()))
            .unwrap_or_else(|| "n/a".into());
        let rate = VerifyConfig::default().verification_rate;
        let note = if deep {
            format!(" (sampled 1 in {rate} by default)")
        } else {
            " (target: at most 5%)".into()
        };
        println!(
            "  {name}: {} CPU, {:.1?} wall, {ratio} of the transcode{note}",
            ms(cpu),
            wall
        );
    }
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
