//! The devnet binary end to end: an honest run and a run with a cheat, each checked through
//! its JSON summary and, with ffprobe, its HLS output; and bad input refused with one line,
//! a non-zero exit and nothing written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// The options every run here starts from: a small pattern and ladder.
const SMALL: &[&str] = &[
    "--quiet",
    "--pattern-size",
    "426x240",
    "--profiles",
    "240p,144p",
];

fn devnet(args: &[&str]) -> Output {
    devnet_from(SMALL, args)
}

fn devnet_from(base: &[&str], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_devnet"))
        .args(base)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn have_ffprobe() -> bool {
    Command::new("ffprobe").arg("-version").output().is_ok()
}

/// (frames, width, height) of each video stream of an HLS playlist, per ffprobe.
fn probe(playlist: &Path) -> Vec<(u64, u64, u64)> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v",
            "-show_entries",
            "stream=nb_read_frames,width,height",
            "-of",
            "json",
        ])
        .arg(playlist)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["nb_read_frames"].as_str().unwrap().parse().unwrap(),
                s["width"].as_u64().unwrap(),
                s["height"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn summary(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Runs devnet writing into a fresh directory with `args`; returns the directory, the
/// output directory, the JSON summary and the printed summary, after checking it exited
/// successfully.
fn run_ok(args: &[&str]) -> (tempfile::TempDir, std::path::PathBuf, Value, String) {
    run_ok_from(SMALL, args)
}

/// [`run_ok`] from other base options.
fn run_ok_from(
    base: &[&str],
    args: &[&str],
) -> (tempfile::TempDir, std::path::PathBuf, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let json = dir.path().join("summary.json");
    let mut all = vec![
        "--out",
        out.to_str().unwrap(),
        "--summary-json",
        json.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let o = devnet_from(base, &all);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    // Codec libraries stay quiet: their messages go through tracing, below the default level.
    assert!(!stderr.contains("OpenH264"), "{stderr}");
    let s = summary(&json);
    (dir, out, s, String::from_utf8_lossy(&o.stdout).into_owned())
}

fn check_output(out: &Path, media_seconds: u64) {
    let master = std::fs::read_to_string(out.join("index.m3u8")).unwrap();
    assert_eq!(master.matches("#EXT-X-STREAM-INF").count(), 2, "{master}");
    if !have_ffprobe() {
        return;
    }
    let frames = media_seconds * 30;
    for (rung, (w, h)) in [("240p", (426, 240)), ("144p", (256, 144))] {
        let streams = probe(&out.join(rung).join("index.m3u8"));
        assert_eq!(streams, vec![(frames, w, h)], "{rung}");
    }
}

#[test]
fn an_honest_run_streams_pays_and_writes_hls() {
    let (_dir, out, s, text) = run_ok(&["--orchestrators", "2", "--pattern-seconds", "8"]);
    assert!(text.contains("segments: 4 in, 4 out, 0 failed"), "{text}");
    assert_eq!(s["segments_in"], 4);
    assert_eq!(s["segments_out"], 4);
    assert_eq!(s["renditions"], 2);
    assert_eq!(s["faults"], 0);
    assert_eq!(s["slashed"].as_array().unwrap().len(), 0);
    let sent = s["tickets_sent"].as_u64().unwrap();
    let won = s["tickets_won"].as_u64().unwrap();
    // The tickets' expected value covers the work (default EV: 2.5e14 wei a ticket).
    let expected: u128 = s["wei_expected"].as_str().unwrap().parse().unwrap();
    assert!(expected > 0);
    assert!(u128::from(sent) * 250_000_000_000_000 >= expected, "{s}");
    assert!(won <= sent);
    // Every winner is redeemed, and the broadcaster paid exactly the winners' face values.
    assert_eq!(s["tickets_redeemed"].as_u64().unwrap(), won, "{s}");
    let paid: u128 = s["wei_paid"].as_str().unwrap().parse().unwrap();
    assert_eq!(paid == 0, won == 0, "{s}");
    // Human units beside the raw ones: ether, price per minute of video, speed.
    let ether = |field: &str| -> f64 { s[field].as_str().unwrap().parse().unwrap() };
    assert!(
        (ether("eth_paid") - paid as f64 / 1e18).abs() < 1e-15,
        "{s}"
    );
    assert!(
        (ether("eth_expected") - expected as f64 / 1e18).abs() < 1e-15,
        "{s}"
    );
    let per_minute = s["eth_per_media_minute"].as_f64().unwrap();
    assert!(
        (per_minute - expected as f64 / 1e18 / (8.0 / 60.0)).abs() < 1e-12,
        "{s}"
    );
    let speed = s["media_seconds_per_wall_second"].as_f64().unwrap();
    let wall = s["wall_seconds"].as_f64().unwrap();
    assert!((speed * wall - 8.0).abs() < 1e-6, "{s}");
    assert!(text.contains("ETH per minute of video"), "{text}");
    check_output(&out, 8);
}

#[test]
fn a_cheat_is_caught_slashed_and_the_stream_goes_on() {
    let (_dir, out, s, _) = run_ok(&["--orchestrators", "3", "--pattern-seconds", "8", "--cheat"]);
    assert_eq!(s["segments_out"], 4, "no segment lost: {s}");
    assert!(s["faults"].as_u64().unwrap() >= 1, "{s}");
    assert!(s["challenges_won"].as_u64().unwrap() >= 1, "{s}");
    let slashed = s["slashed"].as_array().unwrap();
    assert_eq!(slashed.len(), 1, "{s}");
    let orchs = s["orchestrators"].as_array().unwrap();
    let cheat = orchs.iter().find(|o| o["cheating"] == true).unwrap();
    assert_eq!(cheat["address"], slashed[0]);
    assert_eq!(cheat["slashed"], true);
    assert_eq!(cheat["segments"], 0, "none of its output was accepted: {s}");
    let before: u128 = cheat["stake_before"].as_str().unwrap().parse().unwrap();
    let after: u128 = cheat["stake_after"].as_str().unwrap().parse().unwrap();
    assert!(after < before);
    for o in orchs.iter().filter(|o| o["cheating"] == false) {
        assert_eq!(o["slashed"], false, "{s}");
    }
    // What was written is the honest ladder at the sizes asked for.
    check_output(&out, 8);
}

fn refused(args: &[&str], out: &Path, what: &str) {
    let o = devnet(args);
    assert!(!o.status.success(), "{what}: accepted");
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<_> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 1, "{what}: {err}");
    assert!(
        !out.join("index.m3u8").exists(),
        "{what}: something written in --out"
    );
}

#[test]
fn bad_input_is_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    refused(
        &["--out", o, "--input", "/nonexistent/video.ts"],
        &out,
        "missing file",
    );
    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "this is not a video").unwrap();
    refused(
        &["--out", o, "--input", text.to_str().unwrap()],
        &out,
        "not video",
    );
    let pl = dir.path().join("live.m3u8");
    std::fs::write(
        &pl,
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\ngone.ts\n",
    )
    .unwrap();
    refused(
        &["--out", o, "--input", pl.to_str().unwrap()],
        &out,
        "missing segment",
    );
    refused(&["--out", o, "--profiles", "999p"], &out, "bad ladder");
    refused(
        &["--out", o, "--cheat", "--orchestrators", "1"],
        &out,
        "cheat alone",
    );
    // An output directory that already holds a stream is left alone.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("index.m3u8"), "#EXTM3U\n").unwrap();
    let o2 = devnet(&["--out", o]);
    assert!(!o2.status.success());
    assert_eq!(
        std::fs::read_to_string(out.join("index.m3u8")).unwrap(),
        "#EXTM3U\n"
    );
}

