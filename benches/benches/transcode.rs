//! One 2 s 1080p30 segment (libx264 High, B-frames, AAC, MPEG-TS) to a 720p/480p/360p
//! ladder: the software transcoder against ffmpeg/libx264 veryfast producing the same
//! ladder from the same input, side by side in one run, plus per-stage frames per second
//! and an AV1 360p rung.
//!
//! `cargo bench -p livepeer-benches --bench transcode`. Needs ffmpeg on the path.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use livepeer_core::{Container, Ladder, Segment, StreamId, VideoCodec};
use livepeer_transcode::conformance::media::ffmpeg_cached;
use livepeer_transcode::{
    Frame, H264Decoding, H264Encoder, InputLimits, Scaler, SoftwareConfig, SoftwareTranscoder,
    TranscodeJob, Transcoder, VideoEncoder, decode_segment, decode_segment_with,
};

const LIBAV: H264Decoding = H264Decoding::Libavcodec { threads: 1 };

const LADDER: &str = "720p,480p,360p";
const AV1_360P: &str =
    r#"[{"name":"av1-360p","width":640,"height":360,"bitrate":"800k","codec":"av1"}]"#;

/// The test pattern the timings use.
const PATTERN: &str = "testsrc2=size=1920x1080:rate=30";
/// Harder content for the quality table: a fractal zoom under temporal film grain.
const GRAIN: &str = "mandelbrot=size=1920x1080:rate=30,noise=alls=12:allf=t";

/// Two seconds of `graph` encoded the way a broadcaster's encoder sends 1080p30.
fn input(graph: &str) -> (PathBuf, Segment) {
    let dir = ffmpeg_cached(&[
        "-f",
        "lavfi",
        "-i",
        graph,
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-preset",
        "medium",
        "-profile:v",
        "high",
        "-b:v",
        "6M",
        "-bf",
        "2",
        "-g",
        "60",
        "-keyint_min",
        "60",
        "-sc_threshold",
        "0",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-f",
        "mpegts",
        "seg1080.ts",
    ])
    .expect("ffmpeg generates the 1080p input");
    let path = dir.join("seg1080.ts");
    let seg = Segment {
        seq: 0,
        duration: Duration::from_secs(2),
        data: std::fs::read(&path).unwrap().into(),
        container: Container::MpegTs,
        codec: VideoCodec::H264,
    };
    (path, seg)
}

fn job(seg: &Segment, ladder: &str) -> TranscodeJob {
    TranscodeJob {
        stream_id: StreamId::from_name("bench"),
        segment: seg.clone(),
        ladder: Ladder::parse(ladder).unwrap(),
    }
}

/// ffmpeg/libx264 veryfast, swscale bilinear, the same three rungs and bitrates, audio
/// copied, one process, threads auto.
fn ffmpeg_ladder(input: &Path, out: &Path) {
    let graph = "[0:v]split=3[a][b][c];[a]scale=1280:720:flags=bilinear[v720];\
                 [b]scale=854:480:flags=bilinear[v480];[c]scale=640:360:flags=bilinear[v360]";
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y", "-i"])
        .arg(input)
        .args(["-filter_complex", graph]);
    for (label, rate) in [("v720", "3M"), ("v480", "1600k"), ("v360", "800k")] {
        cmd.args([
            "-map",
            &format!("[{label}]"),
            "-map",
            "0:a",
            "-c:v",
            "libx264",
        ])
        .args([
            "-preset", "veryfast", "-b:v", rate, "-g", "60", "-c:a", "copy", "-f", "mpegts",
        ])
        .arg(out.join(format!("{label}.ts")));
    }
    let st = cmd.status().expect("ffmpeg runs");
    assert!(st.success(), "ffmpeg ladder failed");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// CPU time of this process and of its waited-for children, from `/proc/self/stat`
/// (zero where that file does not exist).
fn cpu_times() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default();
    let tick = |i: usize| Duration::from_millis(fields.get(i).copied().unwrap_or(0) * 10);
    // After the ")": state is field 0, utime 11, stime 12, cutime 13, cstime 14.
    (tick(11) + tick(12), tick(13) + tick(14))
}

