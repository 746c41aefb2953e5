//! The bitstream inspector of livepeer-verify under every container (MPEG-TS, Annex-B, IVF),
//! the elementary-stream extractor, and the evidence manifest parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    livepeer_verify::fuzz_entry::parse_bitstream(data);
});
