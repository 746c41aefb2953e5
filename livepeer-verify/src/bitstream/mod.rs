//! Bitstream inspection without decoding: containers (MPEG-TS, Annex-B, IVF), H.264 NAL
//! units, parameter sets and slice headers, AV1 sequence headers.
//!
//! [`inspect`] turns a segment's bytes into a [`StreamInfo`]: codec, profile, resolution,
//! picture count, key frames, timestamps, frame rate, duration and video bitrate. It reads
//! headers only, costs well under a millisecond per megabyte, and never panics: anything
//! malformed is a [`BitstreamError`].
//!
//! The parsers themselves (H.264 NAL units, parameter sets and slice headers, MPEG-TS, IVF,
//! AV1 OBUs, MP4) are livepeer-bitstream's, shared with the transcoders; this module adds
//! what verification reads from them.

mod av1;
pub(crate) mod ts;

use std::collections::BTreeMap;
use std::time::Duration;

use livepeer_bitstream::{h264, mp4};
use livepeer_core::{Container, Framerate, H264Profile, VideoCodec};
use serde::{Deserialize, Serialize};

pub(crate) use av1::ivf_units;
pub use livepeer_bitstream::{BitstreamError, MAX_FRAMES};

/// The H.264 profile fields of a sequence parameter set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct H264Params {
    /// `profile_idc`.
    pub profile_idc: u8,
    /// `constraint_set0..5` flags, most significant bit first.
    pub constraint_flags: u8,
    /// `level_idc`.
    pub level_idc: u8,
}

impl H264Params {
    /// The profile, when it is one of those [`H264Profile`] names.
    pub fn profile(&self) -> Option<H264Profile> {
        match self.profile_idc {
            66 if self.constraint_flags & 0x40 != 0 => Some(H264Profile::ConstrainedBaseline),
            66 => Some(H264Profile::Baseline),
            77 => Some(H264Profile::Main),
            100 => Some(H264Profile::High),
            _ => None,
        }
    }

    /// Whether a stream with these parameters satisfies a job asking for `wanted`: a
    /// constrained baseline stream is also a valid baseline and main stream.
    pub fn satisfies(&self, wanted: H264Profile) -> bool {
        let Some(p) = self.profile() else {
            return false;
        };
        p == wanted
            || (p == H264Profile::ConstrainedBaseline
                && matches!(wanted, H264Profile::Baseline | H264Profile::Main))
    }
}

/// What the headers of a segment say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StreamInfo {
    /// The container read.
    pub container: Container,
    /// The video codec.
    pub codec: VideoCodec,
    /// Display width (after cropping).
    pub width: u32,
    /// Display height (after cropping).
    pub height: u32,
    /// Every distinct resolution announced, in order; more than one is a change mid-segment.
    pub resolutions: Vec<(u32, u32)>,
    /// H.264 profile fields (H.264 only).
    pub h264: Option<H264Params>,
    /// Pictures (frames) in the segment.
    pub frames: u32,
    /// Decode-order indices of the key (IDR) pictures.
    pub key_frames: Vec<u32>,
    /// Presentation timestamps in 90 kHz ticks, sorted, unwrapped (one per timed picture).
    pub pts: Vec<i64>,
    /// Frame rate from the timestamps, else from the stream's timing info.
    pub frame_rate: Option<Framerate>,
    /// The sample (pixel) aspect ratio the stream declares, other than 1:1.
    #[serde(default)]
    pub sample_aspect: Option<(u32, u32)>,
    /// Media duration: timestamp span plus one frame, else frames over the frame rate.
    pub duration: Option<Duration>,
    /// Video elementary-stream bytes, padding (filler data) excluded.
    pub video_bytes: u64,
}

impl StreamInfo {
    /// Video bitrate in bits per second over [`Self::duration`].
    pub fn bitrate_bps(&self) -> Option<u64> {
        let d = self.duration?.as_secs_f64();
        (d > 0.0).then(|| (self.video_bytes as f64 * 8.0 / d).round() as u64)
    }

    /// Pixels: width × height × frames, as receipts count them.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height) * u64::from(self.frames)
    }

    /// Whether the first picture is a key frame.
    pub fn starts_with_key_frame(&self) -> bool {
        self.key_frames.first() == Some(&0)
    }
}

