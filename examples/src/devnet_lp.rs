//! The devnet on Livepeer's deployed contracts (feature `livepeer`): anvil with Livepeer's
//! production bytecode deployed and found through its Controller, orchestrator nodes of
//! ours staked in Livepeer's BondingManager and registered in its ServiceRegistry with their
//! go-livepeer ports' `https://` URIs, and a broadcaster that finds them there and streams
//! to them on go-livepeer's protocol, paid through Livepeer's TicketBroker; the winners are
//! redeemed there and the fees read back from the BondingManager.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use ethers::middleware::SignerMiddleware;
use ethers::providers::{Http, Middleware as _, Provider};
use ethers::signers::Signer as _;
use livepeer_contracts::embedded::DEV_KEYS;
use livepeer_contracts_lp::LivepeerChain;
use livepeer_contracts_lp::deploy::{self, DeployConfig, OrchestratorSetup, setup_orchestrator};
use livepeer_core::chain::{TicketBrokerReader, TicketFunding};
use livepeer_core::store::RedbStore;
use livepeer_core::transcode::Transcoder;
use livepeer_core::{Address, AddressExt, Ladder, PixelPrice, U256, Wei};
use livepeer_node::livepeer::{LivepeerConfig, LivepeerGateway};
use livepeer_node::{FollowConfig, OrchestratorNode, Progress, SegmentSource};
use livepeer_pm::{QueueConfig, RecipientConfig, WinnerState};
use livepeer_transcode::{SoftwareConfig, SoftwareTranscoder};
use tokio::task::JoinHandle;
use tracing::info;

use crate::devnet::DevnetConfig;
use crate::keys::Key;
use crate::lp::LpChain;

/// Blocks per round on the devnet's Livepeer deployment.
const ROUND_LENGTH: u64 = 40;

/// What one orchestrator did.
#[derive(Clone, Debug)]
pub struct LpOrchestratorSummary {
    /// Its address.
    pub address: Address,
    /// Its go-livepeer URI, as registered.
    pub uri: String,
    /// Segments it transcoded for the stream.
    pub segments: u64,
    /// Winning tickets it persisted.
    pub winners: usize,
    /// Of those, redeemed on Livepeer's TicketBroker.
    pub redeemed: usize,
    /// Fees it can withdraw from Livepeer's BondingManager, wei.
    pub fees: U256,
}

/// What the devnet on Livepeer's contracts did.
#[derive(Clone, Debug)]
pub struct LpSummary {
    /// Segments cut from the input.
    pub segments_in: u64,
    /// Segments transcoded, checked and written.
    pub segments_out: u64,
    /// Segments that failed everywhere.
    pub segments_failed: u64,
    /// Tickets the broadcaster signed.
    pub tickets_sent: u64,
    /// What the broadcaster's deposit and reserve lost, wei.
    pub spent: U256,
    /// The master playlist.
    pub master: PathBuf,
    /// Per orchestrator.
    pub orchestrators: Vec<LpOrchestratorSummary>,
}

impl LpSummary {
    /// Prints the summary.
    #[allow(clippy::print_stdout)]
    pub fn print(&self) {
        println!("Livepeer's contracts (production bytecode on anvil), go-livepeer's protocol");
        println!(
            "segments: {} in, {} out, {} failed",
            self.segments_in, self.segments_out, self.segments_failed
        );
        println!("tickets sent: {}", self.tickets_sent);
        println!("broadcaster spent: {} wei", self.spent);
        for o in &self.orchestrators {
            println!(
                "orchestrator {} at {}: {} segments, {} winners, {} redeemed, fees {} wei",
                o.address.checksummed(),
                o.uri,
                o.segments,
                o.winners,
                o.redeemed,
                o.fees
            );
        }
        println!("master playlist: {}", self.master.display());
    }
}

/// anvil, killed on drop.
struct AnvilProcess(Child);

