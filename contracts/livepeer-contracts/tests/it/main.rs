//! Integration tests of livepeer-contracts, built as one binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod embedded;
