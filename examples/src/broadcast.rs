//! A broadcaster node as the binaries run it: discovery through the on-chain registry,
//! payments with real tickets, verification of every result (cheap checks always,
//! re-encode on a secret sample) with provable faults challenged on chain, and the stream
//! written as HLS.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_trait::async_trait;
use livepeer_core::chain::{FaultChallenger, RegistryReader, RoundInfo, TicketBrokerReader};
use livepeer_core::entropy::OsEntropy;
use livepeer_core::store::RedbStore;
use livepeer_core::transcode::Transcoder;
use livepeer_core::verify::FaultReport;
use livepeer_core::{
    Address, AddressExt, Ladder, LocalSigner, PixelPrice, Pixels, Segment, Signer, StreamId, U256,
    Wei,
};
use livepeer_negotiate::proto::SchedulerConfig;
use livepeer_negotiate::{
    Broadcaster, BroadcasterConfig, PaymentError, PaymentSource, PmSource, Quote, TicketBatch,
};
use livepeer_pm::{Sender, SenderConfig};
use livepeer_transcode::hls::HlsWriter;
use livepeer_transcode::input::InputStream;
use livepeer_transcode::testsrc::synthetic_segment;
use livepeer_verify::net::{EvidenceServer, ServerLimits};
use livepeer_verify::openh264::{SoftwareDecoder, SoftwareScaler};
use livepeer_verify::{
    Challenger, Checker, EvidenceStore, FaultLedger, Sampler, Verifier, VerifyConfig,
};
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::{info, warn};

/// What a broadcaster's chain backend must do.
pub trait BroadcastChain:
    RegistryReader + TicketBrokerReader + RoundInfo + FaultChallenger + 'static
{
    /// The account that pays (the broadcaster's address).
    fn payer(&self) -> Address;
}

impl<M: ethers::providers::Middleware + 'static> BroadcastChain
    for livepeer_contracts::ChainClient<M>
{
    fn payer(&self) -> Address {
        self.account()
    }
}

/// Hears how a stream goes; binaries draw a progress bar with it.
pub trait Progress: Send + Sync {
    /// A stage begins.
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

/// The segments to stream: a file's or playlist's, or a generated test pattern's.
#[derive(Debug)]
pub enum SegmentSource {
    /// Cut from a file or playlist.
    File(Box<InputStream>),
    /// The test pattern: 2 s segments of 30 fps pictures.
    Pattern {
        /// Picture size.
        size: (u32, u32),
        /// The next segment number.
        next: u64,
        /// Segments in all.
        end: u64,
    },
}

impl SegmentSource {
    /// Opens `input` (checking it before any work), or the test pattern when `None`.
    pub fn open(
        input: Option<&Path>,
        segment: Duration,
        size: (u32, u32),
        segments: u64,
    ) -> anyhow::Result<Self> {
        Ok(match input {
            Some(p) => SegmentSource::File(Box::new(InputStream::open(p, segment)?)),
            None => SegmentSource::Pattern {
                size,
                next: 0,
                end: segments,
            },
        })
    }

    /// Segments in all, when known in advance.
    pub fn known_len(&self) -> Option<u64> {
        match self {
            SegmentSource::Pattern { end, .. } => Some(*end),
            SegmentSource::File(_) => None,
        }
    }

    /// The next segment, or `None` at the end.
    pub fn next_segment(&mut self) -> anyhow::Result<Option<Segment>> {
        match self {
            SegmentSource::File(s) => Ok(s.next_segment()?),
            SegmentSource::Pattern { size, next, end } => {
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

/// How a broadcaster runs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BroadcastConfig {
    /// One segment in this many gets the deep checks.
    pub verification_rate: u32,
    /// Where the fault ledger and evidence are kept.
    pub state_dir: PathBuf,
    /// Quotes above this price are refused.
    pub max_price: Option<PixelPrice>,
    /// Orchestrators with less stake are ignored.
    pub min_stake: U256,
    /// Orchestrators tried per segment at most.
    pub max_attempts: usize,
    /// The largest expected value of one ticket accepted, wei.
    pub max_ticket_ev: Wei,
    /// Where the evidence of its challenges is served to verifiers (QUIC); none when `None`.
    pub evidence_listen: Option<std::net::SocketAddr>,
}

impl Default for BroadcastConfig {
    fn default() -> Self {
        BroadcastConfig {
            verification_rate: 4,
            state_dir: PathBuf::from("broadcaster-state"),
            max_price: None,
            min_stake: U256::zero(),
            max_attempts: 4,
            max_ticket_ev: Wei(U256::exp10(17)),
            evidence_listen: Some(([0, 0, 0, 0], 0).into()),
        }
    }
}

/// Who re-encodes the sampled segments for the bit-exact comparison.
#[derive(Clone)]
pub enum Reencode {
    /// A deterministic transcoder here (the same software and version orchestrators run).
    Local(Arc<dyn Transcoder>),
    /// Another orchestrator, hired through negotiation and paid with tickets (the paper's
    /// "contract a second orchestrator for 1 in VerificationRate segments").
    Hire,
}

impl std::fmt::Debug for Reencode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reencode::Local(_) => "Local",
            Reencode::Hire => "Hire",
        })
    }
}

