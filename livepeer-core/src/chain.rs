//! The chain as a seam: one small async trait per capability.
//!
//! Backends (the embedded EVM and JSON-RPC, in `livepeer-contracts`) implement these over the
//! same contract bindings; payment, negotiation and verification call them and never talk to
//! a node themselves. Hold backends as `Arc<dyn Trait>`.
//!
//! Contract for every method: it may take a network round trip (milliseconds to seconds), it
//! may be called concurrently, and it returns the state as of the latest block the backend
//! knows. Writes return once the transaction is mined unless documented otherwise
//! ([`TicketRedeemer::send_redeem`] returns once it is sent, so the caller can replace it).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::eip712::Domain;
use crate::error::Fault;
use crate::primitives::{Address, H256, U256, Wei};
use crate::receipt::{SignedReceipt, SignedSegmentClaim};
use crate::service::{Region, ServiceId};
use crate::ticket::WinningTicket;

/// A chain call failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A transaction or call reverted with a named custom error of our contracts.
    #[error("reverted: {name}")]
    Reverted {
        /// The custom error's name, e.g. `TicketAlreadyUsed`, or `unknown` for raw data.
        name: String,
        /// The raw revert data.
        data: Vec<u8>,
    },
    /// The node could not be reached or answered with an error.
    #[error("chain transport: {0}")]
    Transport(String),
    /// The node answered something that does not decode.
    #[error("chain response does not decode: {0}")]
    Decode(String),
    /// The node serves another chain than the one configured.
    #[error("wrong chain: expected chain id {expected}, node reports {actual}")]
    WrongChain {
        /// The configured chain id.
        expected: u64,
        /// What the node reports.
        actual: u64,
    },
    /// The code at a contract address is not the code this SDK was built for.
    #[error("unexpected contract code for {contract} at {address:?}")]
    UnexpectedCode {
        /// Which contract.
        contract: String,
        /// Where.
        address: Address,
    },
    /// The sending account cannot pay for the transaction.
    #[error("insufficient funds for the transaction")]
    InsufficientFunds,
    /// A transaction was not mined in time.
    #[error("transaction {0:?} was not mined in time")]
    Timeout(H256),
    /// What was asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Evidence signed for another deployment (chain id or FaultVerifier) than this one.
    #[error("evidence is signed for {evidence:?}, this deployment is {expected:?}")]
    WrongDomain {
        /// This deployment's domain.
        expected: Domain,
        /// The evidence's.
        evidence: Domain,
    },
}

impl ChainError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            ChainError::Reverted { .. } => Fault::Misuse,
            ChainError::WrongChain { .. } | ChainError::UnexpectedCode { .. } => {
                Fault::Incompatible
            }
            ChainError::Transport(_) | ChainError::Decode(_) | ChainError::Timeout(_) => {
                Fault::Backend
            }
            ChainError::InsufficientFunds
            | ChainError::NotFound(_)
            | ChainError::WrongDomain { .. } => Fault::Misuse,
        }
    }

    /// Whether this is a revert with the custom error `name`.
    pub fn is_revert(&self, name: &str) -> bool {
        matches!(self, ChainError::Reverted { name: n, .. } if n == name)
    }

    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ChainError::Transport(_) | ChainError::Timeout(_))
    }
}

/// A mined transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxOutcome {
    /// Transaction hash.
    pub hash: H256,
    /// Block it was mined in.
    pub block: u64,
    /// Gas used, as the receipt reports it.
    pub gas_used: u64,
}

/// One service an orchestrator offers, with the contract that judges faults in it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceOffer {
    /// The service.
    pub id: ServiceId,
    /// The verifier contract for faults in this service; zero when not challengeable.
    pub verifier: Address,
}

/// An orchestrator as the registry and the staking contract describe it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrchestratorEntry {
    /// Its address (the key that signs receipts and redeems tickets).
    pub address: Address,
    /// Where to reach it, e.g. `quic://host:port`.
    pub service_uri: String,
    /// Share of inflationary rewards it keeps, in parts per million.
    pub reward_cut_ppm: u32,
    /// Share of fees it passes to delegators, in parts per million.
    pub fee_share_ppm: u32,
    /// What it offers.
    pub services: Vec<ServiceOffer>,
    /// Where it serves.
    pub regions: Vec<Region>,
    /// Total stake bonded to it.
    pub stake: U256,
    /// Whether it is active this round (stake at or above the minimum).
    pub active: bool,
}

