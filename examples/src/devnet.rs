//! The whole network on one machine: an embedded chain with the contracts deployed, a funded
//! broadcaster, staked and registered orchestrators with their transcoders (one in process,
//! one over QUIC each), a stream paid with real tickets, verified, written as HLS, winners
//! redeemed, and optionally one cheating orchestrator caught, challenged and slashed while
//! the stream goes on elsewhere.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_trait::async_trait;
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
use livepeer_core::entropy::OsEntropy;
use livepeer_core::store::RedbStore;
use livepeer_core::transcode::Transcoder;
use livepeer_core::verify::FaultReport;
use livepeer_core::{
    Address, AddressExt, Ladder, LocalSigner, PixelPrice, Pixels, Region, Segment, ServiceId,
    Signer, StreamId, U256, Wei, keccak256,
};
use livepeer_negotiate::proto::SchedulerConfig;
use livepeer_negotiate::{
    Broadcaster, BroadcasterConfig, OrchestratorConfig, PaymentError, PaymentSource, PmSource,
    Quote, TicketBatch,
};
use livepeer_pm::{QueueConfig, RecipientConfig, Sender, SenderConfig};
use livepeer_transcode::hls::HlsWriter;
use livepeer_transcode::input::InputStream;
use livepeer_transcode::testsrc::synthetic_segment;
use livepeer_transcode::{SoftwareConfig, SoftwareTranscoder};
use livepeer_verify::{
    Challenger, Checker, EvidenceStore, FaultLedger, FaultStatus, Sampler, Verifier, VerifierNode,
    VerifyConfig,
};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::cheat::DownscalingTranscoder;
use crate::node::{NodeSpec, OrchestratorNode};
use crate::summary::{OrchestratorSummary, Summary};

/// A chain client on the embedded chain.
pub type DevClient = ChainClient<SignerMiddleware<Provider<EmbeddedChain>, LocalWallet>>;

type Node = OrchestratorNode<RedbStore, DevClient>;

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
            price: 10_000_000,
            ticket_ev: 250_000_000_000_000,
        }
    }
}

/// Hears how the run goes; the binary draws a progress bar with it.
pub trait Progress: Send + Sync {
    /// A setup stage begins.
    fn stage(&self, what: &str);
    /// Segments to go, when known.
    fn total(&self, segments: Option<u64>);
    /// A segment is done.
    fn segment(&self, seq: u64, orchestrator: Address, latency: Duration);
    /// A fault was found.
    fn fault(&self, report: &FaultReport);
}

/// Progress that goes to the log only.
#[derive(Debug, Default)]
pub struct LogProgress;

impl Progress for LogProgress {
    fn stage(&self, what: &str) {
        info!("{what}");
    }
    fn total(&self, _: Option<u64>) {}
    fn segment(&self, seq: u64, orchestrator: Address, latency: Duration) {
        info!(seq, orchestrator = %orchestrator.checksummed(), ?latency, "segment done");
    }
    fn fault(&self, report: &FaultReport) {
        warn!(kind = ?report.kind, orchestrator = %report.orchestrator.checksummed(), "fault");
    }
}

/// Counts the tickets the broadcaster sends.
struct Counting<P> {
    inner: P,
    tickets: AtomicU64,
}

#[async_trait]
impl<P: PaymentSource> PaymentSource for Counting<P> {
    async fn pay(
        &self,
        quote: &Quote,
        stream: StreamId,
        fee_estimate: Wei,
    ) -> Result<Option<TicketBatch>, PaymentError> {
        let r = self.inner.pay(quote, stream, fee_estimate).await;
        if let Ok(Some(b)) = &r {
            self.tickets
                .fetch_add(b.tickets.len() as u64, Ordering::Relaxed);
        }
        r
    }
}

/// A key derived from a label: the same addresses on every run.
fn derived_key(label: &str) -> anyhow::Result<LocalSigner> {
    Ok(LocalSigner::from_bytes(&keccak256(label.as_bytes()))?)
}

async fn client(chain: &EmbeddedChain, key: &[u8; 32], a: Addresses) -> anyhow::Result<DevClient> {
    let w = LocalWallet::from_bytes(key)?.with_chain_id(chain.chain_id());
    Ok(ChainClient::connect(
        Arc::new(SignerMiddleware::new(chain.provider(), w)),
        a,
        chain.chain_id(),
    )
    .await?)
}