/// Another orchestrator as a [`Transcoder`]: each ladder gets a negotiation session of its
/// own, and a job is one segment sent through it. Its output is what an honest orchestrator
/// running the deterministic software backend returns, so a result that differs bit for
/// bit from it is a re-encode mismatch.
pub struct HiredTranscoder {
    broadcaster: Broadcaster,
    sessions: tokio::sync::Mutex<
        HashMap<Vec<livepeer_core::H256>, Arc<livepeer_negotiate::StreamSession>>,
    >,
}

impl std::fmt::Debug for HiredTranscoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HiredTranscoder").finish_non_exhaustive()
    }
}

impl HiredTranscoder {
    /// Hires through `broadcaster` (which should not verify with this transcoder itself).
    pub fn new(broadcaster: Broadcaster) -> Self {
        HiredTranscoder {
            broadcaster,
            sessions: tokio::sync::Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl Transcoder for HiredTranscoder {
    fn capabilities(&self) -> livepeer_core::transcode::Capabilities {
        livepeer_core::transcode::Capabilities {
            backend: "hired orchestrator".into(),
            decoders: vec![livepeer_core::VideoCodec::H264],
            encoders: vec![livepeer_core::VideoCodec::H264],
            containers: vec![livepeer_core::Container::MpegTs],
            max_width: 4096,
            max_height: 2304,
            pixels_per_second: 0,
            hardware: false,
            deterministic: true,
        }
    }

    async fn transcode(
        &self,
        job: livepeer_core::transcode::TranscodeJob,
    ) -> Result<livepeer_core::transcode::TranscodeOutput, livepeer_core::transcode::TranscodeError>
    {
        let backend = |e: livepeer_negotiate::NegotiateError| {
            livepeer_core::transcode::TranscodeError::Backend(format!("hired re-encode: {e}"))
        };
        let key = job.ladder.ids();
        let session = {
            let mut sessions = self.sessions.lock().await;
            match sessions.get(&key) {
                Some(s) => s.clone(),
                None => {
                    let name = format!("reencode {:?}", key.first());
                    let s = Arc::new(
                        self.broadcaster
                            .start_stream(StreamId::from_name(&name), job.ladder.clone())
                            .await
                            .map_err(backend)?,
                    );
                    sessions.insert(key, s.clone());
                    s
                }
            }
        };
        // Never the orchestrator whose result this re-encode checks.
        let excluded = livepeer_verify::reencode::checked_orchestrator()
            .into_iter()
            .collect();
        let r = session
            .transcode_excluding(job.segment, excluded)
            .await
            .map_err(backend)?;
        Ok(livepeer_core::transcode::TranscodeOutput {
            renditions: r.renditions,
            source_frames: 0,
        })
    }
}

/// What one stream did.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct StreamStats {
    /// Segments cut from the input.
    pub segments_in: u64,
    /// Segments transcoded, verified and written.
    pub segments_out: u64,
    /// Segments that failed everywhere.
    pub segments_failed: u64,
    /// Per-segment latency, sending to verified result.
    pub latencies: Vec<Duration>,
    /// Segments accepted per orchestrator.
    pub per_orchestrator: HashMap<Address, u64>,
    /// The work's worth at the quoted prices, wei.
    pub wei_expected: U256,
    /// Media duration streamed.
    pub media: Duration,
    /// Wall time of the stream.
    pub wall: Duration,
    /// The master playlist written.
    pub master: PathBuf,
}

/// A running broadcaster.
pub struct BroadcastNode<C: BroadcastChain> {
    /// The negotiation side.
    pub broadcaster: Broadcaster,
    /// Its fault ledger.
    pub ledger: FaultLedger,
    /// The evidence it serves for challenges.
    pub evidence: EvidenceStore,
    /// The server verifiers fetch that evidence from (proving this broadcaster's address).
    pub evidence_server: Option<EvidenceServer>,
    /// Its checker (the configuration a verifier node must share).
    pub checker: Checker,
    /// Opens challenges.
    pub challenger: Challenger,
    pm: Arc<PmSource<Arc<LocalSigner>>>,
    payments: Arc<Counting<Arc<PmSource<Arc<LocalSigner>>>>>,
    chain: Arc<C>,
}

impl<C: BroadcastChain> std::fmt::Debug for BroadcastNode<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastNode")
            .field("address", &self.broadcaster.address())
            .finish_non_exhaustive()
    }
}

