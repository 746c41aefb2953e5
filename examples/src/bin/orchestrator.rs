//! `orchestrator`: run an orchestrator node on a JSON-RPC chain, and its operator commands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use livepeer_core::chain::{
    RegistryReader as _, ServiceOffer, Staking, StakingReader, TicketRedeemer as _,
};
use livepeer_core::store::{RedbStore, StoreError};
use livepeer_core::transcode::Transcoder;
use livepeer_core::{AddressExt, PixelPrice, Region, ServiceId, Wei, parse_address};
use livepeer_examples::cli;
use livepeer_examples::keys::KeyArgs;
use livepeer_examples::node::{NodeSpec, OrchestratorNode};
use livepeer_examples::rpc::{ChainArgs, RpcClient, parse_amount, parse_tokens};
use livepeer_negotiate::OrchestratorConfig;
use livepeer_pm::{QueueConfig, RecipientConfig, RedemptionQueue, WinnerState};
use livepeer_transcode::{SoftwareConfig, SoftwareTranscoder};
use tracing::{info, warn};

/// Runs a Livepeer orchestrator on a JSON-RPC chain, and manages its stake, registration
/// and winning tickets.
///
/// `orchestrator start` serves quotes and transcoding over QUIC, checks every ticket before
/// work, persists winners before acknowledging a segment, and redeems them on chain.
/// The operator commands (bond, unbond, withdraw-stake, claim, reward, register, status,
/// tickets) send one transaction or read the chain and exit. Keys come from an encrypted
/// keystore, a key file or an environment variable.
#[derive(Debug, Parser)]
#[command(name = "orchestrator", version, about, long_about)]
struct Args {
    #[command(flatten)]
    common: cli::CommonArgs,
    #[command(flatten)]
    chain: ChainArgs,
    /// The orchestrator's key (its on-chain identity).
    #[command(flatten)]
    key: KeyArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the node: quotes, tickets, transcoding, redemptions, until stopped.
    Start(Start),
    /// Bond stake tokens (approving them first) to yourself or another orchestrator.
    Bond {
        /// Amount: whole units, or e.g. 100tokens.
        #[arg(long)]
        amount: String,
        /// The orchestrator to bond to (yourself if not given).
        #[arg(long, value_name = "ADDRESS")]
        to: Option<String>,
    },
    /// Start unbonding stake; it can be withdrawn after the unbonding period.
    Unbond {
        /// Amount: whole units, or e.g. 100tokens.
        #[arg(long)]
        amount: String,
    },
    /// Withdraw stake whose unbonding period has passed.
    WithdrawStake,
    /// Claim rewards and fees earned.
    Claim,
    /// Mint this round's reward (once per round, active orchestrators only).
    Reward,
    /// Register as an orchestrator and list the services, regions and URI in the registry.
    Register {
        /// Where broadcasters reach the node, quic://HOST:PORT.
        #[arg(long)]
        uri: String,
        /// Services offered: cpu-transcoding, gpu-transcoding, or a 0x-prefixed bytes32.
        #[arg(long, default_value = "cpu-transcoding")]
        service: Vec<String>,
        /// Regions served (global, or names such as eu-west).
        #[arg(long, default_value = "global")]
        region: Vec<String>,
        /// Share of rewards kept, in parts per million.
        #[arg(long, default_value_t = 100_000)]
        reward_cut_ppm: u32,
        /// Share of fees passed to delegators, in parts per million.
        #[arg(long, default_value_t = 500_000)]
        fee_share_ppm: u32,
    },
    /// Show stake, activity and the registry entry.
    Status,
    /// Winning tickets waiting for redemption.
    Tickets {
        #[command(subcommand)]
        command: TicketsCommand,
        /// The node's state directory (it must not be running).
        #[arg(
            long,
            global = true,
            env = "LIVEPEER_STATE_DIR",
            default_value = "orchestrator-state"
        )]
        state_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum TicketsCommand {
    /// List every winner the node holds and where it stands.
    List,
    /// Redeem every winner whose params have expired now, whatever the gas price.
    Redeem,
}

