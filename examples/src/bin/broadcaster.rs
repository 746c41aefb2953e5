//! `broadcaster`: stream a video through the network on a JSON-RPC chain, and manage the
//! deposit and reserve that pay for it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use livepeer_core::{Ladder, PixelPrice};
use livepeer_examples::funds::FundsCommand;
use livepeer_examples::keys::KeyArgs;
use livepeer_examples::rpc::{ChainArgs, parse_amount, parse_tokens};
use livepeer_examples::{cli, summary};
use livepeer_node::source::check_output;
use livepeer_node::{BroadcasterNode, Reencode, SegmentSource};

/// Streams video through a Livepeer network on a JSON-RPC chain, and manages the
/// broadcaster's TicketBroker deposit and reserve.
///
/// `broadcaster stream` finds orchestrators in the on-chain registry, gathers quotes, pays
/// each segment with probabilistic tickets, verifies every result (cheap checks always, a
/// bit-exact re-encode on a secret sample), challenges proven faults on chain, fails over
/// without losing segments, and writes the ladder as HLS. `fund`, `unlock`,
/// `cancel-unlock`, `withdraw` and `status` manage the funds.
#[derive(Debug, Parser)]
#[command(name = "broadcaster", version, about, long_about)]
struct Args {
    #[command(flatten)]
    common: cli::CommonArgs,
    #[command(flatten)]
    chain: ChainArgs,
    /// The broadcaster's key (it pays).
    #[command(flatten)]
    key: KeyArgs,
    /// Livepeer's deployed contracts, instead of ours.
    #[cfg(feature = "livepeer")]
    #[command(flatten)]
    lp: livepeer_examples::lp::LivepeerArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stream a file, a playlist or a test pattern and write the ladder as HLS.
    Stream(Stream),
    #[command(flatten)]
    Funds(FundsCommand),
}

#[derive(Debug, clap::Args)]
struct Stream {
    /// An HLS playlist (.m3u8) of MPEG-TS segments, an MPEG-TS file or an MP4; a test
    /// pattern when not given.
    #[arg(long, env = "LIVEPEER_INPUT", value_name = "PATH")]
    input: Option<PathBuf>,
    /// Where to write the HLS output (must not hold a stream already, unless --resume).
    #[arg(long, env = "LIVEPEER_OUT", value_name = "DIR")]
    out: PathBuf,
    /// Go on with the stream a previous run of this command left in --out (it crashed or was
    /// stopped): the same input and ladder, the segments already written are skipped.
    #[arg(long)]
    resume: bool,
    /// The ladder: preset names, or a JSON or TOML ladder.
    #[arg(long, env = "LIVEPEER_PROFILES", default_value = "360p,240p")]
    profiles: String,
    /// Test pattern length in seconds (whole 2 s segments).
    #[arg(long, default_value_t = 12)]
    pattern_seconds: u64,
    /// One segment in this many is re-encoded here and compared bit for bit.
    #[arg(long, env = "LIVEPEER_VERIFICATION_RATE", default_value_t = 4)]
    verification_rate: u32,
    /// Refuse quotes above this price (wei per pixel).
    #[arg(long, env = "LIVEPEER_MAX_PRICE")]
    max_price: Option<String>,
    /// Ignore orchestrators with less stake (whole units or e.g. 10tokens).
    #[arg(long, env = "LIVEPEER_MIN_STAKE", default_value = "0")]
    min_stake: String,
    /// Re-encode sampled segments by hiring another orchestrator instead of locally.
    #[arg(long)]
    hire_reencode: bool,
    /// Where the fault ledger and challenge evidence are kept.
    #[arg(long, env = "LIVEPEER_STATE_DIR", default_value = "broadcaster-state")]
    state_dir: PathBuf,
    /// Where verifiers fetch the evidence of this broadcaster's challenges (QUIC). After the
    /// stream, the command keeps serving until every challenge it opened is decided.
    #[arg(long, env = "LIVEPEER_EVIDENCE_LISTEN", default_value = "0.0.0.0:8936")]
    evidence_listen: std::net::SocketAddr,
    /// Serve Prometheus metrics (/metrics), /healthz and /readyz here.
    #[arg(long, env = "LIVEPEER_OPS_LISTEN")]
    ops_listen: Option<std::net::SocketAddr>,
    /// Also stream to the go-livepeer orchestrator at this URI (`https://host:port`) on
    /// go-livepeer's protocol, ranked with the registry's orchestrators over QUIC; repeat
    /// for several. With --livepeer-controller and none given: the registry's active
    /// orchestrators.
    #[cfg(feature = "livepeer")]
    #[arg(long = "livepeer-orchestrator", value_name = "URI")]
    livepeer_orchestrators: Vec<String>,
    /// Only go-livepeer orchestrators, none over QUIC (always so with
    /// --livepeer-controller).
    #[cfg(feature = "livepeer")]
    #[arg(long)]
    livepeer_only: bool,
}

