//! Integration tests of livepeer-core, built as one binary.

mod corpus;
mod parsers;
mod signatures;
mod vectors;