impl OrchestratorEntry {
    /// Whether it offers `service`.
    pub fn offers(&self, service: &ServiceId) -> bool {
        self.services.iter().any(|s| &s.id == service)
    }

    /// Whether it serves `region` (a `global` entry serves all).
    pub fn serves(&self, region: &Region) -> bool {
        self.regions.iter().any(|r| r.serves(region))
    }
}

/// Reads the service registry.
#[async_trait]
pub trait RegistryReader: Send + Sync {
    /// Every registered orchestrator, with stake and active flag.
    async fn orchestrators(&self) -> Result<Vec<OrchestratorEntry>, ChainError>;
    /// One orchestrator, if registered.
    async fn orchestrator(&self, address: Address)
    -> Result<Option<OrchestratorEntry>, ChainError>;
}

/// Writes the caller's own registry entry.
#[async_trait]
pub trait RegistryWriter: Send + Sync {
    /// Sets where the orchestrator is reached.
    async fn set_service_uri(&self, uri: &str) -> Result<TxOutcome, ChainError>;
    /// Replaces the list of services offered.
    async fn set_services(&self, services: &[ServiceOffer]) -> Result<TxOutcome, ChainError>;
    /// Replaces the list of regions served.
    async fn set_regions(&self, regions: &[Region]) -> Result<TxOutcome, ChainError>;
}

/// Rounds and blocks.
#[async_trait]
pub trait RoundInfo: Send + Sync {
    /// The current block number.
    async fn current_block(&self) -> Result<u64, ChainError>;
    /// The current round.
    async fn current_round(&self) -> Result<u64, ChainError>;
    /// The last round that was initialized (its block hash recorded).
    async fn last_initialized_round(&self) -> Result<u64, ChainError>;
    /// The block hash recorded for `round`; zero when it was never initialized.
    async fn block_hash_for_round(&self, round: u64) -> Result<H256, ChainError>;
    /// Blocks per round.
    async fn round_length(&self) -> Result<u64, ChainError>;
}

/// A sender's funds at the ticket broker.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderInfo {
    /// The deposit tickets are paid from first.
    pub deposit: Wei,
    /// The round from which the sender may withdraw; 0 when not unlocking.
    pub withdraw_round: u64,
    /// What remains of the reserve.
    pub reserve_remaining: Wei,
    /// What recipients have claimed from the reserve this round.
    pub reserve_claimed_this_round: Wei,
}

/// Reads the ticket broker.
#[async_trait]
pub trait TicketBrokerReader: Send + Sync {
    /// A sender's deposit, reserve and unlock state.
    async fn sender_info(&self, sender: Address) -> Result<SenderInfo, ChainError>;
    /// What `claimant` has claimed from `sender`'s reserve this round.
    async fn claimed_reserve(&self, sender: Address, claimant: Address) -> Result<Wei, ChainError>;
    /// Whether the ticket was already redeemed.
    async fn is_ticket_used(&self, ticket: &WinningTicket) -> Result<bool, ChainError>;
    /// Rounds a ticket stays redeemable after its creation round.
    async fn ticket_validity_period(&self) -> Result<u64, ChainError>;
    /// Rounds between an unlock and the withdrawal it allows.
    async fn unlock_period(&self) -> Result<u64, ChainError>;
    /// How many orchestrators share each sender's reserve this round when the reserve is split
    /// equally among the active set (see [`TicketBrokerReader::claimable_reserve`]).
    async fn reserve_pool_size(&self) -> Result<u64, ChainError>;
    /// What `claimant` may still take from `sender`'s reserve this round.
    ///
    /// A broker that splits each reserve its own way (ours: among the recipients the sender
    /// names, or by round-start stake) answers from its `claimableReserve` view. The default
    /// applies the equal split: (reserve left + claimed this round) / pool size − claimed by
    /// `claimant`, zero for an empty pool.
    async fn claimable_reserve(
        &self,
        sender: Address,
        claimant: Address,
    ) -> Result<Wei, ChainError> {
        let info = self.sender_info(sender).await?;
        let pool = self.reserve_pool_size().await?;
        if pool == 0 {
            return Ok(Wei::ZERO);
        }
        let claimed = self.claimed_reserve(sender, claimant).await?;
        let total = info.reserve_remaining + info.reserve_claimed_this_round;
        Ok(Wei(total.0 / U256::from(pool)) - claimed)
    }
}

