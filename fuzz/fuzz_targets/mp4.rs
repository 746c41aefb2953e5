//! MP4 and fragmented MP4 video tracks: boxes, sample tables, movie fragments and `avcC`
//! (livepeer-bitstream), and livepeer-verify's inspector over them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepeer_core::Container;

fuzz_target!(|data: &[u8]| {
    livepeer_bitstream::fuzz_entry::mp4(data);
    livepeer_verify::fuzz_entry::inspect(data, Container::Mp4);
    livepeer_verify::fuzz_entry::inspect(data, Container::Fmp4);
});
