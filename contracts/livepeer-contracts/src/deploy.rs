//! Deploys and wires the whole system in one call.

use std::sync::Arc;

use ethers::providers::Middleware;
use ethers::types::{Address, U256};
use livepeer_core::Domain;
use livepeer_core::chain::ChainError;
use serde::{Deserialize, Serialize};

use crate::bindings::{
    bonding_manager::BondingManager, fault_verifier::FaultVerifier, rounds_manager::RoundsManager,
    service_registry::ServiceRegistry, stake_token::StakeToken, ticket_broker::TicketBroker,
    trusted_verifier::TrustedVerifier,
};
use crate::error::contract_error;

/// Where each contract of a deployment lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Addresses {
    /// RoundsManager.
    pub rounds_manager: Address,
    /// StakeToken.
    pub stake_token: Address,
    /// BondingManager.
    pub bonding_manager: Address,
    /// ServiceRegistry.
    pub service_registry: Address,
    /// TicketBroker.
    pub ticket_broker: Address,
    /// FaultVerifier.
    pub fault_verifier: Address,
    /// TrustedVerifier (the verifier contract services register for fault decisions).
    pub trusted_verifier: Address,
}

impl Addresses {
    /// The EIP-712 domain receipts and segment claims of this deployment are signed for on
    /// chain `chain_id`: its FaultVerifier verifies them.
    pub fn signing_domain(&self, chain_id: u64) -> Domain {
        Domain::new(chain_id, self.fault_verifier)
    }
}

/// Protocol parameters of a deployment.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeployConfig {
    /// Blocks per round.
    pub round_length: u64,
    /// Stake token minted to the deployer.
    pub initial_supply: U256,
    /// Minimum stake to be an active orchestrator.
    pub min_active_stake: U256,
    /// Rounds before unbonded stake can be withdrawn.
    pub unbonding_period: u64,
    /// Inflation per round, in parts per billion of active stake.
    pub inflation_ppb: u64,
    /// Blocks a removed verifier stays in force.
    pub verifier_grace_blocks: u64,
    /// Rounds between a sender's unlock and its withdrawal (must exceed the validity period).
    pub unlock_period: u64,
    /// Rounds a ticket stays redeemable after its creation round.
    pub ticket_validity_period: u64,
    /// Bond a challenger posts, in wei.
    pub challenge_bond: U256,
    /// Blocks a challenge waits for a verdict.
    pub challenge_window_blocks: u64,
    /// Fraction of stake slashed for a proven fault, in parts per million.
    pub slash_fraction_ppm: u64,
    /// Share of the slashed stake paid to the challenger, in parts per million.
    pub finder_fee_ppm: u64,
    /// Trusted verifier voters; the deployer alone when empty.
    pub voters: Vec<Address>,
    /// Votes needed for a verdict.
    pub quorum: u64,
}

impl Default for DeployConfig {
    fn default() -> Self {
        DeployConfig {
            round_length: 20,
            initial_supply: U256::exp10(27),
            min_active_stake: U256::exp10(18),
            unbonding_period: 2,
            inflation_ppb: 1_000_000,
            verifier_grace_blocks: 100,
            unlock_period: 3,
            ticket_validity_period: 2,
            challenge_bond: U256::exp10(16),
            challenge_window_blocks: 100,
            slash_fraction_ppm: 100_000,
            finder_fee_ppm: 500_000,
            voters: Vec::new(),
            quorum: 1,
        }
    }
}

/// Deploys every contract with `client` (the deployer), wires them, and initializes the first
/// round. Returns their addresses.
pub async fn deploy<M: Middleware + 'static>(
    client: Arc<M>,
    cfg: &DeployConfig,
) -> Result<Addresses, ChainError> {
    let deployer = client
        .default_sender()
        .ok_or_else(|| ChainError::NotFound("deployer account".into()))?;
    let rounds = RoundsManager::deploy(client.clone(), U256::from(cfg.round_length))
        .map_err(contract_error)?
        .send()
        .await
        .map_err(contract_error)?;
    let token = StakeToken::deploy(
        client.clone(),
        (
            "Livepeer-rs Stake".to_owned(),
            "LPS".to_owned(),
            deployer,
            cfg.initial_supply,
        ),
    )
    .map_err(contract_error)?
    .send()
    .await
    .map_err(contract_error)?;
    let bonding = BondingManager::deploy(
        client.clone(),
        (
            token.address(),
            rounds.address(),
            cfg.min_active_stake,
            U256::from(cfg.unbonding_period),
            U256::from(cfg.inflation_ppb),
        ),
    )
    .map_err(contract_error)?
    .send()
    .await
    .map_err(contract_error)?;
    let registry = ServiceRegistry::deploy(
        client.clone(),
        (bonding.address(), U256::from(cfg.verifier_grace_blocks)),
    )
    .map_err(contract_error)?
    .send()
    .await
    .map_err(contract_error)?;
    let broker = TicketBroker::deploy(
        client.clone(),
        (
            rounds.address(),
            bonding.address(),
            U256::from(cfg.unlock_period),
            U256::from(cfg.ticket_validity_period),
        ),
    )
    .map_err(contract_error)?
    .send()
    .await
    .map_err(contract_error)?;
    let fault = FaultVerifier::deploy(
        client.clone(),
        (
            bonding.address(),
            registry.address(),
            cfg.challenge_bond,
            U256::from(cfg.challenge_window_blocks),
            U256::from(cfg.slash_fraction_ppm),
            U256::from(cfg.finder_fee_ppm),
        ),
    )
    .map_err(contract_error)?
    .send()
    .await
    .map_err(contract_error)?;
    let voters = if cfg.voters.is_empty() {
        vec![deployer]
    } else {
        cfg.voters.clone()
    };
    let trusted = TrustedVerifier::deploy(
        client.clone(),
        (fault.address(), voters, U256::from(cfg.quorum)),
    )
    .map_err(contract_error)?
    .send()
    .await
    .map_err(contract_error)?;
    token
        .set_minter(bonding.address())
        .send()
        .await
        .map_err(contract_error)?
        .await
        .map_err(crate::error::middleware_error)?;
    bonding
        .initialize(broker.address(), fault.address())
        .send()
        .await
        .map_err(contract_error)?
        .await
        .map_err(crate::error::middleware_error)?;
    rounds
        .initialize_round()
        .send()
        .await
        .map_err(contract_error)?
        .await
        .map_err(crate::error::middleware_error)?;
    Ok(Addresses {
        rounds_manager: rounds.address(),
        stake_token: token.address(),
        bonding_manager: bonding.address(),
        service_registry: registry.address(),
        ticket_broker: broker.address(),
        fault_verifier: fault.address(),
        trusted_verifier: trusted.address(),
    })
}
