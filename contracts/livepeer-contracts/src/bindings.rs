//! Typed ethers bindings generated from the committed artifacts in `contracts/artifacts/`.
//!
//! Each contract has its own module, so structs of the same name (`Ticket`, `Receipt`) never
//! collide.
#![allow(missing_docs, clippy::all, unreachable_pub, rust_2018_idioms)]

/// RoundsManager: rounds of a fixed number of blocks and their recorded block hashes.
pub mod rounds_manager {
    ethers::contract::abigen!(RoundsManager, "../artifacts/RoundsManager.json");
}
/// StakeToken: the ERC-20 stake token.
pub mod stake_token {
    ethers::contract::abigen!(StakeToken, "../artifacts/StakeToken.json");
}
/// BondingManager: stake, rewards, fees and slashing.
pub mod bonding_manager {
    ethers::contract::abigen!(BondingManager, "../artifacts/BondingManager.json");
}
/// ServiceRegistry: what orchestrators offer and where.
pub mod service_registry {
    ethers::contract::abigen!(ServiceRegistry, "../artifacts/ServiceRegistry.json");
}
/// TicketBroker: deposits, reserves and ticket redemption.
pub mod ticket_broker {
    ethers::contract::abigen!(TicketBroker, "../artifacts/TicketBroker.json");
}
/// FaultVerifier: challenges and slashing.
pub mod fault_verifier {
    ethers::contract::abigen!(FaultVerifier, "../artifacts/FaultVerifier.json");
}
/// TrustedVerifier: a quorum of trusted voters decides challenges.
pub mod trusted_verifier {
    ethers::contract::abigen!(TrustedVerifier, "../artifacts/TrustedVerifier.json");
}
