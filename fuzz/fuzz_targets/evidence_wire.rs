//! The evidence protocol's request and answer parsers (livepeer-verify's `net::wire`) and
//! the evidence manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    livepeer_verify::fuzz_entry::evidence_wire(data);
});