/// Inspects a segment's headers.
pub fn inspect(data: &[u8], container: Container) -> Result<StreamInfo, BitstreamError> {
    match container {
        Container::MpegTs => {
            let vs = ts::demux_video(data)?;
            if vs.stream_type != livepeer_bitstream::ts::stream_type::H264 {
                return Err(BitstreamError::Unsupported(format!(
                    "transport stream type {:#04x}",
                    vs.stream_type
                )));
            }
            let mut acc = H264Accumulator::default();
            for pes in &vs.pes {
                acc.push_access_unit(&pes.payload, pes.pts)?;
            }
            acc.finish(Container::MpegTs)
        }
        Container::AnnexB => {
            let mut acc = H264Accumulator::default();
            acc.push_access_unit(data, None)?;
            acc.finish(Container::AnnexB)
        }
        Container::Ivf => av1::inspect_ivf(data),
        Container::Mp4 | Container::Fmp4 => inspect_mp4(data, container),
        other => Err(BitstreamError::Unsupported(format!("container {other}"))),
    }
}

/// Inspects the video track of an MP4 or fragmented MP4 (H.264 or AV1).
fn inspect_mp4(data: &[u8], container: Container) -> Result<StreamInfo, BitstreamError> {
    let v = mp4::read_video(data)?;
    let scale = u128::from(v.timescale);
    let to90k = |t: i64| i64::try_from(i128::from(t) * 90_000 / scale as i128).unwrap_or(i64::MAX);
    match v.codec {
        VideoCodec::H264 => {
            let (sets, len) = h264::avcc_parameter_sets(v.config)?;
            let mut acc = H264Accumulator::default();
            for (i, s) in v.samples.iter().enumerate() {
                let mut au = if i == 0 { sets.clone() } else { Vec::new() };
                h264::avcc_to_annexb(s.data, len, &mut au)?;
                acc.push_access_unit(&au, Some(to90k(s.pts).max(0) as u64))?;
            }
            acc.finish(container)
        }
        _ => av1::inspect_units(
            container,
            (v.width, v.height),
            v.config.get(4..),
            v.samples.iter().map(|s| (to90k(s.pts), s.data)),
            None,
        ),
    }
}

/// The video elementary stream of a segment, as one byte string: for comparing two encodes
/// of the same segment regardless of how each was multiplexed.
pub fn elementary_stream(data: &[u8], container: Container) -> Result<Vec<u8>, BitstreamError> {
    match container {
        Container::MpegTs => Ok(ts::demux_video(data)?
            .pes
            .into_iter()
            .flat_map(|p| p.payload)
            .collect()),
        Container::AnnexB => Ok(data.to_vec()),
        Container::Ivf => av1::ivf_payload(data),
        Container::Mp4 | Container::Fmp4 => {
            let v = mp4::read_video(data)?;
            let mut out = v.config.to_vec();
            v.samples.iter().for_each(|s| out.extend_from_slice(s.data));
            Ok(out)
        }
        other => Err(BitstreamError::Unsupported(format!("container {other}"))),
    }
}

#[derive(Default)]
struct H264Accumulator {
    sps: BTreeMap<u32, h264::Sps>,
    pps: BTreeMap<u32, h264::Pps>,
    first_sps: Option<h264::Sps>,
    resolutions: Vec<(u32, u32)>,
    frames: u32,
    fields: u32,
    key_frames: Vec<u32>,
    pts: Vec<i64>,
    last_pts: Option<i64>,
    video_bytes: u64,
}

/// Unwraps a 33-bit timestamp next to the previous one.
fn unwrap_pts(prev: Option<i64>, raw: u64) -> i64 {
    match prev {
        Some(p) => livepeer_bitstream::ts::unwrap_timestamp(raw, p),
        None => (raw & ((1 << 33) - 1)) as i64,
    }
}