#[test]
fn hired_reencodes_match_honest_results_bit_for_bit() {
    let (_dir, out, s, _) = run_ok(&[
        "--orchestrators",
        "2",
        "--pattern-seconds",
        "4",
        "--verification-rate",
        "1",
        "--hire-reencode",
    ]);
    // Every segment was re-encoded by another orchestrator, paid with its own tickets, and
    // matched: no fault against an honest orchestrator.
    assert_eq!(s["segments_out"], 2, "{s}");
    assert_eq!(s["faults"], 0, "{s}");
    assert!(s["tickets_sent"].as_u64().unwrap() >= 2, "{s}");
    check_output(&out, 4);
}

/// A devnet run of two honest orchestrators on `profiles` with every segment verified
/// (`extra` says what to stream): both segments out, no fault, nobody slashed. Returns the
/// run's directory, its output and its summary.
fn honest_verified_run(
    name: &str,
    profiles: &str,
    extra: &[&str],
) -> (tempfile::TempDir, std::path::PathBuf, Value) {
    let mut args = vec![
        "--orchestrators",
        "2",
        "--verification-rate",
        "1",
        "--profiles",
        profiles,
    ];
    args.extend_from_slice(extra);
    let (dir, out, s, _) = run_ok_from(&["--quiet"], &args);
    assert_eq!(s["segments_out"], 2, "{name}: {s}");
    assert_eq!(s["faults"], 0, "{name}: {s}");
    assert_eq!(s["slashed"].as_array().unwrap().len(), 0, "{name}: {s}");
    (dir, out, s)
}

/// A clip made the way real encoders make them: x264 High with B-frames, AAC, MPEG-TS.
fn clip(dir: &Path, name: &str, graph: &str, seconds: u32) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.ts"));
    let t = seconds.to_string();
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-nostdin", "-f", "lavfi", "-i", graph])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-t", &t, "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast",
        ])
        .args([
            "-profile:v",
            "high",
            "-bf",
            "2",
            "-crf",
            "23",
            "-force_key_frames",
        ])
        .args([
            "expr:gte(t,n_forced*2)",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-f",
            "mpegts",
        ])
        .arg(&path)
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg {graph}");
    path
}

