//! Faults as an operator meets them, on the real binaries and a real JSON-RPC node (anvil):
//! orchestrators killed with SIGKILL mid-stream, the chain RPC refusing connections (a TCP
//! proxy in front of anvil, closed and reopened), a state directory whose disk fills up and
//! is freed, and a killed broadcaster resuming. Checked: no segment lost while a healthy
//! orchestrator exists, nodes that come back by themselves, a broadcaster whose exit status
//! tells whether segments failed, and winners that are redeemed, none expired unredeemed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    missing_docs
)]

#[path = "../common/mod.rs"]
mod common;

mod chain;
mod disk;
mod hosts;
mod kill;
mod net;
