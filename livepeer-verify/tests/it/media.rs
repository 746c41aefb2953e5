//! Test media generated with FFmpeg (Debian's), cached per process: a source segment and
//! honest or tampered x264 renditions of it. Nothing large is committed.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use livepeer_core::transcode::Rendition;
use livepeer_core::verify::VerificationRequest;
use livepeer_core::{
    Container, H256, Ladder, LocalSigner, Receipt, Segment, SegmentClaim, Signer, StreamId,
    VideoCodec,
};

/// The orchestrator's and the broadcaster's test keys.
pub(crate) fn keys() -> (LocalSigner, LocalSigner) {
    (
        LocalSigner::from_bytes(&[0x11; 32]).unwrap(),
        LocalSigner::from_bytes(&[0x22; 32]).unwrap(),
    )
}

pub(crate) fn have_ffmpeg() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        let ok = Command::new("ffmpeg")
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("SKIPPED: ffmpeg not found (apt-get install -y ffmpeg)");
        }
        ok
    })
}

fn dir() -> &'static Path {
    // Lives for the whole test process; the OS temp cleaner reclaims it afterwards.
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    D.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// Runs ffmpeg with `args` writing to a cached file named by the arguments; returns the bytes.
pub(crate) fn ffmpeg(args: &[&str], ext: &str) -> Vec<u8> {
    static CACHE: OnceLock<Mutex<HashMap<String, Vec<u8>>>> = OnceLock::new();
    let key = format!("{}.{ext}", args.join(" "));
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap().get(&key) {
        return v.clone();
    }
    let out = dir().join(format!("{}.{ext}", blake3::hash(key.as_bytes()).to_hex()));
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-nostdin"])
        .args(args)
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg {args:?} failed");
    let v = std::fs::read(&out).unwrap();
    cache.lock().unwrap().insert(key, v.clone());
    v
}

/// Writes bytes to a temp file and returns its path (for ffmpeg inputs).
pub(crate) fn to_file(data: &[u8], ext: &str) -> String {
    let p = dir().join(format!("{}.{ext}", blake3::hash(data).to_hex()));
    if !p.exists() {
        std::fs::write(&p, data).unwrap();
    }
    p.to_string_lossy().into_owned()
}

/// A 2 s 30 fps source segment of `lavfi` content at 640x360, x264 High without B-frames
/// (so every decoder agrees on its pictures), GOP = segment.
pub(crate) fn source(lavfi: &str) -> Vec<u8> {
    let src = format!("{lavfi}=size=640x360:rate=30");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            &src,
            "-t",
            "2",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "high",
            "-bf",
            "0",
            "-g",
            "60",
            "-sc_threshold",
            "0",
            "-b:v",
            "3M",
            "-f",
            "mpegts",
        ],
        "ts",
    )
}

/// An x264 constrained-baseline rendition of `src` at `w×h`, `kbps`, with an optional extra
/// filter (for tampering) applied after scaling.
pub(crate) fn x264(src: &[u8], w: u32, h: u32, kbps: u32, extra_filter: Option<&str>) -> Vec<u8> {
    let input = to_file(src, "ts");
    let mut vf = format!("scale={w}:{h}:flags=bilinear");
    if let Some(f) = extra_filter {
        vf = format!("{vf},{f}");
    }
    let b = format!("{kbps}k");
    let buf = format!("{}k", kbps * 2);
    ffmpeg(
        &[
            "-i",
            &input,
            "-vf",
            &vf,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "baseline",
            "-g",
            "60",
            "-sc_threshold",
            "0",
            "-b:v",
            &b,
            "-maxrate",
            &b,
            "-bufsize",
            &buf,
            "-an",
            "-f",
            "mpegts",
        ],
        "ts",
    )
}

/// A signed request for `renditions` of `segment` to `ladder`, with the receipt's pixel
/// counts taken from `pixels`.
pub(crate) fn request(
    segment: &[u8],
    ladder: &Ladder,
    renditions: &[Vec<u8>],
    pixels: &[u64],
    seq: u64,
) -> VerificationRequest {
    let (o, b) = keys();
    request_with(segment, ladder, renditions, pixels, seq, &o, &b)
}

/// As [`request`], with given keys.
pub(crate) fn request_with(
    segment: &[u8],
    ladder: &Ladder,
    renditions: &[Vec<u8>],
    pixels: &[u64],
    seq: u64,
    o: &dyn Signer,
    b: &dyn Signer,
) -> VerificationRequest {
    let stream_id = StreamId::from_name("verify-tests");
    let seg = Segment {
        seq,
        duration: std::time::Duration::from_secs(2),
        data: Bytes::from(segment.to_vec()),
        container: Container::MpegTs,
        codec: VideoCodec::H264,
    };
    let receipt = Receipt {
        orchestrator: o.address(),
        broadcaster: b.address(),
        stream_id,
        seq,
        input_hash: seg.keccak(),
        profile_ids: ladder.ids(),
        output_hashes: renditions
            .iter()
            .map(|r| H256::from(livepeer_core::keccak256(r)))
            .collect(),
        pixels: pixels.to_vec(),
    }
    .sign(o)
    .unwrap();
    let claim = SegmentClaim {
        broadcaster: b.address(),
        orchestrator: o.address(),
        stream_id,
        seq,
        input_hash: seg.keccak(),
        profile_ids: ladder.ids(),
        duration_ms: 2000,
    }
    .sign(b)
    .unwrap();
    let renditions = ladder
        .profiles()
        .iter()
        .zip(renditions)
        .zip(pixels)
        .map(|((p, d), &px)| Rendition {
            profile: p.clone(),
            data: Bytes::from(d.clone()),
            frames: (px / p.pixels_per_frame()) as u32,
            pixels: livepeer_core::Pixels(px),
            duration: std::time::Duration::from_secs(2),
        })
        .collect();
    VerificationRequest {
        segment: seg,
        ladder: ladder.clone(),
        renditions,
        receipt,
        claim,
    }
}
