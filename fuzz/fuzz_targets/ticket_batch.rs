//! Decodes and validates ticket batches: raw encodings (first byte 0), or ticket lists under
//! valid params (any other first byte). See `livepeer_pm::test_utils::fuzz_ticket_batch`,
//! which also checks the invariants of what was accepted and credited.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = livepeer_pm::test_utils::fuzz_ticket_batch(data);
});
