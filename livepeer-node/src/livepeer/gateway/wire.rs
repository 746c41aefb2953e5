//! What the gateway checks and converts: our rungs as go-livepeer's profiles, the bound on
//! a rendition's download, and the renditions an orchestrator returned.

use std::time::Duration;

use bytes::Bytes;
use livepeer_core::media::{Container, H264Profile, Segment, VideoCodec};
use livepeer_core::profile::Gop;
use livepeer_core::rung::fit_box;
use livepeer_core::transcode::Rendition;
use livepeer_core::{Ladder, Pixels};
use livepeer_interop::messages::VideoProfile as WireProfile;
use livepeer_interop::messages::video_profile::{Format, Profile, VideoCodec as WireCodec};
use livepeer_transcode::{InputLimits, inspect};

use crate::error::{NodeError, Result};

/// The most bytes a rendition at `bitrate` over `duration` may take: four times its
/// nominal size plus 1 MiB of container overhead.
pub(crate) fn download_bound(bitrate: u64, duration: Duration) -> usize {
    let bytes = (bitrate as f64 / 8.0 * duration.as_secs_f64() * 4.0) as usize;
    bytes.saturating_add(1 << 20).min(256 << 20)
}

/// The renditions, in ladder order, each H.264 in the rung's container, within its rung's
/// box (turned for portrait), with pictures in it; the error says which is not.
pub(crate) fn check_renditions(
    ladder: &Ladder,
    bodies: Vec<Bytes>,
    duration: Duration,
    seq: u64,
) -> std::result::Result<Vec<Rendition>, String> {
    let mut out = Vec::with_capacity(bodies.len());
    for (p, data) in ladder.profiles().iter().zip(bodies) {
        let seg = Segment {
            seq,
            duration,
            data: data.clone(),
            container: p.container,
            codec: VideoCodec::H264,
        };
        let got = inspect(&seg, InputLimits::default())
            .map_err(|e| format!("rendition {}: {e}", p.name))?;
        // Orchestrators keep the source's aspect ratio and turn the box for a portrait
        // source (ours by the rung rules, go-livepeer by its own): the rendition must fit in
        // the box turned its way, never exceed it. Honest work of any shape passes.
        let (box_w, box_h) = fit_box(p.width, p.height, got.width, got.height);
        if got.width > box_w || got.height > box_h {
            return Err(format!(
                "rendition {} is {}x{}, larger than its {}x{} box",
                p.name, got.width, got.height, p.width, p.height
            ));
        }
        if got.frames == 0 {
            return Err(format!("rendition {} has no pictures", p.name));
        }
        let pixels = u64::from(got.width)
            .saturating_mul(u64::from(got.height))
            .saturating_mul(u64::from(got.frames));
        out.push(Rendition {
            profile: p.clone(),
            data,
            frames: got.frames,
            pixels: Pixels(pixels),
            duration,
        });
    }
    Ok(out)
}

/// go-livepeer's profiles for `ladder`, in order; H.264 rungs only.
pub fn wire_ladder(ladder: &Ladder) -> Result<Vec<WireProfile>> {
    ladder.profiles().iter().map(wire_profile).collect()
}

fn wire_profile(p: &livepeer_core::VideoProfile) -> Result<WireProfile> {
    let bad = |what: &str| NodeError::Config(format!("rung {}: {what}", p.name));
    if p.codec != VideoCodec::H264 {
        return Err(bad(
            "go-livepeer orchestrators are asked for H.264 rungs only",
        ));
    }
    let format = match p.container {
        Container::MpegTs => Format::Mpegts,
        Container::Mp4 => Format::Mp4,
        _ => return Err(bad("go-livepeer renditions are MPEG-TS or MP4")),
    };
    let profile = match p.h264_profile {
        None => Profile::EncoderDefault,
        Some(H264Profile::ConstrainedBaseline | H264Profile::Baseline) => Profile::H264Baseline,
        Some(H264Profile::Main) => Profile::H264Main,
        Some(H264Profile::High) => Profile::H264High,
        Some(_) => return Err(bad("an H.264 profile go-livepeer does not name")),
    };
    let (fps, fps_den) = p.framerate.map_or((0, 0), |f| (f.num, f.den));
    let gop = match (p.gop, p.framerate) {
        (Gop::Segment, _) => 0,
        (Gop::IntraOnly, _) => -1,
        (Gop::Frames(n), Some(f)) => {
            let ms = u64::from(n) * 1000 * u64::from(f.den) / u64::from(f.num.max(1));
            i32::try_from(ms.max(1)).map_err(|_| bad("GOP too long"))?
        }
        (Gop::Frames(_), None) => {
            return Err(bad("a GOP in frames needs a frame rate for go-livepeer"));
        }
        _ => return Err(bad("a GOP go-livepeer does not name")),
    };
    Ok(WireProfile {
        name: p.name.clone(),
        width: i32::try_from(p.width).map_err(|_| bad("too wide"))?,
        height: i32::try_from(p.height).map_err(|_| bad("too tall"))?,
        bitrate: i32::try_from(p.bitrate_bps).map_err(|_| bad("bitrate above 2^31"))?,
        fps,
        fps_den,
        format: format as i32,
        profile: profile as i32,
        gop,
        encoder: WireCodec::H264 as i32,
        ..WireProfile::default()
    })
}

