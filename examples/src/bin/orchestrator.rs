//! `orchestrator`: run an orchestrator node on a JSON-RPC chain, and its operator commands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use livepeer_core::chain::RegistryWriter as _;
use livepeer_core::{PixelPrice, parse_address};
use livepeer_examples::cli;
use livepeer_examples::keys::KeyArgs;
use livepeer_examples::operator::OperatorCommand;
use livepeer_examples::rpc::{ChainArgs, parse_amount};
use livepeer_negotiate::OrchestratorConfig;
use livepeer_node::{FollowConfig, OrchestratorBuilder, OrchestratorChain, OrchestratorNode};
use livepeer_pm::RecipientConfig;

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
    /// Livepeer's deployed contracts, instead of ours (`start` only).
    #[cfg(feature = "livepeer")]
    #[command(flatten)]
    lp: livepeer_examples::lp::LivepeerArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the node: quotes, tickets, transcoding, redemptions, until stopped (SIGTERM or
    /// Ctrl-C drain it: no new streams, segments in flight finished, winners redeemed).
    Start(Start),
    #[command(flatten)]
    Operator(OperatorCommand),
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
    /// Update the registry's URI to this node's address at start (with
    /// --livepeer-controller: its go-livepeer port's https:// URI, in Livepeer's registry).
    #[arg(long)]
    register_uri: bool,
    /// Serve Prometheus metrics (/metrics), /healthz and /readyz here.
    #[arg(long, env = "LIVEPEER_OPS_LISTEN")]
    ops_listen: Option<SocketAddr>,
    /// Seconds between chain syncs (blocks, rounds, redemptions).
    #[arg(long, default_value_t = 1.0)]
    sync_seconds: f64,
    /// Also serve go-livepeer gateways (and Livepeer's Python SDK) here, on go-livepeer's
    /// protocol: gRPC discovery and `POST /segment` over TLS, a self-signed certificate.
    /// A routable address, not 0.0.0.0.
    #[cfg(feature = "livepeer")]
    #[arg(long, env = "LIVEPEER_GO_LISTEN")]
    livepeer_listen: Option<SocketAddr>,
}

/// The node's builder as `s` says, on `chain`.
async fn builder<C: OrchestratorChain>(
    chain: Arc<C>,
    key: livepeer_examples::keys::Key,
    s: &Start,
) -> anyhow::Result<OrchestratorBuilder<C>> {
    let ev = parse_amount(&s.ticket_ev)?;
    let mut rc = RecipientConfig::default();
    rc.ticket_ev = ev;
    rc.max_face_value = s.max_face_value.as_deref().map(parse_amount).transpose()?;
    let mut config = OrchestratorConfig::default();
    config.bind = s.listen;
    config.transcoder_secret = s.transcoder_secret.clone();
    for a in &s.allow_transcoder {
        config
            .allowed_transcoders
            .push(parse_address(a).map_err(|e| anyhow::anyhow!("--allow-transcoder {a:?}: {e}"))?);
    }
    let mut follow = FollowConfig::default();
    follow.every = Duration::from_secs_f64(s.sync_seconds.clamp(0.05, 60.0));
    let price = parse_amount(&s.price)?.0.low_u64().max(1);
    let mut b = OrchestratorNode::builder(chain)
        .key(key.signer)
        .price(PixelPrice::per_pixel(price))
        .config(config)
        .tickets(rc)
        .state_dir(&s.state_dir)
        .follow(follow);
    if let Some(n) = s.params_validity_blocks {
        b = b.params_validity_blocks(n);
    }
    if let Some(at) = s.ops_listen {
        b = b.ops(at);
    }
    #[cfg(feature = "livepeer")]
    if let Some(at) = s.livepeer_listen {
        b = b.livepeer_listen(at);
    }
    for _ in 0..s.transcoders {
        b = b.transcoder(livepeer_node::software_transcoder().await?);
    }
    Ok(b)
}

async fn start(args: &Args, s: &Start) -> anyhow::Result<()> {
    let key = args.key.load()?;
    #[cfg(feature = "livepeer")]
    if let Some(controller) = args.lp.controller()? {
        if s.livepeer_listen.is_none() {
            anyhow::bail!(
                "--livepeer-controller needs --livepeer-listen: the gateways on Livepeer's \
                 network speak go-livepeer's protocol"
            );
        }
        let chain = livepeer_examples::lp::connect(&args.chain, &key, controller).await?;
        let node = builder(chain.clone(), key, s).await?.build().await?;
        if s.register_uri
            && let Some(port) = node.livepeer()
        {
            chain.set_service_uri(port.uri()).await?;
        }
        node.run_until_signal().await?;
        return Ok(());
    }
    let chain = args.chain.connect(&key).await?;
    let node = builder(chain.clone(), key, s).await?.build().await?;
    if s.register_uri {
        chain.set_service_uri(&node.service_uri()?).await?;
    }
    node.run_until_signal().await?;
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Start(ref s) => start(&args, s).await,
        Command::Operator(c) => {
            #[cfg(feature = "livepeer")]
            if args.lp.livepeer_controller.is_some() {
                anyhow::bail!(
                    "the operator commands run on our contracts; on Livepeer's, stake and \
                     register with Livepeer's tools, then `start --livepeer-controller`"
                );
            }
            let key = args.key.load()?;
            c.run(args.chain.connect(&key).await?).await
        }
    }
}

fn main() {
    cli::run_main(|a: &Args| &a.common, run);
}
