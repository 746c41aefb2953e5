//! `broadcaster`: stream a video through the network on a JSON-RPC chain, and manage the
//! deposit and reserve that pay for it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use livepeer_core::chain::{TicketBrokerReader, TicketFunding};
use livepeer_core::{AddressExt, Ladder, LocalSigner, PixelPrice};
use livepeer_examples::broadcast::{
    BroadcastConfig, BroadcastNode, Progress, Reencode, SegmentSource,
};
use livepeer_examples::cli;
use livepeer_examples::keys::KeyArgs;
use livepeer_examples::rpc::{ChainArgs, parse_amount, parse_tokens};
use livepeer_examples::summary::eth;
use livepeer_transcode::{SoftwareConfig, SoftwareTranscoder};
use livepeer_verify::FaultStatus;

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stream a file, a playlist or a test pattern and write the ladder as HLS.
    Stream(Stream),
    /// Add to the deposit (pays winning tickets) and the reserve (backs them when the
    /// deposit runs out). Amounts in wei, or e.g. 1eth.
    Fund {
        /// Added to the deposit.
        #[arg(long, default_value = "0")]
        deposit: String,
        /// Added to the reserve.
        #[arg(long, default_value = "0")]
        reserve: String,
    },
    /// Start the unlock period, after which the deposit and reserve can be withdrawn.
    Unlock,
    /// Cancel an unlock in progress.
    CancelUnlock,
    /// Withdraw the deposit and reserve after the unlock period.
    Withdraw,
    /// Show the deposit, reserve and unlock state.
    Status,
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
}

#[allow(clippy::print_stdout)]
async fn stream(args: &Args, s: &Stream) -> anyhow::Result<()> {
    let ladder = Ladder::parse(&s.profiles)
        .map_err(|e| anyhow::anyhow!("--profiles {:?}: {e}", s.profiles))?;
    let mut source = SegmentSource::open(
        s.input.as_deref(),
        Duration::from_secs(2),
        (854, 480),
        s.pattern_seconds.div_ceil(2).max(1),
    )?;
    if !s.resume && s.out.join(livepeer_transcode::hls::MASTER).exists() {
        anyhow::bail!(
            "{} already holds an HLS stream; choose an empty directory, or --resume to go on \
             with it",
            s.out.display()
        );
    }
    let key = args.key.load()?;
    let chain = Arc::new(args.chain.connect(&key).await?);
    let mut cfg = BroadcastConfig::default();
    cfg.verification_rate = s.verification_rate;
    cfg.state_dir = s.state_dir.clone();
    cfg.min_stake = parse_tokens(&s.min_stake)?;
    cfg.evidence_listen = Some(s.evidence_listen);
    if let Some(p) = &s.max_price {
        cfg.max_price = Some(PixelPrice::per_pixel(parse_amount(p)?.0.low_u64()));
    }
    let reencode = if s.hire_reencode {
        Reencode::Hire
    } else {
        // The honest reference for every rung a ladder may ask for, AV1 included.
        let sc = SoftwareConfig::default();
        Reencode::Local(Arc::new(
            tokio::task::spawn_blocking(move || SoftwareTranscoder::new(sc)).await??,
        ))
    };
    let (node, mut faults) = BroadcastNode::start(
        chain,
        Arc::new(LocalSigner::from_bytes(&key.signer.secret_bytes())?),
        &cfg,
        reencode,
    )
    .await?;
    if let Some(e) = &node.evidence_server {
        println!(
            "evidence served at {}@{}",
            e.address().checksummed(),
            e.local_addr()?
        );
    }
    let node = Arc::new(node);
    let bar = Arc::new(cli::BarProgress::new(false));
    let follow = {
        let (node, bar) = (node.clone(), bar.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(e) = node.sync().await {
                            tracing::warn!("chain sync: {e:#}");
                        }
                    }
                    Some(r) = faults.recv() => bar.fault(&r),
                }
            }
        })
    };
    let st = if s.resume {
        node.resume(&mut source, &ladder, &s.out, &*bar).await
    } else {
        node.stream(&mut source, &ladder, &s.out, &*bar).await
    };
    follow.abort();
    bar.0.finish_and_clear();
    let st = st?;
    let mut lat = st.latencies.clone();
    lat.sort();
    println!(
        "segments: {} in, {} out, {} failed; {:.1} s of media in {:.1} s ({:.2} s of media per \
         second); median {} ms per segment",
        st.segments_in,
        st.segments_out,
        st.segments_failed,
        st.media.as_secs_f64(),
        st.wall.as_secs_f64(),
        st.media.as_secs_f64() / st.wall.as_secs_f64().max(1e-9),
        lat.get(lat.len() / 2).map_or(0, Duration::as_millis)
    );
    println!(
        "tickets sent: {}; work worth {} ETH ({} wei); faults: {}",
        node.tickets_sent(),
        eth(st.wei_expected),
        st.wei_expected,
        node.ledger.all()?.len()
    );
    println!("output: {}", st.master.display());
    // The evidence must stay available until the verifier has decided.
    loop {
        let mut open = 0;
        for r in node.ledger.all()? {
            if matches!(r.status, FaultStatus::Challenged { .. })
                && matches!(
                    node.challenger.refresh(&r).await?.status,
                    FaultStatus::Challenged { .. }
                )
            {
                open += 1;
            }
        }
        if open == 0 {
            break;
        }
        println!("waiting for {open} challenge(s) to be decided; serving their evidence");
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    if st.segments_failed > 0 {
        anyhow::bail!(
            "{} of {} segments failed",
            st.segments_failed,
            st.segments_in
        );
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn run(args: Args) -> anyhow::Result<()> {
    if let Command::Stream(s) = &args.command {
        return stream(&args, s).await;
    }
    let key = args.key.load()?;
    let chain = args.chain.connect(&key).await?;
    let me = chain.account();
    match &args.command {
        Command::Fund { deposit, reserve } => {
            let (d, r) = (parse_amount(deposit)?, parse_amount(reserve)?);
            if d.is_zero() && r.is_zero() {
                anyhow::bail!("give --deposit and/or --reserve");
            }
            chain.fund_deposit_and_reserve(d, r).await?;
            println!("funded: deposit +{} wei, reserve +{} wei", d.0, r.0);
        }
        Command::Unlock => {
            chain.unlock().await?;
            println!("unlock started");
        }
        Command::CancelUnlock => {
            chain.cancel_unlock().await?;
            println!("unlock cancelled");
        }
        Command::Withdraw => {
            chain.withdraw().await?;
            println!("deposit and reserve withdrawn");
        }
        Command::Status | Command::Stream(_) => {}
    }
    let info = chain.sender_info(me).await?;
    println!("address: {}", me.checksummed());
    println!("deposit: {} wei", info.deposit.0);
    println!("reserve: {} wei", info.reserve_remaining.0);
    println!("withdraw round: {}", info.withdraw_round);
    Ok(())
}

fn main() {
    cli::run_main(|a: &Args| &a.common, run);
}
