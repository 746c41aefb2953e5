#![doc = include_str!("../README.md")]

pub mod artifacts;
pub mod bindings;
pub mod client;
pub mod deploy;
pub mod embedded;
mod error;

pub use client::{ChainClient, OpenedChallenge, OrchestratorSetup};
pub use deploy::{Addresses, DeployConfig, deploy};
pub use embedded::EmbeddedChain;