/// A 64-bit name for the stream's manifest, from keccak of `name`.
pub(crate) fn keccak_prefix(name: &str) -> u64 {
    let h = livepeer_core::keccak256(name.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::livepeer::segment::ladder_of;

    #[test]
    fn our_rungs_round_trip_through_go_livepeer_profiles() {
        let ladder = Ladder::parse("720p,480p,240p").unwrap();
        let wire = wire_ladder(&ladder).unwrap();
        assert_eq!(wire.len(), 3);
        assert_eq!((wire[0].width, wire[0].height), (1280, 720));
        let back = ladder_of(&wire).unwrap();
        for (a, b) in ladder.profiles().iter().zip(back.profiles()) {
            assert_eq!(
                (
                    &a.name,
                    a.width,
                    a.height,
                    a.bitrate_bps,
                    a.framerate,
                    a.container
                ),
                (
                    &b.name,
                    b.width,
                    b.height,
                    b.bitrate_bps,
                    b.framerate,
                    b.container
                )
            );
            assert_eq!(a.gop, b.gop);
        }
        let mut av1 = ladder.profiles()[0].clone();
        av1.codec = VideoCodec::Av1;
        av1.h264_profile = None;
        av1.container = Container::Ivf;
        assert!(wire_profile(&av1).is_err());
    }

    #[test]
    fn downloads_are_bounded_by_the_rung() {
        let b = download_bound(3_000_000, Duration::from_secs(2));
        assert_eq!(b, 3_000_000 + (1 << 20));
        assert_eq!(download_bound(u64::MAX, Duration::from_secs(60)), 256 << 20);
    }
}

#[cfg(test)]
mod shape_tests {
    use super::*;

    /// A 2 s H.264 MPEG-TS of `size` from ffmpeg; `None` without it.
    fn ts(size: &str) -> Option<Bytes> {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().join("r.ts");
        let ok = std::process::Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("testsrc2=size={size}:rate=25"))
            .args([
                "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mpegts",
            ])
            .arg(&path)
            .status()
            .ok()?
            .success();
        ok.then(|| std::fs::read(&path).ok().map(Bytes::from))?
    }

    #[test]
    fn renditions_of_any_honest_shape_pass_and_oversized_ones_do_not() {
        let ladder =
            Ladder::parse(r#"[{"name":"r","width":256,"height":144,"bitrate":"400k"}]"#).unwrap();
        // Portrait (the box turned), a cinema crop, the box itself: honest shapes.
        let mut any = false;
        for size in ["144x256", "256x106", "256x144"] {
            let Some(data) = ts(size) else {
                return;
            };
            any = true;
            let out = check_renditions(&ladder, vec![data], Duration::from_secs(2), 0)
                .unwrap_or_else(|e| panic!("{size}: {e}"));
            assert!(out[0].frames >= 40 && out[0].pixels.0 > 0, "{size}");
        }
        assert!(any);
        // Larger than the box either way: refused, naming the rendition.
        let e = check_renditions(
            &ladder,
            vec![ts("320x180").unwrap()],
            Duration::from_secs(2),
            0,
        )
        .unwrap_err();
        assert!(e.contains("larger than its 256x144 box"), "{e}");
        let e = check_renditions(
            &ladder,
            vec![Bytes::from_static(b"junk")],
            Duration::from_secs(2),
            0,
        )
        .unwrap_err();
        assert!(e.starts_with("rendition r"), "{e}");
    }
}
