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
    // Tests run in parallel: write to a name of this thread's own, then rename.
    let tmp = out
        .with_extension(format!("{:?}.{ext}", std::thread::current().id()).replace(['(', ')'], ""));
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-nostdin"])
        .args(args)
        .arg(&tmp)
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg {args:?} failed");
    std::fs::rename(&tmp, &out).unwrap();
    let v = std::fs::read(&out).unwrap();
    cache.lock().unwrap().insert(key, v.clone());
    v
}

/// Writes bytes to a temp file and returns its path (for ffmpeg inputs).
pub(crate) fn to_file(data: &[u8], ext: &str) -> String {
    let p = dir().join(format!("{}.{ext}", blake3::hash(data).to_hex()));
    if !p.exists() {
        // Another thread may be reading the same content: write a file of this call's own and
        // rename it into place, so the name never shows a partly written file.
        let mut tmp = tempfile::NamedTempFile::new_in(dir()).unwrap();
        std::io::Write::write_all(&mut tmp, data).unwrap();
        tmp.persist(&p).unwrap();
    }
    p.to_string_lossy().into_owned()
}

/// A 2 s 30 fps source segment of `lavfi` content at 640x360, x264 High without B-frames
/// (so every decoder agrees on its pictures), GOP = segment.
pub(crate) fn source(lavfi: &str) -> Vec<u8> {
    encode_lavfi(&format!("{lavfi}=size=640x360:rate=30"), SOURCE_X264)
}

/// libx264 settings of [`source`].
pub(crate) const SOURCE_X264: &[&str] = &[
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
];

/// libx264 settings of live input as encoders send it: High profile with B-frames at a
/// moderate quality.
pub(crate) const LIVE_X264: &[&str] = &["-profile:v", "high", "-bf", "2", "-g", "30", "-crf", "23"];

/// 2 s of the lavfi `graph` encoded with libx264 `settings`, as MPEG-TS (cached).
pub(crate) fn encode_lavfi(graph: &str, settings: &[&str]) -> Vec<u8> {
    let mut args = vec![
        "-f", "lavfi", "-i", graph, "-t", "2", "-pix_fmt", "yuv420p", "-c:v", "libx264",
    ];
    args.extend_from_slice(settings);
    args.extend_from_slice(&["-f", "mpegts"]);
    ffmpeg(&args, "ts")
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
    request_with(
        segment,
        ladder,
        renditions,
        pixels,
        seq,
        &o,
        &b,
        &livepeer_core::test_utils::test_domain(),
    )
}

/// As [`request`], with given keys, signed for `domain`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn request_with(
    segment: &[u8],
    ladder: &Ladder,
    renditions: &[Vec<u8>],
    pixels: &[u64],
    seq: u64,
    o: &dyn Signer,
    b: &dyn Signer,
    domain: &livepeer_core::Domain,
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
    .sign(o, domain)
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
    .sign(b, domain)
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
        domain: *domain,
    }
}

