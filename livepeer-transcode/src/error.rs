//! Error helpers. Every fallible call in this crate returns core's [`TranscodeError`], whose
//! variants are already grouped by fault (bad input, incompatible job, backend failure).

pub use livepeer_core::transcode::TranscodeError;

/// Shorthand for results in this crate.
pub type Result<T, E = TranscodeError> = std::result::Result<T, E>;

/// Bad input: truncated, garbage, or over a bound.
#[cold]
pub(crate) fn invalid(msg: impl Into<String>) -> TranscodeError {
    TranscodeError::InvalidInput(msg.into())
}

/// A codec or device failure.
#[cold]
pub(crate) fn backend(msg: impl std::fmt::Display) -> TranscodeError {
    TranscodeError::Backend(msg.to_string())
}

/// The job asks for something this backend does not do.
#[cold]
pub(crate) fn unsupported(msg: impl Into<String>) -> TranscodeError {
    TranscodeError::Unsupported(msg.into())
}
