//! The negotiation codec: frame decoding with per-type bounds, every message type, and the
//! stream reader that assembles heads and bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    livepeer_negotiate::fuzz_entry::decode_all(data);
});
