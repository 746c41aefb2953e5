//! Integration tests of livepeer-negotiate, built as one binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod abuse;
mod corpus;
mod harness;
mod netsim;
mod network;
mod sim;
