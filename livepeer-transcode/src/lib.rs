#![doc = include_str!("../README.md")]
//!
//! ## What this crate deliberately does not do
//!
//! No networking and no async runtime of its own: [`SoftwareTranscoder`] runs its work on
//! plain threads and hands results to async callers through a one-shot channel. Containers,
//! codecs and the segmenter are sans-IO: bytes in, bytes out.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod adts;
mod container;
pub mod decode;
pub mod encode;
mod engine;
mod error;
pub mod frame;
pub mod hls;
pub mod input;
pub mod inspect;
mod openh264_log;
mod pipeline;
pub mod scale;
pub mod segmenter;
pub mod software;
pub mod testsrc;

#[cfg(feature = "hw")]
pub mod hw;

#[cfg(feature = "libav")]
#[cfg_attr(docsrs, doc(cfg(feature = "libav")))]
pub mod libav;

#[cfg(any(test, feature = "_test_utils"))]
pub mod conformance;

/// Idle encoders kept per stream (twice this, so two segments of a stream can overlap).
pub(crate) const MAX_RENDITIONS_KEPT: usize = livepeer_core::profile::MAX_LADDER_RUNGS;

pub use decode::{H264Decoder, InputLimits, Output, VideoDecoder, software_decoder};
pub use encode::{Av1Encoder, Av1Settings, H264Encoder, VideoEncoder};
pub use error::{Result, TranscodeError};
pub use frame::{Frame, Packet, TIMESCALE};
pub use inspect::{
    SegmentInfo, decode_segment, decode_segment_with, inspect, pictures_depend_on_decoder,
};
#[cfg(feature = "libav")]
pub use libav::LibavDecoder;
pub use livepeer_core::transcode::{
    Capabilities, Rendition, TranscodeJob, TranscodeOutput, Transcoder,
};
pub use pipeline::StageTimes;
pub use scale::Scaler;
pub use segmenter::{Segmenter, SegmenterConfig};
pub use software::{H264Decoding, SoftwareConfig, SoftwareTranscoder};
