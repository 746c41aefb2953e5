//! Helpers shared by the livepeer-rs binaries.
