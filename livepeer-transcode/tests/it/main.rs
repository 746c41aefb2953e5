//! Integration tests, built as one binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod conformance;
mod containers;
#[cfg(feature = "libav")]
mod decoders;
mod determinism;
mod fuzz_corpus;
#[cfg(feature = "hw")]
mod hw;
mod media_cache;
mod parallel;
mod roundtrip;
mod segmenter;

use std::sync::{Arc, OnceLock};

use livepeer_transcode::{SoftwareConfig, SoftwareTranscoder};

/// One software transcoder shared by the tests (its self-test runs once).
pub fn software() -> Arc<SoftwareTranscoder> {
    static T: OnceLock<Arc<SoftwareTranscoder>> = OnceLock::new();
    T.get_or_init(|| {
        Arc::new(SoftwareTranscoder::new(SoftwareConfig::default()).expect("self-test"))
    })
    .clone()
}

/// Skips (returns true, with a message) where ffmpeg is missing.
pub fn no_ffmpeg() -> bool {
    let missing = !livepeer_transcode::conformance::ffmpeg_available();
    if missing {
        eprintln!("SKIPPED: ffmpeg/ffprobe not installed (apt-get install ffmpeg)");
    }
    missing
}
