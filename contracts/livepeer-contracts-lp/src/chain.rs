//! [`LivepeerChain`]: Livepeer's deployed contracts over any ethers middleware, every address
//! resolved through the Controller at connect time.

use std::sync::Arc;

use ethers::contract::builders::ContractCall;
use ethers::providers::{Middleware, PendingTransaction};
use ethers::types::{Address, H160, U256};
use ethers::utils::keccak256;
use livepeer_core::H256;
use livepeer_core::chain::{ChainError, TxOutcome};
use serde::{Deserialize, Serialize};

use crate::bindings::{
    bonding_manager::BondingManager, controller::Controller, livepeer_token::LivepeerToken,
    rounds_manager::RoundsManager, service_registry::ServiceRegistry, ticket_broker::TicketBroker,
};
use crate::error::{LpError, contract_error, middleware_error};

/// The Controller of Livepeer's Arbitrum One deployment (chain id 42161),
/// `0xD8E8328501E9645d16Cf49539efC04f734606ee4`: the one address a client configures (also
/// go-livepeer's default for `arbitrum-one-mainnet`). Every other address is resolved through
/// it, so upgrades that re-register a target need no change here.
pub const ARBITRUM_ONE_CONTROLLER: Address = H160([
    0xd8, 0xe8, 0x32, 0x85, 0x01, 0xe9, 0x64, 0x5d, 0x16, 0xcf, 0x49, 0x53, 0x9e, 0xfc, 0x04, 0xf7,
    0x34, 0x60, 0x6e, 0xe4,
]);

/// Arbitrum One's chain id.
pub const ARBITRUM_ONE_CHAIN_ID: u64 = 42161;

/// The Controller id of a contract name: `keccak256(name)`, as Livepeer registers them.
pub fn contract_id(name: &str) -> [u8; 32] {
    keccak256(name.as_bytes())
}

/// The addresses a [`LivepeerChain`] resolved, each by its Controller name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LivepeerAddresses {
    /// The Controller (configured, not resolved).
    pub controller: Address,
    /// `TicketBroker` (the proxy).
    pub ticket_broker: Address,
    /// `BondingManager` (the proxy).
    pub bonding_manager: Address,
    /// `RoundsManager` (the proxy).
    pub rounds_manager: Address,
    /// `ServiceRegistry` (the proxy).
    pub service_registry: Address,
    /// `Minter`: holds the ETH of every deposit and reserve.
    pub minter: Address,
    /// `LivepeerToken`: LPT.
    pub livepeer_token: Address,
}

impl LivepeerAddresses {
    /// The Controller names resolved at connect time, in the order they are checked.
    pub const NAMES: [&'static str; 6] = [
        "TicketBroker",
        "BondingManager",
        "RoundsManager",
        "ServiceRegistry",
        "Minter",
        "LivepeerToken",
    ];
}

/// Where the block number that tickets and rounds count in comes from.
///
/// Livepeer's contracts count rounds and ticket expiry in `block.number` as their EVM sees it.
/// On Arbitrum that is the **L1** (Ethereum) block number, not the L2 block: off chain it is
/// the non-standard `l1BlockNumber` field of an Arbitrum block header (go-livepeer's
/// `eth/blockwatch`). On a local chain (anvil) it is simply the local block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum BlockSource {
    /// `RoundsManager.blockNum()`: exactly what the contracts see, on any chain, for one
    /// `eth_call`. The default.
    #[default]
    RoundsManager,
    /// The node's `eth_blockNumber`: right on anvil or an L1 node, wrong on Arbitrum.
    Local,
    /// The `l1BlockNumber` field of the latest Arbitrum block header.
    ArbitrumL1,
}

/// Livepeer's contracts as one account sees them, over any ethers middleware.
///
/// Built by [`LivepeerChain::connect`] from the Controller's address alone. Implements the
/// `livepeer-core` chain traits whose semantics Livepeer shares (see the crate docs for where
/// they differ); Livepeer-only calls are inherent methods.
pub struct LivepeerChain<M> {
    pub(crate) client: Arc<M>,
    pub(crate) account: Address,
    pub(crate) chain_id: u64,
    pub(crate) addresses: LivepeerAddresses,
    pub(crate) block_source: BlockSource,
    pub(crate) controller: Controller<M>,
    pub(crate) broker: TicketBroker<M>,
    pub(crate) bonding: BondingManager<M>,
    pub(crate) rounds: RoundsManager<M>,
    pub(crate) registry: ServiceRegistry<M>,
    pub(crate) token: LivepeerToken<M>,
}

impl<M> std::fmt::Debug for LivepeerChain<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivepeerChain")
            .field("account", &self.account)
            .field("addresses", &self.addresses)
            .field("block_source", &self.block_source)
            .finish()
    }
}

