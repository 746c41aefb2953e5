//! Transcoding as a seam: the segment-level [`Transcoder`] trait, jobs, renditions and
//! capabilities. Backends live in `livepeer-transcode`; negotiation calls this trait without
//! building any codec.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::crypto::keccak256;
use crate::error::Fault;
use crate::media::{Container, Segment, StreamId, VideoCodec};
use crate::primitives::{H256, Pixels};
use crate::profile::{Ladder, VideoProfile};

/// One segment to transcode to a ladder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranscodeJob {
    /// The stream the segment belongs to (backends keep per-stream state such as timestamps).
    pub stream_id: StreamId,
    /// The input segment.
    pub segment: Segment,
    /// The renditions wanted.
    pub ladder: Ladder,
}

/// One transcoded rendition of a segment.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendition {
    /// The profile it was made for.
    pub profile: VideoProfile,
    /// The container bytes.
    pub data: Bytes,
    /// Frames in it.
    pub frames: u32,
    /// Pixels in it (width × height × frames): what the work is priced by.
    pub pixels: Pixels,
    /// Media duration.
    pub duration: Duration,
}

impl Rendition {
    /// keccak256 of the bytes, as receipts sign it.
    pub fn keccak(&self) -> H256 {
        H256::from(keccak256(&self.data))
    }

    /// blake3 of the bytes, for fast local equality (re-encode comparison, caches).
    pub fn blake3(&self) -> [u8; 32] {
        *blake3::hash(&self.data).as_bytes()
    }
}

impl fmt::Debug for Rendition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendition")
            .field("profile", &self.profile.name)
            .field("bytes", &self.data.len())
            .field("frames", &self.frames)
            .field("pixels", &self.pixels)
            .field("duration", &self.duration)
            .finish()
    }
}

/// The result of a job: one rendition per profile, in ladder order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscodeOutput {
    /// The renditions.
    pub renditions: Vec<Rendition>,
    /// Frames decoded from the input.
    pub source_frames: u32,
}

impl TranscodeOutput {
    /// Total pixels over all renditions.
    pub fn total_pixels(&self) -> Pixels {
        self.renditions
            .iter()
            .fold(Pixels::ZERO, |acc, r| acc.saturating_add(r.pixels))
    }
}

/// What a transcoder can do, as measured by its startup self-test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Backend name, e.g. `openh264+rav1e` or `nvdec+openh264`.
    pub backend: String,
    /// Input codecs it decodes.
    pub decoders: Vec<VideoCodec>,
    /// Output codecs it encodes.
    pub encoders: Vec<VideoCodec>,
    /// Input containers it reads.
    pub containers: Vec<Container>,
    /// Largest output width.
    pub max_width: u32,
    /// Largest output height.
    pub max_height: u32,
    /// Output pixels per second it sustains, measured.
    pub pixels_per_second: u64,
    /// Whether it runs on dedicated hardware.
    pub hardware: bool,
    /// Whether its H.264 output is bit-identical for the same input, profile and version.
    pub deterministic: bool,
}

impl Capabilities {
    /// Checks this transcoder can run `job`; the error says what it lacks.
    pub fn check(&self, job: &TranscodeJob) -> Result<(), TranscodeError> {
        if !self.decoders.contains(&job.segment.codec) {
            return Err(TranscodeError::Unsupported(format!(
                "decoding {}",
                job.segment.codec
            )));
        }
        if !self.containers.contains(&job.segment.container) {
            return Err(TranscodeError::Unsupported(format!(
                "reading {}",
                job.segment.container
            )));
        }
        for p in job.ladder.profiles() {
            if !self.encoders.contains(&p.codec) {
                return Err(TranscodeError::Unsupported(format!("encoding {}", p.codec)));
            }
            if p.width > self.max_width || p.height > self.max_height {
                return Err(TranscodeError::Unsupported(format!(
                    "{}x{} output",
                    p.width, p.height
                )));
            }
        }
        Ok(())
    }
}

/// Why a transcode failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TranscodeError {
    /// The segment's codec or container is not the job's.
    #[error("SegmentFormatDidntMatchJobInputParams: {0}")]
    SegmentFormatDidntMatchJobInputParams(String),
    /// The input is truncated, garbage, or breaks a bound.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The segment has no key frame to start decoding from.
    #[error("no keyframe in segment")]
    NoKeyframe,
    /// The input's resolution is absurd, odd, or beyond what the backend decodes.
    #[error("unsupported input resolution {width}x{height}")]
    BadResolution {
        /// Input width.
        width: u32,
        /// Input height.
        height: u32,
    },
    /// The job asks for something this backend cannot do.
    #[error("unsupported by this transcoder: {0}")]
    Unsupported(String),
    /// No capacity right now; retry elsewhere.
    #[error("transcoder busy")]
    Busy,
    /// The codec or the device failed.
    #[error("transcoder backend: {0}")]
    Backend(String),
}

impl TranscodeError {
    /// Who is at fault (from the transcoder's point of view: bad input is the sender's).
    pub fn fault(&self) -> Fault {
        match self {
            TranscodeError::SegmentFormatDidntMatchJobInputParams(_)
            | TranscodeError::InvalidInput(_)
            | TranscodeError::NoKeyframe
            | TranscodeError::BadResolution { .. } => Fault::Peer,
            TranscodeError::Unsupported(_) => Fault::Incompatible,
            TranscodeError::Busy | TranscodeError::Backend(_) => Fault::Backend,
        }
    }

    /// Whether the input itself is at fault, so another transcoder would fail too.
    pub fn is_input_error(&self) -> bool {
        self.fault() == Fault::Peer
    }
}

/// Transcodes one segment to a ladder.
///
/// Contract: the call may take seconds of CPU; implementations do their heavy work off the
/// async executor (worker threads or a device) and may run many calls concurrently. Output
/// renditions come in ladder order. An error in one job never affects other jobs.
#[async_trait]
pub trait Transcoder: Send + Sync {
    /// What this transcoder can do.
    fn capabilities(&self) -> Capabilities;
    /// Transcodes `job`.
    async fn transcode(&self, job: TranscodeJob) -> Result<TranscodeOutput, TranscodeError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_check_names_what_is_missing() {
        let caps = Capabilities {
            backend: "test".into(),
            decoders: vec![VideoCodec::H264],
            encoders: vec![VideoCodec::H264],
            containers: vec![Container::MpegTs],
            max_width: 1280,
            max_height: 720,
            pixels_per_second: 1,
            hardware: false,
            deterministic: true,
        };
        let mut job = TranscodeJob {
            stream_id: StreamId::from_name("s"),
            segment: Segment {
                seq: 0,
                duration: Duration::from_secs(2),
                data: Bytes::from_static(b"x"),
                container: Container::MpegTs,
                codec: VideoCodec::H264,
            },
            ladder: Ladder::parse("720p").unwrap(),
        };
        caps.check(&job).unwrap();
        job.ladder = Ladder::parse("1080p").unwrap();
        assert!(matches!(
            caps.check(&job),
            Err(TranscodeError::Unsupported(_))
        ));
        job.ladder = Ladder::parse(r#"[{"preset":"360p","codec":"av1"}]"#).unwrap();
        assert!(caps.check(&job).is_err());
        assert_eq!(
            TranscodeError::SegmentFormatDidntMatchJobInputParams("hevc".into()).to_string(),
            "SegmentFormatDidntMatchJobInputParams: hevc"
        );
    }
}
