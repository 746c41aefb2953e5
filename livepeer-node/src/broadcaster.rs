//! The broadcaster node: discovery through the on-chain registry, payments with real
//! tickets, every result verified (cheap checks always, deeper ones on a secret sample),
//! provable faults challenged on chain with their evidence served until decided, and the
//! stream written as HLS. One chain follower keeps its block, deposit and reserve current.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use livepeer_core::chain::RegistryReader;
use livepeer_core::entropy::OsEntropy;
use livepeer_core::store::RedbStore;
use livepeer_core::transcode::Transcoder;
use livepeer_core::verify::FaultReport;
use livepeer_core::{
    Address, Ladder, LocalSigner, PixelPrice, Pixels, Signer, StreamId, U256, Wei,
};
use livepeer_negotiate::proto::{SchedulerConfig, Scoreboard};
use livepeer_negotiate::{
    Broadcaster, BroadcasterConfig, PaymentError, PaymentSource, PmSource, Quote, TicketBatch,
};
use livepeer_pm::{Sender, SenderConfig};
use livepeer_transcode::hls::HlsWriter;
use livepeer_verify::net::{EvidenceServer, ServerLimits};
use livepeer_verify::openh264::{SoftwareDecoder, SoftwareScaler};
use livepeer_verify::{
    Challenger, Checker, EvidenceStore, FaultLedger, FaultStatus, Sampler, Verifier, VerifyConfig,
};
use tokio::sync::broadcast;
use tracing::{Instrument as _, info, warn};

use crate::chain::BroadcasterChain;
use crate::error::{NodeError, Result};
use crate::follow::{Follow, FollowConfig, Follower};
use crate::hired::HiredTranscoder;
use crate::meter::Meter;
use crate::ops::{Health, OpsServer};
use crate::source::{LogProgress, Progress, SegmentSource};
pub use crate::stats::StreamStats;
use crate::stats::Written;

/// Who re-encodes the sampled segments for the deep checks.
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

/// Counts the tickets sent and their expected value.
struct Counting<P> {
    inner: P,
    tickets: AtomicU64,
    meter: Meter,
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
            let n = b.tickets.len() as u64;
            self.tickets.fetch_add(n, Ordering::Relaxed);
            let ev = livepeer_pm::ticket_ev(b.params.face_value, b.params.win_prob);
            self.meter
                .tickets_sent(n, ev.0.saturating_mul(U256::from(n)));
        }
        r
    }
}

/// Builds a [`BroadcasterNode`].
pub struct BroadcasterBuilder<C> {
    chain: Arc<C>,
    key: Option<LocalSigner>,
    state_dir: PathBuf,
    verification_rate: u32,
    max_price: Option<PixelPrice>,
    min_stake: U256,
    max_attempts: usize,
    max_ticket_ev: Wei,
    evidence_listen: Option<SocketAddr>,
    reencode: Option<Reencode>,
    config: Option<BroadcasterConfig>,
    follow: FollowConfig,
    ops: Option<SocketAddr>,
    decision_timeout: Duration,
}

impl<C> std::fmt::Debug for BroadcasterBuilder<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcasterBuilder")
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

impl<C: BroadcasterChain> BroadcasterBuilder<C> {
    /// Pays with `key`'s deposit and reserve (the chain backend must act as the same
    /// account).
    pub fn key(mut self, key: LocalSigner) -> Self {
        self.key = Some(key);
        self
    }

