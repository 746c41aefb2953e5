//! livepeer-interop: OrchestratorInfo, PaymentResult and OrchestratorRequest, and ticket params
//! mapped both ways.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    livepeer_interop::fuzz_entry::orchestrator_info(data);
});
