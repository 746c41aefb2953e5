//! The binaries on a JSON-RPC node: where the node is, which chain it must be, and where the
//! contracts are. A node on another chain, or contracts whose code is not ours, are refused.

use std::path::PathBuf;
use std::sync::Arc;

use ethers::providers::{Http, Provider};
use livepeer_core::{U256, Wei};

use crate::keys::Key;

pub use livepeer_node::RpcClient;

/// Where the chain is.
#[derive(Clone, Debug, clap::Args)]
pub struct ChainArgs {
    /// The JSON-RPC endpoint of an Ethereum node.
    #[arg(
        long,
        global = true,
        env = "LIVEPEER_RPC",
        default_value = "http://127.0.0.1:8545"
    )]
    pub rpc: String,
    /// The chain id the node must report (31337 for anvil); another is refused.
    #[arg(
        long,
        global = true,
        env = "LIVEPEER_CHAIN_ID",
        default_value_t = 31337
    )]
    pub chain_id: u64,
    /// The contracts' addresses: the JSON file `devnet deploy --write FILE` writes.
    #[arg(long, global = true, env = "LIVEPEER_CONTRACTS", value_name = "FILE")]
    pub contracts: Option<PathBuf>,
}

impl ChainArgs {
    /// The provider, checked to answer and to be on the expected chain.
    pub async fn provider(&self) -> anyhow::Result<Provider<Http>> {
        livepeer_node::rpc::provider(&self.rpc, self.chain_id)
            .await
            .map_err(|e| self.which(&e).unwrap_or_else(|| e.into()))
    }

    /// A provider error with the option to fix named (`--chain-id` or `--rpc`); `None` for
    /// any other error.
    fn which(&self, e: &livepeer_node::NodeError) -> Option<anyhow::Error> {
        use livepeer_node::NodeError::{ChainIdMismatch, Config, Unreachable};
        match e {
            ChainIdMismatch { .. } => Some(anyhow::anyhow!(
                "{e} (--chain-id; the node is at {})",
                self.rpc
            )),
            Config(_) | Unreachable(_) => Some(anyhow::anyhow!("{e} (--rpc)")),
            _ => None,
        }
    }

    /// The domain receipts and segment claims of this deployment are signed for: `--chain-id`
    /// and the FaultVerifier of `--contracts`, read from the file alone (no node is asked).
    pub fn signing_domain(&self) -> anyhow::Result<livepeer_core::Domain> {
        let path = self.contracts.as_ref().ok_or_else(|| {
            anyhow::anyhow!(
                "no contracts given: use --contracts FILE (written by `devnet deploy`) and \
                 --chain-id, the deployment the statements are signed for"
            )
        })?;
        let addresses = livepeer_node::rpc::read_addresses(path)?;
        Ok(addresses.signing_domain(self.chain_id))
    }

    /// A client for `key` on the chain, with the contracts checked.
    pub async fn connect(&self, key: &Key) -> anyhow::Result<Arc<RpcClient>> {
        let path = self.contracts.as_ref().ok_or_else(|| {
            anyhow::anyhow!("no contracts given: use --contracts FILE (written by `devnet deploy`)")
        })?;
        let addresses = livepeer_node::rpc::read_addresses(path)?;
        livepeer_node::rpc::connect(&self.rpc, self.chain_id, addresses, &key.signer)
            .await
            .map_err(|e| {
                self.which(&e).unwrap_or_else(|| {
                    anyhow::Error::from(e).context(format!(
                        "checking the contracts of {} on {}",
                        path.display(),
                        self.rpc
                    ))
                })
            })
    }
}

/// Parses an amount: whole wei (`1000000`), or a decimal with a unit (`1.5eth`, `2 gwei`).
pub fn parse_amount(s: &str) -> anyhow::Result<Wei> {
    let t = s.trim().to_ascii_lowercase();
    let units = [("ether", 18), ("eth", 18), ("gwei", 9), ("wei", 0)];
    for (unit, decimals) in units {
        if let Some(num) = t.strip_suffix(unit) {
            let v = ethers::utils::parse_units(num.trim(), decimals)
                .map_err(|e| anyhow::anyhow!("amount {s:?}: {e}"))?;
            return Ok(Wei(v.into()));
        }
    }
    U256::from_dec_str(&t)
        .map(Wei)
        .map_err(|_| anyhow::anyhow!("amount {s:?}: use wei, or a number with eth or gwei"))
}

/// Parses a stake token amount: whole units (`1000000000000000000`) or `10tokens` / `10lpt`
/// (18 decimals).
pub fn parse_tokens(s: &str) -> anyhow::Result<U256> {
    let t = s.trim().to_ascii_lowercase();
    for unit in ["tokens", "token", "lpt"] {
        if let Some(num) = t.strip_suffix(unit) {
            let v = ethers::utils::parse_units(num.trim(), 18)
                .map_err(|e| anyhow::anyhow!("amount {s:?}: {e}"))?;
            return Ok(v.into());
        }
    }
    U256::from_dec_str(&t)
        .ok()
        .ok_or_else(|| anyhow::anyhow!("amount {s:?}: use whole units or a number with `tokens`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("1eth").unwrap(), Wei(U256::exp10(18)));
        assert_eq!(parse_amount("1.5 ETH").unwrap(), Wei(U256::exp10(17) * 15));
        assert_eq!(
            parse_amount("2gwei").unwrap(),
            Wei(U256::from(2_000_000_000u64))
        );
        assert_eq!(parse_amount("42").unwrap(), Wei(U256::from(42)));
        assert!(parse_amount("-1").is_err());
        assert!(parse_amount("lots").is_err());
        assert_eq!(parse_tokens("10tokens").unwrap(), U256::exp10(19));
        assert_eq!(parse_tokens("7").unwrap(), U256::from(7));
        assert!(parse_tokens("x").is_err());
    }
}
