//! livepeer-interop: a /segment response body: TranscodeResult, its error name, signature check
//! and refreshed info.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    livepeer_interop::fuzz_entry::transcode_result(data);
});
