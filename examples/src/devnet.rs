//! The whole network on one machine: an embedded chain with the contracts deployed, a funded
//! broadcaster, staked and registered orchestrators with their transcoders (one in process,
//! one over QUIC each), a stream paid with real tickets, verified, written as HLS, winners
//! redeemed, and optionally one cheating orchestrator caught, challenged and slashed while
//! the stream goes on elsewhere.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use ethers::middleware::SignerMiddleware;
use ethers::providers::Provider;
use ethers::signers::{LocalWallet, Signer as _};
use livepeer_contracts::embedded::DEV_KEYS;
use livepeer_contracts::{
    Addresses, ChainClient, DeployConfig, EmbeddedChain, OrchestratorSetup, deploy,
};
use livepeer_core::chain::{
    ChallengeState, RoundInfo, ServiceOffer, StakingReader, TicketBrokerReader, TicketFunding,
};
use livepeer_core::store::RedbStore;
use livepeer_core::transcode::Transcoder;
use livepeer_core::verify::FaultReport;
use livepeer_core::{
    Address, AddressExt, Ladder, PixelPrice, Region, ServiceId, U256, Wei, keccak256,
};
use livepeer_node::{
    BroadcasterNode, FollowConfig, OrchestratorNode, Reencode, SegmentSource, StreamStats,
    VerifierNode,
};
use livepeer_pm::{QueueConfig, RecipientConfig};
use livepeer_transcode::{SoftwareConfig, SoftwareTranscoder};
use livepeer_verify::{Challenger, FaultLedger, FaultStatus};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::cheat::DownscalingTranscoder;
use crate::keys::Key;
use crate::summary::{OrchestratorSummary, Summary};

/// A chain client on the embedded chain.
pub type DevClient = ChainClient<DevMiddleware>;
/// The embedded chain's middleware, signing with a dev account.
pub type DevMiddleware = SignerMiddleware<Provider<EmbeddedChain>, LocalWallet>;

type Node = OrchestratorNode<DevClient>;

/// What to stream and how.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DevnetConfig {
    /// An HLS playlist, MPEG-TS or MP4 file; a generated test pattern when `None`.
    pub input: Option<PathBuf>,
    /// Where the HLS output goes (must not hold a stream already).
    pub out: PathBuf,
    /// Where orchestrators keep their winning tickets; a temporary directory when `None`.
    pub state_dir: Option<PathBuf>,
    /// Orchestrators to register.
    pub orchestrators: usize,
    /// The ladder: preset names (`720p,480p`), or a JSON or TOML ladder.
    pub profiles: String,
    /// Run one dishonest orchestrator (the cheapest, so it is picked first).
    pub cheat: bool,
    /// Target segment duration when cutting the input.
    pub segment: Duration,
    /// Test pattern: picture size and length.
    pub pattern_size: (u32, u32),
    /// Test pattern length in segments.
    pub pattern_segments: u64,
    /// One segment in this many gets the deep checks (re-encoded and compared).
    pub verification_rate: u32,
    /// Wall time between blocks.
    pub block_time: Duration,
    /// Re-encode sampled segments by hiring another orchestrator instead of locally.
    pub hire_reencode: bool,
    /// Honest orchestrators' price, wei per pixel.
    pub price: u64,
    /// Expected value of one ticket, wei.
    pub ticket_ev: u128,
}

impl Default for DevnetConfig {
    fn default() -> Self {
        DevnetConfig {
            input: None,
            out: PathBuf::from("devnet-out"),
            state_dir: None,
            orchestrators: 3,
            profiles: "360p,240p".into(),
            cheat: false,
            segment: Duration::from_secs(2),
            pattern_size: (854, 480),
            pattern_segments: 6,
            verification_rate: 4,
            block_time: Duration::from_millis(500),
            hire_reencode: false,
            price: 10_000_000,
            ticket_ev: 250_000_000_000_000,
        }
    }
}

pub use livepeer_node::{LogProgress, Progress};

/// A key derived from a label: the same addresses on every run.
fn derived_key(label: &str) -> anyhow::Result<Key> {
    Key::from_bytes(&keccak256(label.as_bytes()))
}