#[derive(Debug, clap::Args)]
struct Start {
    /// Where to listen for broadcasters and remote transcoders.
    #[arg(long, env = "LIVEPEER_LISTEN", default_value = "127.0.0.1:8935")]
    listen: SocketAddr,
    /// Price in wei per pixel (e.g. 1200), or a unit amount such as 0.000001gwei.
    #[arg(long, env = "LIVEPEER_PRICE", default_value = "1200")]
    price: String,
    /// Expected value of one ticket (wei, or e.g. 0.0001eth).
    #[arg(long, env = "LIVEPEER_TICKET_EV", default_value = "1000000000000")]
    ticket_ev: String,
    /// A cap on a ticket's face value (wei, or e.g. 0.01eth): lower caps mean more, smaller
    /// winners (go-livepeer's `-maxFaceValue`). Never below the ticket's expected value.
    #[arg(long, env = "LIVEPEER_MAX_FACE_VALUE")]
    max_face_value: Option<String>,
    /// Blocks the quoted ticket params stay valid; keep it well under two rounds.
    #[arg(long, env = "LIVEPEER_PARAMS_VALIDITY_BLOCKS")]
    params_validity_blocks: Option<u64>,
    /// Where winning tickets are persisted.
    #[arg(long, env = "LIVEPEER_STATE_DIR", default_value = "orchestrator-state")]
    state_dir: PathBuf,
    /// In-process software transcoders.
    #[arg(long, env = "LIVEPEER_TRANSCODERS", default_value_t = 1)]
    transcoders: usize,
    /// Remote transcoders allowed to join (their addresses). Repeat for several.
    #[arg(long, value_name = "ADDRESS")]
    allow_transcoder: Vec<String>,
    /// A shared secret remote transcoders must also present.
    #[arg(long, env = "LIVEPEER_TRANSCODER_SECRET")]
    transcoder_secret: Option<String>,
    /// Update the registry's URI to this node's address at start.
    #[arg(long)]
    register_uri: bool,
    /// Seconds between chain syncs (blocks, rounds, redemptions).
    #[arg(long, default_value_t = 1.0)]
    sync_seconds: f64,
}

fn services(names: &[String]) -> anyhow::Result<Vec<ServiceId>> {
    names
        .iter()
        .map(|n| match n.as_str() {
            "cpu-transcoding" | "cpu" => Ok(ServiceId::cpu_transcoding()),
            "gpu-transcoding" | "gpu" => Ok(ServiceId::gpu_transcoding()),
            other => {
                ServiceId::parse(other).map_err(|e| anyhow::anyhow!("--service {other:?}: {e}"))
            }
        })
        .collect()
}