    /// Where the fault ledger and evidence are kept (default `broadcaster-state`).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = dir.into();
        self
    }

    /// One segment in `n` gets the deep checks (default 4).
    pub fn verification_rate(mut self, n: u32) -> Self {
        self.verification_rate = n;
        self
    }

    /// Quotes above this price are refused.
    pub fn max_price(mut self, p: PixelPrice) -> Self {
        self.max_price = Some(p);
        self
    }

    /// Orchestrators with less stake are ignored.
    pub fn min_stake(mut self, stake: U256) -> Self {
        self.min_stake = stake;
        self
    }

    /// Orchestrators tried per segment at most (default 4).
    pub fn max_attempts(mut self, n: usize) -> Self {
        self.max_attempts = n;
        self
    }

    /// The largest expected value of one ticket accepted (default 0.1 ETH).
    pub fn max_ticket_ev(mut self, ev: Wei) -> Self {
        self.max_ticket_ev = ev;
        self
    }

    /// Where verifiers fetch the evidence of its challenges over QUIC (default any port on
    /// every interface); `None` serves none.
    pub fn evidence_listen(mut self, at: Option<SocketAddr>) -> Self {
        self.evidence_listen = at;
        self
    }

    /// Who re-encodes sampled segments (default: a software transcoder here).
    pub fn reencode(mut self, r: Reencode) -> Self {
        self.reencode = Some(r);
        self
    }

    /// Replaces the negotiation settings (selection, scheduling, service, region). The
    /// node's own settings (price cap, stake floor, attempts) are applied over them.
    pub fn negotiation(mut self, config: BroadcasterConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// How often and how patiently it follows the chain.
    pub fn follow(mut self, follow: FollowConfig) -> Self {
        self.follow = follow;
        self
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` at `at`.
    pub fn ops(mut self, at: SocketAddr) -> Self {
        self.ops = Some(at);
        self
    }

    /// How long [`BroadcasterNode::shutdown`] keeps serving evidence for challenges still
    /// open (default 10 minutes).
    pub fn decision_timeout(mut self, d: Duration) -> Self {
        self.decision_timeout = d;
        self
    }

    /// Checks the settings and the funds, opens the state, starts the evidence server and
    /// the chain follower.
    pub async fn build(self) -> Result<BroadcasterNode<C>> {
        let key = self.key.ok_or(NodeError::MissingSigner)?;
        let chain = self.chain;
        let payer = chain.account();
        if key.address() != payer {
            return Err(NodeError::AccountMismatch {
                signer: key.address(),
                account: payer,
            });
        }
        if self.verification_rate == 0 {
            return Err(NodeError::Config(
                "the verification rate is at least 1".into(),
            ));
        }
        let meter = Meter::new("broadcaster", payer);
        let block = chain.current_block().await?;
        let funds = chain.sender_info(payer).await?;
        if funds.deposit.is_zero() && funds.reserve_remaining.is_zero() {
            return Err(NodeError::Unfunded(payer));
        }
        meter.funds(funds.deposit.0, funds.reserve_remaining.0);
        let key = Arc::new(key);
        let mut sc = SenderConfig::default();
        sc.max_ev = self.max_ticket_ev;
        sc.max_total_ev = Wei(self.max_ticket_ev.0.saturating_mul(U256::from(100u64)));
        let pm = Arc::new(PmSource::new(Sender::new(key.clone(), sc), funds, block));
        let payments = Arc::new(Counting {
            inner: pm.clone(),
            tickets: AtomicU64::new(0),
            meter: meter.clone(),
        });
        std::fs::create_dir_all(&self.state_dir).map_err(|e| {
            NodeError::Config(format!("creating {}: {e}", self.state_dir.display()))
        })?;
        let path = self.state_dir.join("broadcaster.redb");
        let store = Arc::new(
            RedbStore::open(&path)
                .map_err(|e| NodeError::Config(format!("opening {}: {e}", path.display())))?,
        );
        let ledger = FaultLedger::new(store.clone());
        let evidence = EvidenceStore::new(store);
        let mut bc = self.config.unwrap_or_else(|| {
            let mut bc = BroadcasterConfig::default();
            let mut sched = SchedulerConfig::default();
            // Shared cores: a segment may take several times its duration when every
            // transcoder competes for them, so no hedging and generous timeouts.
            sched.hedge_fraction = None;
            sched.timeout_factor = 10.0;
            sched.min_timeout = Duration::from_secs(30);
            bc.scheduler = sched;
            bc.quote_timeout = Duration::from_secs(5);
            bc
        });
        bc.scheduler.max_attempts = self.max_attempts.max(1);
        bc.max_price = self.max_price;
        bc.min_stake = self.min_stake;
        let signer: Arc<dyn Signer> = key.clone();
        let registry: Arc<dyn RegistryReader> = chain.clone();
        let domain = chain.signing_domain();
        // One scoreboard for the stream and the hired re-encodes: an orchestrator caught on
        // the stream is never hired to judge another.
        let board = Arc::new(std::sync::Mutex::new(Scoreboard::new(bc.score.clone())));
        // The default re-encoder comes with its alternate on the other decoder, where the
        // build has one: honest orchestrators may decode B slices either way.
        let alternate = match self.reencode {
            None => crate::alternate_software_transcoder().await?,
            Some(_) => None,
        };
        let reencoder: Arc<dyn Transcoder> = match self.reencode {
            Some(Reencode::Local(t)) => t,
            // The honest reference for every rung a ladder may ask for, AV1 included.
            None => crate::software_transcoder().await?,
            // A second broadcaster on the same key, registry and tickets, without a verifier
            // of its own: the orchestrator it picks re-encodes the sampled segment.
            Some(Reencode::Hire) => Arc::new(HiredTranscoder::new(
                Broadcaster::builder(signer.clone(), domain, registry.clone(), payments.clone())
                    .with_config(bc.clone())
                    .with_scoreboard(board.clone())
                    .build()
                    .map_err(anyhow::Error::from)?,
            )),
        };
        let mut vc = VerifyConfig::default();
        vc.verification_rate = self.verification_rate;
        // Decoded with the transcoders' own decoder: key frames on every segment, every
        // picture on the sampled ones, and a re-encode of those.
        let checker = Checker::new(vc)
            .with_decoder(Arc::new(SoftwareDecoder::new()), Arc::new(SoftwareScaler));
        // The bit-exact comparison only where the service promises deterministic output;
        // elsewhere the re-encode is the honest reference that excuses content too hard
        // for the absolute thresholds.
        let checker = if livepeer_verify::reencode::applies_to(&bc.service) {
            let checker = checker.with_reencoder(reencoder);
            match alternate {
                Some(t) => checker.with_alternate_reencoder(t),
                None => checker,
            }
        } else {
            checker.with_reference_encoder(reencoder)
        };
        let challenger = Challenger::new(
            chain.clone(),
            evidence.clone(),
            ledger.clone(),
            checker.clone(),
        );
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<FaultReport>();
        let verifier = Verifier::builder(
            checker.clone(),
            Sampler::new(&OsEntropy, self.verification_rate).map_err(anyhow::Error::from)?,
        )
        .with_ledger(ledger.clone())
        .with_challenger(challenger.clone())
        .with_fault_sink(Arc::new(tx))
        .build()
        .map_err(anyhow::Error::from)?;
        let broadcaster = Broadcaster::builder(signer.clone(), domain, registry, payments.clone())
            .with_config(bc)
            .with_scoreboard(board)
            .with_verifier(Arc::new(verifier))
            .build()
            .map_err(anyhow::Error::from)?;
        let evidence_server = match self.evidence_listen {
            Some(at) => Some(
                EvidenceServer::start(
                    at,
                    signer.clone(),
                    Arc::new(evidence.clone()),
                    ServerLimits::default(),
                )
                .map_err(anyhow::Error::from)?,
            ),
            None => None,
        };
        // Faults go to the meter and to every subscriber.
        let (faults, _) = broadcast::channel(256);
        let fault_task = {
            let (faults, meter) = (faults.clone(), meter.clone());
            tokio::spawn(async move {
                while let Some(r) = rx.recv().await {
                    meter.fault();
                    if r.provable {
                        meter.challenges(1);
                    }
                    warn!(kind = ?r.kind, orchestrator = ?r.orchestrator, provable = r.provable, "fault found");
                    let _ = faults.send(r);
                }
            })
        };
        let health = Arc::new(Health::default());
        let ops = match self.ops {
            Some(at) => Some(
                OpsServer::start(at, health.clone())
                    .await
                    .map_err(|e| NodeError::Config(format!("ops endpoint {at}: {e}")))?,
            ),
            None => None,
        };
        let part = Arc::new(FundsPart {
            chain: chain.clone(),
            pm: pm.clone(),
            meter: meter.clone(),
        });
        let follower = Follower::spawn(vec![part.clone()], self.follow, health.clone());
        Ok(BroadcasterNode {
            broadcaster,
            ledger,
            evidence,
            evidence_server,
            checker,
            challenger,
            payments,
            part,
            meter,
            health,
            faults,
            decision_timeout: self.decision_timeout,
            _fault_task: AbortOnDrop(fault_task),
            _follower: follower,
            ops,
        })
    }
}

/// The broadcaster's chain work: its block, deposit and reserve.
struct FundsPart<C> {
    chain: Arc<C>,
    pm: Arc<PmSource<Arc<LocalSigner>>>,
    meter: Meter,
}

#[async_trait]
impl<C: BroadcasterChain> Follow for FundsPart<C> {
    fn name(&self) -> &'static str {
        "broadcaster"
    }

    async fn step(&self) -> anyhow::Result<()> {
        self.pm.handle_block(self.chain.current_block().await?);
        let funds = self.chain.sender_info(self.chain.account()).await?;
        self.meter.funds(funds.deposit.0, funds.reserve_remaining.0);
        self.pm.handle_funds(funds);
        Ok(())
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A running broadcaster. Dropping it stops its background work; [`Self::shutdown`] first
/// serves the evidence of open challenges until they are decided.
pub struct BroadcasterNode<C> {
    broadcaster: Broadcaster,
    ledger: FaultLedger,
    evidence: EvidenceStore,
    evidence_server: Option<EvidenceServer>,
    checker: Checker,
    challenger: Challenger,
    payments: Arc<Counting<Arc<PmSource<Arc<LocalSigner>>>>>,
    part: Arc<FundsPart<C>>,
    meter: Meter,
    health: Arc<Health>,
    faults: broadcast::Sender<FaultReport>,
    decision_timeout: Duration,
    _fault_task: AbortOnDrop,
    _follower: Follower,
    ops: Option<OpsServer>,
}

impl<C> std::fmt::Debug for BroadcasterNode<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcasterNode")
            .field("address", &self.broadcaster.address())
            .finish_non_exhaustive()
    }
}

impl<C: BroadcasterChain> BroadcasterNode<C> {
    /// A builder over `chain`.
    pub fn builder(chain: Arc<C>) -> BroadcasterBuilder<C> {
        BroadcasterBuilder {
            chain,
            key: None,
            state_dir: PathBuf::from("broadcaster-state"),
            verification_rate: 4,
            max_price: None,
            min_stake: U256::zero(),
            max_attempts: 4,
            max_ticket_ev: Wei(U256::exp10(17)),
            evidence_listen: Some(([0, 0, 0, 0], 0).into()),
            reencode: None,
            config: None,
            follow: FollowConfig::default(),
            ops: None,
            decision_timeout: Duration::from_secs(600),
        }
    }

    /// The paying address.
    pub fn address(&self) -> Address {
        self.broadcaster.address()
    }

    /// The negotiation side (orchestrator selection, sessions).
    pub fn broadcaster(&self) -> &Broadcaster {
        &self.broadcaster
    }

    /// Its fault ledger.
    pub fn ledger(&self) -> &FaultLedger {
        &self.ledger
    }

    /// The evidence it keeps for challenges.
    pub fn evidence(&self) -> &EvidenceStore {
        &self.evidence
    }

    /// The server verifiers fetch that evidence from, when it serves one.
    pub fn evidence_server(&self) -> Option<&EvidenceServer> {
        self.evidence_server.as_ref()
    }

    /// Its checker (the configuration a verifier must share).
    pub fn checker(&self) -> &Checker {
        &self.checker
    }

    /// Opens and follows its challenges.
    pub fn challenger(&self) -> &Challenger {
        &self.challenger
    }

    /// Whether it is alive, following the chain and taking new work.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// Where its metrics and health endpoints are served, when they are.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops.as_ref().map(OpsServer::local_addr)
    }

    /// Every fault found from now on.
    pub fn subscribe_faults(&self) -> broadcast::Receiver<FaultReport> {
        self.faults.subscribe()
    }

    /// Its meter.
    #[cfg_attr(not(feature = "livepeer"), expect(dead_code))]
    pub(crate) fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Tickets signed and sent so far.
    pub fn tickets_sent(&self) -> u64 {
        self.payments.tickets.load(Ordering::Relaxed)
    }

    /// Follows the chain one step now (block, deposit and reserve), besides the background
    /// follower's steps.
    pub async fn sync(&self) -> Result<()> {
        Ok(self.part.step().await?)
    }

    /// Streams the file or playlist at `input` (cut in 2 s segments) transcoded to `ladder`,
    /// and writes it as HLS under `out`, logging progress.
    pub async fn stream_file(
        &self,
        input: impl AsRef<Path>,
        ladder: &Ladder,
        out: impl AsRef<Path>,
    ) -> Result<StreamStats> {
        let mut source = SegmentSource::file(input.as_ref())?;
        self.stream(&mut source, ladder, out.as_ref(), &LogProgress)
            .await
    }

    /// Streams `source` transcoded to `ladder` and writes it as HLS under `out`. A segment
    /// that fails on every orchestrator is counted and skipped (a discontinuity in the
    /// playlists); the stream goes on. When the node starts draining, the stream ends after
    /// the segment in flight, with its playlists finished.
    pub async fn stream(
        &self,
        source: &mut SegmentSource,
        ladder: &Ladder,
        out: &Path,
        progress: &dyn Progress,
    ) -> Result<StreamStats> {
        let hls = HlsWriter::create(out, ladder).map_err(anyhow::Error::from)?;
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
    ) -> Result<StreamStats> {
        let (hls, last) = HlsWriter::resume(out, ladder).map_err(anyhow::Error::from)?;
        if let Some(l) = last {
            info!(last = l, "resuming after the last segment written");
        }
        self.stream_into(source, ladder, out, progress, hls, last)
            .await
    }

    /// [`Self::stream`], or [`Self::resume`] when `resume`, draining on SIGTERM or Ctrl-C:
    /// the stream then ends after the segment in flight, with its playlists finished, and
    /// [`StreamStats::drained`] says so (a later `resume` goes on from there).
    pub async fn stream_until_signal(
        &self,
        source: &mut SegmentSource,
        ladder: &Ladder,
        out: &Path,
        progress: &dyn Progress,
        resume: bool,
    ) -> Result<StreamStats> {
        let run = async {
            if resume {
                self.resume(source, ladder, out, progress).await
            } else {
                self.stream(source, ladder, out, progress).await
            }
        };
        tokio::pin!(run);
        tokio::select! {
            st = &mut run => st,
            () = crate::signal::terminated() => {
                self.drain();
                run.await
            }
        }
    }

    async fn stream_into(
        &self,
        source: &mut SegmentSource,
        ladder: &Ladder,
        out: &Path,
        progress: &dyn Progress,
        mut hls: HlsWriter,
        skip_through: Option<u64>,
    ) -> Result<StreamStats> {
        if self.health.is_draining() {
            return Err(NodeError::Draining);
        }
        progress.total(source.known_len());
        let id = StreamId::from_name(&out.display().to_string());
        let span = tracing::info_span!("stream", id = ?id);
        let session = self
            .broadcaster
            .start_stream(id, ladder.clone())
            .instrument(span.clone())
            .await
            .map_err(|e| anyhow::anyhow!("no orchestrator answered with a usable quote: {e}"))?;
        self.meter.streams(1.0);
        let t0 = Instant::now();
        let mut st = StreamStats::default();
        let r = async {
            while let Some(seg) = source.next_segment()? {
                if skip_through.is_some_and(|l| seg.seq <= l) {
                    continue;
                }
                if self.health.is_draining() {
                    info!(seq = seg.seq, "draining: the stream ends here");
                    st.drained = true;
                    break;
                }
                st.took(seg.duration, Some(&self.meter));
                let seq = seg.seq;
                let started = Instant::now();
                let seg_span = tracing::info_span!("segment", seq);
                match session.transcode(seg).instrument(seg_span).await {
                    Ok(r) => {
                        let px = r
                            .renditions
                            .iter()
                            .fold(Pixels::ZERO, |a, x| a.saturating_add(x.pixels));
                        let fee = session
                            .quote_of(&r.orchestrator)
                            .map_or(U256::zero(), |q| q.price.fee(px).0);
                        let w = Written {
                            seq,
                            orchestrator: r.orchestrator,
                            renditions: &r.renditions,
                            fee,
                            started,
                        };
                        st.write(&mut hls, w, progress, Some(&self.meter))?;
                    }
                    Err(e) => {
                        warn!(seq, "segment failed on every orchestrator tried: {e}");
                        st.failed(Some(&self.meter));
                    }
                }
            }
            Ok::<_, NodeError>(())
        }
        .instrument(span)
        .await;
        self.meter.streams(-1.0);
        r?;
        st.wall = t0.elapsed();
        st.master = hls.finish().map_err(anyhow::Error::from)?.master;
        Ok(st)
    }

    /// Challenges opened and not yet decided on chain.
    pub async fn open_challenges(&self) -> Result<usize> {
        let mut open = 0;
        for r in self.ledger.all().map_err(anyhow::Error::from)? {
            if matches!(r.status, FaultStatus::Challenged { .. })
                && matches!(
                    self.challenger
                        .refresh(&r)
                        .await
                        .map_err(anyhow::Error::from)?
                        .status,
                    FaultStatus::Challenged { .. }
                )
            {
                open += 1;
            }
        }
        Ok(open)
    }

    /// Takes no new streams; a stream in progress ends after its segment in flight.
    pub fn drain(&self) {
        self.health.set_draining();
    }

    /// Stops gracefully: takes no new streams, then keeps serving the evidence of open
    /// challenges until they are decided (or the decision timeout passes), so a verifier
    /// can always fetch what proves a fault.
    pub async fn shutdown(&self) -> Result<()> {
        self.drain();
        let deadline = tokio::time::Instant::now() + self.decision_timeout;
        loop {
            let open = self.open_challenges().await?;
            if open == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                warn!(open, "challenges still open at the decision timeout");
                return Ok(());
            }
            info!(
                open,
                "waiting for challenges to be decided; serving their evidence"
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}
