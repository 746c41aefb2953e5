//! Typed ethers bindings generated from the committed artifacts in `livepeer-artifacts/`.
//!
//! Each contract has its own module, so structs of the same name never collide. Proxied
//! contracts (TicketBroker, BondingManager, RoundsManager, ServiceRegistry, BondingVotes) are
//! called with their target's ABI at the proxy address, as Livepeer's own clients do.
#![allow(missing_docs, clippy::all, unreachable_pub, rust_2018_idioms)]

/// Controller: the registry of contract addresses by `keccak256(name)`, and the pause switch.
pub mod controller {
    ethers::contract::abigen!(Controller, "livepeer-artifacts/Controller.json");
}
/// ManagerProxy: the upgradeable proxy in front of each target.
pub mod manager_proxy {
    ethers::contract::abigen!(ManagerProxy, "livepeer-artifacts/ManagerProxy.json");
}
/// TicketBroker: deposits, reserves and ticket redemption.
pub mod ticket_broker {
    ethers::contract::abigen!(TicketBroker, "livepeer-artifacts/TicketBroker.json");
}
/// BondingManager: stake, the transcoder pool, fees and rewards.
pub mod bonding_manager {
    ethers::contract::abigen!(BondingManager, "livepeer-artifacts/BondingManager.json");
}
/// RoundsManager: rounds, their block hashes and the block number contracts see.
pub mod rounds_manager {
    ethers::contract::abigen!(RoundsManager, "livepeer-artifacts/RoundsManager.json");
}
/// ServiceRegistry: each orchestrator's service URI.
pub mod service_registry {
    ethers::contract::abigen!(ServiceRegistry, "livepeer-artifacts/ServiceRegistry.json");
}
/// LivepeerToken: the LPT ERC-20 (AccessControl minting).
pub mod livepeer_token {
    ethers::contract::abigen!(LivepeerToken, "livepeer-artifacts/LivepeerToken.json");
}
/// Minter: inflation, and the ETH the TicketBroker holds.
pub mod minter {
    ethers::contract::abigen!(Minter, "livepeer-artifacts/Minter.json");
}