/// Gas settings for one transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxOptions {
    /// Gas price in wei; the backend's estimate when `None`.
    pub gas_price: Option<U256>,
    /// The account nonce; set it to replace a pending transaction.
    pub nonce: Option<u64>,
    /// Gas limit; estimated when `None`.
    pub gas_limit: Option<u64>,
}

/// A transaction that was sent but may not be mined yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTx {
    /// Transaction hash.
    pub hash: H256,
    /// The account nonce it used.
    pub nonce: u64,
    /// The gas price it pays.
    pub gas_price: U256,
}

/// Where a sent transaction stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TxStatus {
    /// Known to the node, not mined.
    Pending,
    /// Mined.
    Mined {
        /// Block number.
        block: u64,
        /// Gas used.
        gas_used: u64,
        /// Whether it succeeded (false: reverted).
        success: bool,
    },
    /// Unknown to the node (dropped, or replaced by another transaction with its nonce).
    NotFound,
}

/// Redeems winning tickets.
#[async_trait]
pub trait TicketRedeemer: Send + Sync {
    /// The account that redeems (the recipient of the tickets).
    fn redeemer(&self) -> Address;
    /// Sends one transaction redeeming `tickets` (one ticket, or a batch that pays all or
    /// reverts) and returns once it is sent.
    async fn send_redeem(
        &self,
        tickets: &[WinningTicket],
        opts: &TxOptions,
    ) -> Result<PendingTx, ChainError>;
    /// Where a sent transaction stands.
    async fn tx_status(&self, tx: &PendingTx) -> Result<TxStatus, ChainError>;
    /// The gas a redemption of `tickets` would use, from the backend's estimate.
    async fn estimate_redeem_gas(&self, tickets: &[WinningTicket]) -> Result<u64, ChainError>;
    /// The redeeming account's next nonce, counting its transactions still pending, or `None`
    /// when the backend cannot tell (the default).
    ///
    /// A caller that records the nonce before sending can replace a transaction whose send
    /// it never heard back from (a crash, a timeout) at that same nonce, instead of sending a
    /// second one that waits behind it. Backends should implement it.
    async fn next_nonce(&self) -> Result<Option<u64>, ChainError> {
        Ok(None)
    }
}

/// The current gas price.
#[async_trait]
pub trait GasPriceEstimator: Send + Sync {
    /// Gas price in wei for a transaction sent now.
    async fn gas_price(&self) -> Result<U256, ChainError>;
}

/// Funds, unlocks and withdraws the caller's deposit and reserve.
#[async_trait]
pub trait TicketFunding: Send + Sync {
    /// Adds to the deposit and the reserve in one transaction.
    async fn fund_deposit_and_reserve(
        &self,
        deposit: Wei,
        reserve: Wei,
    ) -> Result<TxOutcome, ChainError>;
    /// Starts the unlock period.
    async fn unlock(&self) -> Result<TxOutcome, ChainError>;
    /// Cancels an unlock.
    async fn cancel_unlock(&self) -> Result<TxOutcome, ChainError>;
    /// Withdraws deposit and reserve after the unlock period.
    async fn withdraw(&self) -> Result<TxOutcome, ChainError>;
}

/// Reads stake.
#[async_trait]
pub trait StakingReader: Send + Sync {
    /// Total stake bonded to `orchestrator`.
    async fn stake_of(&self, orchestrator: Address) -> Result<U256, ChainError>;
    /// Whether `orchestrator` is active this round.
    async fn is_active(&self, orchestrator: Address) -> Result<bool, ChainError>;
    /// The minimum stake to be active.
    async fn min_active_stake(&self) -> Result<U256, ChainError>;
}

