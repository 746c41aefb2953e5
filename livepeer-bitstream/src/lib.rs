#![doc = include_str!("../README.md")]
//!
//! ## What this crate deliberately does not do
//!
//! No decoding of pictures, no I/O, no threads, no clock: pure functions over byte slices.
//! It reads headers only as far as the transcoders and the verifier need them (sizes,
//! profiles, timing, key frames, where access units start) and writes only IVF.
#![forbid(unsafe_code)]

pub mod av1;
pub mod bits;
#[doc(hidden)]
pub mod fuzz_entry;
pub mod h264;
pub mod ivf;
pub mod mp4;
pub mod ts;

use livepeer_core::Fault;
use livepeer_core::transcode::TranscodeError;
use thiserror::Error;

/// Largest number of pictures accepted in one segment (5 minutes at 240 fps).
pub const MAX_FRAMES: u32 = 72_000;

/// Why a bitstream does not parse.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BitstreamError {
    /// The data ends inside a structure.
    #[error("truncated bitstream: {0}")]
    Truncated(&'static str),
    /// A structure breaks the syntax or a bound.
    #[error("invalid bitstream: {0}")]
    Invalid(&'static str),
    /// No video stream was found.
    #[error("no video stream")]
    NoVideo,
    /// A slice refers to a parameter set that was never sent.
    #[error("a slice refers to a missing parameter set")]
    MissingParameterSet,
    /// The container or codec is not one this crate reads.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl BitstreamError {
    /// Who is at fault: whoever sent the bytes, except for a well-formed stream of a kind
    /// this crate does not read.
    pub fn fault(&self) -> Fault {
        match self {
            BitstreamError::Unsupported(_) => Fault::Incompatible,
            _ => Fault::Peer,
        }
    }

    /// Whether the bytes are well formed but of a kind this crate does not read.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, BitstreamError::Unsupported(_))
    }
}

impl From<BitstreamError> for TranscodeError {
    #[cold]
    fn from(e: BitstreamError) -> Self {
        match e {
            BitstreamError::Unsupported(m) => TranscodeError::Unsupported(m),
            other => TranscodeError::InvalidInput(other.to_string()),
        }
    }
}