/// Runs ffmpeg on `inputs` with a filter graph ending in `[out]`, x264 constrained baseline at
/// `kbps`, to MPEG-TS.
pub(crate) fn x264_graph(inputs: &[&[u8]], graph: &str, kbps: u32) -> Vec<u8> {
    let files: Vec<String> = inputs.iter().map(|d| to_file(d, "ts")).collect();
    let mut args: Vec<String> = Vec::new();
    for f in &files {
        args.extend(["-i".into(), f.clone()]);
    }
    let b = format!("{kbps}k");
    let buf = format!("{}k", kbps * 2);
    for a in [
        "-filter_complex",
        graph,
        "-map",
        "[out]",
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
    ] {
        args.push(a.to_owned());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ffmpeg(&refs, "ts")
}

/// A rav1e AV1 rendition in IVF (FFmpeg's librav1e, speed 10).
pub(crate) fn rav1e(src: &[u8], w: u32, h: u32, kbps: u32) -> Vec<u8> {
    let input = to_file(src, "ts");
    let vf = format!("scale={w}:{h}:flags=bilinear");
    let b = format!("{kbps}k");
    ffmpeg(
        &[
            "-i",
            &input,
            "-vf",
            &vf,
            "-c:v",
            "librav1e",
            "-speed",
            "10",
            "-b:v",
            &b,
            "-rav1e-params",
            "keyint=60:min_keyint=60",
            "-an",
            "-f",
            "ivf",
        ],
        "ivf",
    )
}

/// Decodes with FFmpeg's decoders to I420 pictures: a test stand-in for the transcoder's own
/// decoder (the sources here have no B-frames, so every H.264 decoder agrees on them).
#[derive(Debug)]
pub(crate) struct FfmpegDecoder;

impl livepeer_verify::FrameDecoder for FfmpegDecoder {
    fn decode(
        &self,
        data: &[u8],
        container: Container,
        max_frames: Option<usize>,
    ) -> Result<Vec<livepeer_verify::Picture>, livepeer_verify::DecodeError> {
        use livepeer_verify::DecodeError;
        let info = livepeer_verify::inspect(data, container)
            .map_err(|e| DecodeError::Invalid(e.to_string()))?;
        let (w, h) = (info.width as usize, info.height as usize);
        let path = to_file(data, container.extension());
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-v", "error", "-nostdin", "-i", &path]);
        if let Some(n) = max_frames {
            cmd.args(["-frames:v", &n.to_string()]);
        }
        let out = cmd
            .args([
                "-vsync",
                "passthrough",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "yuv420p",
                "-",
            ])
            .output()
            .map_err(|e| DecodeError::Backend(e.to_string()))?;
        if !out.status.success() {
            return Err(DecodeError::Invalid(
                String::from_utf8_lossy(&out.stderr).into(),
            ));
        }
        let size = w * h * 3 / 2;
        Ok(out
            .stdout
            .chunks_exact(size)
            .map(|f| livepeer_verify::Picture {
                width: w as u32,
                height: h as u32,
                y: f[..w * h].to_vec(),
                u: f[w * h..w * h + w * h / 4].to_vec(),
                v: f[w * h + w * h / 4..].to_vec(),
            })
            .collect())
    }
}

/// The software transcoder of livepeer-transcode, started once per test process.
pub(crate) fn software() -> &'static livepeer_transcode::SoftwareTranscoder {
    static T: OnceLock<livepeer_transcode::SoftwareTranscoder> = OnceLock::new();
    T.get_or_init(|| {
        livepeer_transcode::SoftwareTranscoder::new(livepeer_transcode::SoftwareConfig::default())
            .unwrap()
    })
}

/// Renditions with their pixel counts.
type Renditions = Vec<(Vec<u8>, u64)>;

/// The renditions livepeer-transcode's software backend makes of `src` (MPEG-TS) for
/// `ladder`, with their pixel counts; cached per process.
pub(crate) fn transcode(src: &[u8], ladder: &Ladder) -> Renditions {
    static CACHE: OnceLock<Mutex<HashMap<String, Renditions>>> = OnceLock::new();
    let key = format!("{} {:?}", blake3::hash(src).to_hex(), ladder.ids());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap().get(&key) {
        return v.clone();
    }
    let out = software()
        .transcode_blocking(livepeer_core::transcode::TranscodeJob {
            stream_id: StreamId::from_name("verify-tests"),
            segment: Segment {
                seq: 1,
                duration: std::time::Duration::from_secs(2),
                data: Bytes::from(src.to_vec()),
                container: Container::MpegTs,
                codec: VideoCodec::H264,
            },
            ladder: ladder.clone(),
        })
        .unwrap();
    let v: Vec<_> = out
        .renditions
        .into_iter()
        .map(|r| (r.data.to_vec(), r.pixels.0))
        .collect();
    cache.lock().unwrap().insert(key, v.clone());
    v
}