async fn client(chain: &EmbeddedChain, key: &Key, a: Addresses) -> anyhow::Result<DevClient> {
    let w = key.wallet.clone().with_chain_id(chain.chain_id());
    Ok(ChainClient::connect(
        Arc::new(SignerMiddleware::new(chain.provider(), w)),
        a,
        chain.chain_id(),
    )
    .await?)
}

struct Orch {
    node: Arc<Node>,
    client: Arc<DevClient>,
    cheating: bool,
    stake_before: U256,
}

/// A running devnet: the chain, the orchestrators and the broadcaster, with the chain
/// moving on its own and a trusted verifier judging challenges.
pub struct Devnet {
    /// The broadcaster.
    pub broadcaster: Arc<BroadcasterNode<DevClient>>,
    /// The ladder streams are transcoded to.
    pub ladder: Ladder,
    deployer: Arc<DevClient>,
    bcast: Arc<DevClient>,
    orchs: Vec<Orch>,
    node: Arc<VerifierNode<DevMiddleware>>,
    reports: Arc<Mutex<Vec<FaultReport>>>,
    judge: JoinHandle<()>,
    clock: JoinHandle<()>,
    funded_total: U256,
    _chain: EmbeddedChain,
    _scratch: tempfile::TempDir,
}

impl std::fmt::Debug for Devnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devnet")
            .field("orchestrators", &self.orchs.len())
            .finish_non_exhaustive()
    }
}

/// Checks what can be checked before any work: the orchestrator count and the ladder.
fn check_config(cfg: &DevnetConfig) -> anyhow::Result<Ladder> {
    if cfg.orchestrators == 0 {
        bail!("--orchestrators must be at least 1");
    }
    if cfg.cheat && cfg.orchestrators < 2 {
        bail!("--cheat needs at least 2 orchestrators, so the stream can go on elsewhere");
    }
    Ladder::parse(&cfg.profiles).map_err(|e| anyhow::anyhow!("--profiles {:?}: {e}", cfg.profiles))
}

/// Runs the devnet to the end of the input and returns its summary.
pub async fn run(cfg: DevnetConfig, progress: Arc<dyn Progress>) -> anyhow::Result<Summary> {
    let ladder = check_config(&cfg)?;
    // Everything that can be wrong with the input or output is found before any work.
    let mut source = SegmentSource::open(
        cfg.input.as_deref(),
        cfg.segment,
        cfg.pattern_size,
        cfg.pattern_segments,
    )?;
    livepeer_node::source::check_output(&cfg.out)?;
    let dn = Devnet::start(&cfg, progress.clone()).await?;
    progress.stage("streaming");
    let st = dn
        .broadcaster
        .stream(&mut source, &ladder, &cfg.out, &*progress)
        .await;
    dn.finish(st?, &*progress).await
}

