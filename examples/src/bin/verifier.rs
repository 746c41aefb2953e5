//! `verifier`: check one rendition against its source and print the verdict and the
//! measured metrics as JSON, or serve as a trusted verifier.

use clap::{Parser, Subcommand};
use livepeer_core::AddressExt as _;
use livepeer_examples::check::{Check, check};
use livepeer_examples::{cli, keys, rpc};
use livepeer_node::VerifierNode;
use livepeer_verify::Decision;
use livepeer_verify::net::parse_endpoint;

/// Verifies transcoded video the way a broadcaster does: the always-on checks (container,
/// codec, profile, resolution, frame rate, frame count, duration, bitrate, the receipt's
/// signature, hashes and pixel counts) and the deep ones (every picture decoded with the
/// transcoders' own decoder and compared with the source scaled the same way: SSIM per
/// frame, per tile, and PSNR).
#[derive(Debug, Parser)]
#[command(name = "verifier", version, about, long_about)]
struct Args {
    #[command(flatten)]
    common: cli::CommonArgs,
    /// The chain (`serve`; `check --receipt` reads the deployment's chain id and contracts
    /// file, offline, for the domain the receipt is signed for).
    #[command(flatten)]
    chain: rpc::ChainArgs,
    /// The voter's key (`serve` only).
    #[command(flatten)]
    key: keys::KeyArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check one rendition against its source segment, here, and print JSON.
    Check(Check),
    /// Serve as a trusted verifier: watch the chain for challenges of its verifier contract,
    /// fetch each one's evidence from the broadcaster that serves it (QUIC, the server must
    /// prove the broadcaster's address), decide with the broadcasters' own checks and a local
    /// re-encode, and vote. Prints a line per decision.
    Serve(Serve),
}

#[derive(Debug, clap::Args)]
struct Serve {
    /// An evidence server, as ADDRESS@HOST:PORT: the broadcaster's address and where it
    /// serves (the broadcaster prints it at start). Repeat for several.
    #[arg(long = "evidence", value_name = "ADDRESS@HOST:PORT", required = true)]
    evidence: Vec<String>,
    /// Seconds between looks at the chain.
    #[arg(long, default_value_t = 2.0)]
    poll_seconds: f64,
    /// The first block to look for challenges in (default: the current block).
    #[arg(long)]
    from_block: Option<u64>,
}

#[allow(clippy::print_stdout)]
async fn serve(chain: &rpc::ChainArgs, key: &keys::KeyArgs, s: Serve) -> anyhow::Result<()> {
    let chain = chain.connect(&key.load()?).await?;
    let mut b = VerifierNode::builder(chain.clone())
        .every(std::time::Duration::from_secs_f64(s.poll_seconds.max(0.05)));
    for e in &s.evidence {
        let (address, at) = parse_endpoint(e)?;
        b = b.evidence_from(address, at)?;
    }
    if let Some(from) = s.from_block {
        b = b.from_block(from);
    }
    let node = b.build().await?;
    println!(
        "verifier {} deciding for {}",
        chain.account().checksummed(),
        node.verifier_contract().checksummed()
    );
    node.run_until_signal(|j| {
        println!(
            "challenge {:?} against {}: {}",
            j.challenge.id.0,
            j.challenge.orchestrator.checksummed(),
            match &j.decision {
                Decision::Guilty(f) => format!("guilty ({:?})", f.kind),
                Decision::Innocent(why) => format!("innocent ({why})"),
                other => format!("{other:?}"),
            }
        )
    })
    .await?;
    Ok(())
}

fn main() {
    cli::run_main(
        |a: &Args| &a.common,
        |args: Args| async move {
            match args.command {
                Command::Check(c) => check(c, &args.chain).await,
                Command::Serve(s) => serve(&args.chain, &args.key, s).await,
            }
        },
    );
}
