//! [`ChainClient`]: the core chain traits over the contract bindings, for any ethers
//! middleware: a JSON-RPC node (anvil, Ethereum, Arbitrum) or the [`crate::EmbeddedChain`].
//!
//! [`ChainClient::connect`] refuses a node on another chain id, or contracts whose code is not
//! the code this crate was built with, before anything is sent.

mod faults;
mod nonce;
mod payments;
mod registry;

pub use faults::OpenedChallenge;
pub use registry::OrchestratorSetup;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use ethers::contract::builders::ContractCall;
use ethers::providers::{Middleware, PendingTransaction};
use ethers::types::{Address, BlockNumber, U256};
use livepeer_core::chain::{ChainError, RoundInfo, TxOutcome};
use livepeer_core::{Domain, H256};

use crate::artifacts::artifact;
use crate::bindings::{
    bonding_manager::BondingManager, fault_verifier::FaultVerifier, rounds_manager::RoundsManager,
    service_registry::ServiceRegistry, stake_token::StakeToken, ticket_broker::TicketBroker,
    trusted_verifier::TrustedVerifier,
};
use crate::deploy::Addresses;
use crate::error::{contract_error, middleware_error};

/// The chain as the core traits see it, acting as one account.
pub struct ChainClient<M> {
    client: Arc<M>,
    account: Address,
    addresses: Addresses,
    chain_id: u64,
    rounds: RoundsManager<M>,
    token: StakeToken<M>,
    bonding: BondingManager<M>,
    registry: ServiceRegistry<M>,
    broker: TicketBroker<M>,
    fault: FaultVerifier<M>,
    trusted: TrustedVerifier<M>,
    nonces: nonce::NonceManager,
}

impl<M> std::fmt::Debug for ChainClient<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainClient")
            .field("account", &self.account)
            .field("addresses", &self.addresses)
            .finish()
    }
}

impl<M: Middleware + 'static> ChainClient<M> {
    /// Connects to a deployment: checks the node's chain id is `expected_chain_id` and that
    /// every contract address holds the code this crate was built with.
    pub async fn connect(
        client: Arc<M>,
        addresses: Addresses,
        expected_chain_id: u64,
    ) -> Result<Self, ChainError> {
        let actual = client.get_chainid().await.map_err(middleware_error)?;
        if actual != U256::from(expected_chain_id) {
            return Err(ChainError::WrongChain {
                expected: expected_chain_id,
                actual: actual.low_u64(),
            });
        }
        let checks = [
            ("RoundsManager", addresses.rounds_manager),
            ("StakeToken", addresses.stake_token),
            ("BondingManager", addresses.bonding_manager),
            ("ServiceRegistry", addresses.service_registry),
            ("TicketBroker", addresses.ticket_broker),
            ("FaultVerifier", addresses.fault_verifier),
            ("TrustedVerifier", addresses.trusted_verifier),
        ];
        for (name, address) in checks {
            let code = client
                .get_code(address, None)
                .await
                .map_err(middleware_error)?;
            let ok = artifact(name).is_some_and(|a| a.matches_runtime(&code));
            if !ok {
                return Err(ChainError::UnexpectedCode {
                    contract: name.to_owned(),
                    address,
                });
            }
        }
        Ok(Self::new_unchecked(client, addresses, expected_chain_id))
    }

    fn new_unchecked(client: Arc<M>, addresses: Addresses, chain_id: u64) -> Self {
        let account = client.default_sender().unwrap_or_default();
        ChainClient {
            rounds: RoundsManager::new(addresses.rounds_manager, client.clone()),
            token: StakeToken::new(addresses.stake_token, client.clone()),
            bonding: BondingManager::new(addresses.bonding_manager, client.clone()),
            registry: ServiceRegistry::new(addresses.service_registry, client.clone()),
            broker: TicketBroker::new(addresses.ticket_broker, client.clone()),
            fault: FaultVerifier::new(addresses.fault_verifier, client.clone()),
            trusted: TrustedVerifier::new(addresses.trusted_verifier, client.clone()),
            client,
            account,
            addresses,
            chain_id,
            nonces: nonce::NonceManager::default(),
        }
    }

    /// The account this client sends transactions from.
    pub fn account(&self) -> Address {
        self.account
    }

    /// The deployment's addresses.
    pub fn addresses(&self) -> &Addresses {
        &self.addresses
    }

    /// The chain id this client checked the node serves.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The EIP-712 domain of this deployment: the chain id and the FaultVerifier's address.
    /// Receipts and segment claims are signed for it, and evidence read back carries it.
    pub fn signing_domain(&self) -> Domain {
        self.addresses.signing_domain(self.chain_id)
    }

    /// The middleware.
    pub fn middleware(&self) -> &Arc<M> {
        &self.client
    }

    /// Initializes the current round if nobody has yet (anyone may).
    pub async fn initialize_round(&self) -> Result<Option<TxOutcome>, ChainError> {
        let done = self
            .rounds
            .current_round_initialized()
            .call()
            .await
            .map_err(contract_error)?;
        if done {
            return Ok(None);
        }
        self.send(self.rounds.initialize_round()).await.map(Some)
    }

    /// Mines `n` blocks (anvil's and the embedded chain's `anvil_mine`): for tests and devnets.
    pub async fn mine(&self, n: u64) -> Result<(), ChainError> {
        self.client
            .provider()
            .request::<_, serde_json::Value>("anvil_mine", [U256::from(n)])
            .await
            .map(|_| ())
            .map_err(|e| ChainError::Transport(e.to_string()))
    }

    /// Mines blocks until the next round starts, then initializes it.
    pub async fn advance_round(&self) -> Result<u64, ChainError> {
        let len = self.round_length().await?;
        let block = self.current_block().await?;
        let next_start = (block / len + 1) * len;
        self.mine(next_start - block).await?;
        self.initialize_round().await?;
        self.current_round().await
    }

    /// Approves the stake token for the bonding manager and bonds `amount` to `to`.
    pub async fn approve_and_bond(
        &self,
        amount: U256,
        to: Address,
    ) -> Result<TxOutcome, ChainError> {
        self.send(self.token.approve(self.addresses.bonding_manager, amount))
            .await?;
        self.send(self.bonding.bond(amount, to)).await
    }

    /// Transfers stake tokens.
    pub async fn transfer_stake_token(
        &self,
        to: Address,
        amount: U256,
    ) -> Result<TxOutcome, ChainError> {
        self.send(self.token.transfer(to, amount)).await
    }

    /// Stake token balance of `who`.
    pub async fn stake_token_balance(&self, who: Address) -> Result<U256, ChainError> {
        self.token
            .balance_of(who)
            .call()
            .await
            .map_err(contract_error)
    }

    /// Registers the caller as an orchestrator with its reward cut and fee share (ppm).
    pub async fn register_orchestrator(
        &self,
        reward_cut_ppm: u32,
        fee_share_ppm: u32,
    ) -> Result<TxOutcome, ChainError> {
        self.send(
            self.bonding
                .register_orchestrator(U256::from(reward_cut_ppm), U256::from(fee_share_ppm)),
        )
        .await
    }
}

