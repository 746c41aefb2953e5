//! The always-on checks: signatures, hashes, pixel counts, and what the headers of each
//! rendition say against what the job asked for. Deterministic functions of their inputs.

use std::time::Duration;

use livepeer_core::rung::{RungOutput, SourceShape, fit_box};
use livepeer_core::verify::{FaultKind, FaultReport};
use livepeer_core::{
    Container, Domain, Framerate, Gop, SignedReceipt, SignedSegmentClaim, VideoCodec, VideoProfile,
    keccak256,
};

use crate::bitstream::{StreamInfo, inspect};
use crate::config::VerifyConfig;

/// A fault found by a check, before it is attributed to an orchestrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What is wrong.
    pub kind: FaultKind,
    /// Which rendition, if one.
    pub rendition: Option<usize>,
    /// The measured values.
    pub detail: String,
}

impl Finding {
    pub(crate) fn new(
        kind: FaultKind,
        rendition: Option<usize>,
        detail: impl Into<String>,
    ) -> Self {
        Finding {
            kind,
            rendition,
            detail: detail.into(),
        }
    }

    /// Whether signed evidence (receipt, claim, and the bytes they hash) proves this fault to
    /// a verifier running the same checks. Faults in the receipt itself or in bytes the
    /// receipt does not sign cannot be proven on chain.
    pub fn is_provable(&self) -> bool {
        !matches!(
            self.kind,
            FaultKind::BadReceiptSignature | FaultKind::ReceiptMismatch | FaultKind::HashMismatch
        )
    }

    /// The report naming `orchestrator`.
    pub fn into_report(self, orchestrator: livepeer_core::Address) -> FaultReport {
        let provable = self.is_provable();
        FaultReport {
            orchestrator,
            kind: self.kind,
            rendition: self.rendition,
            detail: self.detail,
            provable,
        }
    }
}

/// Checks the receipt: the signature, for `domain`, recovers its orchestrator and it names
/// the segment and profiles of the broadcaster's claim.
pub fn check_receipt(
    receipt: &SignedReceipt,
    claim: &SignedSegmentClaim,
    domain: &Domain,
) -> Option<Finding> {
    if let Err(e) = receipt.verify(domain) {
        return Some(Finding::new(
            FaultKind::BadReceiptSignature,
            None,
            e.to_string(),
        ));
    }
    if !claim.claim.matches(&receipt.receipt) {
        return Some(Finding::new(
            FaultKind::ReceiptMismatch,
            None,
            "the receipt names another segment, party or ladder than the claim",
        ));
    }
    None
}

/// Checks each rendition's bytes hash to what the receipt signs.
pub fn check_hashes(receipt: &SignedReceipt, renditions: &[&[u8]]) -> Option<Finding> {
    let signed = &receipt.receipt.output_hashes;
    if signed.len() != renditions.len() {
        return Some(Finding::new(
            FaultKind::ReceiptMismatch,
            None,
            format!(
                "{} renditions for {} signed hashes",
                renditions.len(),
                signed.len()
            ),
        ));
    }
    for (i, (data, h)) in renditions.iter().zip(signed).enumerate() {
        if keccak256(data) != h.0 {
            return Some(Finding::new(
                FaultKind::HashMismatch,
                Some(i),
                "the bytes do not hash to the signed output hash",
            ));
        }
    }
    None
}

/// What the source segment tells the rendition checks.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceFacts {
    /// Duration the broadcaster signed in its claim.
    pub duration: Duration,
    /// The source's headers, when they parse.
    pub info: Option<StreamInfo>,
}

fn rate_close(a: Framerate, b: Framerate, tol: f64) -> bool {
    (a.as_f64() - b.as_f64()).abs() <= tol * b.as_f64()
}

impl SourceFacts {
    /// The source's size and rate, when its headers parse.
    pub fn shape(&self) -> Option<SourceShape> {
        self.info.as_ref().map(|i| SourceShape {
            width: i.width,
            height: i.height,
            frame_rate: i.frame_rate,
            sample_aspect: i.sample_aspect,
        })
    }

    /// What `profile` promises for this source ([`RungOutput`]), when its headers parse.
    pub fn output(&self, profile: &VideoProfile) -> Option<RungOutput> {
        self.shape().map(|s| RungOutput::for_source(profile, &s))
    }
}

/// The frames a rendition of `profile` should hold, as `(fewest, most)`: exactly the
/// pictures the rung's frame selection keeps from the source's own timestamps
/// ([`RungOutput`]), less at most the pictures before the source's first key frame (a
/// transcoder starts there). Without timestamps for every picture, the duration times the
/// rate, ±1. `None` when the source's headers do not parse.
pub fn expected_frames(profile: &VideoProfile, source: &SourceFacts) -> Option<(u64, u64)> {
    let info = source.info.as_ref()?;
    let out = source.output(profile)?;
    let leading = u64::from(info.key_frames.first().copied().unwrap_or(0));
    let (want, slack) = if info.pts.len() == info.frames as usize {
        (out.expected_frames(&info.pts) as u64, 0)
    } else if out.drops_frames {
        let secs = source.duration.as_secs_f64();
        ((secs * out.frame_rate.as_f64()).round() as u64, 1)
    } else {
        (u64::from(info.frames), 0)
    };
    Some((want.saturating_sub(slack + leading), want + slack))
}