impl Devnet {
    /// Starts the chain, deploys, funds the broadcaster, starts and registers the
    /// orchestrators and the broadcaster, and sets the chain moving.
    pub async fn start(cfg: &DevnetConfig, progress: Arc<dyn Progress>) -> anyhow::Result<Self> {
        let ladder = check_config(cfg)?;
        // rav1e is started (and self-tested) only when a rung asks for AV1.
        let av1 = ladder
            .profiles()
            .iter()
            .any(|p| p.codec == livepeer_core::VideoCodec::Av1);
        let (scratch, state) = state_dir(cfg.state_dir.as_deref())?;

        progress.stage("starting the chain and deploying the contracts");
        let chain = EmbeddedChain::with_dev_accounts();
        let deployer_key = Key::from_hex(DEV_KEYS[0])?;
        let bcast_key = Key::from_hex(DEV_KEYS[1])?;
        let w = deployer_key.wallet.clone().with_chain_id(chain.chain_id());
        let addrs = deploy(
            Arc::new(SignerMiddleware::new(chain.provider(), w)),
            &DeployConfig::default(),
        )
        .await?;
        let deployer = Arc::new(client(&chain, &deployer_key, addrs).await?);
        let bcast = Arc::new(client(&chain, &bcast_key, addrs).await?);

        progress.stage("funding the broadcaster");
        let eth = Wei(U256::exp10(19));
        bcast.fund_deposit_and_reserve(eth, eth).await?;

        progress.stage("starting and registering the orchestrators");
        let honest: Arc<dyn Transcoder> = Arc::new(
            tokio::task::spawn_blocking(move || SoftwareTranscoder::new(software_config(av1)))
                .await??,
        );
        let mut follow = FollowConfig::default();
        follow.every = cfg.block_time;
        let mut orchs = Vec::new();
        for i in 0..cfg.orchestrators {
            let cheating = cfg.cheat && i + 1 == cfg.orchestrators;
            let key = derived_key(&format!("livepeer devnet orchestrator {i}"))?;
            let address = key.address();
            chain.set_balance(address, U256::exp10(20));
            let stake = U256::exp10(19) * U256::from(i as u64 + 1);
            deployer.transfer_stake_token(address, stake).await?;
            let oc = Arc::new(client(&chain, &key, addrs).await?);
            let remote: Arc<dyn Transcoder> = Arc::new(
                tokio::task::spawn_blocking(move || SoftwareTranscoder::new(software_config(av1)))
                    .await??,
            );
            let (local, remote) = if cheating {
                let l: Arc<dyn Transcoder> = Arc::new(DownscalingTranscoder::new(honest.clone()));
                let r: Arc<dyn Transcoder> = Arc::new(DownscalingTranscoder::new(remote));
                (l, r)
            } else {
                (honest.clone(), remote)
            };
            let mut rc = RecipientConfig::default();
            rc.ticket_ev = Wei::from_u128(cfg.ticket_ev);
            rc.redeem_gas = 250_000;
            rc.tx_cost_multiplier = 4;
            // Params expire well inside the tickets' on-chain validity (two 20-block rounds).
            let mut qc = QueueConfig::default();
            qc.profit_factor_pct = 150;
            // The cheat undercuts: it does a quarter of the work.
            let price = if cheating { cfg.price / 2 } else { cfg.price };
            let node = OrchestratorNode::builder(oc.clone())
                .key(key.signer.clone())
                .price(PixelPrice::per_pixel(price.max(1)))
                .tickets(rc)
                .params_validity_blocks(8)
                .redemption(qc)
                .store(Arc::new(RedbStore::open(
                    state.join(format!("orchestrator-{i}.redb")),
                )?))
                .transcoder(local)
                .remote_transcoder(
                    remote,
                    Arc::new(derived_key(&format!("livepeer devnet transcoder {i}"))?.signer),
                )
                // The devnet's clock initializes rounds; no rewards, so stakes move only by
                // slashing.
                .keep_rounds(false)
                .follow(follow.clone())
                .build()
                .await?;
            let node = Arc::new(node);
            let uri = node.service_uri()?;
            oc.join_as_orchestrator(&OrchestratorSetup {
                stake,
                reward_cut_ppm: 100_000,
                fee_share_ppm: 500_000,
                uri: &uri,
                offers: &[ServiceOffer {
                    id: ServiceId::cpu_transcoding(),
                    verifier: addrs.trusted_verifier,
                }],
                regions: &[Region::global()],
            })
            .await?;
            info!(address = %address.checksummed(), %uri, cheating, "orchestrator registered");
            orchs.push(Orch {
                node,
                client: oc,
                cheating,
                stake_before: stake,
            });
        }
        deployer.advance_round().await?;
        for o in &orchs {
            o.node.sync().await?;
        }

        progress.stage("connecting the broadcaster");
        let funds = bcast.sender_info(bcast.account()).await?;
        let funded_total = funds.deposit.0 + funds.reserve_remaining.0;
        let b = BroadcasterNode::builder(bcast.clone())
            .key(bcast_key.signer.clone())
            .verification_rate(cfg.verification_rate)
            .state_dir(&state)
            .max_attempts(cfg.orchestrators.max(2) + 1)
            .evidence_listen(Some(([127, 0, 0, 1], 0).into()))
            .reencode(if cfg.hire_reencode {
                Reencode::Hire
            } else {
                Reencode::Local(honest.clone())
            })
            .follow(follow)
            .build()
            .await?;
        let mut fault_rx = b.subscribe_faults();
        let b = Arc::new(b);

        // The trusted verifier: judges each challenge the broadcaster opens, with its own
        // re-encode, never a hired one. It fetches the evidence over QUIC from the
        // broadcaster's evidence server, which must prove the broadcaster's address, and
        // finds challenges on the chain, as the standalone `verifier serve` does.
        let served = b
            .evidence_server()
            .context("the broadcaster serves no evidence")?;
        let node = Arc::new(
            VerifierNode::builder(deployer.clone())
                .evidence_from(served.address(), served.local_addr()?)?
                .checks(b.checker().config().clone())
                .reencoder(honest.clone())
                .build()
                .await?,
        );
        let reports: Arc<Mutex<Vec<FaultReport>>> = Arc::default();
        let judge = {
            let (b, node, reports, progress) =
                (b.clone(), node.clone(), reports.clone(), progress.clone());
            tokio::spawn(async move {
                loop {
                    let r = match fault_rx.recv().await {
                        Ok(r) => r,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    };
                    progress.fault(&r);
                    if let Ok(mut v) = reports.lock() {
                        v.push(r.clone());
                    }
                    if let Err(e) =
                        judge_open(b.ledger(), &node, b.challenger(), r.orchestrator).await
                    {
                        warn!("judging a challenge: {e:#}");
                    }
                }
            })
        };

        // The chain moves on its own: a block per tick, rounds initialized, everyone told.
        let clock = spawn_clock(deployer.clone(), cfg.block_time);

        Ok(Devnet {
            broadcaster: b,
            ladder,
            deployer,
            bcast,
            orchs,
            node,
            reports,
            judge,
            clock,
            funded_total,
            _chain: chain,
            _scratch: scratch,
        })
    }

