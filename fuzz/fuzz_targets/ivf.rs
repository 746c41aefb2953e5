//! IVF of AV1, its OBUs and sequence headers (livepeer-bitstream), and livepeer-verify's
//! inspector over them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepeer_core::Container;

fuzz_target!(|data: &[u8]| {
    livepeer_bitstream::fuzz_entry::ivf(data);
    livepeer_verify::fuzz_entry::inspect(data, Container::Ivf);
});