/// Runs the header checks on one rendition: format, resolution, timing, bitrate, key frames
/// and, when one was signed, the pixel count. Returns what the headers say when they parse.
pub fn check_rendition(
    index: usize,
    profile: &VideoProfile,
    data: &[u8],
    signed_pixels: Option<u64>,
    source: &SourceFacts,
    cfg: &VerifyConfig,
) -> Result<StreamInfo, Finding> {
    let at = Some(index);
    let fail = |kind, detail: String| Err(Finding::new(kind, at, detail));
    let info = match inspect(data, profile.container) {
        Ok(i) => i,
        Err(e) => return fail(FaultKind::Undecodable, e.to_string()),
    };
    if info.codec != profile.codec {
        return fail(
            FaultKind::WrongFormat,
            format!("codec {} where {} was asked", info.codec, profile.codec),
        );
    }
    if let (VideoCodec::H264, Some(wanted), Some(h)) = (info.codec, profile.h264_profile, info.h264)
        && !h.satisfies(wanted)
    {
        return fail(
            FaultKind::WrongFormat,
            format!(
                "H.264 profile_idc {} (constraints {:#04x}) where {} was asked",
                h.profile_idc,
                h.constraint_flags,
                wanted.as_str()
            ),
        );
    }
    let out = source.output(profile);
    // Without the source's size, the box turned the way the rendition is is the bound.
    let (want_w, want_h) = out.map_or_else(
        || fit_box(profile.width, profile.height, info.width, info.height),
        |o| (o.width, o.height),
    );
    let fits = match out {
        Some(_) => (info.width, info.height) == (want_w, want_h),
        None => info.width <= want_w && info.height <= want_h,
    };
    if info.resolutions.len() > 1 || !fits {
        return fail(
            FaultKind::WrongResolution,
            format!(
                "{:?} where {want_w}x{want_h} was asked ({}x{} box)",
                info.resolutions, profile.width, profile.height
            ),
        );
    }
    if !info.starts_with_key_frame() {
        return fail(
            FaultKind::WrongFormat,
            "does not start with a key frame".into(),
        );
    }
    let gop_ok = match profile.gop {
        Gop::IntraOnly => info.key_frames.len() as u32 == info.frames,
        Gop::Frames(n) => (0..info.frames)
            .step_by(n.max(1) as usize)
            .all(|i| info.key_frames.contains(&i)),
        _ => true,
    };
    if !gop_ok {
        return fail(
            FaultKind::WrongFormat,
            format!("key frames {:?} break the asked GOP", info.key_frames),
        );
    }
    let rate = out.map(|o| o.frame_rate).or(profile.framerate);
    if let (Some(want), Some(got)) = (rate, info.frame_rate)
        && !rate_close(got, want, cfg.frame_rate_tolerance)
    {
        return fail(
            FaultKind::WrongTiming,
            format!(
                "{:.3} fps where {:.3} was asked",
                got.as_f64(),
                want.as_f64()
            ),
        );
    }
    if let Some((fewest, most)) = expected_frames(profile, source)
        && !(fewest..=most).contains(&u64::from(info.frames))
    {
        let want = if fewest == most {
            format!("{most}")
        } else {
            format!("{fewest} to {most}")
        };
        return fail(
            FaultKind::WrongTiming,
            format!("{} frames where {want} were expected", info.frames),
        );
    }
    let frame = rate.map_or(Duration::ZERO, |r| {
        Duration::from_secs_f64(f64::from(r.den) / f64::from(r.num))
    });
    match info.duration {
        Some(d) if duration_gap(d, source.duration) > frame + cfg.duration_tolerance => {
            return fail(
                FaultKind::WrongTiming,
                format!(
                    "lasts {:.3} s for a {:.3} s segment",
                    d.as_secs_f64(),
                    source.duration.as_secs_f64()
                ),
            );
        }
        None => return fail(FaultKind::WrongTiming, "no timing information".into()),
        _ => {}
    }
    if let Some(bps) = info.bitrate_bps() {
        let target = profile.bitrate_bps as f64;
        let ratio = bps as f64 / target;
        if ratio < cfg.min_bitrate_ratio || ratio > cfg.max_bitrate_ratio {
            return fail(
                FaultKind::BitrateOutOfBounds,
                format!(
                    "{} kb/s is {:.0}% of the {} kb/s asked",
                    bps / 1000,
                    ratio * 100.0,
                    profile.bitrate_bps / 1000
                ),
            );
        }
    }
    if let Some(signed) = signed_pixels
        && info.pixels() != signed
    {
        return fail(
            FaultKind::PixelCountMismatch,
            format!("{} pixels in the stream, {signed} signed", info.pixels()),
        );
    }
    Ok(info)
}

fn duration_gap(a: Duration, b: Duration) -> Duration {
    a.abs_diff(b)
}

/// The source's facts: the claim's duration and the segment's headers when they parse.
pub fn source_facts(segment: &[u8], container: Container, duration: Duration) -> SourceFacts {
    SourceFacts {
        duration,
        info: inspect(segment, container).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_expectation_without_the_source_headers() {
        let facts = SourceFacts {
            duration: Duration::from_secs(2),
            info: None,
        };
        let p = VideoProfile::preset("240p").unwrap();
        assert_eq!(expected_frames(&p, &facts), None);
        assert_eq!(facts.output(&p), None);
    }

    #[test]
    fn garbage_renditions_are_undecodable() {
        let p = VideoProfile::preset("240p").unwrap();
        let facts = SourceFacts {
            duration: Duration::from_secs(2),
            info: None,
        };
        let f = check_rendition(
            0,
            &p,
            &[0x47; 376],
            Some(0),
            &facts,
            &VerifyConfig::default(),
        )
        .unwrap_err();
        assert_eq!(f.kind, FaultKind::Undecodable);
        assert!(f.is_provable());
    }
}
