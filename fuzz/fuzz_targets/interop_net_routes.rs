//! livepeer-interop-net: the orchestrator's `/segment` and `/payment` checks on outside
//! headers and bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    livepeer_interop_net::fuzz_entry::routes(data);
});
