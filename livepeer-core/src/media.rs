//! Media types: containers, codecs, frame rates, segments and stream ids.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::crypto::keccak256;
use crate::error::ParseError;
use crate::primitives::H256;

/// Longest segment accepted anywhere in the system (Livepeer's limit).
pub const MAX_SEGMENT_DURATION: Duration = Duration::from_secs(5 * 60);
/// Largest segment accepted anywhere in the system: 5 minutes at 8 Mb/s.
pub const MAX_SEGMENT_BYTES: usize = 300_000_000;

/// A container format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Container {
    /// MPEG transport stream, as HLS segments use.
    MpegTs,
    /// Progressive MP4.
    Mp4,
    /// Fragmented MP4 (CMAF).
    Fmp4,
    /// IVF, the simple AV1/VP9 container.
    Ivf,
    /// Raw H.264 Annex-B byte stream.
    AnnexB,
}

impl Container {
    /// The canonical lowercase name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Container::MpegTs => "mpegts",
            Container::Mp4 => "mp4",
            Container::Fmp4 => "fmp4",
            Container::Ivf => "ivf",
            Container::AnnexB => "annexb",
        }
    }

    /// The usual file extension.
    pub fn extension(&self) -> &'static str {
        match self {
            Container::MpegTs => "ts",
            Container::Mp4 => "mp4",
            Container::Fmp4 => "m4s",
            Container::Ivf => "ivf",
            Container::AnnexB => "h264",
        }
    }
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Container {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "mpegts" | "ts" | "mpeg-ts" => Container::MpegTs,
            "mp4" => Container::Mp4,
            "fmp4" | "cmaf" | "m4s" => Container::Fmp4,
            "ivf" => Container::Ivf,
            "annexb" | "annex-b" | "h264" | "264" => Container::AnnexB,
            _ => return Err(ParseError::unknown("container", s)),
        })
    }
}

/// A video codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum VideoCodec {
    /// H.264 / AVC.
    H264,
    /// H.265 / HEVC.
    Hevc,
    /// VP8.
    Vp8,
    /// VP9.
    Vp9,
    /// AV1.
    Av1,
}

impl VideoCodec {
    /// The canonical lowercase name.
    pub fn as_str(&self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::Hevc => "hevc",
            VideoCodec::Vp8 => "vp8",
            VideoCodec::Vp9 => "vp9",
            VideoCodec::Av1 => "av1",
        }
    }
}

impl fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VideoCodec {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "h264" | "h.264" | "avc" | "avc1" => VideoCodec::H264,
            "hevc" | "h265" | "h.265" => VideoCodec::Hevc,
            "vp8" => VideoCodec::Vp8,
            "vp9" => VideoCodec::Vp9,
            "av1" | "av01" => VideoCodec::Av1,
            _ => return Err(ParseError::unknown("codec", s)),
        })
    }
}

/// An H.264 profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum H264Profile {
    /// Constrained Baseline (what OpenH264 encodes).
    ConstrainedBaseline,
    /// Baseline.
    Baseline,
    /// Main.
    Main,
    /// High.
    High,
}

impl H264Profile {
    /// The canonical kebab-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            H264Profile::ConstrainedBaseline => "constrained-baseline",
            H264Profile::Baseline => "baseline",
            H264Profile::Main => "main",
            H264Profile::High => "high",
        }
    }

    /// The `profile_idc` of the SPS.
    pub fn profile_idc(&self) -> u8 {
        match self {
            H264Profile::ConstrainedBaseline | H264Profile::Baseline => 66,
            H264Profile::Main => 77,
            H264Profile::High => 100,
        }
    }
}

impl FromStr for H264Profile {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let k: String = s
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        Ok(match k.as_str() {
            "constrainedbaseline" | "h264constrainedbaseline" | "cb" => {
                H264Profile::ConstrainedBaseline
            }
            "baseline" | "h264baseline" => H264Profile::Baseline,
            "main" | "h264main" => H264Profile::Main,
            "high" | "h264high" => H264Profile::High,
            _ => return Err(ParseError::unknown("h264 profile", s)),
        })
    }
}

/// A frame rate as a fraction, e.g. 30000/1001.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Framerate {
    /// Frames per `den` seconds.
    pub num: u32,
    /// Seconds; never zero.
    pub den: u32,
}

impl Framerate {
    /// Highest frame rate accepted.
    pub const MAX_FPS: u32 = 240;

    /// A frame rate of `num/den`; fails for zero, a zero denominator, or above 240 fps.
    pub fn new(num: u32, den: u32) -> Result<Self, ParseError> {
        if num == 0 || den == 0 {
            return Err(ParseError::invalid(
                "frame rate",
                "numerator and denominator must be positive",
            ));
        }
        if u64::from(num) > u64::from(Self::MAX_FPS) * u64::from(den) {
            return Err(ParseError::invalid("frame rate", "above 240 fps"));
        }
        Ok(Framerate { num, den })
    }

    /// Frames per second as a float.
    pub fn as_f64(&self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }

    /// Frames per second rounded up, as Livepeer's fee estimate uses.
    pub fn ceil(&self) -> u32 {
        self.num.div_ceil(self.den)
    }

