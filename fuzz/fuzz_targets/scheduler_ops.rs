//! The broadcaster's segment scheduler under arbitrary operation sequences: segments,
//! outcomes of every kind, time, candidate changes. See
//! `livepeer_negotiate::fuzz_entry::scheduler_ops`: it panics if a segment is lost, stuck or
//! ended twice, a dispatch goes astray, or a healthy orchestrator's answer is not used.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    livepeer_negotiate::fuzz_entry::scheduler_ops(data);
});
