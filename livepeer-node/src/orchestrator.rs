//! The orchestrator node: the QUIC orchestrator and its transcoder pool (in process and
//! remote over QUIC), tickets checked before work, winners persisted before a segment is
//! admitted, and one chain follower for blocks, rounds, redemptions and rewards.
//!
//! ```no_run
//! # async fn run(chain: std::sync::Arc<livepeer_node::RpcClient>,
//! #              key: livepeer_core::LocalSigner,
//! #              transcoder: std::sync::Arc<dyn livepeer_core::transcode::Transcoder>)
//! #              -> livepeer_node::Result<()> {
//! let node = livepeer_node::OrchestratorNode::builder(chain)
//!     .key(key)
//!     .transcoder(transcoder)
//!     .build()
//!     .await?;
//! node.run_until_signal().await?;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use livepeer_core::entropy::OsEntropy;
use livepeer_core::store::RedbStore;
use livepeer_core::transcode::Transcoder;
use livepeer_core::{Address, Ladder, LocalSigner, PixelPrice, Signer, Wei};
use livepeer_negotiate::quinn::tls;
use livepeer_negotiate::{Orchestrator, OrchestratorConfig, PmValidator, TranscoderNode};
use livepeer_pm::{ExpirationParams, QueueConfig, Recipient, RecipientConfig, RecipientSecret};
use tracing::{info, warn};

use crate::chain::OrchestratorChain;
use crate::error::{NodeError, Result};
use crate::follow::{Follow, FollowConfig, Follower};
use crate::meter::Meter;
use crate::metered::{InFlight, Metered};
use crate::ops::{Health, OpsServer};
use crate::winners::{DynStore, Winners};

/// How a transcoder joins the pool: in process, or over QUIC with its own key.
struct PoolEntry {
    transcoder: Arc<dyn Transcoder>,
    capacity_pps: u64,
    remote_key: Option<Arc<dyn Signer>>,
}

/// Builds an [`OrchestratorNode`]; every setting has a default but the signer and a
/// transcoder.
pub struct OrchestratorBuilder<C> {
    chain: Arc<C>,
    signer: Option<Arc<dyn Signer>>,
    reset_secret: Option<[u8; 32]>,
    price: PixelPrice,
    config: OrchestratorConfig,
    recipient: RecipientConfig,
    params_validity_blocks: Option<u64>,
    queue: QueueConfig,
    store: Option<DynStore>,
    state_dir: PathBuf,
    pool: Vec<PoolEntry>,
    max_tasks: u32,
    ladders: Vec<Ladder>,
    follow: FollowConfig,
    keep_rounds: bool,
    ops: Option<SocketAddr>,
    drain_timeout: Duration,
    #[cfg(feature = "livepeer")]
    livepeer: Option<crate::livepeer::LivepeerConfig>,
}

impl<C> std::fmt::Debug for OrchestratorBuilder<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrchestratorBuilder")
            .field("price", &self.price)
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

impl<C: OrchestratorChain> OrchestratorBuilder<C> {
    /// Signs with `key` (its address is the orchestrator's on-chain identity); the QUIC
    /// stateless-reset key derives from it, so broadcasters' connections to a previous run
    /// end at its first answer rather than at their idle timeout.
    pub fn key(mut self, key: LocalSigner) -> Self {
        self.reset_secret = Some(key.secret_bytes());
        self.signer = Some(Arc::new(key));
        self
    }

    /// Signs with any [`Signer`] (a remote or hardware signer).
    pub fn signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The base price per pixel (default 1,200 wei).
    pub fn price(mut self, price: PixelPrice) -> Self {
        self.price = price;
        self
    }

    /// Where broadcasters and remote transcoders reach it (default `127.0.0.1:8935`).
    pub fn listen(mut self, at: SocketAddr) -> Self {
        self.config.bind = at;
        self
    }

    /// The negotiation settings (services, regions, limits, allowed remote transcoders).
    pub fn config(mut self, config: OrchestratorConfig) -> Self {
        self.config = config;
        self
    }

