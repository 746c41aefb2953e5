//! Integration tests of livepeer-bitstream, built as one binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod corpus;
mod props;
