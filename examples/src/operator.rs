//! The orchestrator's operator commands: stake, registration, rewards, and the winning
//! tickets a stopped node holds. Each sends one transaction or reads the chain or the
//! node's state, and exits.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;
use livepeer_core::chain::{
    RegistryReader as _, ServiceOffer, Staking, StakingReader, TicketRedeemer as _,
};
use livepeer_core::store::{RedbStore, StoreError};
use livepeer_core::{AddressExt, Region, ServiceId, Wei, parse_address};
use livepeer_node::Winners;
use livepeer_node::meter::Meter;
use livepeer_pm::{QueueConfig, RedemptionQueue, WinnerState};

use crate::rpc::{RpcClient, parse_tokens};

/// Stake, registration, rewards and winning tickets.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
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
        /// What to do with them.
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

/// What to do with the winning tickets a stopped node holds.
#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// List every winner the node holds and where it stands.
    List,
    /// Redeem every winner whose params have expired now, whatever the gas price.
    Redeem,
}

/// Parses service names: cpu-transcoding, gpu-transcoding, or a 0x-prefixed bytes32.
pub fn services(names: &[String]) -> anyhow::Result<Vec<ServiceId>> {
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

/// Opens the winners' store; only a store another process holds is blamed on `holder`.
pub fn open_store(path: &std::path::Path, holder: &str) -> anyhow::Result<RedbStore> {
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
    let store: livepeer_node::winners::DynStore = Arc::new(store);
    let queue = RedemptionQueue::open(store, chain.redeemer(), cfg)?;
    let sink = Winners::new(queue, Meter::new("orchestrator", chain.redeemer()));
    if matches!(cmd, TicketsCommand::Redeem) {
        sink.drive(&*chain).await?;
    }
    let mut pending = Wei::ZERO;
    println!(
        "{:<66} {:<42} {:>22} state",
        "ticket", "sender", "face value (wei)"
    );
    for r in sink.records()? {
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

impl OperatorCommand {
    /// Carries out the command.
    #[allow(clippy::print_stdout)]
    pub async fn run(self, chain: Arc<RpcClient>) -> anyhow::Result<()> {
        let me = chain.account();
        match self {
            OperatorCommand::Bond { amount, to } => {
                let to = match to {
                    Some(a) => parse_address(&a).map_err(|e| anyhow::anyhow!("--to {a:?}: {e}"))?,
                    None => me,
                };
                chain.approve_and_bond(parse_tokens(&amount)?, to).await?;
                println!("bonded {amount} to {}", to.checksummed());
            }
            OperatorCommand::Unbond { amount } => {
                chain.unbond(parse_tokens(&amount)?).await?;
                println!("unbonding {amount}");
            }
            OperatorCommand::WithdrawStake => {
                chain.withdraw_stake().await?;
                println!("stake withdrawn");
            }
            OperatorCommand::Claim => {
                chain.claim_earnings().await?;
                println!("rewards and fees claimed");
            }
            OperatorCommand::Reward => {
                chain.reward().await?;
                println!("reward minted");
            }
            OperatorCommand::Register {
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
            OperatorCommand::Status => {
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
            OperatorCommand::Tickets { command, state_dir } => {
                return tickets(chain, state_dir, command).await;
            }
        }
        Ok(())
    }
}