    /// Number of frames in `d`, rounded up.
    pub fn frames_in(&self, d: Duration) -> u64 {
        let ns = d.as_nanos();
        let frames = (ns * u128::from(self.num)).div_ceil(u128::from(self.den) * 1_000_000_000);
        u64::try_from(frames).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for Framerate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

impl FromStr for Framerate {
    type Err = ParseError;
    /// `30`, `30/1`, `30000/1001` or `29.97`.
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let t = s.trim();
        if let Some((n, d)) = t.split_once('/') {
            let n = n
                .trim()
                .parse::<u32>()
                .map_err(|_| ParseError::number("frame rate", s, "bad numerator"))?;
            let d = d
                .trim()
                .parse::<u32>()
                .map_err(|_| ParseError::number("frame rate", s, "bad denominator"))?;
            return Framerate::new(n, d);
        }
        if let Some((i, f)) = t.split_once('.') {
            if f.is_empty() || f.len() > 3 || !f.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError::number("frame rate", s, "at most 3 decimals"));
            }
            let den = 10u32.pow(f.len() as u32);
            let i = i
                .parse::<u32>()
                .map_err(|_| ParseError::number("frame rate", s, "bad integer part"))?;
            let f = f
                .parse::<u32>()
                .map_err(|_| ParseError::number("frame rate", s, "bad fraction"))?;
            let num = i
                .checked_mul(den)
                .and_then(|v| v.checked_add(f))
                .ok_or_else(|| ParseError::number("frame rate", s, "too large"))?;
            return Framerate::new(num, den);
        }
        let n = t
            .parse::<u32>()
            .map_err(|_| ParseError::number("frame rate", s, "not a number"))?;
        Framerate::new(n, 1)
    }
}

/// Identifies one stream of segments: 32 bytes, the keccak256 of a name or random.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(pub H256);

impl StreamId {
    /// The stream id of a human-readable name (a manifest id).
    pub fn from_name(name: &str) -> Self {
        StreamId(H256::from(keccak256(name.as_bytes())))
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0.as_bytes()))
    }
}

/// One segment of a stream, as a broadcaster sends it to be transcoded.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Sequence number within the stream, from 0.
    pub seq: u64,
    /// Media duration.
    pub duration: Duration,
    /// The container bytes.
    pub data: Bytes,
    /// The container format of `data`.
    pub container: Container,
    /// The video codec inside.
    pub codec: VideoCodec,
}

impl Segment {
    /// Checks the segment against the system-wide bounds.
    pub fn check_bounds(&self) -> Result<(), ParseError> {
        if self.data.is_empty() {
            return Err(ParseError::Empty { what: "segment" });
        }
        if self.data.len() > MAX_SEGMENT_BYTES {
            return Err(ParseError::TooLong {
                what: "segment",
                len: self.data.len(),
                max: MAX_SEGMENT_BYTES,
            });
        }
        if self.duration.is_zero() || self.duration > MAX_SEGMENT_DURATION {
            return Err(ParseError::invalid(
                "segment",
                "duration must be between 0 and 5 minutes",
            ));
        }
        Ok(())
    }

    /// keccak256 of the segment bytes: what receipts and claims sign.
    pub fn keccak(&self) -> H256 {
        H256::from(keccak256(&self.data))
    }
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("seq", &self.seq)
            .field("duration", &self.duration)
            .field("bytes", &self.data.len())
            .field("container", &self.container)
            .field("codec", &self.codec)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framerate_parsing() {
        assert_eq!(
            "30".parse::<Framerate>().unwrap(),
            Framerate { num: 30, den: 1 }
        );
        assert_eq!(
            "30000/1001".parse::<Framerate>().unwrap(),
            Framerate {
                num: 30000,
                den: 1001
            }
        );
        assert_eq!(
            "29.97".parse::<Framerate>().unwrap(),
            Framerate {
                num: 2997,
                den: 100
            }
        );
        for bad in [
            "0",
            "1/0",
            "241",
            "abc",
            "30.",
            "1.2345",
            "-5",
            "99999999999",
        ] {
            assert!(bad.parse::<Framerate>().is_err(), "{bad}");
        }
        let f = Framerate::new(30000, 1001).unwrap();
        assert_eq!(f.ceil(), 30);
        assert_eq!(
            Framerate::new(30, 1)
                .unwrap()
                .frames_in(Duration::from_secs(2)),
            60
        );
    }

    #[test]
    fn names_round_trip() {
        for c in [
            Container::MpegTs,
            Container::Mp4,
            Container::Fmp4,
            Container::Ivf,
            Container::AnnexB,
        ] {
            assert_eq!(c.as_str().parse::<Container>().unwrap(), c);
        }
        for c in [
            VideoCodec::H264,
            VideoCodec::Hevc,
            VideoCodec::Vp8,
            VideoCodec::Vp9,
            VideoCodec::Av1,
        ] {
            assert_eq!(c.as_str().parse::<VideoCodec>().unwrap(), c);
        }
        assert_eq!(
            "H264ConstrainedBaseline".parse::<H264Profile>().unwrap(),
            H264Profile::ConstrainedBaseline
        );
        assert!("mpeg2".parse::<VideoCodec>().is_err());
    }

    #[test]
    fn segment_bounds() {
        let mut s = Segment {
            seq: 0,
            duration: Duration::from_secs(2),
            data: Bytes::from_static(b"x"),
            container: Container::MpegTs,
            codec: VideoCodec::H264,
        };
        assert!(s.check_bounds().is_ok());
        s.duration = Duration::from_secs(301);
        assert!(s.check_bounds().is_err());
        s.duration = Duration::ZERO;
        assert!(s.check_bounds().is_err());
    }
}
