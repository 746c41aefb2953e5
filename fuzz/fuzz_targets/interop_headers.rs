//! livepeer-interop: the Livepeer-Segment and Livepeer-Payment headers, and payments mapped to
//! ticket batches and back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    livepeer_interop::fuzz_entry::headers(data);
});
