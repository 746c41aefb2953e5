//! The broadcaster session manager: discovery from the registry, concurrent quotes with
//! their response times, a price feed, and per-stream sessions that send each segment to
//! the orchestrators the [`crate::proto::Scheduler`] picks, with redundancy, hedging and failover.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use livepeer_core::chain::{OrchestratorEntry, RegistryReader};
use livepeer_core::verify::SegmentVerifier;
use livepeer_core::{
    Address, Domain, Ladder, PixelPrice, Region, ServiceId, Signer, StreamId, U256,
};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::NegotiateError;
pub use super::session::{SegmentResult, StreamSession};
use super::wire::{bind_client_then, open_stream, read_assembled, write_msg};
use crate::payment::PaymentSource;
use crate::proto::{
    ALPN, DefaultPolicy, JobRequest, Message, MessageType, Quote, ReadLimits, Role,
    SchedulerConfig, ScoreConfig, Scoreboard, SelectionPolicy, SignedJobRequest, Subscribe,
};

/// How a broadcaster discovers and uses orchestrators.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BroadcasterConfig {
    /// Where the client socket binds: every IPv4 address on a free port by default, so
    /// orchestrators on other hosts are reachable (a loopback bind reaches only this host).
    pub bind: SocketAddr,
    /// The service wanted.
    pub service: ServiceId,
    /// Where the broadcaster is.
    pub region: Region,
    /// Orchestrators with less stake are ignored.
    pub min_stake: U256,
    /// Quotes that take longer are dropped (the orchestrator still gets a chance later).
    pub quote_timeout: Duration,
    /// Quotes above this price are refused.
    pub max_price: Option<PixelPrice>,
    /// Redundancy, hedging, timeouts and attempts per segment.
    pub scheduler: SchedulerConfig,
    /// How the shared scoreboard averages and suspends.
    pub score: ScoreConfig,
    /// Deadlines and bounds on replies.
    pub read_limits: ReadLimits,
}

impl Default for BroadcasterConfig {
    fn default() -> Self {
        BroadcasterConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], 0)),
            service: ServiceId::cpu_transcoding(),
            region: Region::global(),
            min_stake: U256::zero(),
            quote_timeout: Duration::from_secs(2),
            max_price: None,
            scheduler: SchedulerConfig::default(),
            score: ScoreConfig::default(),
            read_limits: ReadLimits::default(),
        }
    }
}

/// One orchestrator's answer to a quote request.
#[derive(Debug)]
pub struct QuoteOutcome {
    /// Who was asked.
    pub entry: OrchestratorEntry,
    /// The quote and how long it took, or why there is none.
    pub result: Result<(Quote, Duration), NegotiateError>,
}

pub(crate) struct Inner {
    pub(crate) endpoint: quinn::Endpoint,
    pub(crate) client: quinn::ClientConfig,
    pub(crate) signer: Arc<dyn Signer>,
    pub(crate) domain: Domain,
    pub(crate) registry: Arc<dyn RegistryReader>,
    pub(crate) payments: Arc<dyn PaymentSource>,
    pub(crate) verifier: Option<Arc<dyn SegmentVerifier>>,
    pub(crate) policy: Arc<dyn SelectionPolicy>,
    pub(crate) board: Arc<Mutex<Scoreboard>>,
    pub(crate) conns: Mutex<HashMap<Address, quinn::Connection>>,
    pub(crate) config: BroadcasterConfig,
}

/// A broadcaster: shared by all its streams (one socket, one connection per orchestrator,
/// one scoreboard).
#[derive(Clone)]
pub struct Broadcaster {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Broadcaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcaster")
            .field("address", &self.inner.signer.address())
            .finish()
    }
}

/// Builds a [`Broadcaster`]; signer, signing domain, registry and payment source are
/// required.
pub struct BroadcasterBuilder {
    signer: Arc<dyn Signer>,
    domain: Domain,
    registry: Arc<dyn RegistryReader>,
    payments: Arc<dyn PaymentSource>,
    verifier: Option<Arc<dyn SegmentVerifier>>,
    policy: Arc<dyn SelectionPolicy>,
    config: BroadcasterConfig,
    board: Option<Arc<Mutex<Scoreboard>>>,
}

impl BroadcasterBuilder {
    /// Shares `board` (latency averages, failures, suspensions) with other broadcasters, so
    /// an orchestrator one of them caught is avoided by all.
    pub fn with_scoreboard(mut self, board: Arc<Mutex<Scoreboard>>) -> Self {
        self.board = Some(board);
        self
    }

    /// Replaces the configuration.
    pub fn with_config(mut self, config: BroadcasterConfig) -> Self {
        self.config = config;
        self
    }

    /// Replaces the selection policy.
    pub fn with_policy(mut self, policy: Arc<dyn SelectionPolicy>) -> Self {
        self.policy = policy;
        self
    }