impl H264Accumulator {
    fn push_access_unit(&mut self, es: &[u8], pts: Option<u64>) -> Result<(), BitstreamError> {
        let mut pts = pts;
        for unit in h264::nal_units(es) {
            let t = h264::nal_unit_type(unit)?;
            if t != h264::nal::FILLER {
                self.video_bytes += unit.len() as u64 + 4;
            }
            match t {
                h264::nal::SPS => {
                    let s = h264::parse_sps(unit)?;
                    if !self.resolutions.contains(&(s.width, s.height)) {
                        self.resolutions.push((s.width, s.height));
                    }
                    if self.first_sps.is_none() {
                        self.first_sps = Some(s);
                    }
                    self.sps.insert(s.id, s);
                }
                h264::nal::PPS => {
                    let p = h264::parse_pps(unit)?;
                    self.pps.insert(p.id, p);
                }
                h264::nal::SLICE | h264::nal::IDR => {
                    let (sps, pps) = (&self.sps, &self.pps);
                    let sh = h264::parse_slice_header(unit, |id| {
                        pps.get(&id).and_then(|p| sps.get(&p.sps_id))
                    })?;
                    if sh.first_mb != 0 {
                        continue;
                    }
                    let index = self.frames + self.fields / 2;
                    if index >= MAX_FRAMES {
                        return Err(BitstreamError::Invalid("too many pictures"));
                    }
                    if t == h264::nal::IDR && self.key_frames.last() != Some(&index) {
                        self.key_frames.push(index);
                    }
                    if sh.field_pic {
                        self.fields += 1;
                    } else {
                        self.frames += 1;
                    }
                    if let Some(raw) = pts.take() {
                        let v = unwrap_pts(self.last_pts, raw);
                        self.last_pts = Some(v);
                        self.pts.push(v);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn finish(mut self, container: Container) -> Result<StreamInfo, BitstreamError> {
        let sps = self.first_sps.ok_or(BitstreamError::Invalid("no SPS"))?;
        let frames = self.frames + self.fields / 2;
        if frames == 0 {
            return Err(BitstreamError::Invalid("no pictures"));
        }
        self.pts.sort_unstable();
        let vui_rate = sps.timing.and_then(|(units, scale)| {
            // One frame is two ticks of the VUI clock.
            Framerate::new(scale, units.checked_mul(2)?).ok()
        });
        let (frame_rate, duration) = timing_from_pts(&self.pts, frames, vui_rate);
        Ok(StreamInfo {
            container,
            codec: VideoCodec::H264,
            width: sps.width,
            height: sps.height,
            resolutions: self.resolutions,
            h264: Some(H264Params {
                profile_idc: sps.profile_idc,
                constraint_flags: sps.constraint_flags,
                level_idc: sps.level_idc,
            }),
            frames,
            key_frames: self.key_frames,
            pts: self.pts,
            frame_rate,
            sample_aspect: sps.sample_aspect,
            duration,
            video_bytes: self.video_bytes,
        })
    }
}

/// Frame rate and duration from sorted timestamps, falling back to a declared rate.
pub(crate) fn timing_from_pts(
    pts: &[i64],
    frames: u32,
    declared: Option<Framerate>,
) -> (Option<Framerate>, Option<Duration>) {
    let mut deltas: Vec<i64> = pts.windows(2).map(|w| w[1].saturating_sub(w[0])).collect();
    deltas.sort_unstable();
    let median = deltas.get(deltas.len() / 2).copied().filter(|&d| d > 0);
    match (median, pts.first(), pts.last()) {
        (Some(d), Some(first), Some(last)) => {
            // The shared definition of a stream's rate, as the transcoders measure it.
            let rate = Framerate::from_timestamps(pts, livepeer_core::rung::TIMESCALE);
            let span = i128::from(*last) - i128::from(*first) + i128::from(d);
            let nanos = u64::try_from(span.max(0) * 1_000_000_000 / 90_000).unwrap_or(u64::MAX);
            (rate.or(declared), Some(Duration::from_nanos(nanos)))
        }
        _ => {
            let duration = declared.map(|r| {
                let n = u128::from(frames) * u128::from(r.den) * 1_000_000_000 / u128::from(r.num);
                Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
            });
            (declared, duration)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pts_unwrap_across_33_bits() {
        let near_end = (1u64 << 33) - 1000;
        let a = unwrap_pts(None, near_end);
        let b = unwrap_pts(Some(a), 2000);
        assert_eq!(b - a, 3000);
        assert_eq!(unwrap_pts(Some(b), near_end), a);
    }

    #[test]
    fn timing_prefers_timestamps() {
        let pts: Vec<i64> = (0..60).map(|i| 1000 + i * 3000).collect();
        let (rate, dur) = timing_from_pts(&pts, 60, None);
        assert_eq!(rate.map(|r| r.as_f64()), Some(30.0));
        assert_eq!(dur, Some(Duration::from_secs(2)));
        let (rate, dur) = timing_from_pts(&[], 50, Framerate::new(25, 1).ok());
        assert_eq!(rate.map(|r| r.as_f64()), Some(25.0));
        assert_eq!(dur, Some(Duration::from_secs(2)));
    }

    #[test]
    fn profiles_satisfy_what_they_contain() {
        let cb = H264Params {
            profile_idc: 66,
            constraint_flags: 0xc0,
            level_idc: 30,
        };
        assert_eq!(cb.profile(), Some(H264Profile::ConstrainedBaseline));
        assert!(cb.satisfies(H264Profile::Baseline));
        assert!(!cb.satisfies(H264Profile::High));
        let high = H264Params {
            profile_idc: 100,
            constraint_flags: 0,
            level_idc: 30,
        };
        assert!(!high.satisfies(H264Profile::ConstrainedBaseline));
    }
}