/// Bonds, unbonds and claims as the caller.
#[async_trait]
pub trait Staking: Send + Sync {
    /// Bonds `amount` of stake token to `to` (the caller itself to become an orchestrator).
    async fn bond(&self, amount: U256, to: Address) -> Result<TxOutcome, ChainError>;
    /// Starts unbonding `amount`.
    async fn unbond(&self, amount: U256) -> Result<TxOutcome, ChainError>;
    /// Withdraws stake whose unbonding period has passed.
    async fn withdraw_stake(&self) -> Result<TxOutcome, ChainError>;
    /// Claims the caller's share of rewards and fees.
    async fn claim_earnings(&self) -> Result<TxOutcome, ChainError>;
    /// Mints this round's reward (orchestrators, once per round).
    async fn reward(&self) -> Result<TxOutcome, ChainError>;
    /// Sets the orchestrator's reward cut and fee share, in parts per million.
    async fn set_rates(
        &self,
        reward_cut_ppm: u32,
        fee_share_ppm: u32,
    ) -> Result<TxOutcome, ChainError>;
}

/// Fault evidence: the orchestrator's receipt and the broadcaster's claim for one segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultEvidence {
    /// The service the work was done under.
    pub service: ServiceId,
    /// What the orchestrator signed.
    pub receipt: SignedReceipt,
    /// What the broadcaster signed.
    pub claim: SignedSegmentClaim,
    /// The deployment both are signed for: the chain and the FaultVerifier that takes the
    /// challenge.
    pub domain: Domain,
}

/// A challenge's id in the FaultVerifier (the hash of the receipt it challenges).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChallengeId(pub H256);

/// Where a challenge stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChallengeState {
    /// Waiting for a verdict until `deadline_block`.
    Open {
        /// Last block a verdict is accepted in.
        deadline_block: u64,
    },
    /// The orchestrator was found at fault and slashed.
    Guilty,
    /// The orchestrator was cleared; the bond went to it.
    Innocent,
    /// No verdict in time; the bond was refunded.
    Expired,
}

/// Opens and follows fault challenges (the broadcaster's side).
#[async_trait]
pub trait FaultChallenger: Send + Sync {
    /// Opens a challenge, posting `bond`.
    async fn open_challenge(
        &self,
        evidence: &FaultEvidence,
        bond: Wei,
    ) -> Result<ChallengeId, ChainError>;
    /// Where a challenge stands.
    async fn challenge_state(&self, id: ChallengeId) -> Result<ChallengeState, ChainError>;
    /// Closes a challenge whose window passed without a verdict (refunds the bond).
    async fn close_expired(&self, id: ChallengeId) -> Result<TxOutcome, ChainError>;
    /// The bond a challenge needs.
    async fn challenge_bond(&self) -> Result<Wei, ChainError>;
}

/// Posts verdicts (the trusted verifier's side).
#[async_trait]
pub trait VerdictPoster: Send + Sync {
    /// The evidence of an open challenge, as recorded on chain.
    async fn challenge_evidence(&self, id: ChallengeId) -> Result<FaultEvidence, ChainError>;
    /// Votes on a challenge.
    async fn vote(&self, id: ChallengeId, guilty: bool) -> Result<TxOutcome, ChainError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_filters() {
        let e = OrchestratorEntry {
            address: Address::zero(),
            service_uri: "quic://127.0.0.1:1".into(),
            reward_cut_ppm: 0,
            fee_share_ppm: 0,
            services: vec![ServiceOffer {
                id: ServiceId::cpu_transcoding(),
                verifier: Address::zero(),
            }],
            regions: vec![Region::parse("eu-west").unwrap()],
            stake: U256::zero(),
            active: true,
        };
        assert!(e.offers(&ServiceId::cpu_transcoding()));
        assert!(!e.offers(&ServiceId::gpu_transcoding()));
        assert!(e.serves(&Region::global()));
        assert!(!e.serves(&Region::parse("us-east").unwrap()));
    }

    #[test]
    fn error_classification() {
        let r = ChainError::Reverted {
            name: "TicketAlreadyUsed".into(),
            data: vec![],
        };
        assert!(r.is_revert("TicketAlreadyUsed"));
        assert!(!r.is_transient());
        assert!(ChainError::Transport("x".into()).is_transient());
        assert_eq!(
            ChainError::WrongChain {
                expected: 1,
                actual: 2
            }
            .fault(),
            Fault::Incompatible
        );
    }
}
