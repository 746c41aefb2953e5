//! Test media made with ffmpeg from Debian's packages, cached on disk by content of the
//! command line, and ffprobe read-outs of real output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use livepeer_core::{Container, Segment, VideoCodec};

/// Whether `ffmpeg` and `ffprobe` can be run.
pub fn ffmpeg_available() -> bool {
    ["ffmpeg", "ffprobe"].iter().all(|t| {
        Command::new(t)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Where generated media is cached: `$LIVEPEER_TEST_MEDIA`, else the workspace's
/// `target/test-media`, else the system temporary directory.
pub fn cache_dir() -> PathBuf {
    let dir = std::env::var_os("LIVEPEER_TEST_MEDIA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-media"));
    if std::fs::create_dir_all(&dir).is_ok() {
        dir
    } else {
        std::env::temp_dir().join("livepeer-test-media")
    }
}

/// The marker written last into a finished cache folder.
const DONE: &str = ".done";

/// Runs ffmpeg with `args` (output paths relative to a fresh cache folder named after the
/// arguments) unless that folder already holds its result; returns the folder.
///
/// Safe to call from many threads and processes at once: each call that finds no result
/// generates into a folder of its own (a unique name beside the cache folder) and renames it
/// into place when complete. When several calls race, the first rename wins and the others
/// discard their copy and use the winner's; a folder without its `.done` marker is never
/// returned.
pub fn ffmpeg_cached(args: &[&str]) -> Result<PathBuf, String> {
    let key = name_hash(args.join(" ").as_bytes());
    let root = cache_dir();
    let dir = root.join(&key[..16]);
    if dir.join(DONE).exists() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    // Removed on every early return; kept only by the rename below.
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{}.", &key[..16]))
        .suffix(".tmp")
        .tempdir_in(&root)
        .map_err(|e| format!("{}: {e}", root.display()))?;
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-y", "-v", "error"])
        .args(args)
        .current_dir(tmp.path())
        .output()
        .map_err(|e| format!("ffmpeg: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ffmpeg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::write(tmp.path().join(DONE), b"").map_err(|e| e.to_string())?;
    match std::fs::rename(tmp.path(), &dir) {
        Ok(()) => {
            // The folder now lives under its final name; nothing is left to remove.
            let _ = tmp.keep();
            Ok(dir)
        }
        // Another thread or process won the race (a rename onto a non-empty folder fails);
        // its copy is as good as ours, which `tmp` removes when dropped.
        Err(_) if dir.join(DONE).exists() => Ok(dir),
        Err(e) => Err(format!(
            "{} -> {}: {e}",
            tmp.path().display(),
            dir.display()
        )),
    }
}

fn name_hash(b: &[u8]) -> String {
    // A tiny FNV-1a pair is enough to name cache folders; no crypto needed here.
    let mut h1: u64 = 0xcbf2_9ce4_8422_2325;
    let mut h2: u64 = 0x8422_2325_cbf2_9ce4;
    for &x in b {
        h1 = (h1 ^ u64::from(x)).wrapping_mul(0x100_0000_01b3);
        h2 = (h2 ^ u64::from(x))
            .wrapping_mul(0x100_0000_01b3)
            .rotate_left(5);
    }
    format!("{h1:016x}{h2:016x}")
}

/// What to generate: testsrc2 plus a sine in AAC, libx264 High with B-frames, MPEG-TS cut
/// into segments at key frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaSpec {
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Seconds per segment (also the GOP).
    pub segment_secs: u32,
    /// Number of segments.
    pub segments: u32,
    /// Video bitrate, kb/s.
    pub kbps: u32,
    /// x264 preset.
    pub preset: &'static str,
}

impl Default for MediaSpec {
    /// 426×240 at 30 fps, three 2 s segments, 600 kb/s, veryfast.
    fn default() -> Self {
        MediaSpec {
            width: 426,
            height: 240,
            fps: 30,
            segment_secs: 2,
            segments: 3,
            kbps: 600,
            preset: "veryfast",
        }
    }
}

impl MediaSpec {
    /// Generates (or reuses) the segments, in order.
    pub fn segments(&self) -> Result<Vec<Segment>, String> {
        let src = format!(
            "testsrc2=size={}x{}:rate={}",
            self.width, self.height, self.fps
        );
        let total = (self.segment_secs * self.segments).to_string();
        let gop = (self.fps * self.segment_secs).to_string();
        let kbps = format!("{}k", self.kbps);
        let seg = self.segment_secs.to_string();
        let args = [
            "-f",
            "lavfi",
            "-i",
            &src,
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            &total,
            "-c:v",
            "libx264",
            "-preset",
            self.preset,
            "-profile:v",
            "high",
            "-pix_fmt",
            "yuv420p",
            "-bf",
            "2",
            "-g",
            &gop,
            "-keyint_min",
            &gop,
            "-sc_threshold",
            "0",
            "-b:v",
            &kbps,
            "-maxrate",
            &kbps,
            "-bufsize",
            &kbps,
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-f",
            "segment",
            "-segment_time",
            &seg,
            "-segment_format",
            "mpegts",
            "seg%03d.ts",
        ];
        let dir = ffmpeg_cached(&args)?;
        (0..self.segments)
            .map(|i| {
                let data =
                    std::fs::read(dir.join(format!("seg{i:03}.ts"))).map_err(|e| e.to_string())?;
                Ok(Segment {
                    seq: u64::from(i),
                    duration: Duration::from_secs(u64::from(self.segment_secs)),
                    data: Bytes::from(data),
                    container: Container::MpegTs,
                    codec: VideoCodec::H264,
                })
            })
            .collect()
    }
}

/// A one-second clip from arbitrary ffmpeg video arguments, as MPEG-TS (for bad-input
/// cases: other codecs, odd and absurd sizes).
pub fn clip(video_args: &[&str]) -> Result<Segment, String> {
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x64:rate=10",
        "-t",
        "1",
    ];
    args.extend_from_slice(video_args);
    args.extend_from_slice(&["-f", "mpegts", "clip.ts"]);
    let dir = ffmpeg_cached(&args)?;
    let data = std::fs::read(dir.join("clip.ts")).map_err(|e| e.to_string())?;
    Ok(Segment {
        seq: 0,
        duration: Duration::from_secs(1),
        data: Bytes::from(data),
        container: Container::MpegTs,
        codec: VideoCodec::H264,
    })
}

/// Same content as [`MediaSpec::segments`]' first segment, as MP4 and as raw Annex-B.
pub fn other_containers(spec: &MediaSpec) -> Result<(Segment, Segment), String> {
    let src = format!(
        "testsrc2=size={}x{}:rate={}",
        spec.width, spec.height, spec.fps
    );
    let gop = (spec.fps * spec.segment_secs).to_string();
    let secs = spec.segment_secs.to_string();
    let args = [
        "-f",
        "lavfi",
        "-i",
        &src,
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        &secs,
        "-c:v",
        "libx264",
        "-preset",
        spec.preset,
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-bf",
        "2",
        "-g",
        &gop,
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "clip.mp4",
        "-an",
        "-c:v",
        "libx264",
        "-preset",
        spec.preset,
        "-bf",
        "0",
        "-g",
        &gop,
        "-pix_fmt",
        "yuv420p",
        "-t",
        &secs,
        "-f",
        "h264",
        "clip.h264",
    ];
    let dir = ffmpeg_cached(&args)?;
    let read = |name: &str, container| -> Result<Segment, String> {
        Ok(Segment {
            seq: 0,
            duration: Duration::from_secs(u64::from(spec.segment_secs)),
            data: Bytes::from(std::fs::read(dir.join(name)).map_err(|e| e.to_string())?),
            container,
            codec: VideoCodec::H264,
        })
    };
    Ok((
        read("clip.mp4", Container::Mp4)?,
        read("clip.h264", Container::AnnexB)?,
    ))
}

/// What ffprobe says about a file's video stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Probe {
    /// Codec name (`h264`, `av1`).
    pub codec: String,
    /// Codec profile as ffprobe names it.
    pub profile: String,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Frames decoded.
    pub frames: u32,
    /// Presentation times of the video packets, seconds, in file order.
    pub pts: Vec<f64>,
    /// Whether the file has an audio stream.
    pub audio: bool,
}

/// Runs ffprobe on `path` (any format ffmpeg reads, an m3u8 playlist included).
pub fn ffprobe(path: &Path) -> Result<Probe, String> {
    let run = |args: &[&str]| -> Result<String, String> {
        let o = Command::new("ffprobe")
            .args(["-v", "error"])
            .args(args)
            .arg(path)
            .output()
            .map_err(|e| format!("ffprobe: {e}"))?;
        if !o.status.success() {
            return Err(format!("ffprobe: {}", String::from_utf8_lossy(&o.stderr)));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let mut p = Probe::default();
    let streams = run(&[
        "-count_frames",
        "-show_entries",
        "stream=codec_type,codec_name,profile,width,height,nb_read_frames",
        "-of",
        "flat",
    ])?;
    for line in streams.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim_matches('"');
        if k.ends_with("codec_type") && v == "audio" {
            p.audio = true;
        }
        if !k.starts_with("streams.stream.0.") {
            continue;
        }
        match k.rsplit('.').next() {
            Some("codec_name") => p.codec = v.to_owned(),
            Some("profile") => p.profile = v.to_owned(),
            Some("width") => p.width = v.parse().unwrap_or(0),
            Some("height") => p.height = v.parse().unwrap_or(0),
            Some("nb_read_frames") => p.frames = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    let packets = run(&[
        "-select_streams",
        "v:0",
        "-show_entries",
        "packet=pts_time",
        "-of",
        "csv=p=0",
    ])?;
    p.pts = packets
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    Ok(p)
}

/// Decodes any file to raw I420 with ffmpeg (used for AV1 output).
pub fn ffmpeg_decode_i420(path: &Path) -> Result<Vec<u8>, String> {
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "-"])
        .output()
        .map_err(|e| format!("ffmpeg: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "ffmpeg decode: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(o.stdout)
}
