//! `transcoder local`: transcode a file or playlist on this machine with no network, write
//! the ladder as HLS and report each segment's latency and real-time ratio.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::ProgressBar;
use livepeer_core::transcode::{TranscodeJob, Transcoder as _};
use livepeer_core::{Ladder, StreamId};
use livepeer_transcode::hls::{HlsWriter, write_atomic};
use livepeer_transcode::input::InputStream;
use livepeer_transcode::{SoftwareConfig, SoftwareTranscoder};
use serde::Serialize;

/// Transcode a file or playlist here, with no network, and report the speed.
#[derive(Debug, clap::Args)]
pub struct Local {
    /// The input: an HLS playlist (.m3u8) of MPEG-TS segments, an MPEG-TS file or an MP4.
    #[arg(long, env = "LIVEPEER_INPUT", value_name = "PATH")]
    pub input: PathBuf,
    /// Where to write the ladder as HLS (index.m3u8 and one directory per rendition).
    #[arg(long, env = "LIVEPEER_OUT", value_name = "DIR")]
    pub out: PathBuf,
    /// The ladder: preset names (720p,480p,360p, or P720p30fps16x9...), or a JSON or TOML
    /// ladder (a file's contents).
    #[arg(long, env = "LIVEPEER_PROFILES", default_value = "720p,480p,360p")]
    pub profiles: String,
    /// Segments transcoded at once.
    #[arg(long, env = "LIVEPEER_CONCURRENT", default_value_t = 1)]
    pub concurrent: usize,
    /// Target segment duration when cutting the input, in seconds.
    #[arg(long, env = "LIVEPEER_SEGMENT_SECONDS", default_value_t = 2.0)]
    pub segment_seconds: f64,
    /// Also keep the cut source segments, as `source/<seq>.ts` under --out (to check a
    /// rendition against its source with `verifier check`).
    #[arg(long)]
    pub keep_source: bool,
    /// Also write the per-segment figures and totals as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct SegmentLine {
    seq: u64,
    media_seconds: f64,
    latency_ms: f64,
    realtime_ratio: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    segments: Vec<SegmentLine>,
    media_seconds: f64,
    wall_seconds: f64,
    realtime_ratio: f64,
    median_latency_ms: f64,
    p95_latency_ms: f64,
    concurrent: usize,
    profiles: Vec<String>,
}

fn ladder(profiles: &str) -> anyhow::Result<Ladder> {
    Ladder::parse(profiles).map_err(|e| anyhow::anyhow!("--profiles {profiles:?}: {e}"))
}

#[allow(clippy::print_stdout)]
/// Runs the local benchmark.
pub async fn local(a: Local) -> anyhow::Result<()> {
    let ladder = ladder(&a.profiles)?;
    if a.concurrent == 0 || a.concurrent > 64 {
        anyhow::bail!("--concurrent must be within 1 to 64");
    }
    if !(a.segment_seconds >= 0.5 && a.segment_seconds <= 60.0) {
        anyhow::bail!("--segment-seconds must be within 0.5 to 60");
    }
    let mut input = InputStream::open(&a.input, Duration::from_secs_f64(a.segment_seconds))?;
    if a.out.join(livepeer_transcode::hls::MASTER).exists() {
        anyhow::bail!(
            "{} already holds an HLS stream; choose an empty directory",
            a.out.display()
        );
    }
    let mut sc = SoftwareConfig::default();
    sc.parallel_segments = a.concurrent;
    sc.workers_per_segment = if a.concurrent > 1 { 1 } else { 2 };
    sc.queue_depth = a.concurrent * 2;
    sc.enable_av1 = ladder
        .profiles()
        .iter()
        .any(|p| p.codec == livepeer_core::VideoCodec::Av1);
    let t = Arc::new(tokio::task::spawn_blocking(move || SoftwareTranscoder::new(sc)).await??);
    let mut hls = HlsWriter::create(&a.out, &ladder)?;
    let stream_id = StreamId::from_name("local");
    let bar = ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(200));
    println!(
        "{:>5} {:>9} {:>11} {:>10}",
        "seq", "media s", "latency ms", "x realtime"
    );
    let t0 = Instant::now();
    let mut lines = Vec::new();
    let mut inflight = VecDeque::new();
    let mut done = false;
    while !done || !inflight.is_empty() {
        while !done && inflight.len() < a.concurrent {
            match input.next_segment()? {
                Some(seg) => {
                    let job = TranscodeJob {
                        stream_id,
                        segment: seg.clone(),
                        ladder: ladder.clone(),
                    };
                    let t = t.clone();
                    let started = Instant::now();
                    inflight.push_back((
                        seg,
                        started,
                        tokio::spawn(async move { t.transcode(job).await }),
                    ));
                }
                None => done = true,
            }
        }
        let Some((seg, started, task)) = inflight.pop_front() else {
            break;
        };
        let out = task
            .await?
            .with_context(|| format!("segment {}", seg.seq))?;
        let latency = started.elapsed();
        hls.write_segment(seg.seq, &out.renditions)?;
        if a.keep_source {
            let dir = a.out.join("source");
            std::fs::create_dir_all(&dir)?;
            write_atomic(&dir.join(format!("{}.ts", seg.seq)), &seg.data)?;
        }
        let media = seg.duration.as_secs_f64();
        let line = SegmentLine {
            seq: seg.seq,
            media_seconds: media,
            latency_ms: latency.as_secs_f64() * 1e3,
            realtime_ratio: media / latency.as_secs_f64().max(1e-9),
        };
        bar.suspend(|| {
            println!(
                "{:>5} {:>9.3} {:>11.1} {:>10.2}",
                line.seq, line.media_seconds, line.latency_ms, line.realtime_ratio
            );
        });
        lines.push(line);
    }
    bar.finish_and_clear();
    let wall = t0.elapsed().as_secs_f64();
    hls.finish()?;
    let media: f64 = lines.iter().map(|l| l.media_seconds).sum();
    let mut lat: Vec<f64> = lines.iter().map(|l| l.latency_ms).collect();
    lat.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        lat.get(((lat.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let report = Report {
        media_seconds: media,
        wall_seconds: wall,
        realtime_ratio: media / wall.max(1e-9),
        median_latency_ms: pick(0.5),
        p95_latency_ms: pick(0.95),
        concurrent: a.concurrent,
        profiles: ladder.profiles().iter().map(|p| p.name.clone()).collect(),
        segments: lines,
    };
    println!(
        "{} segments, {:.1} s of media in {:.1} s: {:.2}x real time; latency median {:.0} ms, p95 {:.0} ms ({} at once)",
        report.segments.len(),
        report.media_seconds,
        report.wall_seconds,
        report.realtime_ratio,
        report.median_latency_ms,
        report.p95_latency_ms,
        report.concurrent
    );
    println!(
        "output: {}",
        a.out.join(livepeer_transcode::hls::MASTER).display()
    );
    if let Some(path) = a.json {
        write_atomic(&path, &serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(())
}
