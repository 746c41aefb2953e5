//! An orchestrator node as the binaries run it: the QUIC orchestrator and its transcoder pool
//! (in-process and remote over QUIC), ticket validation over livepeer-pm, winners persisted
//! in a crash-safe redemption queue before a segment is admitted, and a sync step that
//! follows the chain (blocks, gas, rounds) and drives redemptions.

use std::sync::{Arc, Mutex as StdMutex};

use async_trait::async_trait;
use livepeer_core::chain::{
    ChainError, GasPriceEstimator, RoundInfo, TicketBrokerReader, TicketRedeemer,
};
use livepeer_core::entropy::OsEntropy;
use livepeer_core::transcode::Transcoder;
use livepeer_core::{Address, LocalSigner, PixelPrice, Signer, Store, Wei};
use livepeer_negotiate::quinn::tls;
use livepeer_negotiate::{
    Orchestrator, OrchestratorConfig, PaymentError, PmValidator, TranscoderNode, WinnerSink,
};
use livepeer_pm::queue::{QueueChain, drive};
use livepeer_pm::{
    ExpirationParams, QueueConfig, QueueError, Recipient, RecipientConfig, RecipientSecret,
    RedemptionQueue, Winner, WinnerRecord,
};
use tokio::sync::Mutex;

/// What a node's chain backend must do: follow blocks and rounds, read the broker, redeem.
pub trait NodeChain:
    RoundInfo + GasPriceEstimator + TicketBrokerReader + TicketRedeemer + 'static
{
}
impl<T: RoundInfo + GasPriceEstimator + TicketBrokerReader + TicketRedeemer + 'static> NodeChain
    for T
{
}

/// Winners go into the redemption queue (one store transaction) before the segment that
/// carried them is admitted; every winner is also kept for reporting.
pub struct QueueSink<St: Store> {
    queue: Mutex<RedemptionQueue<St>>,
    won: StdMutex<Vec<Winner>>,
    /// A store call failed: the queue reads the store again before its next use.
    stale: std::sync::atomic::AtomicBool,
}

impl<St: Store> std::fmt::Debug for QueueSink<St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueSink").finish_non_exhaustive()
    }
}

impl<St: Store + Send> QueueSink<St> {
    /// A sink over `queue`.
    pub fn new(queue: RedemptionQueue<St>) -> Self {
        QueueSink {
            queue: Mutex::new(queue),
            won: StdMutex::new(Vec::new()),
            stale: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Every winner persisted so far (a winner handed over twice counts once).
    pub fn winners(&self) -> Vec<Winner> {
        self.won.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// Face value still waiting for redemption, over all senders.
    pub async fn pending(&self) -> Wei {
        let q = self.queue.lock().await;
        q.pending_by_sender()
            .values()
            .fold(Wei::ZERO, |a, b| Wei(a.0.saturating_add(b.0)))
    }

    /// Every winner record held, redeemed or not.
    pub async fn records(&self) -> Vec<WinnerRecord> {
        self.queue.lock().await.records().cloned().collect()
    }

    /// The queue, read from the store again first when a store call failed since.
    async fn queue(&self) -> Result<tokio::sync::MutexGuard<'_, RedemptionQueue<St>>, QueueError> {
        use std::sync::atomic::Ordering;
        let mut q = self.queue.lock().await;
        if self.stale.load(Ordering::Acquire) {
            q.reload()?;
            self.stale.store(false, Ordering::Release);
        }
        Ok(q)
    }

    /// Notes a failure: after a store error the queue reads the store again before its next
    /// use (a failed commit may have landed).
    fn note<T>(&self, r: Result<T, QueueError>) -> Result<T, QueueError> {
        if let Err(QueueError::Store(_)) = &r {
            self.stale.store(true, std::sync::atomic::Ordering::Release);
        }
        r
    }

    /// One pass of the redemption state machine against `chain`.
    pub async fn drive<C: NodeChain>(&self, chain: &C) -> Result<(), anyhow::Error> {
        let mut q = self.note(self.queue().await)?;
        let r = drive(&mut q, &QueueChain::from_backend(chain)).await;
        self.note(r)?;
        Ok(())
    }
}

#[async_trait]
impl<St: Store + Send> WinnerSink for QueueSink<St> {
    async fn persist(&self, block: u64, winners: &[Winner]) -> Result<(), PaymentError> {
        let backend = |e: QueueError| PaymentError::Backend(e.to_string());
        let mut q = self.note(self.queue().await).map_err(backend)?;
        let r = q.add_winners(block, winners);
        self.note(r).map_err(backend)?;
        drop(q);
        if let Ok(mut won) = self.won.lock() {
            for w in winners {
                if !won.iter().any(|k| k.ticket == w.ticket) {
                    won.push(w.clone());
                }
            }
        }
        Ok(())
    }
}

/// How to run one orchestrator node.
pub struct NodeSpec<St: Store> {
    /// Its key (its on-chain address).
    pub key: Arc<LocalSigner>,
    /// Base price per pixel.
    pub price: PixelPrice,
    /// Negotiation settings (bind address, services, regions, limits).
    pub config: OrchestratorConfig,
    /// Ticket terms it quotes.
    pub recipient: RecipientConfig,
    /// Redemption policy.
    pub queue: QueueConfig,
    /// Where winners are persisted.
    pub store: St,
    /// Transcoders run in process, with their capacity in pixels per second.
    pub local: Vec<(Arc<dyn Transcoder>, u64)>,
    /// Transcoders that join the pool over QUIC, each with its own key.
    pub remote: Vec<(Arc<dyn Transcoder>, u64, Arc<LocalSigner>)>,
}

impl<St: Store> std::fmt::Debug for NodeSpec<St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSpec")
            .field("address", &self.key.address())
            .field("price", &self.price)
            .finish_non_exhaustive()
    }
}