    /// Stops the chain's clock, redeems every winner, waits for every challenge to be
    /// judged, and reads the results off the chain.
    pub async fn finish(self, st: StreamStats, progress: &dyn Progress) -> anyhow::Result<Summary> {
        let Devnet {
            broadcaster: b,
            ladder,
            deployer,
            bcast,
            orchs,
            node,
            reports,
            judge,
            clock,
            funded_total,
            ..
        } = self;
        clock.abort();
        let mut summary = Summary {
            renditions: ladder.profiles().len() as u64,
            profiles: ladder.profiles().iter().map(|p| p.name.clone()).collect(),
            segments_in: st.segments_in,
            segments_out: st.segments_out,
            segments_failed: st.segments_failed,
            master_playlist: st.master.display().to_string(),
            ..Summary::default()
        };
        summary.set_latencies(st.latencies.clone());
        summary.set_times(st.media, st.wall);
        let per_orch = st.per_orchestrator;

        progress.stage("redeeming winning tickets");
        settle(&deployer, &orchs).await?;
        // Every fault was heard; wait for their challenges to be judged.
        judge.abort();
        for o in &orchs {
            judge_open(b.ledger(), &node, b.challenger(), o.node.address()).await?;
        }

        progress.stage("reading the results off the chain");
        let after = bcast.sender_info(bcast.account()).await?;
        summary.set_payments(
            funded_total.saturating_sub(after.deposit.0 + after.reserve_remaining.0),
            st.wei_expected,
        );
        summary.tickets_sent = b.tickets_sent();
        let records = b.ledger().all()?;
        summary.faults = reports.lock().map(|r| r.len() as u64).unwrap_or(0);
        summary.challenges_won = records
            .iter()
            .filter(|r| r.status == FaultStatus::Decided(ChallengeState::Guilty))
            .count() as u64;
        for o in &orchs {
            let address = o.node.address();
            let won = o.node.winners().winners();
            let mut redeemed = 0;
            for w in &won {
                if bcast.is_ticket_used(&w.ticket).await? {
                    redeemed += 1;
                }
            }
            let stake_after = bcast.stake_of(address).await?;
            let slashed = stake_after < o.stake_before;
            if slashed {
                summary.slashed.push(address.checksummed().to_string());
            }
            summary.tickets_won += won.len() as u64;
            summary.tickets_redeemed += redeemed;
            summary.orchestrators.push(OrchestratorSummary {
                address: address.checksummed().to_string(),
                cheating: o.cheating,
                segments: per_orch.get(&address).copied().unwrap_or(0),
                tickets_won: won.len() as u64,
                tickets_redeemed: redeemed,
                faults: records
                    .iter()
                    .filter(|r| r.report.orchestrator == address)
                    .count() as u64,
                slashed,
                stake_before: o.stake_before.to_string(),
                stake_after: stake_after.to_string(),
            });
            o.node.close();
            let _ = &o.client;
        }
        Ok(summary)
    }
}