    /// Verifies every result with `verifier`; a fault drops the orchestrator at once.
    pub fn with_verifier(mut self, verifier: Arc<dyn SegmentVerifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Binds the client socket. Must be called inside a tokio runtime.
    pub fn build(self) -> Result<Broadcaster, NegotiateError> {
        let endpoint = super::tls::endpoint(self.config.bind, None)?;
        let client = super::tls::client_config(ALPN, 64)?;
        Ok(Broadcaster {
            inner: Arc::new(Inner {
                endpoint,
                client,
                signer: self.signer,
                domain: self.domain,
                registry: self.registry,
                payments: self.payments,
                verifier: self.verifier,
                policy: self.policy,
                board: self.board.unwrap_or_else(|| {
                    Arc::new(Mutex::new(Scoreboard::new(self.config.score.clone())))
                }),
                conns: Mutex::new(HashMap::new()),
                config: self.config,
            }),
        })
    }
}

fn unix_ms() -> u64 {
    crate::proto::unix_ms(SystemTime::now())
}

fn parse_uri(uri: &str) -> Result<SocketAddr, NegotiateError> {
    uri.strip_prefix("quic://")
        .unwrap_or(uri)
        .trim_end_matches('/')
        .parse()
        .map_err(|_| NegotiateError::Config(format!("bad service uri {uri:?}")))
}

impl Broadcaster {
    /// A builder for a broadcaster signing with `signer` (its segment claims for `domain`,
    /// the chain id and the deployment's FaultVerifier, whose receipts alone it accepts),
    /// discovering through `registry` and paying through `payments`.
    pub fn builder(
        signer: Arc<dyn Signer>,
        domain: Domain,
        registry: Arc<dyn RegistryReader>,
        payments: Arc<dyn PaymentSource>,
    ) -> BroadcasterBuilder {
        BroadcasterBuilder {
            signer,
            domain,
            registry,
            payments,
            verifier: None,
            policy: Arc::new(DefaultPolicy::default()),
            config: BroadcasterConfig::default(),
            board: None,
        }
    }

    /// Our address.
    pub fn address(&self) -> Address {
        self.inner.signer.address()
    }

    /// The scoreboard shared by every stream.
    pub fn scoreboard(&self) -> Arc<Mutex<Scoreboard>> {
        self.inner.board.clone()
    }

    /// The client endpoint.
    pub fn endpoint(&self) -> &quinn::Endpoint {
        &self.inner.endpoint
    }

    /// Active registered orchestrators offering our service in our region with enough stake.
    pub async fn discover(&self) -> Result<Vec<OrchestratorEntry>, NegotiateError> {
        let c = &self.inner.config;
        Ok(self
            .inner
            .registry
            .orchestrators()
            .await?
            .into_iter()
            .filter(|e| {
                e.active && e.offers(&c.service) && e.serves(&c.region) && e.stake >= c.min_stake
            })
            .collect())
    }

    /// An open connection to `entry`, bound to its registered address (cached).
    pub async fn connection(
        &self,
        entry: &OrchestratorEntry,
    ) -> Result<quinn::Connection, NegotiateError> {
        if let Some(c) = self.cached(&entry.address) {
            return Ok(c);
        }
        let (conn, ()) = self.dial(entry, |_| async {}).await?;
        Ok(conn)
    }

    /// Dials `entry`, binds the connection to its registered address and caches it; `first`
    /// runs on the new connection while the binding is in flight and its output is
    /// returned once the orchestrator has proven its address.
    async fn dial<T, F, Fut>(
        &self,
        entry: &OrchestratorEntry,
        first: F,
    ) -> Result<(quinn::Connection, T), NegotiateError>
    where
        F: FnOnce(quinn::Connection) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let addr = parse_uri(&entry.service_uri)?;
        let name = super::tls::server_name(&entry.address);
        let connecting = self
            .inner
            .endpoint
            .connect_with(self.inner.client.clone(), addr, &name)
            .map_err(NegotiateError::transport)?;
        let conn = tokio::time::timeout(self.inner.config.quote_timeout, connecting)
            .await
            .map_err(|_| NegotiateError::Transport("connect timed out".into()))?
            .map_err(NegotiateError::connect)?;
        let out = bind_client_then(
            &conn,
            &*self.inner.signer,
            Role::Broadcaster,
            entry.address,
            self.inner.config.read_limits.clone(),
            first(conn.clone()),
        )
        .await?;
        self.lock_conns().insert(entry.address, conn.clone());
        Ok((conn, out))
    }

    fn lock_conns(&self) -> std::sync::MutexGuard<'_, HashMap<Address, quinn::Connection>> {
        self.inner.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cached(&self, addr: &Address) -> Option<quinn::Connection> {
        let mut conns = self.lock_conns();
        match conns.get(addr) {
            Some(c) if c.close_reason().is_none() => Some(c.clone()),
            Some(_) => {
                conns.remove(addr);
                None
            }
            None => None,
        }
    }

    /// Closes and forgets the cached connection to `addr` if it is still `conn` (a request on
    /// it failed in a way that suggests it is dead); the next request dials afresh.
    pub fn forget(&self, addr: &Address, conn: &quinn::Connection) {
        let mut conns = self.lock_conns();
        if conns
            .get(addr)
            .is_some_and(|c| c.stable_id() == conn.stable_id())
        {
            conns.remove(addr);
            conn.close(0u8.into(), b"stale");
        }
    }