/// Resolves `name` through the Controller at `controller`: its registered address, which must
/// hold code.
pub async fn resolve<M: Middleware + 'static>(
    client: &Arc<M>,
    controller: Address,
    name: &str,
) -> Result<Address, LpError> {
    let c = Controller::new(controller, client.clone());
    let address = c
        .get_contract(contract_id(name))
        .call()
        .await
        .map_err(contract_error)?;
    if address.is_zero() {
        return Err(LpError::NotRegistered {
            name: name.to_owned(),
        });
    }
    require_code(client, name, address).await?;
    Ok(address)
}

async fn require_code<M: Middleware>(
    client: &Arc<M>,
    contract: &str,
    address: Address,
) -> Result<(), LpError> {
    let code = client
        .get_code(address, None)
        .await
        .map_err(middleware_error)?;
    if code.is_empty() {
        return Err(LpError::NoCode {
            contract: contract.to_owned(),
            address,
        });
    }
    Ok(())
}

impl<M: Middleware + 'static> LivepeerChain<M> {
    /// Connects through the Controller at `controller`: checks it holds code, then resolves
    /// every name of [`LivepeerAddresses::NAMES`] with `getContract(keccak256(name))` and
    /// checks each holds code. Sends nothing. Transactions go from the middleware's default
    /// sender (a `SignerMiddleware`'s wallet); over a plain provider the chain is read-only
    /// and [`LivepeerChain::account`] is the zero address.
    pub async fn connect(client: Arc<M>, controller: Address) -> Result<Self, LpError> {
        let chain_id = client
            .get_chainid()
            .await
            .map_err(middleware_error)?
            .low_u64();
        require_code(&client, "Controller", controller).await?;
        let mut resolved = [Address::zero(); 6];
        for (slot, name) in resolved.iter_mut().zip(LivepeerAddresses::NAMES) {
            *slot = resolve(&client, controller, name).await?;
        }
        let [
            ticket_broker,
            bonding_manager,
            rounds_manager,
            service_registry,
            minter,
            livepeer_token,
        ] = resolved;
        let addresses = LivepeerAddresses {
            controller,
            ticket_broker,
            bonding_manager,
            rounds_manager,
            service_registry,
            minter,
            livepeer_token,
        };
        tracing::debug!(
            ?addresses,
            "resolved Livepeer contracts through the Controller"
        );
        Ok(Self::with_addresses(client, addresses, chain_id))
    }

    /// Like [`LivepeerChain::connect`], and first checks the node serves `chain_id`.
    pub async fn connect_on(
        client: Arc<M>,
        controller: Address,
        chain_id: u64,
    ) -> Result<Self, LpError> {
        let actual = client.get_chainid().await.map_err(middleware_error)?;
        if actual != U256::from(chain_id) {
            return Err(ChainError::WrongChain {
                expected: chain_id,
                actual: actual.low_u64(),
            }
            .into());
        }
        Self::connect(client, controller).await
    }

    fn with_addresses(client: Arc<M>, addresses: LivepeerAddresses, chain_id: u64) -> Self {
        LivepeerChain {
            account: client.default_sender().unwrap_or_default(),
            chain_id,
            block_source: BlockSource::default(),
            controller: Controller::new(addresses.controller, client.clone()),
            broker: TicketBroker::new(addresses.ticket_broker, client.clone()),
            bonding: BondingManager::new(addresses.bonding_manager, client.clone()),
            rounds: RoundsManager::new(addresses.rounds_manager, client.clone()),
            registry: ServiceRegistry::new(addresses.service_registry, client.clone()),
            token: LivepeerToken::new(addresses.livepeer_token, client.clone()),
            client,
            addresses,
        }
    }

    /// Sets where [`LivepeerChain::block_number`] reads the block number from.
    pub fn with_block_source(mut self, source: BlockSource) -> Self {
        self.block_source = source;
        self
    }

    /// The account this chain sends transactions from.
    pub fn account(&self) -> Address {
        self.account
    }

    /// The chain id the node reported when connecting.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The addresses resolved at connect time.
    pub fn addresses(&self) -> &LivepeerAddresses {
        &self.addresses
    }

    /// The block source in use.
    pub fn block_source(&self) -> BlockSource {
        self.block_source
    }

    /// The middleware.
    pub fn middleware(&self) -> &Arc<M> {
        &self.client
    }

    /// Resolves any other name through this chain's Controller (e.g. `"BondingVotes"`).
    pub async fn resolve(&self, name: &str) -> Result<Address, LpError> {
        resolve(&self.client, self.addresses.controller, name).await
    }

    /// Whether the Controller has paused the protocol (every state change then reverts).
    pub async fn paused(&self) -> Result<bool, ChainError> {
        self.controller
            .paused()
            .call()
            .await
            .map_err(contract_error)
    }

    /// The block number tickets and rounds count in, from the configured [`BlockSource`].
    pub async fn block_number(&self) -> Result<u64, ChainError> {
        match self.block_source {
            BlockSource::RoundsManager => self
                .rounds
                .block_num()
                .call()
                .await
                .map(|b| b.low_u64())
                .map_err(contract_error),
            BlockSource::Local => self
                .client
                .get_block_number()
                .await
                .map(|b| b.as_u64())
                .map_err(middleware_error),
            BlockSource::ArbitrumL1 => {
                let block: serde_json::Value = self
                    .client
                    .provider()
                    .request("eth_getBlockByNumber", ("latest", false))
                    .await
                    .map_err(|e| ChainError::Transport(e.to_string()))?;
                l1_block_number(&block)
            }
        }
    }

    /// Initializes the current round if nobody has yet (anyone may; it costs gas).
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

    /// Whether the current round is initialized (redemption, bonding and funding need it).
    pub async fn current_round_initialized(&self) -> Result<bool, ChainError> {
        self.rounds
            .current_round_initialized()
            .call()
            .await
            .map_err(contract_error)
    }

    /// Sends a contract call and waits for it to be mined; a mined revert is an error.
    pub(crate) async fn send<D: ethers::abi::Detokenize>(
        &self,
        call: ContractCall<M, D>,
    ) -> Result<TxOutcome, ChainError> {
        self.send_receipt(call).await.map(|(o, _)| o)
    }

    /// Like [`LivepeerChain::send`], returning the receipt too.
    pub(crate) async fn send_receipt<D: ethers::abi::Detokenize>(
        &self,
        call: ContractCall<M, D>,
    ) -> Result<(TxOutcome, ethers::types::TransactionReceipt), ChainError> {
        let tx = call.tx.clone();
        let pending = call.send().await.map_err(contract_error)?;
        let hash = pending.tx_hash();
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
            return Err(self.mined_revert(&tx, outcome.block).await);
        }
        Ok((outcome, receipt))
    }

    /// The reason of a transaction that was mined and reverted (sent with a fixed gas limit,
    /// so no estimate caught it): the same call replayed on the state before its block.
    async fn mined_revert(
        &self,
        tx: &ethers::types::transaction::eip2718::TypedTransaction,
        block: u64,
    ) -> ChainError {
        let at = ethers::types::BlockId::from(block.saturating_sub(1));
        match self.client.call(tx, Some(at)).await {
            Err(e) => match middleware_error(e) {
                revert @ ChainError::Reverted { .. } => revert,
                _ => ChainError::Reverted {
                    name: "unknown".into(),
                    data: Vec::new(),
                },
            },
            Ok(_) => ChainError::Reverted {
                name: "unknown".into(),
                data: Vec::new(),
            },
        }
    }
}