impl<M: Middleware + 'static> ChainClient<M> {
    /// Sends a contract call and waits for it to be mined; a mined revert is an error. Its
    /// nonce comes from the account's one sequence.
    pub(crate) async fn send<D: ethers::abi::Detokenize>(
        &self,
        call: ContractCall<M, D>,
    ) -> Result<TxOutcome, ChainError> {
        let (hash, _) = self.submit(call, None).await?;
        let receipt = PendingTransaction::new(hash, self.client.provider())
            .await
            .map_err(middleware_error)?
            .ok_or_else(|| ChainError::NotFound(format!("receipt of {hash:?}")))?;
        let outcome = TxOutcome {
            hash: H256::from(hash.0),
            block: receipt.block_number.map_or(0, |b| b.as_u64()),
            gas_used: receipt.gas_used.map_or(0, |g| g.low_u64()),
        };
        if receipt.status.map(|s| s.as_u64()) != Some(1) {
            return Err(ChainError::Reverted {
                name: "unknown".into(),
                data: Vec::new(),
            });
        }
        Ok(outcome)
    }

    /// Hands `call` to the node at `nonce`, or at the account's next nonce when `None`, and
    /// returns its hash and nonce once the node has accepted it. Sends are serialized: no
    /// other send of this client chooses a nonce until the node has answered this one.
    pub(crate) async fn submit<D: ethers::abi::Detokenize>(
        &self,
        call: ContractCall<M, D>,
        nonce: Option<u64>,
    ) -> Result<(ethers::types::H256, u64), ChainError> {
        let mut hint = self.nonces.lock().await;
        let n = match nonce {
            Some(n) => n,
            None => hint.next(self.pending_count().await?, Instant::now()),
        };
        match call.nonce(n).send().await {
            Ok(pending) => {
                hint.taken(n, Instant::now());
                Ok((pending.tx_hash(), n))
            }
            Err(e) => {
                let e = contract_error(e);
                // A send that may have left, or a nonce the node says is used: the node's
                // count decides the next nonce.
                let too_low =
                    matches!(&e, ChainError::Reverted { name, .. } if name == "NonceTooLow");
                if e.is_transient() || too_low {
                    hint.forget();
                }
                Err(e)
            }
        }
    }

    /// The node's count of the account's transactions, pending ones included.
    async fn pending_count(&self) -> Result<u64, ChainError> {
        self.client
            .get_transaction_count(self.account, Some(BlockNumber::Pending.into()))
            .await
            .map(|n| n.low_u64())
            .map_err(middleware_error)
    }

    /// The account's next nonce as this client would choose it now: the node's pending
    /// count, or more when this client sent a transaction the node does not count yet.
    pub(crate) async fn chosen_nonce(&self) -> Result<u64, ChainError> {
        let hint = self.nonces.lock().await;
        Ok(hint.next(self.pending_count().await?, Instant::now()))
    }
}

#[async_trait]
impl<M: Middleware + 'static> RoundInfo for ChainClient<M> {
    async fn current_block(&self) -> Result<u64, ChainError> {
        self.client
            .get_block_number()
            .await
            .map(|b| b.as_u64())
            .map_err(middleware_error)
    }
    async fn current_round(&self) -> Result<u64, ChainError> {
        self.rounds
            .current_round()
            .call()
            .await
            .map(|r| r.low_u64())
            .map_err(contract_error)
    }
    async fn last_initialized_round(&self) -> Result<u64, ChainError> {
        self.rounds
            .last_initialized_round()
            .call()
            .await
            .map(|r| r.low_u64())
            .map_err(contract_error)
    }
    async fn block_hash_for_round(&self, round: u64) -> Result<H256, ChainError> {
        self.rounds
            .block_hash_for_round(U256::from(round))
            .call()
            .await
            .map(H256::from)
            .map_err(contract_error)
    }
    async fn round_length(&self) -> Result<u64, ChainError> {
        self.rounds
            .round_length()
            .call()
            .await
            .map(|r| r.low_u64())
            .map_err(contract_error)
    }
}
