//! Integration tests of livepeer-contracts-lp on anvil, against Livepeer's production
//! bytecode, built as one binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod harness;
mod network;
mod payments;
mod pm_e2e;
