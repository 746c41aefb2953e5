//! The software backend: OpenH264 decode, per-plane scaling, OpenH264 and rav1e encode.

use async_trait::async_trait;
use livepeer_core::transcode::{Capabilities, TranscodeJob, TranscodeOutput, Transcoder};

use crate::decode::{H264Decoder, InputLimits, VideoDecoder};
use crate::encode::{Av1Settings, software_encoder};
use crate::engine::{Backend, Engine};
use crate::error::Result;
use crate::pipeline::StageTimes;

/// How the software backend uses threads and memory.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SoftwareConfig {
    /// Segments transcoded at once, each on a runner thread of the pool.
    pub parallel_segments: usize,
    /// Scale-and-encode threads per segment (renditions are grouped by pixel rate); 0 runs
    /// everything on the runner thread. The output does not depend on it.
    pub workers_per_segment: usize,
    /// Jobs that may wait for a runner; past that, `transcode` answers `Busy`.
    pub queue_depth: usize,
    /// Streams whose encoders are kept between segments (least recently used go first).
    pub max_streams: usize,
    /// AV1 encoder settings.
    pub av1: Av1Settings,
    /// Bounds on input pictures.
    pub limits: InputLimits,
    /// Whether to offer AV1 at all.
    pub enable_av1: bool,
}

impl Default for SoftwareConfig {
    /// One segment at a time with two workers (the fastest layout on two cores), four jobs
    /// queued, 256 streams kept, AV1 at speed 10.
    fn default() -> Self {
        SoftwareConfig {
            parallel_segments: 1,
            workers_per_segment: 2,
            queue_depth: 4,
            max_streams: 256,
            av1: Av1Settings::default(),
            limits: InputLimits::default(),
            enable_av1: true,
        }
    }
}

/// The software [`Transcoder`]: decode once with OpenH264, scale each plane, encode every
/// rendition with OpenH264 (H.264) or rav1e (AV1).
///
/// Work runs on a pool of its own threads: `parallel_segments` runners, each decoding its
/// segment and handing pictures to `workers_per_segment` scale-and-encode threads. Per
/// stream it keeps one encoder per rendition between segments, reset at each segment start
/// so output is a function of the segment alone, and the end time of the last segment to
/// log gaps. Output timestamps are the source's, so independently transcoded segments join
/// into one HLS stream. H.264 output is bit-identical across runs, thread layouts and
/// machines for the same input, profile and crate version.
#[derive(Debug)]
pub struct SoftwareTranscoder {
    engine: Engine,
}

impl SoftwareTranscoder {
    /// Starts the pool and runs the self-test (a synthetic segment through a two-rung H.264
    /// ladder, and a small AV1 rung when enabled): fails if it fails, and measures
    /// [`Capabilities::pixels_per_second`].
    pub fn new(config: SoftwareConfig) -> Result<Self> {
        let av1 = config.av1;
        let backend = Backend {
            name: "openh264".into(),
            hardware: false,
            deterministic: true,
            decoder: Box::new(|limits: InputLimits| -> Result<Box<dyn VideoDecoder>> {
                Ok(Box::new(H264Decoder::new(limits)?))
            }),
            encoder: Box::new(move |p, fps| software_encoder(p, fps, &av1)),
        };
        Ok(SoftwareTranscoder {
            engine: Engine::new(config, backend)?,
        })
    }

    /// Transcodes on the calling thread (plus the segment's workers), bypassing the queue.
    pub fn transcode_blocking(&self, job: TranscodeJob) -> Result<TranscodeOutput> {
        self.transcode_with_stats(job).map(|(o, _)| o)
    }

    /// As [`transcode_blocking`](Self::transcode_blocking), with the time spent per stage.
    pub fn transcode_with_stats(&self, job: TranscodeJob) -> Result<(TranscodeOutput, StageTimes)> {
        self.engine.transcode_with_stats(job)
    }

    /// The configuration.
    pub fn config(&self) -> &SoftwareConfig {
        self.engine.config()
    }
}

#[async_trait]
impl Transcoder for SoftwareTranscoder {
    fn capabilities(&self) -> Capabilities {
        self.engine.capabilities()
    }

    async fn transcode(&self, job: TranscodeJob) -> Result<TranscodeOutput> {
        self.engine.transcode(job).await
    }
}
