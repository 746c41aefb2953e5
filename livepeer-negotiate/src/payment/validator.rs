//! The orchestrator's [`PaymentValidator`] over [`livepeer_pm::Recipient`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use livepeer_core::chain::TicketBrokerReader;
use livepeer_core::entropy::{EntropySource, OsEntropy};
use livepeer_core::{Address, PixelPrice, Store, StreamId, U256, Wei};
use livepeer_pm::monitor::fetch_funds;
use livepeer_pm::{
    DefaultRiskPolicy, ExpirationParams, IssueContext, IssueError, Recipient, RedemptionQueue,
    Risk, RiskPolicy, SenderFunds, SenderMonitor, TicketBatch, TicketParams, Winner,
};
use tracing::{debug, warn};

use super::{PaymentError, PaymentValidator};

/// Where winning tickets go before the segment that carried them is acknowledged.
///
/// Contract: `persist` returns only once the winners are durable (or handed to whoever makes
/// them so); an error refuses the segment. Called from every connection, possibly
/// concurrently; a winner may be handed over twice and must then count once.
#[async_trait]
pub trait WinnerSink: Send + Sync {
    /// Takes `winners` received at `block`.
    async fn persist(&self, block: u64, winners: &[Winner]) -> Result<(), PaymentError>;
}

#[async_trait]
impl<T: WinnerSink + ?Sized> WinnerSink for Arc<T> {
    async fn persist(&self, block: u64, winners: &[Winner]) -> Result<(), PaymentError> {
        (**self).persist(block, winners).await
    }
}

/// The redemption queue persists winners in one store transaction.
#[async_trait]
impl<St: Store + Send> WinnerSink for Mutex<RedemptionQueue<St>> {
    async fn persist(&self, block: u64, winners: &[Winner]) -> Result<(), PaymentError> {
        let mut q = self
            .lock()
            .map_err(|_| PaymentError::Backend("redemption queue poisoned".into()))?;
        q.add_winners(block, winners)
            .map(|_| ())
            .map_err(|e| PaymentError::Backend(e.to_string()))
    }
}

struct State<P> {
    recipient: Recipient,
    monitor: SenderMonitor<P>,
    block: u64,
    gas_price: U256,
    expiration: ExpirationParams,
    /// The face value of the tickets each sender last paid with: what the risk policy
    /// weighs a segment paid from credit alone against.
    face_values: HashMap<Address, Wei>,
    /// When each sender's funds were last read from the broker.
    fetched: HashMap<Address, Instant>,
}

/// How long funds read from the broker are trusted before a request reads them again.
pub const FUNDS_FRESH_FOR: Duration = Duration::from_secs(60);

/// The least time between two reads of a sender's funds prompted by a refusal.
pub const FUNDS_RETRY_AFTER: Duration = Duration::from_secs(2);

/// Senders whose last reading time is kept (older readings are dropped past it).
const MAX_FETCHED: usize = 4096;

/// Payments for an orchestrator with real tickets: issues params through
/// [`Recipient::issue_params`], validates batches (signatures, win draw, nonces, expiry),
/// keeps credit per (sender, stream), hands winners to a [`WinnerSink`] before the segment is
/// admitted, and debits the fee of the pixels produced.
///
/// The chain state is told, not read: call [`PmValidator::handle_block`],
/// [`PmValidator::handle_round`] and [`PmValidator::handle_funds`] as the chain moves. With
/// [`PmValidator::with_broker`], a sender's funds are read when it is first seen, again when
/// it asks and they were read over [`FUNDS_FRESH_FOR`] ago, and again (at most every
/// [`FUNDS_RETRY_AFTER`]) when they would refuse it: a deposit made after a refusal is seen
/// at the next request, and funds others' redemptions drained are not trusted for long.
pub struct PmValidator<P = DefaultRiskPolicy> {
    state: Mutex<State<P>>,
    sink: Arc<dyn WinnerSink>,
    entropy: Arc<dyn EntropySource>,
    broker: Option<Arc<dyn TicketBrokerReader>>,
}

impl<P> std::fmt::Debug for PmValidator<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PmValidator").finish_non_exhaustive()
    }
}

