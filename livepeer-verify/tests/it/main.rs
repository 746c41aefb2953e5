//! Integration tests of livepeer-verify, built as one binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)]

mod checks;
mod corpus;
mod corpus_tamper;
#[cfg(feature = "libav")]
mod decoders;
mod flow;
mod honest_matrix;
mod media;
mod metrics;
mod net;
mod openh264;
mod reencode;