async fn start(
    chain: Arc<RpcClient>,
    key: livepeer_examples::keys::Key,
    s: Start,
) -> anyhow::Result<()> {
    let price = parse_amount(&s.price)?;
    let ev = parse_amount(&s.ticket_ev)?;
    if s.transcoders == 0 && s.allow_transcoder.is_empty() {
        anyhow::bail!("no transcoder: give --transcoders 1 or more, or --allow-transcoder");
    }
    let round_length = livepeer_core::chain::RoundInfo::round_length(&*chain).await?;
    let mut rc = RecipientConfig::default();
    rc.ticket_ev = ev;
    if let Some(cap) = &s.max_face_value {
        let cap = parse_amount(cap)?;
        if cap.0 < ev.0 {
            anyhow::bail!("--max-face-value is below --ticket-ev: no ticket could be issued");
        }
        rc.max_face_value = Some(cap);
    }
    rc.params_validity_blocks = s
        .params_validity_blocks
        .unwrap_or((round_length * 2 / 5).clamp(1, 40));
    let mut config = OrchestratorConfig::default();
    config.bind = s.listen;
    config.transcoder_secret = s.transcoder_secret;
    for a in &s.allow_transcoder {
        config
            .allowed_transcoders
            .push(parse_address(a).map_err(|e| anyhow::anyhow!("--allow-transcoder {a:?}: {e}"))?);
    }
    std::fs::create_dir_all(&s.state_dir)
        .with_context(|| format!("creating {}", s.state_dir.display()))?;
    let store = open_store(&s.state_dir.join("winners.redb"), "another orchestrator")?;
    let mut local: Vec<(Arc<dyn Transcoder>, u64)> = Vec::new();
    for _ in 0..s.transcoders {
        let t = tokio::task::spawn_blocking(|| SoftwareTranscoder::new(SoftwareConfig::default()))
            .await??;
        let pps = t.capabilities().pixels_per_second;
        local.push((Arc::new(t), pps));
    }
    let spec = NodeSpec {
        key: Arc::new(key.signer),
        price: PixelPrice::per_pixel(price.0.low_u64().max(1)),
        config,
        recipient: rc,
        queue: QueueConfig::default(),
        store,
        local,
        remote: Vec::new(),
    };
    let node = OrchestratorNode::start(spec, chain.clone()).await?;
    let uri = node.service_uri()?;
    if s.register_uri {
        livepeer_core::chain::RegistryWriter::set_service_uri(&*chain, &uri).await?;
    }
    info!(address = %node.address().checksummed(), %uri, "orchestrator running");
    let every = Duration::from_secs_f64(s.sync_seconds.clamp(0.05, 60.0));
    let mut last_round = None;
    // While the chain cannot be reached, steps are retried with a doubling pause (up to
    // MAX_CHAIN_BACKOFF); the node keeps serving what it can check meanwhile.
    let mut failures: u32 = 0;
    // The first step at once: winners a previous run left pending are redeemed promptly.
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            r = tokio::signal::ctrl_c() => {
                r?;
                node.close();
                return Ok(());
            }
        }
        let step = tokio::time::timeout(
            CHAIN_STEP_TIMEOUT,
            chain_step(&chain, &node, &mut last_round),
        );
        match step
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer in {CHAIN_STEP_TIMEOUT:?}")))
        {
            Ok(()) => {
                if failures > 0 {
                    info!(failures, "chain reachable again");
                }
                failures = 0;
                wait = every;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                // The state store (a full disk) reopens on its next call: no reason to wait
                // longer than the sync interval, while pending winners' tickets run out.
                let local = e.chain().any(|c| {
                    c.downcast_ref::<livepeer_core::store::StoreError>()
                        .is_some()
                });
                wait = if local {
                    every
                } else {
                    chain_backoff(every, failures)
                };
                warn!(
                    failures,
                    retry_in_ms = wait.as_millis() as u64,
                    "chain step failed; serving on and retrying: {e:#}"
                );
            }
        }
    }
}

/// The longest one chain step may take: a transaction's receipt is awaited through RPC
/// failures, so a step can otherwise wait for as long as the chain is away.
const CHAIN_STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest pause between chain steps while the chain cannot be reached.
const MAX_CHAIN_BACKOFF: Duration = Duration::from_secs(10);

/// The pause before the next chain step after `failures` failed ones in a row: the sync
/// interval, doubled with each failure, at most [`MAX_CHAIN_BACKOFF`] (or the interval when
/// that is longer).
fn chain_backoff(every: Duration, failures: u32) -> Duration {
    let doubled = every.saturating_mul(1u32 << failures.min(16));
    doubled.min(MAX_CHAIN_BACKOFF.max(every))
}

/// One step of following the chain: initialize the round, sync the node (blocks, gas,
/// round, redemptions) and mint the round's reward. Every failure is returned, none ends
/// the node.
async fn chain_step(
    chain: &Arc<RpcClient>,
    node: &OrchestratorNode<RedbStore, RpcClient>,
    last_round: &mut Option<u64>,
) -> anyhow::Result<()> {
    if let Err(e) = chain.initialize_round().await {
        if e.is_transient() {
            return Err(e.into());
        }
        warn!("initializing the round: {e}");
    }
    node.sync().await?;
    let round = livepeer_core::chain::RoundInfo::last_initialized_round(&**chain).await?;
    if *last_round != Some(round) && chain.is_active(chain.account()).await? {
        match chain.reward().await {
            Ok(_) => info!(round, "reward minted"),
            // Tried again at the next step.
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) => warn!(round, "reward: {e}"),
        }
    }
    *last_round = Some(round);
    Ok(())
}

/// Opens the winners' store; only a store another process holds is blamed on `holder`.
fn open_store(path: &std::path::Path, holder: &str) -> anyhow::Result<RedbStore> {
    RedbStore::open(path).map_err(|e| match e {
        StoreError::InUse(_) => anyhow::anyhow!("{} is in use by {holder}", path.display()),
        e => anyhow::anyhow!("opening {}: {e}", path.display()),
    })
}