fn software_config(av1: bool) -> SoftwareConfig {
    let mut c = SoftwareConfig::default();
    c.enable_av1 = av1;
    c
}

/// Waits until every provable fault against `orchestrator` is challenged, lets the judge
/// decide the challenges it finds on the chain, and follows each to its verdict.
async fn judge_open(
    ledger: &FaultLedger,
    judge: &VerifierNode<DevMiddleware>,
    challenger: &Challenger,
    orchestrator: Address,
) -> anyhow::Result<()> {
    // The challenge is opened right after the report; give it a moment to land.
    for _ in 0..50 {
        let records = ledger.faults_of(&orchestrator)?;
        if records
            .iter()
            .all(|r| !r.report.provable || r.status != FaultStatus::Recorded)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for r in ledger.faults_of(&orchestrator)? {
        if let FaultStatus::Challenged { .. } = r.status {
            for _ in 0..50 {
                judge.poll().await?;
                if !matches!(
                    challenger.refresh(&r).await?.status,
                    FaultStatus::Challenged { .. }
                ) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    Ok(())
}

/// The chain moves on its own: a block per tick, and rounds initialized. The nodes follow
/// it with their own followers.
fn spawn_clock(deployer: Arc<DevClient>, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let step = async {
                deployer.mine(1).await?;
                deployer.initialize_round().await?;
                Ok::<_, anyhow::Error>(())
            };
            if let Err(e) = step.await {
                warn!("chain step: {e:#}");
            }
        }
    })
}

/// Moves the chain on until every winner is redeemed (or its validity has passed).
async fn settle(deployer: &DevClient, orchs: &[Orch]) -> anyhow::Result<()> {
    let validity = deployer.round_length().await? * 3;
    for _ in 0..validity {
        let mut pending = Wei::ZERO;
        for o in orchs {
            o.node.sync().await?;
            pending = Wei(pending.0.saturating_add(o.node.pending().0));
        }
        if pending.is_zero() {
            return Ok(());
        }
        deployer.mine(1).await?;
        deployer.initialize_round().await?;
    }
    warn!("some winners were still pending when their validity ended");
    Ok(())
}

/// Parses a test pattern size, `WIDTHxHEIGHT` (even, 16x16 to 4096x2304).
pub fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| anyhow::anyhow!("--pattern-size {s:?}: expected WIDTHxHEIGHT"))?;
    let (w, h): (u32, u32) = (w.trim().parse()?, h.trim().parse()?);
    if w < 16 || h < 16 || w > 4096 || h > 2304 || w % 2 == 1 || h % 2 == 1 {
        anyhow::bail!("--pattern-size {s:?}: even sizes from 16x16 to 4096x2304");
    }
    Ok((w, h))
}

/// The devnet's state folder: `configured`, or a scratch folder that lives as long as the
/// returned guard. Created if missing.
pub(crate) fn state_dir(
    configured: Option<&std::path::Path>,
) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
    let scratch = tempfile::tempdir()?;
    let state = configured.map_or_else(|| scratch.path().to_owned(), ToOwned::to_owned);
    std::fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
    Ok((scratch, state))
}
