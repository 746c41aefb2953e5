//! Integration tests of livepeer-pm, built as one binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fuzz_corpus;
mod queue;
mod recipient;
mod sender;
mod sim;
mod stats;
mod vectors;
