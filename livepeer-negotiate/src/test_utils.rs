//! test utils