/// A running orchestrator node.
pub struct OrchestratorNode<St: Store + Send + 'static, C: NodeChain> {
    /// The QUIC orchestrator.
    pub orchestrator: Orchestrator,
    /// Its ticket validator.
    pub payments: Arc<PmValidator>,
    /// Its redemption queue.
    pub winners: Arc<QueueSink<St>>,
    remote: Vec<TranscoderNode>,
    chain: Arc<C>,
    round: StdMutex<Option<u64>>,
}

impl<St: Store + Send + 'static, C: NodeChain> std::fmt::Debug for OrchestratorNode<St, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrchestratorNode")
            .field("orchestrator", &self.orchestrator)
            .finish_non_exhaustive()
    }
}

impl<St: Store + Send + 'static, C: NodeChain> OrchestratorNode<St, C> {
    /// Starts the node: reads the chain (block, gas price, round), starts the QUIC
    /// orchestrator with its local transcoders and connects the remote ones.
    pub async fn start(spec: NodeSpec<St>, chain: Arc<C>) -> anyhow::Result<Self> {
        let address = spec.key.address();
        let queue = RedemptionQueue::open(spec.store, address, spec.queue)?;
        let winners = Arc::new(QueueSink::new(queue));
        let block = chain.current_block().await?;
        let gas = chain.gas_price().await?;
        let round = chain.last_initialized_round().await?;
        let expiration = ExpirationParams::new(round, chain.block_hash_for_round(round).await?);
        let recipient = Recipient::new(
            address,
            RecipientSecret::random(&OsEntropy)?,
            spec.recipient,
        );
        let broker: Arc<dyn TicketBrokerReader> = chain.clone();
        let payments = Arc::new(
            PmValidator::new(recipient, winners.clone(), block, gas, expiration)
                .with_broker(broker),
        );
        let mut config = spec.config;
        if config.reset_key.is_none() {
            // The same key in every run: broadcasters' connections to a previous run of this
            // node end at its first answer instead of at their idle timeout.
            config.reset_key = Some(tls::StatelessResetKey::derive(&spec.key.secret_bytes()));
        }
        config
            .allowed_transcoders
            .extend(spec.remote.iter().map(|(_, _, k)| k.address()));
        let signer: Arc<dyn Signer> = spec.key.clone();
        let mut builder =
            Orchestrator::builder(signer, payments.clone(), spec.price).with_config(config);
        for (t, pps) in spec.local {
            builder = builder.with_local_transcoder(t, pps, 4);
        }
        let orchestrator = builder.start()?;
        let mut remote = Vec::new();
        if !spec.remote.is_empty() {
            let ep = tls::endpoint(([127, 0, 0, 1], 0).into(), None)?;
            for (t, pps, key) in spec.remote {
                let node = TranscoderNode::connect(
                    &ep,
                    orchestrator.local_addr()?,
                    address,
                    key,
                    t,
                    pps,
                    4,
                    None,
                )
                .await?;
                remote.push(node);
            }
        }
        Ok(OrchestratorNode {
            orchestrator,
            payments,
            winners,
            remote,
            chain,
            round: StdMutex::new(Some(round)),
        })
    }

    /// The orchestrator's address.
    pub fn address(&self) -> Address {
        self.orchestrator.address()
    }

    /// The URI to register on chain.
    pub fn service_uri(&self) -> anyhow::Result<String> {
        Ok(self.orchestrator.service_uri()?)
    }

    /// Follows the chain one step: tells the validator the block, gas price and a newly
    /// initialized round, then drives the redemption queue.
    pub async fn sync(&self) -> anyhow::Result<()> {
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
        self.winners.drive(&*self.chain).await
    }

    /// Stops serving and leaves the pool.
    pub fn close(&self) {
        for r in &self.remote {
            r.close();
        }
        self.orchestrator.close();
    }
}

/// Whether a chain error is worth retrying on the next sync.
pub fn is_transient(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ChainError>()
        .is_some_and(ChainError::is_transient)
}
