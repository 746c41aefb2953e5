//! Integration tests: Rust clients against Rust servers over real sockets, bad input, and
//! Livepeer's Python SDK against our servers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod corpus;
mod discovery;
mod payment;
mod python;
mod segment;
mod signer;
mod signer_policy;
mod util;