#[allow(clippy::print_stdout)]
async fn stream(args: &Args, s: &Stream) -> anyhow::Result<()> {
    let ladder = Ladder::parse(&s.profiles)
        .map_err(|e| anyhow::anyhow!("--profiles {:?}: {e}", s.profiles))?;
    let pattern = s.pattern_seconds.div_ceil(2).max(1);
    let two = Duration::from_secs(2);
    let mut source = SegmentSource::open(s.input.as_deref(), two, (854, 480), pattern)?;
    if !s.resume {
        check_output(&s.out).map_err(|e| anyhow::anyhow!("{e} with --resume"))?;
    }
    #[cfg(feature = "livepeer")]
    if args.lp.livepeer_controller.is_some() || s.livepeer_only {
        return stream_livepeer(args, s, &mut source, &ladder).await;
    }
    #[cfg(feature = "livepeer")]
    if !s.livepeer_orchestrators.is_empty() && s.resume {
        anyhow::bail!("--resume is not available with go-livepeer orchestrators yet");
    }
    let key = args.key.load()?;
    let mut b = BroadcasterNode::builder(args.chain.connect(&key).await?)
        .key(key.signer)
        .verification_rate(s.verification_rate)
        .state_dir(&s.state_dir)
        .min_stake(parse_tokens(&s.min_stake)?)
        .evidence_listen(Some(s.evidence_listen));
    if let Some(p) = &s.max_price {
        b = b.max_price(PixelPrice::per_pixel(parse_amount(p)?.0.low_u64()));
    }
    if s.hire_reencode {
        b = b.reencode(Reencode::Hire);
    }
    if let Some(at) = s.ops_listen {
        b = b.ops(at);
    }
    let node = b.build().await?;
    summary::print_evidence(node.evidence_server())?;
    let bar = cli::BarProgress::new(false);
    #[cfg(feature = "livepeer")]
    let st = if s.livepeer_orchestrators.is_empty() {
        // SIGTERM or Ctrl-C: the stream ends after the segment in flight (--resume goes on).
        node.stream_until_signal(&mut source, &ladder, &s.out, &bar, s.resume)
            .await
    } else {
        stream_mixed(args, s, &node, &mut source, &ladder, &bar).await
    };
    #[cfg(not(feature = "livepeer"))]
    // SIGTERM or Ctrl-C: the stream ends after the segment in flight (--resume goes on).
    let st = node
        .stream_until_signal(&mut source, &ladder, &s.out, &bar, s.resume)
        .await;
    bar.0.finish_and_clear();
    let st = st?;
    summary::print_stream(&st, node.tickets_sent(), node.ledger().all()?.len());
    // The evidence must stay available until the verifier has decided.
    node.shutdown().await?;
    summary::check_failed(&st)
}

/// `stream` through the registry's orchestrators over QUIC and the go-livepeer ones given,
/// ranked together on the node's scoreboard.
#[cfg(feature = "livepeer")]
async fn stream_mixed(
    args: &Args,
    s: &Stream,
    node: &BroadcasterNode<livepeer_examples::rpc::RpcClient>,
    source: &mut SegmentSource,
    ladder: &Ladder,
    bar: &cli::BarProgress,
) -> livepeer_node::Result<livepeer_node::StreamStats> {
    let key = args.key.load()?;
    let mut b = livepeer_node::livepeer::LivepeerGateway::builder(args.chain.connect(&key).await?)
        .key(key.signer)
        .orchestrators(s.livepeer_orchestrators.iter().cloned())
        .scoreboard(node.broadcaster().scoreboard());
    if let Some(p) = &s.max_price {
        b = b.max_price(PixelPrice::per_pixel(parse_amount(p)?.0.low_u64()));
    }
    let gateway = b.build().await?;
    node.stream_mixed(&gateway, source, ladder, &s.out, bar)
        .await
}

/// `stream` through go-livepeer orchestrators: on Livepeer's contracts with
/// --livepeer-controller, else on ours.
#[cfg(feature = "livepeer")]
#[allow(clippy::print_stdout)]
async fn stream_livepeer(
    args: &Args,
    s: &Stream,
    source: &mut SegmentSource,
    ladder: &Ladder,
) -> anyhow::Result<()> {
    use livepeer_examples::lp;
    if s.resume {
        anyhow::bail!("--resume is not available with go-livepeer orchestrators yet");
    }
    let max_price = match &s.max_price {
        Some(p) => Some(PixelPrice::per_pixel(parse_amount(p)?.0.low_u64())),
        None => None,
    };
    let job = lp::GatewayStream {
        orchestrators: &s.livepeer_orchestrators,
        max_price,
        ladder,
        out: &s.out,
    };
    let key = args.key.load()?;
    let bar = cli::BarProgress::new(false);
    let r = match args.lp.controller()? {
        Some(c) => {
            let chain = lp::connect(&args.chain, &key, c).await?;
            lp::stream(chain, key.signer, &job, source, &bar).await
        }
        None => {
            let chain = args.chain.connect(&key).await?;
            lp::stream(chain, key.signer, &job, source, &bar).await
        }
    };
    bar.0.finish_and_clear();
    let (st, tickets) = r?;
    summary::print_stream(&st, tickets, 0);
    summary::check_failed(&st)
}

async fn run(args: Args) -> anyhow::Result<()> {
    match &args.command {
        Command::Stream(s) => stream(&args, s).await,
        Command::Funds(c) => {
            let key = args.key.load()?;
            #[cfg(feature = "livepeer")]
            if let Some(controller) = args.lp.controller()? {
                let chain = livepeer_examples::lp::connect(&args.chain, &key, controller).await?;
                return c.run(&*chain, chain.account()).await;
            }
            let chain = args.chain.connect(&key).await?;
            c.run(&*chain, chain.account()).await
        }
    }
}

fn main() {
    cli::run_main(|a: &Args| &a.common, run);
}
