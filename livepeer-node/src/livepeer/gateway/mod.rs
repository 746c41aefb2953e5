//! A broadcaster for go-livepeer orchestrators: discovery with `GetOrchestrator` over TLS
//! (certificates pinned on first use), one selection policy and scoreboard for all of them
//! (the negotiation's [`DefaultPolicy`] unless another is given), segments paid with
//! livepeer-pm tickets in Livepeer's `Payment` form, each result's signature checked
//! against the orchestrator's address and every rendition inspected before it is written
//! as HLS. A segment an orchestrator fails or botches goes to the next one, so none is lost
//! while any orchestrator works.
//!
//! It runs on any chain backend that reads rounds and the ticket broker: ours
//! (`livepeer-contracts`) or Livepeer's deployed contracts (`livepeer-contracts-lp`), where
//! the go-livepeer orchestrators are.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use livepeer_core::chain::{RegistryReader, RoundInfo, TicketBrokerReader};
use livepeer_core::media::{Container, Segment, StreamId, VideoCodec};
use livepeer_core::transcode::Rendition;
use livepeer_core::{Address, Ladder, LocalSigner, PixelPrice, Signer, U256, Wei};
use livepeer_interop::messages::{OrchestratorInfo, VideoProfile as WireProfile};
use livepeer_interop::{
    TranscodeOutcome, build_seg_data, encode_payment_header, encode_segment_header, estimate_fee,
    payment_from_batch, payment_without_tickets, price_from_info, ticket_params_from_info,
    verify_transcode_result,
};
use livepeer_interop_net::orchestrator::check_info;
use livepeer_interop_net::{CertPins, OrchestratorClient, OrchestratorHttpClient, RequestSigner};
use livepeer_negotiate::proto::{
    Candidate, DefaultPolicy, ScoreConfig, Scoreboard, SelectionPolicy, check_quote,
};
use livepeer_negotiate::{PaymentSource as _, PmSource, Quote};
use livepeer_pm::{Sender, SenderConfig};
use livepeer_transcode::hls::HlsWriter;
use tracing::{Instrument as _, debug, info, info_span, warn};

use crate::stats::StreamStats;
pub use wire::wire_ladder;
use wire::{check_renditions, download_bound, keccak_prefix};

mod wire;
use crate::error::{NodeError, Result};
use crate::source::{LogProgress, Progress, SegmentSource};

/// Blocks before its params expire at which an orchestrator's info is asked for again.
const REFRESH_BEFORE_BLOCKS: u64 = 2;

/// Builds a [`LivepeerGateway`].
pub struct GatewayBuilder<C> {
    chain: Arc<C>,
    key: Option<LocalSigner>,
    orchestrators: Vec<String>,
    max_price: Option<PixelPrice>,
    max_ticket_ev: Wei,
    max_attempts: usize,
    policy: Arc<dyn SelectionPolicy>,
    pins: CertPins,
    segment_timeout: Duration,
    board: Option<Arc<Mutex<Scoreboard>>>,
}

impl<C> std::fmt::Debug for GatewayBuilder<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayBuilder")
            .field("orchestrators", &self.orchestrators)
            .finish_non_exhaustive()
    }
}