/// The `l1BlockNumber` of an Arbitrum block header as JSON-RPC returns it.
pub(crate) fn l1_block_number(block: &serde_json::Value) -> Result<u64, ChainError> {
    let field = block
        .get("l1BlockNumber")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            ChainError::Decode("block header has no l1BlockNumber (not an Arbitrum node?)".into())
        })?;
    u64::from_str_radix(field.trim_start_matches("0x"), 16)
        .map_err(|e| ChainError::Decode(format!("l1BlockNumber {field}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arbitrum_controller_constant() {
        let parsed: Address = "0xD8E8328501E9645d16Cf49539efC04f734606ee4"
            .parse()
            .unwrap();
        assert_eq!(ARBITRUM_ONE_CONTROLLER, parsed);
    }

    #[test]
    fn contract_ids_are_keccak_of_names() {
        // keccak256("TicketBroker"), as Livepeer's deploy scripts register it.
        assert_eq!(
            ethers::utils::hex::encode(contract_id("TicketBroker")),
            ethers::utils::hex::encode(keccak256(b"TicketBroker"))
        );
        assert_ne!(
            contract_id("TicketBroker"),
            contract_id("TicketBrokerTarget")
        );
    }

    #[test]
    fn l1_block_number_from_header() {
        let h = serde_json::json!({"number": "0x10", "l1BlockNumber": "0x1312d00"});
        assert_eq!(l1_block_number(&h).unwrap(), 20_000_000);
        let anvil = serde_json::json!({"number": "0x10"});
        assert!(matches!(
            l1_block_number(&anvil),
            Err(ChainError::Decode(_))
        ));
    }
}
