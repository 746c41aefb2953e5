//! Integration tests of livepeer-contracts, built as one binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod conformance;
mod embedded;
mod pm_queue;