impl Drop for AnvilProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// anvil from `ANVIL_BIN`, the contracts' npm install, or the path.
fn anvil_path() -> PathBuf {
    if let Some(p) = std::env::var_os("ANVIL_BIN").filter(|p| !p.is_empty()) {
        return p.into();
    }
    for base in [
        PathBuf::from("."),
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/..")),
    ] {
        let p = base.join("contracts/node_modules/.bin/anvil");
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("anvil")
}

/// Starts anvil on a free port and waits for it to answer.
async fn start_anvil() -> anyhow::Result<(AnvilProcess, Provider<Http>)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let path = anvil_path();
    let child = Command::new(&path)
        .args([
            "--port",
            &port.to_string(),
            "--hardfork",
            "cancun",
            "--silent",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| {
            format!(
                "starting anvil ({}): run `npm ci` in contracts/ or set ANVIL_BIN",
                path.display()
            )
        })?;
    let anvil = AnvilProcess(child);
    let provider = Provider::<Http>::try_from(format!("http://127.0.0.1:{port}"))?
        .interval(Duration::from_millis(10));
    let t0 = Instant::now();
    while provider.get_chainid().await.is_err() {
        if t0.elapsed() > Duration::from_secs(20) {
            bail!("anvil did not answer on port {port}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((anvil, provider))
}

async fn chain_as(
    provider: &Provider<Http>,
    key: &Key,
    controller: Address,
) -> anyhow::Result<Arc<LpChain>> {
    let id = provider.get_chainid().await?.low_u64();
    let mw = Arc::new(SignerMiddleware::new(
        provider.clone(),
        key.wallet.clone().with_chain_id(id),
    ));
    Ok(Arc::new(LivepeerChain::connect(mw, controller).await?))
}

/// Runs the devnet on Livepeer's contracts to the end of the input. `cfg.cheat`,
/// `hire_reencode` and `verification_rate` do not apply (go-livepeer orchestrators sign
/// nothing a challenge could use).
pub async fn run(cfg: &DevnetConfig, progress: Arc<dyn Progress>) -> anyhow::Result<LpSummary> {
    if cfg.orchestrators == 0 || cfg.orchestrators > DEV_KEYS.len() - 2 {
        bail!("--orchestrators must be 1 to {}", DEV_KEYS.len() - 2);
    }
    if cfg.cheat {
        bail!("--cheat needs our contracts (a fault challenge); leave out --livepeer-contracts");
    }
    let ladder = Ladder::parse(&cfg.profiles)
        .map_err(|e| anyhow::anyhow!("--profiles {:?}: {e}", cfg.profiles))?;
    let mut source = SegmentSource::open(
        cfg.input.as_deref(),
        cfg.segment,
        cfg.pattern_size,
        cfg.pattern_segments,
    )?;
    livepeer_node::source::check_output(&cfg.out)?;
    let (_scratch, state) = crate::devnet::state_dir(cfg.state_dir.as_deref())?;

    progress.stage("starting anvil and deploying Livepeer's contracts");
    let (_anvil, provider) = start_anvil().await?;
    let deployer_key = Key::from_hex(DEV_KEYS[0])?;
    let id = provider.get_chainid().await?.low_u64();
    let mut dc = DeployConfig::default();
    dc.round_length = ROUND_LENGTH;
    let deployment = deploy::deploy(
        Arc::new(SignerMiddleware::new(
            provider.clone(),
            deployer_key.wallet.clone().with_chain_id(id),
        )),
        &dc,
    )
    .await?;
    let controller = deployment.addresses.controller;
    let deployer = chain_as(&provider, &deployer_key, controller).await?;
    info!(controller = %controller.checksummed(), "Livepeer's contracts deployed");
    let clock = spawn_clock(deployer.clone(), cfg.block_time);

    progress.stage("funding the broadcaster in Livepeer's TicketBroker");
    let bcast_key = Key::from_hex(DEV_KEYS[1])?;
    let bcast = chain_as(&provider, &bcast_key, controller).await?;
    let eth = Wei(U256::exp10(18));
    bcast.fund_deposit_and_reserve(eth, eth).await?;
    let before = bcast.sender_info(bcast.account()).await?;

    progress.stage("starting, staking and registering the orchestrators");
    let honest: Arc<dyn Transcoder> = Arc::new(
        tokio::task::spawn_blocking(|| SoftwareTranscoder::new(SoftwareConfig::default()))
            .await??,
    );
    let mut follow = FollowConfig::default();
    follow.every = cfg.block_time;
    let mut nodes = Vec::new();
    for i in 0..cfg.orchestrators {
        let key = Key::from_hex(DEV_KEYS[2 + i])?;
        let chain = chain_as(&provider, &key, controller).await?;
        let mut rc = RecipientConfig::default();
        rc.ticket_ev = Wei::from_u128(cfg.ticket_ev);
        rc.redeem_gas = 250_000;
        rc.tx_cost_multiplier = 4;
        // Face value at least twice the EV (not 100 times it): anvil's gas is nearly free, so
        // with go-livepeer's multiplier a short run would see no winner at all.
        rc.ev_multiplier = 2;
        let mut qc = QueueConfig::default();
        qc.profit_factor_pct = 150;
        let node = OrchestratorNode::builder(chain.clone())
            .key(key.signer.clone())
            .price(PixelPrice::per_pixel(cfg.price.max(1)))
            .tickets(rc)
            .redemption(qc)
            .store(Arc::new(RedbStore::open(
                state.join(format!("livepeer-orchestrator-{i}.redb")),
            )?))
            .transcoder(honest.clone())
            .livepeer(LivepeerConfig::new(([127, 0, 0, 1], 0).into()))
            .keep_rounds(false)
            .follow(follow.clone())
            .drain_timeout(Duration::from_secs(120))
            .build()
            .await?;
        let uri = node
            .livepeer()
            .context("the go-livepeer port")?
            .uri()
            .to_owned();
        let stake = U256::exp10(20) * U256::from(i as u64 + 1);
        setup_orchestrator(&deployer, &chain, &OrchestratorSetup::new(stake, &uri)).await?;
        info!(address = %key.address().checksummed(), %uri, "orchestrator registered in Livepeer's ServiceRegistry");
        nodes.push((node, uri));
    }
    for (n, _) in &nodes {
        n.sync().await?;
    }

    progress.stage("streaming through Livepeer's registry, on go-livepeer's protocol");
    let gateway = LivepeerGateway::builder(bcast.clone())
        .key(bcast_key.signer.clone())
        .max_attempts(cfg.orchestrators.max(2) + 1)
        .segment_timeout(Duration::from_secs(120))
        .build()
        .await?;
    let st = gateway
        .stream(&mut source, &ladder, &cfg.out, &*progress)
        .await?;

    progress.stage("redeeming winning tickets on Livepeer's TicketBroker");
    let mut orchestrators = Vec::new();
    for (node, uri) in &nodes {
        node.drain().await?;
        let records = node.winners().records()?;
        let redeemed = records
            .iter()
            .filter(|r| matches!(r.state, WinnerState::Redeemed { .. }))
            .count();
        orchestrators.push(LpOrchestratorSummary {
            address: node.address(),
            uri: uri.clone(),
            segments: st
                .per_orchestrator
                .get(&node.address())
                .copied()
                .unwrap_or(0),
            winners: records.len(),
            redeemed,
            fees: deployer.pending_fees(node.address()).await?.0,
        });
    }
    clock.abort();
    let after = bcast.sender_info(bcast.account()).await?;
    let total =
        |f: &livepeer_core::chain::SenderInfo| f.deposit.0.saturating_add(f.reserve_remaining.0);
    Ok(LpSummary {
        segments_in: st.segments_in,
        segments_out: st.segments_out,
        segments_failed: st.segments_failed,
        tickets_sent: gateway.tickets_sent(),
        spent: total(&before).saturating_sub(total(&after)),
        master: st.master,
        orchestrators,
    })
}

/// The chain moves on its own: a block every `every`, rounds initialized.
fn spawn_clock(chain: Arc<LpChain>, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let _ = deploy::mine(&chain, 1).await;
            let _ = chain.initialize_round().await;
        }
    })
}
