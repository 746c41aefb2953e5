//! `devnet`: the whole network on one machine in one command.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use livepeer_examples::cli;
use livepeer_examples::deploy::{Deploy, deploy_on};
use livepeer_examples::devnet::{self, DevnetConfig};

/// Runs a whole Livepeer network on this machine: an in-process chain with the contracts
/// deployed, a funded broadcaster, staked and registered orchestrators each with two
/// transcoders (one in process, one connected over QUIC). It streams a video through them
/// paid with real probabilistic tickets, verifies every result, writes the transcoded ladder
/// as HLS, redeems the winning tickets on chain and prints a summary.
///
/// With --cheat one orchestrator returns renditions at a quarter of the pixels it is paid
/// for: the broadcaster catches it, challenges it on chain, the trusted verifier confirms,
/// its stake is slashed, and the stream goes on with the honest ones.
#[derive(Debug, Parser)]
#[command(
    name = "devnet",
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(flatten)]
    common: cli::CommonArgs,
    #[command(subcommand)]
    command: Option<Command>,
    /// What to stream: an HLS playlist (.m3u8) of MPEG-TS segments, an MPEG-TS file or an MP4
    /// file, cut at key frames into segments of about --segment-seconds. Without it, a
    /// generated test pattern (see --pattern-size and --pattern-seconds).
    #[arg(long, env = "LIVEPEER_INPUT", value_name = "PATH")]
    input: Option<PathBuf>,
    /// Where to write the HLS output: index.m3u8 (the master playlist) and one directory per
    /// rendition with its media playlist and segments. Must not hold a stream already.
    #[arg(
        long,
        env = "LIVEPEER_OUT",
        value_name = "DIR",
        default_value = "devnet-out"
    )]
    out: PathBuf,
    /// How many orchestrators to stake and register.
    #[arg(long, env = "LIVEPEER_ORCHESTRATORS", default_value_t = 3)]
    orchestrators: usize,
    /// The ladder: comma-separated preset names (720p, 480p, 360p, 240p, 144p, or Livepeer's
    /// names such as P720p30fps16x9), or a JSON or TOML ladder.
    #[arg(long, env = "LIVEPEER_PROFILES", default_value = "360p,240p")]
    profiles: String,
    /// Run one dishonest orchestrator (the cheapest, so it is picked first) that gets caught,
    /// challenged and slashed.
    #[arg(long, env = "LIVEPEER_CHEAT")]
    cheat: bool,
    /// Also write the summary as JSON to FILE.
    #[arg(long, env = "LIVEPEER_SUMMARY_JSON", value_name = "FILE")]
    summary_json: Option<PathBuf>,
    /// Target segment duration when cutting the input, in seconds.
    #[arg(long, env = "LIVEPEER_SEGMENT_SECONDS", default_value_t = 2.0)]
    segment_seconds: f64,
    /// Test pattern picture size, WIDTHxHEIGHT (even numbers).
    #[arg(long, env = "LIVEPEER_PATTERN_SIZE", default_value = "854x480")]
    pattern_size: String,
    /// Test pattern length in seconds (whole 2 s segments).
    #[arg(long, env = "LIVEPEER_PATTERN_SECONDS", default_value_t = 12)]
    pattern_seconds: u64,
    /// One segment in this many, chosen secretly, is re-encoded by the broadcaster and
    /// compared bit for bit; cheap checks run on every segment.
    #[arg(long, env = "LIVEPEER_VERIFICATION_RATE", default_value_t = 4)]
    verification_rate: u32,
    /// Re-encode the sampled segments by hiring another orchestrator (paid with tickets)
    /// instead of on this machine.
    #[arg(long, env = "LIVEPEER_HIRE_REENCODE")]
    hire_reencode: bool,
    /// Milliseconds between blocks of the embedded chain (20 blocks make a round).
    #[arg(long, env = "LIVEPEER_BLOCK_MS", default_value_t = 500)]
    block_ms: u64,
    /// Honest orchestrators' price in wei per pixel.
    #[arg(long, env = "LIVEPEER_PRICE", default_value_t = 10_000_000)]
    price: u64,
    /// Expected value of one ticket in wei (face value and win chance follow from it).
    #[arg(
        long,
        env = "LIVEPEER_TICKET_EV",
        default_value_t = 250_000_000_000_000
    )]
    ticket_ev: u128,
    /// Where orchestrators persist winning tickets and the broadcaster its fault ledger
    /// (a temporary directory if not given).
    #[arg(long, env = "LIVEPEER_STATE_DIR", value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
    /// Run on Livepeer's deployed contracts instead of ours: anvil (from ANVIL_BIN, the
    /// contracts' npm install or the path) with Livepeer's production bytecode, our
    /// orchestrators staked and registered there with their go-livepeer ports, and a
    /// broadcaster that finds them in Livepeer's registry and streams on go-livepeer's
    /// protocol, paid through Livepeer's TicketBroker.
    #[cfg(feature = "livepeer")]
    #[arg(long, env = "LIVEPEER_CONTRACTS_LIVEPEER")]
    livepeer_contracts: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Deploy the contracts on a JSON-RPC node (anvil, a testnet) and write their addresses
    /// for the other binaries' --contracts.
    Deploy(Deploy),
}

async fn main_inner(args: Args) -> anyhow::Result<()> {
    let mut cfg = DevnetConfig::default();
    cfg.input = args.input;
    cfg.out = args.out;
    cfg.state_dir = args.state_dir;
    cfg.orchestrators = args.orchestrators;
    cfg.profiles = args.profiles;
    cfg.cheat = args.cheat;
    if !(args.segment_seconds >= 0.5 && args.segment_seconds <= 60.0) {
        anyhow::bail!("--segment-seconds must be within 0.5 to 60");
    }
    cfg.segment = Duration::from_secs_f64(args.segment_seconds);
    cfg.pattern_size = devnet::parse_size(&args.pattern_size)?;
    cfg.pattern_segments = args.pattern_seconds.div_ceil(2).max(1);
    cfg.verification_rate = args.verification_rate;
    cfg.hire_reencode = args.hire_reencode;
    cfg.block_time = Duration::from_millis(args.block_ms.max(10));
    cfg.price = args.price;
    cfg.ticket_ev = args.ticket_ev;
    let progress = Arc::new(cli::BarProgress::new(args.quiet));
    let bar = progress.0.clone();
    #[cfg(feature = "livepeer")]
    if args.livepeer_contracts {
        if args.summary_json.is_some() {
            anyhow::bail!("--summary-json is not available with --livepeer-contracts yet");
        }
        let summary = livepeer_examples::devnet_lp::run(&cfg, progress).await;
        bar.finish_and_clear();
        summary?.print();
        return Ok(());
    }
    let summary = devnet::run(cfg, progress).await;
    bar.finish_and_clear();
    summary?.report(args.summary_json.as_deref())
}

fn main() {
    cli::run_main(
        |a: &Args| &a.common,
        |mut args: Args| async move {
            match args.command.take() {
                Some(Command::Deploy(d)) => deploy_on(d).await,
                None => main_inner(args).await,
            }
        },
    );
}