fn side_by_side(t: &SoftwareTranscoder, path: &Path, seg: &Segment) {
    let out = tempfile_dir();
    let runs = 7;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut ours_cpu, mut theirs_cpu) = (Vec::new(), Vec::new());
    let mut stages = Vec::new();
    t.transcode_blocking(job(seg, LADDER)).unwrap(); // warm the per-stream encoders
    for _ in 0..runs {
        let (c0, _) = cpu_times();
        let t0 = Instant::now();
        let (_, st) = t.transcode_with_stats(job(seg, LADDER)).unwrap();
        ours.push(t0.elapsed());
        ours_cpu.push(cpu_times().0.saturating_sub(c0));
        stages.push(st);
        let (_, k0) = cpu_times();
        let t0 = Instant::now();
        ffmpeg_ladder(path, &out);
        theirs.push(t0.elapsed());
        theirs_cpu.push(cpu_times().1.saturating_sub(k0));
    }
    let (o, f) = (median(ours), median(theirs));
    let (oc, fc) = (median(ours_cpu), median(theirs_cpu));
    println!("side by side, {runs} runs each, 2 s 1080p30 segment -> 720p/480p/360p:");
    println!(
        "  livepeer-transcode ({}, 2 workers): median {:.3} s wall = {:.2}x real time, {:.2} s CPU",
        t.capabilities().backend,
        o.as_secs_f64(),
        2.0 / o.as_secs_f64(),
        oc.as_secs_f64()
    );
    println!(
        "  ffmpeg libx264 veryfast:                  median {:.3} s wall = {:.2}x real time, {:.2} s CPU",
        f.as_secs_f64(),
        2.0 / f.as_secs_f64(),
        fc.as_secs_f64()
    );
    println!(
        "  ratio ffmpeg / livepeer-transcode: {:.2} wall, {:.2} CPU",
        f.as_secs_f64() / o.as_secs_f64(),
        fc.as_secs_f64() / oc.as_secs_f64().max(1e-9)
    );
    let s = stages[stages.len() / 2];
    let fps = |d: Duration| 60.0 / d.as_secs_f64().max(1e-9);
    println!(
        "  stage thread time in one run (wall, summed over threads): decode {:.0} ms ({:.0} fps), scale x3 {:.0} ms ({:.0} fps), encode x3 {:.0} ms ({:.0} fps)",
        s.decode.as_secs_f64() * 1e3,
        fps(s.decode),
        s.scale.as_secs_f64() * 1e3,
        fps(s.scale),
        s.encode.as_secs_f64() * 1e3,
        fps(s.encode)
    );
    println!(
        "  cost per minute of 1080p30 source: livepeer-transcode {:.1} CPU s, ffmpeg {:.1} CPU s",
        oc.as_secs_f64() * 30.0,
        fc.as_secs_f64() * 30.0
    );
    let t0 = Instant::now();
    let av1 = t.transcode_blocking(job(seg, AV1_360P)).unwrap();
    let av1_secs = t0.elapsed().as_secs_f64();
    println!(
        "  AV1 360p rung alone (rav1e speed 10, low latency): {:.3} s for {} frames = {:.2}x real time",
        av1_secs,
        av1.renditions[0].frames,
        2.0 / av1_secs
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// PSNR of luma (dB) and SSIM over all planes of `rendition` against `source` scaled to
/// the rendition's size (bicubic, a neutral reference for both pipelines), from ffmpeg's
/// `psnr` and `ssim` filters, and the video bitrate in kb/s (video packets only).
fn quality(rendition: &Path, source: &Path, w: u32, h: u32) -> (f64, f64, f64) {
    let graph = format!(
        "[1:v]setpts=PTS-STARTPTS,scale={w}:{h}:flags=bicubic,split[r1][r2];\
         [0:v]setpts=PTS-STARTPTS,split[d1][d2];[d1][r1]psnr;[d2][r2]ssim"
    );
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(rendition)
        .arg("-i")
        .arg(source)
        .args(["-lavfi", &graph, "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let log = String::from_utf8_lossy(&o.stderr);
    let field = |line: &str, key: &str| -> f64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let psnr = log
        .lines()
        .find(|l| l.contains("PSNR y:"))
        .map_or(f64::NAN, |l| field(l, "y:"));
    let ssim = log
        .lines()
        .find(|l| l.contains("SSIM Y:"))
        .map_or(f64::NAN, |l| field(l, "All:"));
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["packet=size", "-of", "csv=p=0"])
        .arg(rendition)
        .output()
        .expect("ffprobe runs");
    let bytes: f64 = String::from_utf8_lossy(&probe.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok())
        .sum();
    (psnr, ssim, bytes * 8.0 / 2.0 / 1000.0)
}

/// Quality against the source and achieved bitrate of every rung, ours beside ffmpeg's
/// libx264 veryfast at the same target bitrate, on `path`; plus the AV1 360p rung.
fn quality_table(t: &SoftwareTranscoder, name: &str, path: &Path, seg: &Segment) {
    let out = tempfile_dir();
    ffmpeg_ladder(path, &out);
    let ours = t.transcode_blocking(job(seg, LADDER)).unwrap();
    let av1 = t.transcode_blocking(job(seg, AV1_360P)).unwrap();
    println!(
        "quality on {name} (PSNR-Y dB / SSIM all planes / video kb/s; reference: source scaled bicubic; VMAF: not in this ffmpeg build):"
    );
    let rungs = [
        ("720p", 1280, 720, "v720"),
        ("480p", 854, 480, "v480"),
        ("360p", 640, 360, "v360"),
    ];
    for (i, (rung, w, h, label)) in rungs.into_iter().enumerate() {
        let r = &ours.renditions[i];
        let mine = out.join(format!("ours-{rung}.ts"));
        std::fs::write(&mine, &r.data).unwrap();
        let (p, s, k) = quality(&mine, path, w, h);
        let (fp, fs, fk) = quality(&out.join(format!("{label}.ts")), path, w, h);
        println!(
            "  {rung} at {} kb/s: OpenH264 {p:.2} / {s:.4} / {k:.0}   x264 veryfast {fp:.2} / {fs:.4} / {fk:.0}",
            r.profile.bitrate_bps / 1000
        );
    }
    let file = out.join("av1.ivf");
    std::fs::write(&file, &av1.renditions[0].data).unwrap();
    let (p, s, k) = quality(&file, path, 640, 360);
    println!("  360p at 800 kb/s: rav1e AV1 {p:.2} / {s:.4} / {k:.0}");
    let _ = std::fs::remove_dir_all(&out);
}

/// The hardware backend's line: measured only where a GPU is present.
fn hardware_line() {
    let gpu = Path::new("/dev/nvidia0").exists() || Path::new("/dev/dri/renderD128").exists();
    if gpu {
        println!(
            "hardware backend: a GPU is present, but this bench times the software backend only (the hardware backend's conformance run: cargo test -p livepeer-transcode --features hw)"
        );
    } else {
        println!(
            "hardware backend: not measured, no GPU on this machine (/dev/nvidia0 and /dev/dri absent)"
        );
    }
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("livepeer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn main() {
    let (path, seg) = input(PATTERN);
    let t = SoftwareTranscoder::new(SoftwareConfig::default()).unwrap();
    side_by_side(&t, &path, &seg);
    quality_table(&t, "the test pattern", &path, &seg);
    let (grain_path, grain_seg) = input(GRAIN);
    quality_table(
        &t,
        "a fractal zoom with film grain",
        &grain_path,
        &grain_seg,
    );
    hardware_line();

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .configure_from_args();
    let mut g = c.benchmark_group("segment_1080p30_2s");
    g.throughput(Throughput::Elements(60));
    g.bench_function("livepeer_ladder_720_480_360", |b| {
        b.iter(|| t.transcode_blocking(job(&seg, LADDER)).unwrap())
    });
    let out = tempfile_dir();
    g.bench_function("ffmpeg_x264_veryfast_ladder", |b| {
        b.iter(|| ffmpeg_ladder(&path, &out))
    });
    g.bench_function("livepeer_av1_360p", |b| {
        b.iter(|| t.transcode_blocking(job(&seg, AV1_360P)).unwrap())
    });
    g.finish();

    let frames: Vec<Frame> = decode_segment(&seg, InputLimits::default()).unwrap();
    let mut g = c.benchmark_group("stages_1080p_60_frames");
    g.throughput(Throughput::Elements(60));
    g.bench_function("decode_openh264", |b| {
        b.iter(|| decode_segment(&seg, InputLimits::default()).unwrap())
    });
    g.bench_function("decode_libavcodec_1_thread", |b| {
        b.iter(|| decode_segment_with(&seg, InputLimits::default(), LIBAV).unwrap())
    });
    let sizes = [(1280, 720), (854, 480), (640, 360)];
    g.bench_function("scale_3_rungs", |b| {
        let mut s = Scaler::new();
        b.iter(|| {
            for f in &frames {
                for (w, h) in sizes {
                    std::hint::black_box(s.scale(f, w, h).unwrap());
                }
            }
        })
    });
    for (name, (w, h)) in ["720p", "480p", "360p"].into_iter().zip(sizes) {
        let profile = livepeer_core::VideoProfile::preset(name).unwrap();
        let mut s = Scaler::new();
        let scaled: Vec<Frame> = frames.iter().map(|f| s.scale(f, w, h).unwrap()).collect();
        let mut enc =
            H264Encoder::new(&profile, livepeer_core::Framerate { num: 30, den: 1 }).unwrap();
        g.bench_function(format!("encode_openh264_{name}"), |b| {
            b.iter(|| {
                enc.start_segment().unwrap();
                for f in &scaled {
                    enc.send_frame(f).unwrap();
                }
                enc.flush().unwrap();
                while let livepeer_transcode::Output::Ready(p) = enc.receive_packet().unwrap() {
                    std::hint::black_box(p);
                }
            })
        });
    }
    g.finish();
    c.final_summary();
    let _ = std::fs::remove_dir_all(&out);
}
