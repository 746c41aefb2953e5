//! Nodes on a JSON-RPC chain: a client checked to be on the expected chain, with contracts
//! whose code is ours.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ethers::middleware::SignerMiddleware;
use ethers::providers::{Http, Middleware as _, Provider};
use ethers::signers::{LocalWallet, Signer as _};
use livepeer_contracts::{Addresses, ChainClient};
use livepeer_core::{LocalSigner, U256};

use crate::error::{NodeError, Result};

/// A chain client on a JSON-RPC node, signing with a local key.
pub type RpcClient = ChainClient<SignerMiddleware<Provider<Http>, LocalWallet>>;

/// The provider at `url`, checked to answer within 10 s and to be on chain `chain_id`.
pub async fn provider(url: &str, chain_id: u64) -> Result<Provider<Http>> {
    let p = Provider::<Http>::try_from(url)
        .map_err(|e| NodeError::Config(format!("{url:?} is not a URL: {e}")))?
        .interval(Duration::from_millis(200));
    let id = tokio::time::timeout(Duration::from_secs(10), p.get_chainid())
        .await
        .map_err(|_| {
            NodeError::Unreachable(format!("the JSON-RPC node at {url} did not answer in 10 s"))
        })?
        .map_err(|e| {
            NodeError::Unreachable(format!(
                "cannot reach the JSON-RPC node at {url} ({e}); is it running?"
            ))
        })?;
    if id != U256::from(chain_id) {
        return Err(NodeError::ChainIdMismatch {
            expected: chain_id,
            actual: id.low_u64(),
        });
    }
    Ok(p)
}

/// Reads a contracts file (the JSON `devnet deploy --write FILE` writes).
pub fn read_addresses(path: &Path) -> Result<Addresses> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        NodeError::Config(format!(
            "reading the contracts file {}: {e}",
            path.display()
        ))
    })?;
    serde_json::from_str(&text)
        .map_err(|e| NodeError::Config(format!("{} is not a contracts file: {e}", path.display())))
}

/// A client for `key` on the JSON-RPC node at `url`, which must be on chain `chain_id`,
/// with the contracts at `addresses` checked to be ours.
pub async fn connect(
    url: &str,
    chain_id: u64,
    addresses: Addresses,
    key: &LocalSigner,
) -> Result<Arc<RpcClient>> {
    let p = provider(url, chain_id).await?;
    let w = LocalWallet::from_bytes(&key.secret_bytes())
        .map_err(|e| NodeError::Config(format!("the key: {e}")))?
        .with_chain_id(chain_id);
    let client = ChainClient::connect(Arc::new(SignerMiddleware::new(p, w)), addresses, chain_id)
        .await
        .map_err(|e| anyhow::anyhow!("checking the contracts on {url}: {e}"))?;
    Ok(Arc::new(client))
}
