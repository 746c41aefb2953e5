//! `transcoder`: transcode locally (a benchmark of this machine) or join an orchestrator's
//! pool over QUIC.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use livepeer_core::{Address, parse_address};
use livepeer_examples::cli;
use livepeer_examples::keys::KeyArgs;
use livepeer_examples::local::{Local, local};
use livepeer_node::TranscoderNode;

/// Transcodes video segments with the software backend (OpenH264 for H.264, rav1e for AV1).
///
/// `transcoder local` transcodes a file or HLS playlist on this machine without any
/// network, writes the ladder as HLS and prints each segment's latency and real-time
/// ratio: how fast this machine is. `transcoder join` puts this machine in an
/// orchestrator's transcoder pool over QUIC.
#[derive(Debug, Parser)]
#[command(name = "transcoder", version, about, long_about)]
struct Args {
    #[command(flatten)]
    common: cli::CommonArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Transcode a file or playlist here, with no network, and report the speed.
    Local(Local),
    /// Join an orchestrator's pool and transcode what it sends until stopped.
    Join(Join),
}

#[derive(Debug, clap::Args)]
struct Join {
    /// The orchestrator's pool address, HOST:PORT.
    #[arg(long, env = "LIVEPEER_ORCHESTRATOR", value_name = "HOST:PORT")]
    orchestrator: SocketAddr,
    /// The orchestrator's Ethereum address; the connection is refused unless it proves it.
    #[arg(long, env = "LIVEPEER_ORCHESTRATOR_ADDRESS", value_name = "ADDRESS")]
    orchestrator_address: String,
    /// A shared secret the orchestrator asks for, if any.
    #[arg(long, env = "LIVEPEER_TRANSCODER_SECRET", value_name = "SECRET")]
    secret: Option<String>,
    /// Tasks run at once.
    #[arg(long, env = "LIVEPEER_MAX_TASKS", default_value_t = 2)]
    max_tasks: u32,
    /// This transcoder's identity (the orchestrator must allow its address).
    #[command(flatten)]
    key: KeyArgs,
}

async fn join(a: Join) -> anyhow::Result<()> {
    let orchestrator: Address = parse_address(&a.orchestrator_address)
        .map_err(|e| anyhow::anyhow!("--orchestrator-address: {e}"))?;
    let node = TranscoderNode::builder(a.orchestrator, orchestrator)
        .key(a.key.load()?.signer)
        .secret(a.secret)
        .max_tasks(a.max_tasks)
        .build()
        .await?;
    // Rejoins by itself after an orchestrator restart; SIGTERM or Ctrl-C finish the
    // segments in flight first.
    node.run_until_signal().await?;
    Ok(())
}

fn main() {
    cli::run_main(
        |a: &Args| &a.common,
        |args: Args| async move {
            match args.command {
                Command::Local(a) => local(a).await,
                Command::Join(a) => join(a).await,
            }
        },
    );
}
