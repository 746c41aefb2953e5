//! The library behind the livepeer-rs binaries (`devnet`, `broadcaster`, `orchestrator`,
//! `transcoder`, `verifier`): how the SDK's crates compose into running nodes. The binaries
//! are thin command-line layers over it, and tests drive it directly.

pub mod broadcast;
pub mod cheat;
pub mod cli;
pub mod devnet;
pub mod judge;
pub mod keys;
pub mod node;
pub mod rpc;
pub mod summary;
