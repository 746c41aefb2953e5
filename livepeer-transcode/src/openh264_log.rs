//! OpenH264's messages through `tracing` instead of standard error.
//!
//! OpenH264 prints its log lines to standard error unless it is given a callback, and an
//! encoder checks its parameters while it is initialised, before the `openh264` crate applies
//! the configured trace level: every encoder start printed a warning about frame skipping
//! (off on purpose, see [`H264Encoder`](crate::H264Encoder)). [`route`] gives an encoder, before
//! its initialisation, a callback that turns each message into a `tracing` event with target
//! `openh264`, and sets OpenH264's own level from what `tracing` would record so unwanted
//! messages are not even formatted. Neither option changes the bitstream.
#![allow(unsafe_code)] // two `SetOption` calls, and reading the C string the callback receives.

use std::ffi::{CStr, c_char, c_int, c_void};

use openh264::encoder::Encoder;
use openh264_sys2::{
    ENCODER_OPTION_TRACE_CALLBACK, ENCODER_OPTION_TRACE_LEVEL, WELS_LOG_DEBUG, WELS_LOG_DETAIL,
    WELS_LOG_ERROR, WELS_LOG_INFO, WELS_LOG_QUIET, WELS_LOG_WARNING, WelsTraceCallback,
};
use tracing::Level;
use tracing::level_filters::LevelFilter;

/// The `tracing` target of OpenH264's messages (`RUST_LOG=openh264=debug` shows them).
pub(crate) const TARGET: &str = "openh264";

/// Sends `encoder`'s messages to `tracing` from now on, at OpenH264's level matching what
/// `tracing` currently records. Call it before the first frame (OpenH264 reports its parameter
/// checks at initialisation) and again after it: the `openh264` crate resets the level to its
/// configured one (quiet) once it has initialised the encoder. Failures are ignored: at worst
/// the messages stay where OpenH264 puts them.
pub(crate) fn route(encoder: &mut Encoder) {
    let mut callback: WelsTraceCallback = Some(forward);
    let mut level: c_int = wels_level(LevelFilter::current());
    // SAFETY: the encoder was created by `Encoder::with_api_config`, so its interface pointer
    // is valid. OpenH264 accepts these two options before initialisation and copies the value
    // each pointer points to (a function pointer, an int) during the call. `forward` stays
    // valid for the whole program and only reads the string it is given.
    unsafe {
        let api = encoder.raw_api();
        api.set_option(
            ENCODER_OPTION_TRACE_CALLBACK,
            (&raw mut callback).cast::<c_void>(),
        );
        api.set_option(
            ENCODER_OPTION_TRACE_LEVEL,
            (&raw mut level).cast::<c_void>(),
        );
    }
}

/// OpenH264's level that produces every message `tracing` would record at `filter` (see
/// [`classify`] for the mapping).
fn wels_level(filter: LevelFilter) -> c_int {
    if filter >= LevelFilter::TRACE {
        WELS_LOG_DETAIL
    } else if filter >= LevelFilter::DEBUG {
        WELS_LOG_INFO
    } else if filter >= LevelFilter::WARN {
        WELS_LOG_WARNING
    } else if filter >= LevelFilter::ERROR {
        WELS_LOG_ERROR
    } else {
        WELS_LOG_QUIET
    }
}

/// The `tracing` level of an OpenH264 message and its text without OpenH264's prefix
/// (`[OpenH264] this = 0x…, Warning:`, which names the instance and repeats the level).
///
/// Errors and warnings keep their level, information becomes debug and OpenH264's own
/// debug and detail become trace. One warning is expected and so reported at debug: frame
/// skipping is off on purpose (skipped frames would make the output depend on timing) and
/// OpenH264 says so at every start.
fn classify(level: c_int, text: &str) -> (Level, &str) {
    let text = text
        .strip_prefix("[OpenH264] this = ")
        .and_then(|rest| rest.split_once(", "))
        .and_then(|(_, rest)| rest.split_once(':'))
        .map_or(text, |(_, message)| message)
        .trim();
    let level = match level {
        WELS_LOG_ERROR => Level::ERROR,
        WELS_LOG_WARNING if text.starts_with("bEnableFrameSkip = 0") => Level::DEBUG,
        WELS_LOG_WARNING => Level::WARN,
        WELS_LOG_INFO => Level::DEBUG,
        WELS_LOG_DEBUG | WELS_LOG_DETAIL => Level::TRACE,
        _ => Level::TRACE,
    };
    (level, text)
}

/// OpenH264's trace callback: one formatted message, on the thread that called into the
/// encoder (so the caller's spans apply).
unsafe extern "C" fn forward(_ctx: *mut c_void, level: c_int, message: *const c_char) {
    if message.is_null() {
        return;
    }
    // SAFETY: OpenH264 passes a NUL-terminated buffer that lives for the duration of the call.
    let message = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    // A panicking subscriber must not unwind into C.
    let _ = std::panic::catch_unwind(|| {
        let (level, text) = classify(level, &message);
        match level {
            Level::ERROR => tracing::error!(target: TARGET, "{text}"),
            Level::WARN => tracing::warn!(target: TARGET, "{text}"),
            Level::INFO => tracing::info!(target: TARGET, "{text}"),
            Level::DEBUG => tracing::debug!(target: TARGET, "{text}"),
            _ => tracing::trace!(target: TARGET, "{text}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_their_level_but_the_expected_warning_is_debug() {
        let skip = "[OpenH264] this = 0x0x7f9b986da580, Warning:bEnableFrameSkip = 0,bitrate \
                    can't be controlled for RC_QUALITY_MODE,RC_BITRATE_MODE and RC_TIMESTAMP_MODE \
                    without enabling skip frame.";
        let (level, text) = classify(WELS_LOG_WARNING, skip);
        assert_eq!(level, Level::DEBUG);
        assert!(text.starts_with("bEnableFrameSkip = 0,bitrate"), "{text}");
        let other = "[OpenH264] this = 0x0x1, Warning:level_idc changed to 31";
        assert_eq!(
            classify(WELS_LOG_WARNING, other),
            (Level::WARN, "level_idc changed to 31")
        );
        let error = "[OpenH264] this = 0x0x1, Error:ParamValidationExt(), invalid";
        assert_eq!(
            classify(WELS_LOG_ERROR, error),
            (Level::ERROR, "ParamValidationExt(), invalid")
        );
        assert_eq!(classify(WELS_LOG_INFO, "no prefix").0, Level::DEBUG);
        assert_eq!(classify(WELS_LOG_DETAIL, "x"), (Level::TRACE, "x"));
    }

    #[test]
    fn openh264_formats_only_what_tracing_records() {
        assert_eq!(wels_level(LevelFilter::OFF), WELS_LOG_QUIET);
        assert_eq!(wels_level(LevelFilter::ERROR), WELS_LOG_ERROR);
        assert_eq!(wels_level(LevelFilter::WARN), WELS_LOG_WARNING);
        assert_eq!(wels_level(LevelFilter::INFO), WELS_LOG_WARNING);
        assert_eq!(wels_level(LevelFilter::DEBUG), WELS_LOG_INFO);
        assert_eq!(wels_level(LevelFilter::TRACE), WELS_LOG_DETAIL);
    }
}
