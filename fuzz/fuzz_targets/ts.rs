//! MPEG-TS: packets, PAT/PMT, PES and timestamps (livepeer-bitstream), and
//! livepeer-verify's inspector over them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepeer_core::Container;

fuzz_target!(|data: &[u8]| {
    livepeer_bitstream::fuzz_entry::ts(data);
    livepeer_verify::fuzz_entry::inspect(data, Container::MpegTs);
});