impl<C: BroadcastChain> BroadcastNode<C> {
    /// Starts a broadcaster paying from `key`'s deposit and reserve on `chain`, re-encoding
    /// sampled segments as `reencode` says. Returns the node and the faults it will find.
    pub async fn start(
        chain: Arc<C>,
        key: Arc<LocalSigner>,
        cfg: &BroadcastConfig,
        reencode: Reencode,
    ) -> anyhow::Result<(Self, UnboundedReceiver<FaultReport>)> {
        let block = chain.current_block().await?;
        let funds = chain.sender_info(chain.payer()).await?;
        if funds.deposit.is_zero() && funds.reserve_remaining.is_zero() {
            anyhow::bail!(
                "{} has no deposit or reserve in the TicketBroker; fund it first (broadcaster fund)",
                chain.payer().checksummed()
            );
        }
        let mut sc = SenderConfig::default();
        sc.max_ev = cfg.max_ticket_ev;
        sc.max_total_ev = Wei(cfg.max_ticket_ev.0.saturating_mul(U256::from(100u64)));
        let pm = Arc::new(PmSource::new(Sender::new(key.clone(), sc), funds, block));
        let payments = Arc::new(Counting {
            inner: pm.clone(),
            tickets: AtomicU64::new(0),
        });
        std::fs::create_dir_all(&cfg.state_dir)
            .with_context(|| format!("creating {}", cfg.state_dir.display()))?;
        let store = Arc::new(RedbStore::open(cfg.state_dir.join("broadcaster.redb"))?);
        let ledger = FaultLedger::new(store.clone());
        let evidence = EvidenceStore::new(store);
        let mut bc = BroadcasterConfig::default();
        let mut sched = SchedulerConfig::default();
        // Shared cores: a segment may take several times its duration when every
        // transcoder competes for them, so no hedging and generous timeouts.
        sched.hedge_fraction = None;
        sched.timeout_factor = 10.0;
        sched.min_timeout = Duration::from_secs(30);
        sched.max_attempts = cfg.max_attempts.max(1);
        bc.scheduler = sched;
        bc.quote_timeout = Duration::from_secs(5);
        bc.max_price = cfg.max_price;
        bc.min_stake = cfg.min_stake;
        let signer: Arc<dyn Signer> = key;
        let registry: Arc<dyn RegistryReader> = chain.clone();
        // One scoreboard for the stream and the hired re-encodes: an orchestrator caught on
        // the stream is never hired to judge another.
        let board = Arc::new(std::sync::Mutex::new(
            livepeer_negotiate::proto::Scoreboard::new(bc.score.clone()),
        ));
        let reencoder: Arc<dyn Transcoder> = match reencode {
            Reencode::Local(t) => t,
            // A second broadcaster on the same key, registry and tickets, without a verifier
            // of its own: the orchestrator it picks re-encodes the sampled segment.
            Reencode::Hire => Arc::new(HiredTranscoder::new(
                Broadcaster::builder(signer.clone(), registry.clone(), payments.clone())
                    .with_config(bc.clone())
                    .with_scoreboard(board.clone())
                    .build()?,
            )),
        };
        let mut vc = VerifyConfig::default();
        vc.verification_rate = cfg.verification_rate;
        // Decoded with the transcoders' own decoder: key frames on every segment, every
        // picture on the sampled ones, and a bit-exact re-encode of those.
        let checker = Checker::new(vc)
            .with_decoder(Arc::new(SoftwareDecoder::new()), Arc::new(SoftwareScaler));
        // The bit-exact re-encode only where the service promises deterministic output.
        // Elsewhere it is the honest reference that excuses content too hard for the
        // absolute thresholds.
        let checker = if livepeer_verify::reencode::applies_to(&bc.service) {
            checker.with_reencoder(reencoder)
        } else {
            checker.with_reference_encoder(reencoder)
        };
        let challenger = Challenger::new(
            chain.clone(),
            evidence.clone(),
            ledger.clone(),
            checker.clone(),
        );
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<FaultReport>();
        let verifier = Verifier::builder(
            checker.clone(),
            Sampler::new(&OsEntropy, cfg.verification_rate)?,
        )
        .with_ledger(ledger.clone())
        .with_challenger(challenger.clone())
        .with_fault_sink(Arc::new(tx))
        .build()?;
        let broadcaster = Broadcaster::builder(signer.clone(), registry, payments.clone())
            .with_config(bc)
            .with_scoreboard(board)
            .with_verifier(Arc::new(verifier))
            .build()?;
        let evidence_server = match cfg.evidence_listen {
            Some(at) => Some(EvidenceServer::start(
                at,
                signer.clone(),
                Arc::new(evidence.clone()),
                ServerLimits::default(),
            )?),
            None => None,
        };
        Ok((
            BroadcastNode {
                broadcaster,
                ledger,
                evidence,
                evidence_server,
                checker,
                challenger,
                pm,
                payments,
                chain,
            },
            rx,
        ))
    }

