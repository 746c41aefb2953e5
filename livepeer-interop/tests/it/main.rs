//! Integration tests: the messages against the schema inside Livepeer's Python SDK, byte
//! exchanges with its generated classes, payments through livepeer-pm, and property tests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod corpus;
mod exchange;
mod payment;
mod props;
mod schema;
mod sdk;