impl<C> GatewayBuilder<C>
where
    C: RoundInfo + TicketBrokerReader + RegistryReader + 'static,
{
    /// Pays with `key`'s deposit and reserve in the chain's ticket broker.
    pub fn key(mut self, key: LocalSigner) -> Self {
        self.key = Some(key);
        self
    }

    /// The orchestrators to use (`https://host:port` or `host:port`); without any, those
    /// the chain's registry lists with an `https://` service URI.
    pub fn orchestrators(mut self, uris: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.orchestrators = uris.into_iter().map(Into::into).collect();
        self
    }

    /// Orchestrators asking more are not used.
    pub fn max_price(mut self, price: PixelPrice) -> Self {
        self.max_price = Some(price);
        self
    }

    /// The largest expected value of one ticket accepted (default 0.1 ETH).
    pub fn max_ticket_ev(mut self, ev: Wei) -> Self {
        self.max_ticket_ev = ev;
        self
    }

    /// Orchestrators tried per segment at most (default 4).
    pub fn max_attempts(mut self, n: usize) -> Self {
        self.max_attempts = n;
        self
    }

    /// How orchestrators are ranked (default: the negotiation's [`DefaultPolicy`]).
    pub fn policy(mut self, policy: Arc<dyn SelectionPolicy>) -> Self {
        self.policy = policy;
        self
    }

    /// The scoreboard the policy ranks with, shared with another broadcaster (e.g.
    /// [`crate::BroadcasterNode::broadcaster`]'s, so that one history ranks every
    /// orchestrator); default: a fresh one.
    pub fn scoreboard(mut self, board: Arc<Mutex<Scoreboard>>) -> Self {
        self.board = Some(board);
        self
    }

    /// The certificate pins, shared with other clients (default: a fresh set).
    pub fn pins(mut self, pins: CertPins) -> Self {
        self.pins = pins;
        self
    }

    /// How long one orchestrator may take to transcode a segment (default 30 s).
    pub fn segment_timeout(mut self, timeout: Duration) -> Self {
        self.segment_timeout = timeout;
        self
    }

    /// Checks the settings and the funds.
    pub async fn build(self) -> Result<LivepeerGateway<C>> {
        let key = self.key.ok_or(NodeError::MissingSigner)?;
        if self.max_attempts == 0 {
            return Err(NodeError::Config(
                "a segment is tried on at least one orchestrator".into(),
            ));
        }
        let chain = self.chain;
        let payer = key.address();
        let block = chain.current_block().await?;
        let funds = chain.sender_info(payer).await?;
        if funds.deposit.is_zero() && funds.reserve_remaining.is_zero() {
            return Err(NodeError::Unfunded(payer));
        }
        let key = Arc::new(key);
        let mut sc = SenderConfig::default();
        sc.max_ev = self.max_ticket_ev;
        sc.max_total_ev = Wei(self.max_ticket_ev.0.saturating_mul(U256::from(100u64)));
        let pm = PmSource::new(Sender::new(key.clone(), sc), funds, block);
        Ok(LivepeerGateway {
            chain,
            key,
            pm,
            client: OrchestratorClient::new(self.pins.clone()),
            http: OrchestratorHttpClient::new(self.pins).with_segment_timeout(self.segment_timeout),
            orchestrators: self.orchestrators,
            max_price: self.max_price,
            max_attempts: self.max_attempts,
            policy: self.policy,
            board: self
                .board
                .unwrap_or_else(|| Arc::new(Mutex::new(Scoreboard::new(ScoreConfig::default())))),
            tickets: AtomicU64::new(0),
        })
    }
}

/// A broadcaster streaming to go-livepeer orchestrators. See the [module docs](self).
pub struct LivepeerGateway<C> {
    chain: Arc<C>,
    key: Arc<LocalSigner>,
    pm: PmSource<Arc<LocalSigner>>,
    client: OrchestratorClient,
    http: OrchestratorHttpClient,
    orchestrators: Vec<String>,
    max_price: Option<PixelPrice>,
    max_attempts: usize,
    policy: Arc<dyn SelectionPolicy>,
    board: Arc<Mutex<Scoreboard>>,
    tickets: AtomicU64,
}

impl<C> std::fmt::Debug for LivepeerGateway<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivepeerGateway")
            .field("address", &self.key.address())
            .finish_non_exhaustive()
    }
}

/// The go-livepeer orchestrators of one stream, by address.
pub(crate) type Sessions = HashMap<Address, Session>;

/// One orchestrator as a stream sees it.
pub(crate) struct Session {
    uri: String,
    info: OrchestratorInfo,
    quote: Quote,
    rtt: Duration,
    stake: U256,
    /// Its work failed a check: not used again on this stream.
    excluded: bool,
}