impl PmValidator<DefaultRiskPolicy> {
    /// A validator over `recipient`, handing winners to `sink`, with the default risk policy
    /// and OS entropy for seeds. Starts at `block` with the round's `expiration` params and
    /// `gas_price`.
    pub fn new(
        recipient: Recipient,
        sink: Arc<dyn WinnerSink>,
        block: u64,
        gas_price: U256,
        expiration: ExpirationParams,
    ) -> Self {
        Self::with_monitor(
            recipient,
            SenderMonitor::new(),
            sink,
            block,
            gas_price,
            expiration,
        )
    }
}

impl<P: RiskPolicy + Send> PmValidator<P> {
    /// As [`PmValidator::new`] with a monitor of one's own (its policy, known funds).
    pub fn with_monitor(
        recipient: Recipient,
        monitor: SenderMonitor<P>,
        sink: Arc<dyn WinnerSink>,
        block: u64,
        gas_price: U256,
        expiration: ExpirationParams,
    ) -> Self {
        let mut monitor = monitor;
        monitor.handle_round(expiration.creation_round);
        PmValidator {
            state: Mutex::new(State {
                recipient,
                monitor,
                block,
                gas_price,
                expiration,
                face_values: HashMap::new(),
                fetched: HashMap::new(),
            }),
            sink,
            entropy: Arc::new(OsEntropy),
            broker: None,
        }
    }

    /// Draws params seeds from `entropy` instead of the OS.
    pub fn with_entropy(mut self, entropy: Arc<dyn EntropySource>) -> Self {
        self.entropy = entropy;
        self
    }

    /// Fetches the funds of senders not yet known from `broker`.
    pub fn with_broker(mut self, broker: Arc<dyn TicketBrokerReader>) -> Self {
        self.broker = Some(broker);
        self
    }

    fn lock(&self) -> MutexGuard<'_, State<P>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new block and gas price: params issued from now on expire relative to it, and nonce
    /// windows of expired params are dropped.
    pub fn handle_block(&self, block: u64, gas_price: U256) {
        let mut s = self.lock();
        s.block = block;
        s.gas_price = gas_price;
        s.recipient.handle_block(block);
    }

    /// A new round was initialized: new params carry it (and its block hash) as auxData.
    pub fn handle_round(&self, expiration: ExpirationParams) {
        let mut s = self.lock();
        s.monitor.handle_round(expiration.creation_round);
        s.expiration = expiration;
    }

    /// The latest funds of `sender` (deposit, reserve, this orchestrator's claims).
    pub fn handle_funds(&self, sender: Address, funds: SenderFunds) {
        let mut s = self.lock();
        s.monitor.handle_funds(sender, funds);
        s.fetched.insert(sender, Instant::now());
    }

    /// The credit `sender` holds for `stream`.
    pub fn credit(&self, sender: Address, stream: StreamId) -> Wei {
        self.lock().recipient.balance(sender, stream)
    }

    /// The block the validator was last told.
    pub fn block(&self) -> u64 {
        self.lock().block
    }

    /// Reads `sender`'s funds from the broker (when one is set) if they are unknown or were
    /// read longer than `max_age` ago. Whether it read them.
    async fn learn(&self, sender: Address, max_age: Duration) -> Result<bool, PaymentError> {
        let Some(broker) = &self.broker else {
            return Ok(false);
        };
        let (me, block) = {
            let mut s = self.lock();
            let fresh = s
                .fetched
                .get(&sender)
                .is_some_and(|t| t.elapsed() < max_age);
            if fresh && s.monitor.funds(sender).is_some() {
                return Ok(false);
            }
            // Bounded: readings older than the freshness window are forgotten first.
            if s.fetched.len() >= MAX_FETCHED {
                s.fetched.retain(|_, t| t.elapsed() < FUNDS_FRESH_FOR);
                if s.fetched.len() >= MAX_FETCHED {
                    s.fetched.clear();
                }
            }
            (s.recipient.address(), s.block)
        };
        let funds = fetch_funds(broker.as_ref(), sender, me, block)
            .await
            .map_err(|e| PaymentError::Backend(e.to_string()))?;
        debug!(?sender, "sender funds fetched");
        let mut s = self.lock();
        s.monitor.handle_funds(sender, funds);
        s.fetched.insert(sender, Instant::now());
        Ok(true)
    }

