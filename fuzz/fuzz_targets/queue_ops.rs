//! The redemption queue under arbitrary operation sequences: segments paid, sessions,
//! crashes at any step, store failures, lost and failed sends, gas spikes and blocks, for one
//! broadcaster and three orchestrators. See `livepeer_pm::test_utils::sim::fuzz_queue_ops`:
//! it panics if an acknowledged winner is lost, paid twice, or anything else is paid.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    livepeer_pm::test_utils::sim::fuzz_queue_ops(data);
});
