#![doc = include_str!("../README.md")]

pub mod artifacts;
pub mod bindings;
mod chain;
pub mod deploy;
mod discovery;
mod error;
mod payments;
mod staking;

pub use chain::{
    ARBITRUM_ONE_CHAIN_ID, ARBITRUM_ONE_CONTROLLER, BlockSource, LivepeerAddresses, LivepeerChain,
    contract_id, resolve,
};
pub use error::{LpError, revert_name};
pub use payments::{BATCH_GAS_BASE, BATCH_GAS_PER_TICKET, Redemption, to_livepeer_ticket};
