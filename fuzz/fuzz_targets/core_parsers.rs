//! Every parser of outside input in livepeer-core: addresses, numbers, signatures, frame
//! rates, bitrates, presets, ladders (names, JSON, TOML), service ids, regions, receipts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    livepeer_core::fuzz_entry::parse_all(data);
});