#[allow(clippy::print_stdout)]
async fn tickets(
    chain: Arc<RpcClient>,
    state_dir: PathBuf,
    cmd: TicketsCommand,
) -> anyhow::Result<()> {
    let path = state_dir.join("winners.redb");
    if !path.exists() {
        anyhow::bail!("no winners in {} (wrong --state-dir?)", state_dir.display());
    }
    let store = open_store(&path, "the running node (stop it first)")?;
    let mut cfg = QueueConfig::default();
    if matches!(cmd, TicketsCommand::Redeem) {
        // Now: any profit will do.
        cfg.profit_factor_pct = 100;
    }
    let queue = RedemptionQueue::open(store, chain.redeemer(), cfg)?;
    let sink = livepeer_examples::node::QueueSink::new(queue);
    if matches!(cmd, TicketsCommand::Redeem) {
        sink.drive(&*chain).await?;
    }
    let mut pending = Wei::ZERO;
    println!(
        "{:<66} {:<42} {:>22} state",
        "ticket", "sender", "face value (wei)"
    );
    for r in sink.records().await {
        let state = match &r.state {
            WinnerState::Redeemed { .. } => "redeemed",
            WinnerState::Failed { .. } => "failed",
            s if s.is_pending() => {
                pending = Wei(pending.0.saturating_add(r.face_value().0));
                "pending"
            }
            _ => "settled",
        };
        println!(
            "{:<66} {:<42} {:>22} {state}",
            format!("{:?}", r.hash()),
            r.sender().checksummed().to_string(),
            r.face_value().0.to_string()
        );
    }
    println!("pending face value: {} wei", pending.0);
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn run(args: Args) -> anyhow::Result<()> {
    let key = args.key.load()?;
    let chain = Arc::new(args.chain.connect(&key).await?);
    let me = chain.account();
    match args.command {
        Command::Start(s) => return start(chain, key, s).await,
        Command::Bond { amount, to } => {
            let to = match to {
                Some(a) => parse_address(&a).map_err(|e| anyhow::anyhow!("--to {a:?}: {e}"))?,
                None => me,
            };
            chain.approve_and_bond(parse_tokens(&amount)?, to).await?;
            println!("bonded {amount} to {}", to.checksummed());
        }
        Command::Unbond { amount } => {
            chain.unbond(parse_tokens(&amount)?).await?;
            println!("unbonding {amount}");
        }
        Command::WithdrawStake => {
            chain.withdraw_stake().await?;
            println!("stake withdrawn");
        }
        Command::Claim => {
            chain.claim_earnings().await?;
            println!("rewards and fees claimed");
        }
        Command::Reward => {
            chain.reward().await?;
            println!("reward minted");
        }
        Command::Register {
            uri,
            service,
            region,
            reward_cut_ppm,
            fee_share_ppm,
        } => {
            if reward_cut_ppm > 1_000_000 || fee_share_ppm > 1_000_000 {
                anyhow::bail!("--reward-cut-ppm and --fee-share-ppm are at most 1000000");
            }
            let verifier = chain.addresses().trusted_verifier;
            let offers: Vec<ServiceOffer> = services(&service)?
                .into_iter()
                .map(|id| ServiceOffer { id, verifier })
                .collect();
            let regions = region
                .iter()
                .map(|r| Region::parse(r).map_err(|e| anyhow::anyhow!("--region {r:?}: {e}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            chain
                .register_orchestrator(reward_cut_ppm, fee_share_ppm)
                .await?;
            chain.register_services(&uri, &offers, &regions).await?;
            println!("registered {} at {uri}", me.checksummed());
        }
        Command::Status => {
            let stake = chain.stake_of(me).await?;
            let active = chain.is_active(me).await?;
            println!("address: {}", me.checksummed());
            println!("stake: {stake}");
            println!("active: {active}");
            match chain.orchestrator(me).await? {
                Some(e) => println!(
                    "registry: {} ({} service(s), {} region(s))",
                    e.service_uri,
                    e.services.len(),
                    e.regions.len()
                ),
                None => println!("registry: not listed"),
            }
        }
        Command::Tickets { command, state_dir } => return tickets(chain, state_dir, command).await,
    }
    Ok(())
}

fn main() {
    cli::run_main(|a: &Args| &a.common, run);
}