fn hex_key(s: &str) -> anyhow::Result<[u8; 32]> {
    let v = hex::decode(s.trim_start_matches("0x"))?;
    v.try_into()
        .map_err(|_| anyhow::anyhow!("a key is 32 bytes"))
}

/// The segments to stream: the input's, or the test pattern's.
enum Source {
    File(InputStream),
    Pattern {
        size: (u32, u32),
        next: u64,
        end: u64,
    },
}

impl Source {
    fn next(&mut self) -> anyhow::Result<Option<Segment>> {
        match self {
            Source::File(s) => Ok(s.next_segment()?),
            Source::Pattern { size, next, end } => {
                if *next >= *end {
                    return Ok(None);
                }
                let s = synthetic_segment(size.0, size.1, 60, *next)?;
                *next += 1;
                Ok(Some(s))
            }
        }
    }
}

struct Orch {
    node: Arc<Node>,
    client: Arc<DevClient>,
    cheating: bool,
    stake_before: U256,
}

/// Runs the devnet to the end of the input and returns its summary.
pub async fn run(cfg: DevnetConfig, progress: Arc<dyn Progress>) -> anyhow::Result<Summary> {
    if cfg.orchestrators == 0 {
        bail!("--orchestrators must be at least 1");
    }
    if cfg.cheat && cfg.orchestrators < 2 {
        bail!("--cheat needs at least 2 orchestrators, so the stream can go on elsewhere");
    }
    let ladder = Ladder::parse(&cfg.profiles)
        .map_err(|e| anyhow::anyhow!("--profiles {:?}: {e}", cfg.profiles))?;
    // Everything that can be wrong with the input or output is found before any work.
    let mut source = match &cfg.input {
        Some(p) => Source::File(InputStream::open(p, cfg.segment)?),
        None => Source::Pattern {
            size: cfg.pattern_size,
            next: 0,
            end: cfg.pattern_segments,
        },
    };
    if cfg.out.join(livepeer_transcode::hls::MASTER).exists() {
        bail!(
            "{} already holds an HLS stream; choose an empty directory",
            cfg.out.display()
        );
    }
    let scratch = tempfile::tempdir()?;
    let state = cfg
        .state_dir
        .clone()
        .unwrap_or_else(|| scratch.path().to_owned());
    std::fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;

    progress.stage("starting the chain and deploying the contracts");
    let chain = EmbeddedChain::with_dev_accounts();
    let deployer_key = hex_key(DEV_KEYS[0])?;
    let bcast_key = hex_key(DEV_KEYS[1])?;
    let w = LocalWallet::from_bytes(&deployer_key)?.with_chain_id(chain.chain_id());
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
        tokio::task::spawn_blocking(|| SoftwareTranscoder::new(software_config())).await??,
    );
    let pps = honest.capabilities().pixels_per_second.max(1);
    let mut orchs = Vec::new();
    for i in 0..cfg.orchestrators {
        let cheating = cfg.cheat && i + 1 == cfg.orchestrators;
        let key = derived_key(&format!("livepeer devnet orchestrator {i}"))?;
        let address = key.address();
        chain.set_balance(address, U256::exp10(20));
        let stake = U256::exp10(19) * U256::from(i as u64 + 1);
        deployer.transfer_stake_token(address, stake).await?;
        let oc = Arc::new(client(&chain, &key.secret_bytes(), addrs).await?);
        let remote: Arc<dyn Transcoder> = Arc::new(
            tokio::task::spawn_blocking(|| SoftwareTranscoder::new(software_config())).await??,
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
        rc.params_validity_blocks = 8;
        let mut qc = QueueConfig::default();
        qc.profit_factor_pct = 150;
        // The cheat undercuts: it does a quarter of the work.
        let price = if cheating { cfg.price / 2 } else { cfg.price };
        let spec = NodeSpec {
            key: Arc::new(key.clone()),
            price: PixelPrice::per_pixel(price.max(1)),
            config: OrchestratorConfig::default(),
            recipient: rc,
            queue: qc,
            store: RedbStore::open(state.join(format!("orchestrator-{i}.redb")))?,
            local: vec![(local, pps)],
            remote: vec![(
                remote,
                pps,
                Arc::new(derived_key(&format!("livepeer devnet transcoder {i}"))?),
            )],
        };
        let node = Arc::new(OrchestratorNode::start(spec, oc.clone()).await?);
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
    let b_signer: Arc<LocalSigner> = Arc::new(LocalSigner::from_bytes(&bcast_key)?);
    let block = bcast.current_block().await?;
    let funds = bcast.sender_info(bcast.account()).await?;
    let funded_total = funds.deposit.0 + funds.reserve_remaining.0;
    let mut sc = SenderConfig::default();
    sc.max_ev = Wei(U256::exp10(17));
    sc.max_total_ev = Wei(U256::exp10(19));
    let pm = Arc::new(PmSource::new(
        Sender::new(b_signer.clone(), sc),
        funds,
        block,
    ));
    let payments = Arc::new(Counting {
        inner: pm.clone(),
        tickets: AtomicU64::new(0),
    });

    let store = Arc::new(RedbStore::open(state.join("broadcaster.redb"))?);
    let ledger = FaultLedger::new(store.clone());
    let evidence = EvidenceStore::new(store);
    let mut vc = VerifyConfig::default();
    vc.verification_rate = cfg.verification_rate;
    let checker = Checker::new(vc).with_reencoder(honest.clone());
    let challenger = Challenger::new(
        bcast.clone(),
        evidence.clone(),
        ledger.clone(),
        checker.clone(),
    );
    let (fault_tx, mut fault_rx) = tokio::sync::mpsc::unbounded_channel::<FaultReport>();
    let verifier = Verifier::builder(
        checker.clone(),
        Sampler::new(&OsEntropy, cfg.verification_rate)?,
    )
    .with_ledger(ledger.clone())
    .with_challenger(challenger.clone())
    .with_fault_sink(Arc::new(fault_tx))
    .build()?;
    let mut bc = BroadcasterConfig::default();
    let mut sched = SchedulerConfig::default();
    // Two shared cores: a segment may take several times its duration when every
    // transcoder competes for them, so no hedging and generous timeouts.
    sched.hedge_fraction = None;
    sched.timeout_factor = 10.0;
    sched.min_timeout = Duration::from_secs(30);
    sched.max_attempts = cfg.orchestrators.max(2) + 1;
    bc.scheduler = sched;
    bc.quote_timeout = Duration::from_secs(5);
    let signer: Arc<dyn Signer> = b_signer.clone();
    let broadcaster = Broadcaster::builder(signer, bcast.clone(), payments.clone())
        .with_config(bc)
        .with_verifier(Arc::new(verifier))
        .build()?;

    // The trusted verifier: judges each challenge the broadcaster opens.
    let node = Arc::new(VerifierNode::new(
        deployer.clone(),
        Arc::new(evidence.clone()),
        checker.clone(),
    ));
    let reports: Arc<Mutex<Vec<FaultReport>>> = Arc::default();
    let judge = {
        let (ledger, node, challenger, reports, progress) = (
            ledger.clone(),
            node.clone(),
            challenger.clone(),
            reports.clone(),
            progress.clone(),
        );
        tokio::spawn(async move {
            while let Some(r) = fault_rx.recv().await {
                progress.fault(&r);
                if let Ok(mut v) = reports.lock() {
                    v.push(r.clone());
                }
                if let Err(e) = judge_open(&ledger, &node, &challenger, r.orchestrator).await {
                    warn!("judging a challenge: {e:#}");
                }
            }
        })
    };

    // The chain moves on its own: a block per tick, rounds initialized, everyone told.
    let clock = spawn_clock(
        deployer.clone(),
        bcast.clone(),
        pm.clone(),
        orchs.iter().map(|o| o.node.clone()).collect(),
        cfg.block_time,
    );

    progress.stage("streaming");
    progress.total(match &source {
        Source::Pattern { end, .. } => Some(*end),
        Source::File(_) => None,
    });
    let mut hls = HlsWriter::create(&cfg.out, &ladder)?;
    let stream_id = StreamId::from_name("devnet");
    let session = broadcaster
        .start_stream(stream_id, ladder.clone())
        .await
        .context("no orchestrator answered with a usable quote")?;
    let t0 = Instant::now();
    let mut summary = Summary {
        renditions: ladder.profiles().len() as u64,
        profiles: ladder.profiles().iter().map(|p| p.name.clone()).collect(),
        ..Summary::default()
    };
    let mut latencies = Vec::new();
    let mut per_orch: HashMap<Address, u64> = HashMap::new();
    let mut pixels = Pixels::ZERO;
    let mut media = Duration::ZERO;
    let mut expected = U256::zero();
    while let Some(seg) = source.next()? {
        summary.segments_in += 1;
        media += seg.duration;
        let seq = seg.seq;
        let started = Instant::now();
        match session.transcode(seg).await {
            Ok(r) => {
                let px = r
                    .renditions
                    .iter()
                    .fold(Pixels::ZERO, |a, x| a.saturating_add(x.pixels));
                pixels = pixels.saturating_add(px);
                if let Some(q) = session.quote_of(&r.orchestrator) {
                    expected = expected.saturating_add(q.price.fee(px).0);
                }
                hls.write_segment(seq, &r.renditions)?;
                summary.segments_out += 1;
                *per_orch.entry(r.orchestrator).or_default() += 1;
                let lat = started.elapsed();
                latencies.push(lat);
                progress.segment(seq, r.orchestrator, lat);
            }
            Err(e) => {
                warn!(seq, "segment failed on every orchestrator tried: {e}");
                summary.segments_failed += 1;
            }
        }
    }
    summary.wall_seconds = t0.elapsed().as_secs_f64();
    summary.media_seconds = media.as_secs_f64();
    let written = hls.finish()?;
    summary.master_playlist = written.master.display().to_string();
    summary.set_latencies(latencies);
    debug!(pixels = pixels.0, "stream done");
    drop(session);
    clock.abort();

    progress.stage("redeeming winning tickets");
    settle(&deployer, &orchs).await?;
    drop(broadcaster);
    // Every fault was heard; wait for their challenges to be judged.
    judge.abort();
    for o in &orchs {
        judge_open(&ledger, &node, &challenger, o.node.address()).await?;
    }

    progress.stage("reading the results off the chain");
    let after = bcast.sender_info(bcast.account()).await?;
    summary.wei_paid = (funded_total - (after.deposit.0 + after.reserve_remaining.0)).to_string();
    summary.wei_expected = expected.to_string();
    summary.tickets_sent = payments.tickets.load(Ordering::Relaxed);
    let records = ledger.all()?;
    summary.faults = reports.lock().map(|r| r.len() as u64).unwrap_or(0);
    summary.challenges_won = records
        .iter()
        .filter(|r| r.status == FaultStatus::Decided(ChallengeState::Guilty))
        .count() as u64;
    for o in &orchs {
        let address = o.node.address();
        let won = o.node.winners.winners();
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

fn software_config() -> SoftwareConfig {
    let mut c = SoftwareConfig::default();
    c.enable_av1 = false;
    c
}

/// Judges every open challenge against `orchestrator` and follows it to its verdict.
async fn judge_open(
    ledger: &FaultLedger,
    node: &VerifierNode,
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
        if let FaultStatus::Challenged { id, .. } = r.status {
            let (decision, _) = node.judge(id).await?;
            info!(?decision, "challenge judged");
            challenger.refresh(&r).await?;
        }
    }
    Ok(())
}

fn spawn_clock(
    deployer: Arc<DevClient>,
    bcast: Arc<DevClient>,
    pm: Arc<PmSource<Arc<LocalSigner>>>,
    nodes: Vec<Arc<Node>>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = step(&deployer, &bcast, &pm, &nodes).await {
                warn!("chain step: {e:#}");
            }
        }
    })
}

async fn step(
    deployer: &DevClient,
    bcast: &DevClient,
    pm: &PmSource<Arc<LocalSigner>>,
    nodes: &[Arc<Node>],
) -> anyhow::Result<()> {
    deployer.mine(1).await?;
    deployer.initialize_round().await?;
    pm.handle_block(bcast.current_block().await?);
    pm.handle_funds(bcast.sender_info(bcast.account()).await?);
    for n in nodes {
        n.sync().await?;
    }
    Ok(())
}

/// Moves the chain on until every winner is redeemed (or its validity has passed).
async fn settle(deployer: &DevClient, orchs: &[Orch]) -> anyhow::Result<()> {
    let validity = deployer.round_length().await? * 3;
    for _ in 0..validity {
        let mut pending = Wei::ZERO;
        for o in orchs {
            o.node.sync().await?;
            pending = Wei(pending.0.saturating_add(o.node.winners.pending().await.0));
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