/// Every segment of real-world media checked in full on the network: zero faults, nobody
/// slashed, no segment lost, and the output shaped as the rung promises for the source.
#[test]
fn real_world_media_streams_without_a_fault() {
    if !have_ffprobe() {
        eprintln!("SKIPPED: ffmpeg not found (apt-get install -y ffmpeg)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, graph, rungs) in [
        (
            "25fps-portrait",
            "testsrc2=size=360x640:rate=25",
            [(25.0, 360, 640), (25.0, 240, 426)],
        ),
        (
            "59.94fps",
            "testsrc2=size=640x360:rate=60000/1001",
            [(29.97, 640, 360), (29.97, 426, 240)],
        ),
        (
            "24fps-cinema",
            "mandelbrot=size=640x272:rate=24",
            [(24.0, 640, 272), (24.0, 426, 182)],
        ),
        (
            "anamorphic-4:3-pixels",
            "testsrc2=size=480x360:rate=25,setsar=4/3",
            [(25.0, 640, 360), (25.0, 426, 240)],
        ),
        (
            "50fps",
            "testsrc2=size=480x270:rate=50",
            [(30.0, 480, 270), (30.0, 426, 240)],
        ),
    ] {
        let input = clip(dir.path(), name, graph, 4);
        let (_d, out, s) = honest_verified_run(
            name,
            "P360p30fps16x9,P240p30fps16x9",
            &["--input", input.to_str().unwrap()],
        );
        assert_eq!(s["segments_in"], 2, "{name}: {s}");
        for (rung, (fps, w, h)) in ["P360p30fps16x9", "P240p30fps16x9"].iter().zip(rungs) {
            let streams = probe(&out.join(rung).join("index.m3u8"));
            let frames = (4.0_f64 * fps).round() as u64;
            assert_eq!(streams.len(), 1, "{name} {rung}");
            let (n, sw, sh) = streams[0];
            assert_eq!((sw, sh), (w, h), "{name} {rung}");
            assert!(
                n.abs_diff(frames) <= 1,
                "{name} {rung}: {n} frames, want {frames}"
            );
        }
    }
}

/// A broadcast contribution feed (576i25, MBAFF-coded by x264, AAC) streamed to a ladder
/// with an AV1 rung: the source is decoded and deinterlaced, the AV1 rung is written as
/// fMP4 HLS and compared picture by picture on every segment like the H.264 one; zero
/// faults, nobody slashed, every picture there.
#[cfg(feature = "libav")]
#[test]
fn interlaced_source_to_an_av1_rung_streams_without_a_fault() {
    if !have_ffprobe() {
        eprintln!("SKIPPED: ffmpeg not found (apt-get install -y ffmpeg)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("576i25.ts");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-nostdin", "-f", "lavfi"])
        .args(["-i", "testsrc2=size=720x576:rate=25,setsar=16/15"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-t", "4", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast",
        ])
        .args([
            "-flags",
            "+ildct+ilme",
            "-x264-params",
            "interlaced=1:tff=1",
        ])
        .args([
            "-force_key_frames",
            "expr:gte(t,n_forced*2)",
            "-c:a",
            "aac",
            "-f",
            "mpegts",
        ])
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let ladder = r#"[{"name":"av1-144p","preset":"144p","codec":"av1"},{"name":"h264-240p","preset":"240p"}]"#;
    let (_d, out, _) = honest_verified_run("576i25", ladder, &["--input", input.to_str().unwrap()]);
    // 720x576 at 16:15 pixels is 4:3: the 16:9 boxes are fitted, never stretched.
    for (rung, size) in [("av1-144p", (192, 144)), ("h264-240p", (320, 240))] {
        let streams = probe(&out.join(rung).join("index.m3u8"));
        assert_eq!(streams.len(), 1, "{rung}");
        let (n, w, h) = streams[0];
        assert_eq!((w, h), size, "{rung}");
        assert_eq!(n, 100, "{rung}");
    }
    let master = std::fs::read_to_string(out.join("index.m3u8")).unwrap();
    assert!(master.contains("CODECS=\"av01."), "{master}");
}

/// A CMAF ladder (fragmented-MP4 rungs) beside an MPEG-TS one, every segment verified: zero
/// faults and nobody slashed (the verifier once could not read fMP4 and judged every honest
/// rendition undecodable), and the HLS output plays every picture.
#[test]
fn fmp4_rungs_stream_without_a_fault() {
    let ladder = r#"[{"name":"cmaf-240p","preset":"240p","container":"fmp4"},{"name":"ts-144p","preset":"144p"}]"#;
    let (_d, out, _) = honest_verified_run(
        "cmaf",
        ladder,
        &["--pattern-size", "426x240", "--pattern-seconds", "4"],
    );
    let media = std::fs::read_to_string(out.join("cmaf-240p").join("index.m3u8")).unwrap();
    assert!(media.contains("#EXT-X-MAP:URI=\"init.mp4\""), "{media}");
    if have_ffprobe() {
        let streams = probe(&out.join("cmaf-240p").join("index.m3u8"));
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].0, 120);
    }
}
