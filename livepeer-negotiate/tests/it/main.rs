//! Integration tests of livepeer-negotiate, built as one binary.

mod corpus;
