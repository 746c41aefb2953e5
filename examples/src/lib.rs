//! The library behind the livepeer-rs binaries (`devnet`, `broadcaster`, `orchestrator`,
//! `transcoder`, `verifier`): how the SDK's crates compose into running nodes. The binaries
//! are thin command-line layers over it, and tests drive it directly.

pub mod cheat;
pub mod check;
pub mod cli;
pub mod deploy;
pub mod devnet;
#[cfg(feature = "livepeer")]
pub mod devnet_lp;
pub mod funds;
pub mod keys;
pub mod local;
#[cfg(feature = "livepeer")]
pub mod lp;
pub mod operator;
pub mod rpc;
pub mod summary;
