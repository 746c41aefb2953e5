//! livepeer-interop-net: the remote signer's `generate-live-payment` requests, state blobs
//! and orchestrator infos, through the payment logic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    livepeer_interop_net::fuzz_entry::remote_signer(data);
});