    /// The ticket terms it quotes (expected value, face value cap, gas assumptions). The
    /// params' validity defaults to two fifths of a round (at most 40 blocks) unless set
    /// with [`Self::params_validity_blocks`].
    pub fn tickets(mut self, recipient: RecipientConfig) -> Self {
        self.recipient = recipient;
        self
    }

    /// Blocks the quoted ticket params stay valid.
    pub fn params_validity_blocks(mut self, blocks: u64) -> Self {
        self.params_validity_blocks = Some(blocks);
        self
    }

    /// The redemption policy.
    pub fn redemption(mut self, queue: QueueConfig) -> Self {
        self.queue = queue;
        self
    }

    /// Keeps winners in `store` instead of `<state dir>/winners.redb`.
    pub fn store(mut self, store: DynStore) -> Self {
        self.store = Some(store);
        self
    }

    /// Where winners are kept (default `orchestrator-state`).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = dir.into();
        self
    }

    /// Adds an in-process transcoder, with the capacity its capabilities report.
    pub fn transcoder(mut self, t: Arc<dyn Transcoder>) -> Self {
        let capacity_pps = t.capabilities().pixels_per_second.max(1);
        self.pool.push(PoolEntry {
            transcoder: t,
            capacity_pps,
            remote_key: None,
        });
        self
    }

    /// Adds a transcoder that joins the pool over QUIC with its own key, as a remote
    /// transcoder process would (its address is allowed in).
    pub fn remote_transcoder(mut self, t: Arc<dyn Transcoder>, key: Arc<dyn Signer>) -> Self {
        let capacity_pps = t.capabilities().pixels_per_second.max(1);
        self.config.allowed_transcoders.push(key.address());
        self.pool.push(PoolEntry {
            transcoder: t,
            capacity_pps,
            remote_key: Some(key),
        });
        self
    }

    /// Segments each transcoder works on at once (default 4).
    pub fn max_tasks(mut self, n: u32) -> Self {
        self.max_tasks = n.max(1);
        self
    }

    /// Refuses to build unless the in-process transcoders can produce every rung of
    /// `ladder`: a ladder the node cannot serve is found at start, not at the first segment.
    pub fn require_ladder(mut self, ladder: Ladder) -> Self {
        self.ladders.push(ladder);
        self
    }

    /// How often and how patiently it follows the chain.
    pub fn follow(mut self, follow: FollowConfig) -> Self {
        self.follow = follow;
        self
    }

    /// Whether it initializes rounds and mints its reward each round (default yes).
    pub fn keep_rounds(mut self, yes: bool) -> Self {
        self.keep_rounds = yes;
        self
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` at `at`.
    pub fn ops(mut self, at: SocketAddr) -> Self {
        self.ops = Some(at);
        self
    }

    /// How long a drain waits for pending winners to be redeemed (default 60 s).
    pub fn drain_timeout(mut self, d: Duration) -> Self {
        self.drain_timeout = d;
        self
    }

    /// Also serves go-livepeer gateways on go-livepeer's protocol (gRPC discovery and
    /// `POST /segment` over TLS) at `at`, beside QUIC, for the node's lifetime.
    #[cfg(feature = "livepeer")]
    pub fn livepeer_listen(self, at: SocketAddr) -> Self {
        self.livepeer(crate::livepeer::LivepeerConfig::new(at))
    }

    /// As [`Self::livepeer_listen`], with its bounds.
    #[cfg(feature = "livepeer")]
    pub fn livepeer(mut self, config: crate::livepeer::LivepeerConfig) -> Self {
        self.livepeer = Some(config);
        self
    }

    fn check(&self) -> Result<Arc<dyn Signer>> {
        let signer = self.signer.clone().ok_or(NodeError::MissingSigner)?;
        let account = self.chain.account();
        if signer.address() != account {
            return Err(NodeError::AccountMismatch {
                signer: signer.address(),
                account,
            });
        }
        if self.pool.is_empty() && self.config.allowed_transcoders.is_empty() {
            return Err(NodeError::NoTranscoder);
        }
        if let Some(cap) = self.recipient.max_face_value
            && cap.0 < self.recipient.ticket_ev.0
        {
            return Err(NodeError::Config(
                "the face value cap is below the ticket's expected value: no ticket could be issued"
                    .into(),
            ));
        }
        let local: Vec<_> = self
            .pool
            .iter()
            .filter(|e| e.remote_key.is_none())
            .map(|e| e.transcoder.capabilities())
            .collect();
        for ladder in &self.ladders {
            for p in ladder.profiles() {
                let fits = |c: &livepeer_core::transcode::Capabilities| {
                    c.encoders.contains(&p.codec)
                        && p.width <= c.max_width
                        && p.height <= c.max_height
                };
                if !local.is_empty() && !local.iter().any(fits) {
                    return Err(NodeError::LadderUnsupported {
                        rung: p.name.clone(),
                        reason: format!(
                            "{:?} at {}x{}: the transcoders encode {:?} up to {}",
                            p.codec,
                            p.width,
                            p.height,
                            local
                                .iter()
                                .flat_map(|c| c.encoders.clone())
                                .collect::<Vec<_>>(),
                            local
                                .iter()
                                .map(|c| format!("{}x{}", c.max_width, c.max_height))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
            }
        }
        Ok(signer)
    }

    /// Checks the settings, reads the chain (block, gas price, round), opens the winners'
    /// store, starts the QUIC orchestrator with its transcoders and the chain follower.
    pub async fn build(self) -> Result<OrchestratorNode<C>> {
        let signer = self.check()?;
        let address = signer.address();
        let meter = Meter::new("orchestrator", address);
        let store: DynStore =
            match self.store {
                Some(s) => s,
                None => {
                    std::fs::create_dir_all(&self.state_dir).map_err(|e| {
                        NodeError::Config(format!("creating {}: {e}", self.state_dir.display()))
                    })?;
                    let path = self.state_dir.join("winners.redb");
                    Arc::new(RedbStore::open(&path).map_err(|e| {
                        NodeError::Config(format!("opening {}: {e}", path.display()))
                    })?)
                }
            };
        let queue = livepeer_pm::RedemptionQueue::open(store, address, self.queue)
            .map_err(anyhow::Error::from)?;
        let winners = Arc::new(Winners::new(queue, meter.clone()));
        let chain = self.chain;
        let block = chain.current_block().await?;
        let gas = chain.gas_price().await?;
        let round = chain.last_initialized_round().await?;
        let round_length = chain.round_length().await?;
        let expiration = ExpirationParams::new(round, chain.block_hash_for_round(round).await?);
        let validity_rounds = chain.ticket_validity_period().await?;
        let mut rc = self.recipient;
        rc.params_validity_blocks =
            params_validity(self.params_validity_blocks, round_length, validity_rounds)?;
        let recipient = Recipient::new(
            address,
            RecipientSecret::random(&OsEntropy).map_err(anyhow::Error::from)?,
            rc,
        );
        let broker: Arc<dyn livepeer_core::chain::TicketBrokerReader> = chain.clone();
        let payments = Arc::new(
            PmValidator::new(recipient, winners.clone(), block, gas, expiration)
                .with_broker(broker),
        );
        let mut config = self.config;
        if config.reset_key.is_none()
            && let Some(secret) = &self.reset_secret
        {
            config.reset_key = Some(tls::StatelessResetKey::derive(secret));
        }
        let in_flight = InFlight::default();
        let domain = chain.signing_domain();
        #[cfg(feature = "livepeer")]
        let signer_for_port = signer.clone();
        let mut builder =
            Orchestrator::builder(signer, domain, payments.clone(), self.price).with_config(config);
        let mut remote = Vec::new();
        for e in &self.pool {
            let t: Arc<dyn Transcoder> = Arc::new(Metered::new(
                e.transcoder.clone(),
                meter.clone(),
                in_flight.clone(),
            ));
            if e.remote_key.is_none() {
                builder = builder.with_local_transcoder(t, e.capacity_pps, self.max_tasks);
            } else {
                remote.push((t, e));
            }
        }
        let orchestrator = builder.start().map_err(anyhow::Error::from)?;
        let mut joined = Vec::new();
        if !remote.is_empty() {
            let ep =
                tls::endpoint(([127, 0, 0, 1], 0).into(), None).map_err(anyhow::Error::from)?;
            let at = orchestrator.local_addr().map_err(anyhow::Error::from)?;
            for (t, e) in remote {
                let key = e.remote_key.clone().ok_or(NodeError::NoTranscoder)?;
                let node = TranscoderNode::connect(
                    &ep,
                    at,
                    address,
                    key,
                    t,
                    e.capacity_pps,
                    self.max_tasks,
                    None,
                )
                .await
                .map_err(anyhow::Error::from)?;
                joined.push(node);
            }
        }
        let health = Arc::new(Health::default());
        #[cfg(feature = "livepeer")]
        let livepeer = match &self.livepeer {
            Some(config) => Some(
                crate::livepeer::LivepeerPort::start(
                    config,
                    signer_for_port,
                    payments.clone(),
                    orchestrator.pool().clone(),
                    health.clone(),
                    self.price,
                )
                .await?,
            ),
            None => None,
        };
        let ops = match self.ops {
            Some(at) => Some(
                OpsServer::start(at, health.clone())
                    .await
                    .map_err(|e| NodeError::Config(format!("ops endpoint {at}: {e}")))?,
            ),
            None => None,
        };
        let part = Arc::new(ChainPart {
            chain: chain.clone(),
            payments: payments.clone(),
            winners: winners.clone(),
            round: Mutex::new(Some(round)),
            rewarded: Mutex::new(None),
            keep_rounds: self.keep_rounds,
            address,
        });
        let follower = Follower::spawn(vec![part.clone()], self.follow, health.clone());
        info!(address = ?address, uri = ?orchestrator.service_uri().ok(), "orchestrator running");
        Ok(OrchestratorNode {
            orchestrator,
            payments,
            winners,
            part,
            remote: joined,
            health,
            in_flight,
            drain_timeout: self.drain_timeout,
            _follower: follower,
            ops,
            #[cfg(feature = "livepeer")]
            livepeer,
        })
    }
}

/// The orchestrator's chain work, one step per follow interval.
struct ChainPart<C> {
    chain: Arc<C>,
    payments: Arc<PmValidator>,
    winners: Arc<Winners>,
    round: Mutex<Option<u64>>,
    rewarded: Mutex<Option<u64>>,
    keep_rounds: bool,
    address: Address,
}

impl<C: OrchestratorChain> ChainPart<C> {
    /// Tells the validator the block, gas price and a new round, and drives redemptions.
    /// Returns the last initialized round.
    async fn sync(&self) -> anyhow::Result<u64> {
        let block = self.chain.current_block().await?;
        let gas = self.chain.gas_price().await?;
        self.payments.handle_block(block, gas);
        let round = self.chain.last_initialized_round().await?;
        let known = self.round.lock().map(|r| *r).unwrap_or(None);
        if known != Some(round) {
            let hash = self.chain.block_hash_for_round(round).await?;
            self.payments
                .handle_round(ExpirationParams::new(round, hash));
            if let Ok(mut r) = self.round.lock() {
                *r = Some(round);
            }
        }
        self.winners.drive(&*self.chain).await?;
        Ok(round)
    }
}

#[async_trait]
impl<C: OrchestratorChain> Follow for ChainPart<C> {
    fn name(&self) -> &'static str {
        "orchestrator"
    }

    async fn step(&self) -> anyhow::Result<()> {
        if self.keep_rounds
            && let Err(e) = self.chain.initialize_round().await
        {
            if e.is_transient() {
                return Err(e.into());
            }
            // Another account initialized it first: the expected race, not news.
            if e.is_revert("RoundAlreadyInitialized") {
                tracing::debug!("the round was initialized by another account");
            } else {
                warn!("initializing the round: {e}");
            }
        }
        let round = self.sync().await?;
        if !self.keep_rounds {
            return Ok(());
        }
        let done = self.rewarded.lock().map(|r| *r).unwrap_or(None);
        if done != Some(round) && self.chain.is_active(self.address).await? {
            match self.chain.reward().await {
                Ok(_) => info!(round, "reward minted"),
                // Tried again at the next step.
                Err(e) if e.is_transient() => return Err(e.into()),
                // Minted before a restart of this node.
                Err(e) if e.is_revert("RewardAlreadyClaimed") => {
                    tracing::debug!(round, "this round's reward was already minted");
                }
                Err(e) => warn!(round, "reward: {e}"),
            }
        }
        if let Ok(mut r) = self.rewarded.lock() {
            *r = Some(round);
        }
        Ok(())
    }
}

/// A running orchestrator node. Dropping it stops its background work; [`Self::drain`]
/// stops it gracefully.
pub struct OrchestratorNode<C> {
    orchestrator: Orchestrator,
    payments: Arc<PmValidator>,
    winners: Arc<Winners>,
    part: Arc<ChainPart<C>>,
    remote: Vec<TranscoderNode>,
    health: Arc<Health>,
    in_flight: InFlight,
    drain_timeout: Duration,
    _follower: Follower,
    ops: Option<OpsServer>,
    #[cfg(feature = "livepeer")]
    livepeer: Option<crate::livepeer::LivepeerPort>,
}

impl<C> std::fmt::Debug for OrchestratorNode<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrchestratorNode")
            .field("orchestrator", &self.orchestrator)
            .finish_non_exhaustive()
    }
}

impl<C: OrchestratorChain> OrchestratorNode<C> {
    /// A builder over `chain`.
    pub fn builder(chain: Arc<C>) -> OrchestratorBuilder<C> {
        OrchestratorBuilder {
            chain,
            signer: None,
            reset_secret: None,
            price: PixelPrice::per_pixel(1_200),
            config: OrchestratorConfig::default(),
            recipient: RecipientConfig::default(),
            params_validity_blocks: None,
            queue: QueueConfig::default(),
            store: None,
            state_dir: PathBuf::from("orchestrator-state"),
            pool: Vec::new(),
            max_tasks: 4,
            ladders: Vec::new(),
            follow: FollowConfig::default(),
            keep_rounds: true,
            ops: None,
            drain_timeout: Duration::from_secs(60),
            #[cfg(feature = "livepeer")]
            livepeer: None,
        }
    }

    /// The orchestrator's address.
    pub fn address(&self) -> Address {
        self.orchestrator.address()
    }

    /// The URI to register on chain, `quic://ip:port`.
    pub fn service_uri(&self) -> Result<String> {
        Ok(self
            .orchestrator
            .service_uri()
            .map_err(anyhow::Error::from)?)
    }

    /// The QUIC orchestrator (price changes, connection counts).
    pub fn orchestrator(&self) -> &Orchestrator {
        &self.orchestrator
    }

    /// Changes the base price, on QUIC and on the go-livepeer port alike.
    pub fn set_price(&self, price: PixelPrice) {
        self.orchestrator.set_price(price);
        #[cfg(feature = "livepeer")]
        if let Some(port) = &self.livepeer {
            port.set_price(price);
        }
    }

    /// The go-livepeer port, when [`OrchestratorBuilder::livepeer_listen`] started one.
    #[cfg(feature = "livepeer")]
    pub fn livepeer(&self) -> Option<&crate::livepeer::LivepeerPort> {
        self.livepeer.as_ref()
    }

    /// Its ticket validator.
    pub fn payments(&self) -> &Arc<PmValidator> {
        &self.payments
    }

    /// Its winning tickets.
    pub fn winners(&self) -> &Arc<Winners> {
        &self.winners
    }

    /// Whether it is alive, following the chain and taking new work.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// Where its metrics and health endpoints are served, when they are.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops.as_ref().map(OpsServer::local_addr)
    }

    /// Follows the chain one step now (blocks, gas, round, redemptions), besides the
    /// background follower's steps.
    pub async fn sync(&self) -> Result<()> {
        self.part.sync().await?;
        Ok(())
    }

    /// Face value still waiting for redemption.
    pub fn pending(&self) -> Wei {
        self.winners.pending()
    }

    /// Stops gracefully: takes no new streams, waits for the segments in flight, and keeps
    /// following the chain until every winner is redeemed or the drain timeout passes (the
    /// winners stay persisted either way: the next run redeems what is left). Then closes.
    pub async fn drain(&self) -> Result<()> {
        info!("draining: no new streams; finishing segments in flight");
        self.health.set_draining();
        self.orchestrator.drain();
        let deadline = tokio::time::Instant::now() + self.drain_timeout;
        while self.in_flight.get() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        while !self.pending().is_zero() && tokio::time::Instant::now() < deadline {
            if let Err(e) = self.part.step().await {
                warn!("redeeming while draining: {e:#}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let left = self.pending();
        if left.is_zero() {
            info!("drained: every winner redeemed");
        } else {
            warn!(pending_wei = %left.0, "drained with winners pending; they stay persisted and the next run redeems them");
        }
        self.close();
        Ok(())
    }

    /// Serves until SIGTERM or Ctrl-C, then drains.
    pub async fn run_until_signal(&self) -> Result<()> {
        crate::signal::terminated().await;
        self.drain().await
    }

    /// Stops serving at once (QUIC and, when started, the go-livepeer port) and leaves the
    /// pool (winners stay persisted).
    pub fn close(&self) {
        for r in &self.remote {
            r.close();
        }
        #[cfg(feature = "livepeer")]
        if let Some(port) = &self.livepeer {
            port.close();
        }
        self.orchestrator.close();
    }
}

/// Blocks quoted params stay valid: `explicit`, or two fifths of a round (at most 40
/// blocks), never more than half the time a ticket is sure to have left after its params
/// are issued.
///
/// Winners are redeemed only once their params expired (redeeming reveals the recipient's
/// secret), and a ticket closes `validity_rounds` after its creation round began, so params
/// quoted in the last block of a round leave `(validity_rounds - 1) * round_length + 1`
/// blocks in all; at least half of those stay for the redemption.
fn params_validity(
    explicit: Option<u64>,
    round_length: u64,
    validity_rounds: u64,
) -> Result<u64, NodeError> {
    let window = validity_rounds
        .saturating_sub(1)
        .saturating_mul(round_length)
        .saturating_add(1);
    let most = window / 2;
    if most == 0 {
        return Err(NodeError::Config(format!(
            "tickets stay redeemable {validity_rounds} round(s) of {round_length} blocks: \
             no time is left to redeem a winner once its params expire"
        )));
    }
    match explicit {
        Some(0) => Err(NodeError::Config(
            "params validity must be at least one block".into(),
        )),
        Some(n) if n > most => Err(NodeError::Config(format!(
            "params valid {n} blocks leave too little time to redeem their winners: tickets \
             stay redeemable {validity_rounds} rounds of {round_length} blocks, so params may \
             stay valid at most {most} blocks"
        ))),
        Some(n) => Ok(n),
        None => Ok((round_length * 2 / 5).clamp(1, 40).min(most)),
    }
}

#[cfg(test)]
mod tests {
    use super::params_validity;

    #[test]
    fn params_validity_leaves_half_the_window_for_redemption() {
        // Livepeer's mainnet figures: 5,760-block rounds, two rounds of validity.
        assert_eq!(params_validity(None, 5_760, 2).unwrap(), 40);
        assert_eq!(params_validity(Some(100), 5_760, 2).unwrap(), 100);
        // Short dev rounds: the default shrinks with the round.
        assert_eq!(params_validity(None, 20, 2).unwrap(), 8);
        assert_eq!(params_validity(None, 5, 2).unwrap(), 2);
        assert_eq!(params_validity(Some(10), 20, 2).unwrap(), 10);
        // Past half of what a ticket quoted at a round's end has left: refused.
        let e = params_validity(Some(11), 20, 2).unwrap_err().to_string();
        assert!(e.contains("at most 10 blocks"), "{e}");
        assert!(params_validity(Some(25), 20, 2).is_err());
        assert!(params_validity(Some(0), 20, 2).is_err());
        // One round of validity leaves no time at all.
        assert!(params_validity(None, 20, 1).is_err());
        assert_eq!(params_validity(Some(20), 20, 3).unwrap(), 20);
        assert!(params_validity(Some(21), 20, 3).is_err());
    }
}
