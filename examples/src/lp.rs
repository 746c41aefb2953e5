//! The broadcaster binary on go-livepeer's protocol (feature `livepeer`): streaming to
//! go-livepeer orchestrators, on our contracts or on Livepeer's deployed ones (Arbitrum
//! One), and the funds commands on Livepeer's TicketBroker.

use std::path::Path;
use std::sync::Arc;

use ethers::middleware::SignerMiddleware;
use ethers::providers::{Http, Provider};
use ethers::signers::{LocalWallet, Signer as _};
use livepeer_contracts_lp::{ARBITRUM_ONE_CONTROLLER, LivepeerChain};
use livepeer_core::chain::{RegistryReader, RoundInfo, TicketBrokerReader};
use livepeer_core::{Address, Ladder, LocalSigner, PixelPrice, parse_address};
use livepeer_node::livepeer::LivepeerGateway;
use livepeer_node::{Progress, SegmentSource, StreamStats};

use crate::keys::Key;
use crate::rpc::ChainArgs;

/// Livepeer's deployed contracts as a chain backend.
pub type LpChain = LivepeerChain<SignerMiddleware<Provider<Http>, LocalWallet>>;

/// Where Livepeer's deployed contracts are.
#[derive(Clone, Debug, clap::Args)]
pub struct LivepeerArgs {
    /// Run on Livepeer's deployed contracts, found through the Controller at this address
    /// (`arbitrum-one`: Livepeer's Controller on Arbitrum One, with --chain-id 42161),
    /// instead of ours (--contracts).
    #[arg(
        long,
        global = true,
        env = "LIVEPEER_CONTROLLER",
        value_name = "ADDRESS"
    )]
    pub livepeer_controller: Option<String>,
}

impl LivepeerArgs {
    /// The Controller's address, when one is given.
    pub fn controller(&self) -> anyhow::Result<Option<Address>> {
        match self.livepeer_controller.as_deref() {
            None => Ok(None),
            Some("arbitrum-one") => Ok(Some(ARBITRUM_ONE_CONTROLLER)),
            Some(a) => parse_address(a)
                .map(Some)
                .map_err(|e| anyhow::anyhow!("--livepeer-controller {a:?}: {e}")),
        }
    }
}

/// Livepeer's contracts through `controller`, acting as `key`.
pub async fn connect(
    chain: &ChainArgs,
    key: &Key,
    controller: Address,
) -> anyhow::Result<Arc<LpChain>> {
    let provider = chain.provider().await?;
    let wallet = key.wallet.clone().with_chain_id(chain.chain_id);
    let mw = Arc::new(SignerMiddleware::new(provider, wallet));
    let lp = LivepeerChain::connect_on(mw, controller, chain.chain_id)
        .await
        .map_err(|e| anyhow::anyhow!("Livepeer's contracts through {controller:?}: {e}"))?;
    Ok(Arc::new(lp))
}

/// What a stream through go-livepeer orchestrators is told.
#[derive(Debug)]
pub struct GatewayStream<'a> {
    /// The orchestrators (`https://host:port`); none: the registry's active ones.
    pub orchestrators: &'a [String],
    /// Orchestrators asking more are not used.
    pub max_price: Option<PixelPrice>,
    /// The ladder.
    pub ladder: &'a Ladder,
    /// Where the HLS goes.
    pub out: &'a Path,
}

/// Streams `source` through go-livepeer orchestrators on `chain`, paying with `key`: the
/// stream's figures and the tickets sent.
pub async fn stream<C>(
    chain: Arc<C>,
    key: LocalSigner,
    job: &GatewayStream<'_>,
    source: &mut SegmentSource,
    progress: &dyn Progress,
) -> anyhow::Result<(StreamStats, u64)>
where
    C: RoundInfo + TicketBrokerReader + RegistryReader + 'static,
{
    let mut b = LivepeerGateway::builder(chain)
        .key(key)
        .orchestrators(job.orchestrators.iter().cloned());
    if let Some(p) = job.max_price {
        b = b.max_price(p);
    }
    let gateway = b.build().await?;
    let st = gateway
        .stream(source, job.ladder, job.out, progress)
        .await?;
    Ok((st, gateway.tickets_sent()))
}