    fn issue(&self, broadcaster: Address, price: PixelPrice) -> Result<TicketParams, PaymentError> {
        let s = self.lock();
        let max_float = s.monitor.max_float(broadcaster).unwrap_or_default();
        let ctx = IssueContext::new(s.block, s.gas_price, s.expiration, max_float);
        s.recipient
            .issue_params(broadcaster, price, &ctx, self.entropy.as_ref())
            .map_err(|e| match e {
                IssueError::InsufficientSenderReserve => PaymentError::SenderFunds(e.to_string()),
                e => PaymentError::Backend(e.to_string()),
            })
    }

    /// The risk policy's verdict on `sender` paying with `batch` (or from credit).
    fn assess(&self, sender: Address, batch: Option<&TicketBatch>) -> Risk {
        let s = self.lock();
        let face_value = match batch {
            Some(b) => Wei(b.params.face_value),
            None => s.face_values.get(&sender).copied().unwrap_or(Wei::ZERO),
        };
        s.monitor.assess(sender, face_value)
    }
}

#[async_trait]
impl<P: RiskPolicy + Send + 'static> PaymentValidator for PmValidator<P> {
    async fn quote_params(
        &self,
        broadcaster: Address,
        price: PixelPrice,
    ) -> Result<TicketParams, PaymentError> {
        self.learn(broadcaster, FUNDS_FRESH_FOR).await?;
        match self.issue(broadcaster, price) {
            // Funds read before a deposit refuse a sender that has since paid in: read them
            // again (at most every FUNDS_RETRY_AFTER) and ask once more.
            Err(PaymentError::SenderFunds(_))
                if self.learn(broadcaster, FUNDS_RETRY_AFTER).await? =>
            {
                self.issue(broadcaster, price)
            }
            r => r,
        }
    }

    async fn accept(
        &self,
        batch: Option<&TicketBatch>,
        sender: Address,
        stream: StreamId,
        fee_estimate: Wei,
    ) -> Result<Wei, PaymentError> {
        self.learn(sender, FUNDS_FRESH_FOR).await?;
        // The risk policy decides before any work, with or without new tickets: a sender
        // whose funds no longer back its winners (or that is unlocking) gets no more work,
        // not even on credit it already holds. A stop on funds read a while ago is checked
        // against the chain once more.
        let mut risk = self.assess(sender, batch);
        if matches!(risk, Risk::Stop(_)) && self.learn(sender, FUNDS_RETRY_AFTER).await? {
            risk = self.assess(sender, batch);
        }
        if let Risk::Stop(reason) = risk {
            debug!(?sender, ?reason, "risk policy stops work");
            return Err(PaymentError::SenderFunds(format!(
                "risk policy: {reason:?}"
            )));
        }
        if let Some(batch) = batch {
            if batch.sender != sender {
                return Err(PaymentError::InvalidTicket(
                    "tickets from another sender".into(),
                ));
            }
            let (received, block) = {
                let mut s = self.lock();
                let s = &mut *s;
                let r = s
                    .recipient
                    .receive(Instant::now(), s.block, batch, stream, &s.monitor);
                (r, s.block)
            };
            // Winners are durable before anything is acknowledged, including those of a batch
            // refused part way (the tickets before the refused one stay valid).
            if !received.winners.is_empty() {
                debug!(?sender, winners = received.winners.len(), "winning tickets");
                self.sink.persist(block, &received.winners).await?;
            }
            if let Some(e) = received.error {
                return Err(e.into());
            }
            // Only params the batch proved (they are committed to by recipientRand).
            self.lock()
                .face_values
                .insert(sender, Wei(batch.params.face_value));
        }
        let s = self.lock();
        s.recipient.ensure_credit(sender, stream, fee_estimate)?;
        Ok(s.recipient.balance(sender, stream))
    }

    fn debit(&self, sender: Address, stream: StreamId, fee: Wei) {
        if let Err(e) = self
            .lock()
            .recipient
            .debit(Instant::now(), sender, stream, fee)
        {
            warn!(?sender, error = %e, "debit");
        }
    }
}
