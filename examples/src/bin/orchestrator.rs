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
use livepeer_examples::rpc::{ChainArgs, RpcClient, parse_amount};
use livepeer_negotiate::OrchestratorConfig;
use livepeer_node::{FollowConfig, OrchestratorNode};
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
    /// Update the registry's URI to this node's address at start.
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

async fn start(
    chain: Arc<RpcClient>,
    key: livepeer_examples::keys::Key,
    s: Start,
) -> anyhow::Result<()> {
    let ev = parse_amount(&s.ticket_ev)?;
    let mut rc = RecipientConfig::default();
    rc.ticket_ev = ev;
    rc.max_face_value = s.max_face_value.as_deref().map(parse_amount).transpose()?;
    let mut config = OrchestratorConfig::default();
    config.bind = s.listen;
    config.transcoder_secret = s.transcoder_secret;
    for a in &s.allow_transcoder {
        config
            .allowed_transcoders
            .push(parse_address(a).map_err(|e| anyhow::anyhow!("--allow-transcoder {a:?}: {e}"))?);
    }
    let mut follow = FollowConfig::default();
    follow.every = Duration::from_secs_f64(s.sync_seconds.clamp(0.05, 60.0));
    let price = parse_amount(&s.price)?.0.low_u64().max(1);
    let mut b = OrchestratorNode::builder(chain.clone())
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
    let node = b.build().await?;
    if s.register_uri {
        chain.set_service_uri(&node.service_uri()?).await?;
    }
    node.run_until_signal().await?;
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<()> {
    let key = args.key.load()?;
    let chain = args.chain.connect(&key).await?;
    match args.command {
        Command::Start(s) => start(chain, key, s).await,
        Command::Operator(c) => c.run(chain).await,
    }
}

fn main() {
    cli::run_main(|a: &Args| &a.common, run);
}
