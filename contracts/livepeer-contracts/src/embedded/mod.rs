//! An embedded chain: revm in process, served to ethers as a JSON-RPC transport, so the same
//! bindings and the same compiled contracts run here and on any real node.
//!
//! No server and no ports. Blocks are produced on demand: each transaction is mined as it
//! arrives (automine, the default), or kept in a mempool until [`EmbeddedChain::mine`], which
//! lets tests see pending and replaced transactions. Tests move time with
//! [`EmbeddedChain::mine`] and [`EmbeddedChain::advance_blocks`].

mod convert;
mod node;
mod rpc;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ethers::providers::Provider;
use ethers::types::{Address, U256};

pub use node::NodeConfig;
pub use rpc::EmbeddedRpcError;

use node::NodeState;

/// The private keys of the ten standard development accounts (the same as anvil's and
/// hardhat's), funded with 10,000 ETH each on a default embedded chain. Public knowledge:
/// never use them on a real network.
pub const DEV_KEYS: [&str; 10] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/// An in-process chain. Cheap to clone: clones share the chain.
#[derive(Clone)]
pub struct EmbeddedChain {
    state: Arc<Mutex<NodeState>>,
}

impl std::fmt::Debug for EmbeddedChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("EmbeddedChain")
            .field("chain_id", &s.config.chain_id)
            .field("block", &s.head().number)
            .finish()
    }
}

impl EmbeddedChain {
    /// A chain with `config`.
    pub fn new(config: NodeConfig) -> Self {
        EmbeddedChain {
            state: Arc::new(Mutex::new(NodeState::new(config))),
        }
    }

    /// A chain whose ten [`DEV_KEYS`] accounts hold 10,000 ETH each.
    pub fn with_dev_accounts() -> Self {
        let funded = DEV_KEYS
            .iter()
            .filter_map(|k| k.parse::<ethers::signers::LocalWallet>().ok())
            .map(|w| (ethers::signers::Signer::address(&w), U256::exp10(22)))
            .collect();
        Self::new(NodeConfig {
            funded,
            ..NodeConfig::default()
        })
    }

    fn lock(&self) -> MutexGuard<'_, NodeState> {
        // Every mutation below completes or leaves the state as it was before the call.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An ethers provider over this chain, polling receipts every millisecond.
    pub fn provider(&self) -> Provider<EmbeddedChain> {
        Provider::new(self.clone()).interval(Duration::from_millis(1))
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.lock().config.chain_id
    }

    /// The latest block number.
    pub fn block_number(&self) -> u64 {
        self.lock().head().number
    }

    /// Mines `n` blocks (the first one includes what is in the mempool).
    pub fn mine(&self, n: u64) {
        let mut s = self.lock();
        for _ in 0..n {
            s.mine_block();
        }
    }

    /// Mines empty blocks until the chain reaches block `number`.
    pub fn advance_to_block(&self, number: u64) {
        let mut s = self.lock();
        while s.head().number < number {
            s.mine_block();
        }
    }

    /// Mines `n` more blocks.
    pub fn advance_blocks(&self, n: u64) {
        self.mine(n);
    }

    /// Switches between mining every transaction on arrival and manual mining.
    pub fn set_automine(&self, on: bool) {
        self.lock().automine = on;
    }

    /// Transactions waiting in the mempool.
    pub fn pending_count(&self) -> usize {
        self.lock().mempool.len()
    }

    /// Sets an account's balance.
    pub fn set_balance(&self, account: Address, balance: U256) {
        self.lock().set_balance(account, balance);
    }

    /// A copy of the whole chain as it is now; [`EmbeddedChain::restore`] returns to it.
    pub fn snapshot(&self) -> ChainSnapshot {
        ChainSnapshot(Box::new(self.lock().clone()))
    }

    /// Returns the chain to a snapshot.
    pub fn restore(&self, snap: &ChainSnapshot) {
        *self.lock() = (*snap.0).clone();
    }
}

/// A saved state of an [`EmbeddedChain`].
pub struct ChainSnapshot(Box<NodeState>);

impl std::fmt::Debug for ChainSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainSnapshot")
            .field("block", &self.0.head().number)
            .finish()
    }
}
