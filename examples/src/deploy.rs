//! `devnet deploy`: the contracts on a JSON-RPC node (anvil, a testnet), their addresses
//! written for the other binaries' `--contracts`.

use std::path::PathBuf;
use std::sync::Arc;

use ethers::middleware::SignerMiddleware;
use ethers::signers::Signer as _;
use livepeer_contracts::{ChainClient, DeployConfig, deploy};
use livepeer_core::parse_address;
use livepeer_transcode::hls::write_atomic;

use crate::keys::KeyArgs;
use crate::rpc::{ChainArgs, parse_tokens};

/// Deploy the contracts and write their addresses.
#[derive(Debug, clap::Args)]
pub struct Deploy {
    /// The chain to deploy on.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The deployer (it holds the stake token's initial supply and is the trusted verifier).
    #[command(flatten)]
    pub key: KeyArgs,
    /// Where to write the addresses (JSON).
    #[arg(long, value_name = "FILE")]
    pub write: PathBuf,
    /// Blocks per round.
    #[arg(long, default_value_t = 20)]
    pub round_length: u64,
    /// Give stake tokens to an account: ADDRESS=AMOUNT (whole units, or e.g. 100tokens).
    /// Repeat for several.
    #[arg(long, value_name = "ADDRESS=AMOUNT")]
    pub grant: Vec<String>,
}

#[allow(clippy::print_stdout)]
/// Deploys and writes the addresses.
pub async fn deploy_on(d: Deploy) -> anyhow::Result<()> {
    let key = d.key.load()?;
    let mut grants = Vec::new();
    for g in &d.grant {
        let (a, n) = g
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--grant {g:?}: expected ADDRESS=AMOUNT"))?;
        let addr = parse_address(a.trim()).map_err(|e| anyhow::anyhow!("--grant {g:?}: {e}"))?;
        grants.push((addr, parse_tokens(n)?));
    }
    if d.round_length < 5 {
        anyhow::bail!("--round-length must be at least 5 blocks");
    }
    let provider = d.chain.provider().await?;
    let w = key.wallet.clone().with_chain_id(d.chain.chain_id);
    let mw = Arc::new(SignerMiddleware::new(provider, w));
    let mut cfg = DeployConfig::default();
    cfg.round_length = d.round_length;
    let addrs = deploy(mw.clone(), &cfg).await?;
    let client = ChainClient::connect(mw, addrs, d.chain.chain_id).await?;
    for (a, n) in grants {
        client.transfer_stake_token(a, n).await?;
    }
    write_atomic(&d.write, &serde_json::to_vec_pretty(&addrs)?)?;
    println!(
        "contracts deployed; addresses written to {}",
        d.write.display()
    );
    Ok(())
}