impl<C> LivepeerGateway<C>
where
    C: RoundInfo + TicketBrokerReader + RegistryReader + 'static,
{
    /// A builder over `chain`.
    pub fn builder(chain: Arc<C>) -> GatewayBuilder<C> {
        GatewayBuilder {
            chain,
            key: None,
            orchestrators: Vec::new(),
            max_price: None,
            max_ticket_ev: Wei(U256::exp10(17)),
            max_attempts: 4,
            policy: Arc::new(DefaultPolicy::default()),
            pins: CertPins::new(),
            segment_timeout: Duration::from_secs(30),
            board: None,
        }
    }

    /// The paying address.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// Tickets signed and sent so far.
    pub fn tickets_sent(&self) -> u64 {
        self.tickets.load(Ordering::Relaxed)
    }

    /// The scoreboard the policy ranks with (locked).
    pub fn scoreboard(&self) -> MutexGuard<'_, Scoreboard> {
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Streams the file or playlist at `input` (cut in 2 s segments) transcoded to `ladder`
    /// and writes it as HLS under `out`.
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
    /// that fails on every orchestrator tried is counted and skipped (a discontinuity in
    /// the playlists); the stream goes on.
    pub async fn stream(
        &self,
        source: &mut SegmentSource,
        ladder: &Ladder,
        out: &Path,
        progress: &dyn Progress,
    ) -> Result<StreamStats> {
        let profiles = wire_ladder(ladder)?;
        let mut hls = HlsWriter::create(out, ladder).map_err(anyhow::Error::from)?;
        let (stream, manifest) = stream_names(out);
        let span = info_span!("livepeer_stream", manifest = %manifest);
        let mut sessions = self.discover_all().instrument(span.clone()).await;
        if sessions.is_empty() {
            return Err(NodeError::Config(
                "no go-livepeer orchestrator answered with usable ticket params".into(),
            ));
        }
        progress.total(source.known_len());
        let t0 = Instant::now();
        let mut st = StreamStats::default();
        while let Some(seg) = source.next_segment()? {
            st.took(seg.duration, None);
            let seq = seg.seq;
            let started = Instant::now();
            let job = Job {
                manifest: &manifest,
                stream,
                ladder,
                profiles: &profiles,
            };
            let done = self
                .segment(&mut sessions, &job, &seg)
                .instrument(info_span!(parent: &span, "segment", seq))
                .await;
            st.settle(&mut hls, (seq, started), done, progress, None)?;
        }
        self.close(&sessions, stream);
        st.wall = t0.elapsed();
        st.master = hls.finish().map_err(anyhow::Error::from)?.master;
        Ok(st)
    }

    /// Forgets the credit held on `stream` with each of `sessions` (the stream ended).
    pub(crate) fn close(&self, sessions: &Sessions, stream: StreamId) {
        for s in sessions.values() {
            self.pm.end_stream(s.quote.orchestrator, stream);
        }
    }

    /// Orchestrators tried per segment at most.
    pub(crate) fn max_attempts(&self) -> usize {
        self.max_attempts
    }

    /// The orchestrators to ask: those given, else the registry's `https://` ones.
    async fn targets(&self) -> Vec<(String, U256)> {
        if !self.orchestrators.is_empty() {
            return self
                .orchestrators
                .iter()
                .map(|u| (u.clone(), U256::zero()))
                .collect();
        }
        match self.chain.orchestrators().await {
            Ok(entries) => entries
                .into_iter()
                .filter(|e| e.active && e.service_uri.starts_with("https://"))
                .map(|e| (e.service_uri, e.stake))
                .collect(),
            Err(e) => {
                warn!(error = %e, "the registry could not be read");
                Vec::new()
            }
        }
    }

    pub(crate) async fn discover_all(&self) -> Sessions {
        let mut out = HashMap::new();
        for (uri, stake) in self.targets().await {
            match self.discover(&uri, stake).await {
                Ok(s) => {
                    out.insert(s.quote.orchestrator, s);
                }
                Err(e) => {
                    warn!(%uri, error = %e, "orchestrator not usable");
                }
            }
        }
        info!(
            orchestrators = out.len(),
            "go-livepeer orchestrators discovered"
        );
        out
    }

    /// Asks `uri` for its info and makes a quote of it.
    async fn discover(&self, uri: &str, stake: U256) -> std::result::Result<Session, String> {
        let signer: Arc<dyn Signer> = self.key.clone();
        let t0 = Instant::now();
        let info = self
            .client
            .discover(uri, &RequestSigner::Local(signer), None, None)
            .await
            .map_err(|e| e.to_string())?;
        let rtt = t0.elapsed();
        let quote = self.quote_of(&info)?;
        Ok(Session {
            uri: info.transcoder.clone(),
            info,
            quote,
            rtt,
            stake,
            excluded: false,
        })
    }

    fn quote_of(&self, info: &OrchestratorInfo) -> std::result::Result<Quote, String> {
        let orchestrator = check_info(info).map_err(|e| e.to_string())?;
        let ticket_params = ticket_params_from_info(info).map_err(|e| e.to_string())?;
        let price = price_from_info(info.price_info.as_ref().ok_or("no price")?)
            .map_err(|e| e.to_string())?;
        if ticket_params.face_value.is_zero() && !price.wei.is_zero() {
            return Err("a price with no tickets to pay it".into());
        }
        let quote = Quote {
            orchestrator,
            price,
            ticket_params,
            capacity_pps: u64::MAX,
            expires_unix_ms: u64::MAX,
        };
        // The checks a QUIC quote gets: params for this orchestrator at this price, under
        // the cap.
        check_quote(orchestrator, &quote, 0, self.max_price.as_ref()).map_err(|e| e.to_string())?;
        Ok(quote)
    }

    /// Moves the payments to the chain's present block and funds; the block, when read.
    pub(crate) async fn follow_chain(&self) -> Option<u64> {
        let block = match self.chain.current_block().await {
            Ok(b) => {
                self.pm.handle_block(b);
                Some(b)
            }
            Err(e) => {
                debug!(error = %e, "block not read");
                None
            }
        };
        match self.chain.sender_info(self.key.address()).await {
            Ok(f) => self.pm.handle_funds(f),
            Err(e) => debug!(error = %e, "funds not read"),
        }
        block
    }

    /// One segment: tried on the best ranked orchestrators until one's work checks out.
    async fn segment(
        &self,
        sessions: &mut Sessions,
        job: &Job<'_>,
        seg: &Segment,
    ) -> Option<(Address, Vec<Rendition>, Wei)> {
        let block = self.follow_chain().await.unwrap_or(0);
        let (mut tried, mut again) = (Vec::new(), Vec::new());
        for _ in 0..self.max_attempts {
            let Some(addr) = self.pick(sessions, &tried) else {
                break;
            };
            match self.try_on(sessions, addr, job, seg, block).await {
                Ok((renditions, fee)) => return Some((addr, renditions, fee)),
                // Refused, and fresh params came back: once more on those first.
                Err(Retry::Fresh) if !again.contains(&addr) => again.push(addr),
                Err(_) => tried.push(addr),
            }
        }
        None
    }

    /// One attempt of `seg` on `addr` at `block`: its renditions and fee, or why not (the
    /// failure scored, a botched result excluding it from the stream).
    pub(crate) async fn try_on(
        &self,
        sessions: &mut Sessions,
        addr: Address,
        job: &Job<'_>,
        seg: &Segment,
        block: u64,
    ) -> Result<(Vec<Rendition>, Wei), Retry> {
        if seg.container != Container::MpegTs || seg.codec != VideoCodec::H264 {
            warn!(seq = seg.seq, "go-livepeer takes H.264 in MPEG-TS only");
            return Err(Retry::No);
        }
        // Params about to expire: ask for fresh ones first.
        let stale = sessions.get(&addr).is_some_and(|s| {
            block.saturating_add(REFRESH_BEFORE_BLOCKS) >= s.quote.ticket_params.expiration_block
        });
        if stale && !self.refresh(sessions, addr).await {
            return Err(Retry::No);
        }
        let session = sessions.get(&addr).ok_or(Retry::No)?;
        let started = Instant::now();
        match self.attempt(session, job, seg).await {
            Ok((renditions, fee, next)) => {
                self.scoreboard()
                    .record_success(addr, started.elapsed(), seg.duration);
                if let Some(next) = next {
                    self.take_info(sessions, addr, next);
                }
                Ok((renditions, fee))
            }
            Err(Failure::Botched(why)) => {
                warn!(seq = seg.seq, orchestrator = ?addr, "result refused: {why}");
                self.scoreboard().record_fault(addr, Instant::now());
                if let Some(s) = sessions.get_mut(&addr) {
                    s.excluded = true;
                }
                Err(Retry::No)
            }
            Err(Failure::Failed(why)) => {
                debug!(seq = seg.seq, orchestrator = ?addr, "attempt failed: {why}");
                self.scoreboard().record_failure(addr, Instant::now());
                // Its params or session may be what it refused: fresh ones, and another try.
                if self.refresh(sessions, addr).await {
                    Err(Retry::Fresh)
                } else {
                    Err(Retry::No)
                }
            }
        }
    }

    /// The candidates for the policy: the orchestrators not excluded nor in `tried`.
    pub(crate) fn candidates(&self, sessions: &Sessions, tried: &[Address]) -> Vec<Candidate> {
        sessions
            .iter()
            .filter(|(a, s)| !s.excluded && !tried.contains(a))
            .map(|(a, s)| Candidate {
                address: *a,
                price: s.quote.price,
                stake: s.stake,
                capacity_pps: s.quote.capacity_pps,
                quote_rtt: s.rtt,
            })
            .collect()
    }

    /// Ranks `candidates` with the policy and the scoreboard.
    pub(crate) fn rank(&self, candidates: &[Candidate]) -> Vec<usize> {
        self.policy
            .rank(Instant::now(), candidates, &self.scoreboard())
    }

    /// The best ranked orchestrator not yet tried and not excluded.
    fn pick(&self, sessions: &Sessions, tried: &[Address]) -> Option<Address> {
        let candidates = self.candidates(sessions, tried);
        self.rank(&candidates)
            .first()
            .map(|&i| candidates[i].address)
    }

    /// Asks `addr` for fresh info; false (and the orchestrator dropped) when it gives none.
    async fn refresh(&self, sessions: &mut Sessions, addr: Address) -> bool {
        let Some((uri, stake)) = sessions.get(&addr).map(|s| (s.uri.clone(), s.stake)) else {
            return false;
        };
        match self.discover(&uri, stake).await {
            Ok(s) if s.quote.orchestrator == addr => {
                sessions.insert(addr, s);
                true
            }
            Ok(_) => {
                warn!(%uri, "the orchestrator's address changed: dropped");
                sessions.remove(&addr);
                false
            }
            Err(e) => {
                debug!(%uri, error = %e, "no fresh info");
                self.scoreboard().record_unreachable(addr, Instant::now());
                false
            }
        }
    }

    /// Refreshed info from a result: its auth token always; its params only when the price
    /// changed (the credit paid is held under the params in use, which stay valid).
    fn take_info(&self, sessions: &mut Sessions, addr: Address, next: OrchestratorInfo) {
        let Some(s) = sessions.get_mut(&addr) else {
            return;
        };
        match self.quote_of(&next) {
            Ok(q) if q.orchestrator == addr && q.price != s.quote.price => {
                s.quote = q;
                s.info = next;
            }
            Ok(q) if q.orchestrator == addr => {
                if next.auth_token.is_some() {
                    s.info.auth_token = next.auth_token;
                }
            }
            _ => debug!(orchestrator = ?addr, "refreshed info not usable; kept the last"),
        }
    }

    /// Pays for and sends one segment to `s`, fetches and checks the renditions.
    async fn attempt(
        &self,
        s: &Session,
        job: &Job<'_>,
        seg: &Segment,
    ) -> std::result::Result<(Vec<Rendition>, Wei, Option<OrchestratorInfo>), Failure> {
        let failed = |e: &dyn std::fmt::Display| Failure::Failed(e.to_string());
        let price_info = s
            .info
            .price_info
            .as_ref()
            .ok_or(Failure::Failed("no price".into()))?;
        let fee =
            estimate_fee(job.profiles, seg.duration, &s.quote.price).map_err(|e| failed(&e))?;
        let payment = match self
            .pm
            .pay(&s.quote, job.stream, fee)
            .await
            .map_err(|e| failed(&e))?
        {
            Some(batch) => {
                self.tickets
                    .fetch_add(batch.tickets.len() as u64, Ordering::Relaxed);
                payment_from_batch(&batch, price_info).map_err(|e| failed(&e))?
            }
            None => payment_without_tickets(self.key.address(), price_info),
        };
        let token = s
            .info
            .auth_token
            .clone()
            .ok_or(Failure::Failed("no auth token".into()))?;
        let seq = i64::try_from(seg.seq).map_err(|e| failed(&e))?;
        let seg_data = build_seg_data(
            job.manifest.as_bytes(),
            seq,
            &seg.data,
            job.profiles.to_vec(),
            seg.duration,
            token,
            self.key.as_ref(),
        )
        .map_err(|e| failed(&e))?;
        let resp = self
            .http
            .segment(
                &s.uri,
                &encode_segment_header(&seg_data),
                &encode_payment_header(&payment),
                seg.data.clone(),
                job.profiles.len(),
            )
            .await
            .map_err(|e| failed(&e))?;
        let data = match resp.outcome {
            TranscodeOutcome::Transcoded(d) => d,
            TranscodeOutcome::Refused(e) => return Err(Failure::Failed(format!("refused: {e}"))),
            _ => return Err(Failure::Failed("an answer of an unknown kind".into())),
        };
        let mut bodies = Vec::with_capacity(data.segments.len());
        for (r, p) in data.segments.iter().zip(job.ladder.profiles()) {
            bodies.push(
                self.http
                    .download(&r.url, download_bound(p.bitrate_bps, seg.duration))
                    .await
                    .map_err(|e| failed(&e))?,
            );
        }
        verify_transcode_result(&data, &bodies, &s.quote.orchestrator)
            .map_err(|e| Failure::Botched(format!("signature: {e}")))?;
        let renditions = check_renditions(job.ladder, bodies, seg.duration, seg.seq)
            .map_err(Failure::Botched)?;
        Ok((renditions, fee, resp.info))
    }
}

/// A stream's id and go-livepeer manifest id, from where its HLS goes.
pub(crate) fn stream_names(out: &Path) -> (StreamId, String) {
    let name = out.display().to_string();
    (
        StreamId::from_name(&name),
        format!("{:x}", keccak_prefix(&name)),
    )
}

/// What one stream's segments share.
pub(crate) struct Job<'a> {
    pub(crate) manifest: &'a str,
    pub(crate) stream: StreamId,
    pub(crate) ladder: &'a Ladder,
    pub(crate) profiles: &'a [WireProfile],
}

/// Whether an orchestrator whose attempt failed may be asked again for the segment.
pub(crate) enum Retry {
    /// It refused or failed and has answered with fresh info since: worth one more try
    /// (its params may have expired between our check and its).
    Fresh,
    /// Not for this segment.
    No,
}

/// Why an attempt did not give a segment.
enum Failure {
    /// It could not be done (refused, unreachable, payment): the orchestrator may be asked
    /// again later.
    Failed(String),
    /// Work came back that is not what was asked or not signed by the orchestrator: it is
    /// not used again on the stream.
    Botched(String),
}
