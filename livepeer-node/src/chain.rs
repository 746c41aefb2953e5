//! What each node needs of its chain backend, as the core chain traits plus the round
//! keeping the core leaves out. [`livepeer_contracts::ChainClient`] is one, over any ethers
//! middleware (a JSON-RPC node, the embedded chain); a backend of an app's own implements
//! the traits and gets the nodes.

use async_trait::async_trait;
use ethers::providers::Middleware;
use livepeer_contracts::ChainClient;
use livepeer_core::chain::{
    ChainError, FaultChallenger, GasPriceEstimator, RegistryReader, RoundInfo, Staking,
    StakingReader, TicketBrokerReader, TicketRedeemer,
};
use livepeer_core::{Address, Domain};

/// Initializes rounds (anyone may, once per round) and tells whose account acts.
#[async_trait]
pub trait RoundKeeper: Send + Sync {
    /// The account that signs this backend's transactions.
    fn account(&self) -> Address;

    /// Initializes the current round if no one has yet; nothing when it is.
    async fn initialize_round(&self) -> Result<(), ChainError>;
}

#[async_trait]
impl<M: Middleware + 'static> RoundKeeper for ChainClient<M> {
    fn account(&self) -> Address {
        ChainClient::account(self)
    }

    async fn initialize_round(&self) -> Result<(), ChainError> {
        ChainClient::initialize_round(self).await.map(|_| ())
    }
}

/// Livepeer's deployed contracts keep rounds as ours do.
#[cfg(feature = "livepeer")]
#[async_trait]
impl<M: Middleware + 'static> RoundKeeper for livepeer_contracts_lp::LivepeerChain<M> {
    fn account(&self) -> Address {
        livepeer_contracts_lp::LivepeerChain::account(self)
    }

    async fn initialize_round(&self) -> Result<(), ChainError> {
        livepeer_contracts_lp::LivepeerChain::initialize_round(self)
            .await
            .map(|_| ())
    }
}

/// Livepeer's contracts have no FaultVerifier: what this node signs for QUIC peers (receipts,
/// claims) names the chain and Livepeer's TicketBroker, so it is valid on that deployment
/// alone and never on ours.
#[cfg(feature = "livepeer")]
impl<M: Middleware + 'static> SigningDomain for livepeer_contracts_lp::LivepeerChain<M> {
    fn signing_domain(&self) -> Domain {
        Domain::new(self.chain_id(), self.addresses().ticket_broker)
    }
}

/// Which deployment the backend is: the EIP-712 domain (chain id and FaultVerifier address)
/// receipts and segment claims are signed for. Nodes learn it here, from their chain
/// configuration, so what they sign is valid on their deployment alone.
pub trait SigningDomain: Send + Sync {
    /// The domain of this deployment. Cheap and constant for the backend's life.
    fn signing_domain(&self) -> Domain;
}

impl<M: Middleware + 'static> SigningDomain for ChainClient<M> {
    fn signing_domain(&self) -> Domain {
        ChainClient::signing_domain(self)
    }
}

/// What an orchestrator's chain backend must do: follow blocks and rounds, read the broker,
/// redeem winners, mint its reward, and name its deployment.
pub trait OrchestratorChain:
    RoundInfo
    + GasPriceEstimator
    + TicketBrokerReader
    + TicketRedeemer
    + StakingReader
    + Staking
    + RoundKeeper
    + SigningDomain
    + 'static
{
}

impl<T> OrchestratorChain for T where
    T: RoundInfo
        + GasPriceEstimator
        + TicketBrokerReader
        + TicketRedeemer
        + StakingReader
        + Staking
        + RoundKeeper
        + SigningDomain
        + 'static
{
}

/// What a broadcaster's chain backend must do: find orchestrators, read its deposit and
/// reserve, follow blocks, challenge faults, and name its deployment.
pub trait BroadcasterChain:
    RegistryReader
    + TicketBrokerReader
    + RoundInfo
    + FaultChallenger
    + RoundKeeper
    + SigningDomain
    + 'static
{
}

impl<T> BroadcasterChain for T where
    T: RegistryReader
        + TicketBrokerReader
        + RoundInfo
        + FaultChallenger
        + RoundKeeper
        + SigningDomain
        + 'static
{
}