    /// Closes and forgets every open connection (the next request dials afresh).
    pub fn disconnect_all(&self) {
        for (_, c) in self.lock_conns().drain() {
            c.close(0u8.into(), b"bye");
        }
    }

    /// Our signed job request for `stream_id` and `ladder`.
    pub fn job_request(
        &self,
        stream_id: StreamId,
        ladder: &Ladder,
    ) -> Result<SignedJobRequest, NegotiateError> {
        let c = &self.inner.config;
        Ok(JobRequest {
            service: c.service.clone(),
            region: c.region.clone(),
            ladder: ladder.clone(),
            broadcaster: self.address(),
            stream_id,
            unix_ms: unix_ms(),
        }
        .sign(&*self.inner.signer)?)
    }

    /// Checks a quote is self-consistent and from the orchestrator we asked.
    pub fn validate_quote(
        &self,
        entry: &OrchestratorEntry,
        q: &Quote,
    ) -> Result<(), NegotiateError> {
        crate::proto::check_quote(
            entry.address,
            q,
            unix_ms(),
            self.inner.config.max_price.as_ref(),
        )
        .map_err(|e| NegotiateError::BadQuote(e.0.to_owned()))
    }

    /// Asks `entry` for a quote; returns it with its round-trip time.
    pub async fn quote(
        &self,
        entry: &OrchestratorEntry,
        request: &SignedJobRequest,
    ) -> Result<(Quote, Duration), NegotiateError> {
        let t0 = Instant::now();
        let ask = |conn: quinn::Connection| {
            let limits = self.inner.config.read_limits.clone();
            async move {
                let (mut send, mut recv) = open_stream(&conn, limits.idle).await?;
                write_msg(&mut send, &Message::JobRequest(request.clone())).await?;
                let _ = send.finish();
                let a = read_assembled(&mut recv, &[MessageType::Quote], limits).await?;
                match a.head {
                    Message::Quote(q) => Ok(q),
                    _ => Err(NegotiateError::BadQuote("not a quote".into())),
                }
            }
        };
        // A fresh connection carries the request right behind the address binding. A cached
        // one that fails may be to a previous run of the orchestrator: dial once afresh.
        let q = match self.cached(&entry.address) {
            Some(conn) => match ask(conn.clone()).await {
                Err(e) if e.is_connection_suspect() => {
                    self.forget(&entry.address, &conn);
                    self.dial(entry, ask).await?.1?
                }
                r => r?,
            },
            None => self.dial(entry, ask).await?.1?,
        };
        self.validate_quote(entry, &q)?;
        Ok((q, t0.elapsed()))
    }

    /// Asks every entry for a quote at once; each answer waits at most the quote timeout.
    pub async fn gather_quotes(
        &self,
        entries: Vec<OrchestratorEntry>,
        request: &SignedJobRequest,
    ) -> Vec<QuoteOutcome> {
        let mut set = JoinSet::new();
        let timeout = self.inner.config.quote_timeout;
        for entry in entries {
            let b = self.clone();
            let req = request.clone();
            set.spawn(async move {
                let result = match tokio::time::timeout(timeout, b.quote(&entry, &req)).await {
                    Ok(r) => r,
                    Err(_) => Err(NegotiateError::Transport("quote timed out".into())),
                };
                QuoteOutcome { entry, result }
            });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            if let Ok(q) = r {
                out.push(q);
            }
        }
        out
    }

    /// Pushed quote updates from `entry` for `request` until the connection ends.
    pub async fn subscribe(
        &self,
        entry: &OrchestratorEntry,
        request: &SignedJobRequest,
    ) -> Result<mpsc::Receiver<Quote>, NegotiateError> {
        let conn = self.connection(entry).await?;
        let (mut send, mut recv) = open_stream(&conn, self.inner.config.read_limits.idle).await?;
        write_msg(
            &mut send,
            &Message::Subscribe(Subscribe {
                request: request.clone(),
            }),
        )
        .await?;
        let (tx, rx) = mpsc::channel(4);
        let b = self.clone();
        let entry = entry.clone();
        tokio::spawn(async move {
            let _send = send;
            // Each update is its own head on the same stream; the idle deadline does not
            // apply to a subscription, only the total one per update.
            let limits = ReadLimits::new(Duration::from_secs(3600), Duration::from_secs(3600))
                .with_max_body(0);
            while let Ok(a) =
                read_assembled(&mut recv, &[MessageType::QuoteUpdate], limits.clone()).await
            {
                if let Message::QuoteUpdate(q) = a.head
                    && b.validate_quote(&entry, &q).is_ok()
                    && tx.send(q).await.is_err()
                {
                    break;
                }
            }
        });
        Ok(rx)
    }

    /// Discovers, gathers quotes and starts a session for `stream_id` and `ladder`.
    pub async fn start_stream(
        &self,
        stream_id: StreamId,
        ladder: Ladder,
    ) -> Result<StreamSession, NegotiateError> {
        StreamSession::start(self.clone(), stream_id, ladder).await
    }
}
