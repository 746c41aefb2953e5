//! The software backend: OpenH264 or libavcodec decode, per-plane scaling, OpenH264 and
//! rav1e encode.

use async_trait::async_trait;
use livepeer_core::transcode::{Capabilities, TranscodeJob, TranscodeOutput, Transcoder};

use crate::decode::{H264Decoder, InputLimits, VideoDecoder};
use crate::encode::{Av1Settings, software_encoder};
use crate::engine::{Backend, Engine};
use crate::error::Result;
#[cfg(not(feature = "libav"))]
use crate::error::unsupported;
use crate::pipeline::StageTimes;

/// Which decoder makes the pictures of a progressive H.264 source. Both give the same
/// pictures for sources without B slices (tested on the conformance media); on B slices
/// OpenH264's deblocking deviates slightly from the standard, which libavcodec follows, so
/// a verifier re-encoding such a source must try both before it calls a mismatch a fault
/// ([`crate::inspect::pictures_depend_on_decoder`]). Interlaced sources are decoded by
/// libavcodec and deinterlaced whatever this says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum H264Decoding {
    /// OpenH264, always built: about 100 fps at 1080p on one core.
    OpenH264,
    /// libavcodec (feature `libav`) on `threads` frame threads (0: one per core): about four
    /// times OpenH264's speed on one thread.
    Libavcodec {
        /// Frame threads.
        threads: usize,
    },
}

impl Default for H264Decoding {
    /// libavcodec on one thread where the crate is built with `libav` (the pipeline's
    /// scale-and-encode workers keep the other cores busy), OpenH264 otherwise.
    fn default() -> Self {
        if cfg!(feature = "libav") {
            H264Decoding::Libavcodec { threads: 1 }
        } else {
            H264Decoding::OpenH264
        }
    }
}

impl H264Decoding {
    /// Every decoding an honest software transcoder of this build may use.
    pub fn available() -> Vec<H264Decoding> {
        let mut v = vec![H264Decoding::OpenH264];
        if cfg!(feature = "libav") {
            v.push(H264Decoding::Libavcodec { threads: 1 });
        }
        v
    }

    /// The other decoding available in this build, if any: what a verifier re-encodes with
    /// when its first re-encode of a source with B slices does not match.
    pub fn alternate(self) -> Option<H264Decoding> {
        Self::available()
            .into_iter()
            .find(|d| std::mem::discriminant(d) != std::mem::discriminant(&self))
    }

    /// Its name in [`Capabilities::backend`].
    fn name(self) -> &'static str {
        match self {
            H264Decoding::OpenH264 => "openh264",
            H264Decoding::Libavcodec { .. } => "libavcodec+openh264",
        }
    }

    pub(crate) fn factory(self) -> Result<Box<crate::engine::DecoderFactory>> {
        match self {
            H264Decoding::OpenH264 => Ok(Box::new(
                |limits: InputLimits| -> Result<Box<dyn VideoDecoder>> {
                    Ok(Box::new(H264Decoder::new(limits)?))
                },
            )),
            #[cfg(feature = "libav")]
            H264Decoding::Libavcodec { threads } => Ok(Box::new(
                move |limits: InputLimits| -> Result<Box<dyn VideoDecoder>> {
                    Ok(Box::new(crate::libav::LibavDecoder::h264(limits, threads)?))
                },
            )),
            #[cfg(not(feature = "libav"))]
            H264Decoding::Libavcodec { .. } => Err(unsupported(
                "decoding with libavcodec needs the `libav` feature (FFmpeg's libavcodec)",
            )),
        }
    }
}

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
    /// The decoder of progressive H.264 sources.
    pub decoder: H264Decoding,
}

impl Default for SoftwareConfig {
    /// One segment at a time with two workers (the fastest layout on two cores), four jobs
    /// queued, 256 streams kept, AV1 at speed 10, the default [`H264Decoding`].
    fn default() -> Self {
        SoftwareConfig {
            parallel_segments: 1,
            workers_per_segment: 2,
            queue_depth: 4,
            max_streams: 256,
            av1: Av1Settings::default(),
            limits: InputLimits::default(),
            enable_av1: true,
            decoder: H264Decoding::default(),
        }
    }
}

/// The software [`Transcoder`]: decode once (OpenH264 or libavcodec, see
/// [`H264Decoding`]), scale each plane, encode every rendition with OpenH264 (H.264) or
/// rav1e (AV1).
///
/// Work runs on a pool of its own threads: `parallel_segments` runners, each decoding its
/// segment and handing pictures to `workers_per_segment` scale-and-encode threads. Per
/// stream it keeps one encoder per rendition between segments, reset at each segment start
/// so output is a function of the segment alone, and the end time of the last segment to
/// log gaps. Output timestamps are the source's, so independently transcoded segments join
/// into one HLS stream. H.264 output is bit-identical across runs, thread layouts and
/// machines for the same input, profile, decoding and crate version.
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
            name: config.decoder.name().into(),
            hardware: false,
            deterministic: true,
            decoder: config.decoder.factory()?,
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