    /// Tickets signed and sent so far.
    pub fn tickets_sent(&self) -> u64 {
        self.payments.tickets.load(Ordering::Relaxed)
    }

    /// Follows the chain one step: the block, and the deposit and reserve.
    pub async fn sync(&self) -> anyhow::Result<()> {
        self.pm.handle_block(self.chain.current_block().await?);
        self.pm
            .handle_funds(self.chain.sender_info(self.chain.payer()).await?);
        Ok(())
    }

    /// Streams `source` transcoded to `ladder` and writes it as HLS under `out`. A segment
    /// that fails on every orchestrator is counted and skipped (a discontinuity in the
    /// playlists); the stream goes on.
    pub async fn stream(
        &self,
        source: &mut SegmentSource,
        ladder: &Ladder,
        out: &Path,
        progress: &dyn Progress,
    ) -> anyhow::Result<StreamStats> {
        let hls = HlsWriter::create(out, ladder)?;
        self.stream_into(source, ladder, out, progress, hls, None)
            .await
    }

    /// [`Self::stream`], going on with the stream a previous run left under `out` (after a
    /// crash): the same source and ladder; the segments already written are skipped.
    pub async fn resume(
        &self,
        source: &mut SegmentSource,
        ladder: &Ladder,
        out: &Path,
        progress: &dyn Progress,
    ) -> anyhow::Result<StreamStats> {
        let (hls, last) = HlsWriter::resume(out, ladder)?;
        if let Some(l) = last {
            tracing::info!(last = l, "resuming after the last segment written");
        }
        self.stream_into(source, ladder, out, progress, hls, last)
            .await
    }

    async fn stream_into(
        &self,
        source: &mut SegmentSource,
        ladder: &Ladder,
        out: &Path,
        progress: &dyn Progress,
        mut hls: HlsWriter,
        skip_through: Option<u64>,
    ) -> anyhow::Result<StreamStats> {
        progress.total(source.known_len());
        let session = self
            .broadcaster
            .start_stream(
                StreamId::from_name(&out.display().to_string()),
                ladder.clone(),
            )
            .await
            .context("no orchestrator answered with a usable quote")?;
        let t0 = Instant::now();
        let mut st = StreamStats::default();
        while let Some(seg) = source.next_segment()? {
            if skip_through.is_some_and(|l| seg.seq <= l) {
                continue;
            }
            st.segments_in += 1;
            st.media += seg.duration;
            let seq = seg.seq;
            let started = Instant::now();
            match session.transcode(seg).await {
                Ok(r) => {
                    let px = r
                        .renditions
                        .iter()
                        .fold(Pixels::ZERO, |a, x| a.saturating_add(x.pixels));
                    if let Some(q) = session.quote_of(&r.orchestrator) {
                        st.wei_expected = st.wei_expected.saturating_add(q.price.fee(px).0);
                    }
                    hls.write_segment(seq, &r.renditions)?;
                    st.segments_out += 1;
                    *st.per_orchestrator.entry(r.orchestrator).or_default() += 1;
                    let lat = started.elapsed();
                    st.latencies.push(lat);
                    progress.segment(seq, r.orchestrator, lat);
                }
                Err(e) => {
                    warn!(seq, "segment failed on every orchestrator tried: {e}");
                    st.segments_failed += 1;
                }
            }
        }
        st.wall = t0.elapsed();
        st.master = hls.finish()?.master;
        Ok(st)
    }
}
