//! One stream's session: the driver of the sans-IO [`StreamMachine`]. It feeds the machine
//! what happens (segments submitted, quotes, payments, results, verdicts, timers) and
//! carries out its actions over QUIC and through the payment source and the verifier; every
//! decision is the machine's.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use livepeer_core::chain::OrchestratorEntry;
use livepeer_core::verify::Verdict;
use livepeer_core::{Address, Ladder, Segment, StreamId};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tracing::{debug, warn};

use super::NegotiateError;
use super::broadcaster::Broadcaster;
use super::wire::{finish_delivered, open_stream, read_assembled, write_body, write_msg};
use crate::proto::{
    AttemptId, ExchangeError, HeldQuote, Message, MessageType, Quote, Scheduler, SegmentHeader,
    StreamAction, StreamConfig, StreamInput, StreamMachine,
};

pub use crate::proto::SegmentResult;

type Reply = oneshot::Sender<Result<SegmentResult, NegotiateError>>;

/// What the driver task is told.
enum Event {
    /// An input for the machine (answers of the tasks, pushed quote updates).
    Input(Box<StreamInput>),
    /// A segment to transcode.
    Segment(Segment, Vec<Address>, Reply),
    /// The machine was fed outside the task: drain its actions.
    Wake,
}

/// The machine and the registry entries of the orchestrators it may ask.
struct Shared {
    machine: StreamMachine,
    entries: HashMap<Address, OrchestratorEntry>,
}

/// One stream's session. Segments may be submitted concurrently.
pub struct StreamSession {
    b: Broadcaster,
    stream_id: StreamId,
    ladder: Ladder,
    shared: Arc<Mutex<Shared>>,
    tx: mpsc::UnboundedSender<Event>,
    feed: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for StreamSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSession")
            .field("stream_id", &self.stream_id)
            .finish()
    }
}

impl Drop for StreamSession {
    fn drop(&mut self) {
        for t in self.lock_feed().drain(..) {
            t.abort();
        }
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl StreamSession {
    /// Discovers, gathers quotes and starts a session for `stream_id` and `ladder`.
    pub(crate) async fn start(
        b: Broadcaster,
        stream_id: StreamId,
        ladder: Ladder,
    ) -> Result<StreamSession, NegotiateError> {
        let c = &b.inner.config;
        let scheduler = Scheduler::new(
            c.scheduler.clone(),
            b.inner.policy.clone(),
            b.inner.board.clone(),
        );
        let config = StreamConfig {
            max_price: c.max_price,
            verify: b.inner.verifier.is_some(),
            ..StreamConfig::default()
        };
        let machine = StreamMachine::new(
            b.inner.signer.clone(),
            b.inner.domain,
            stream_id,
            ladder.clone(),
            config,
            scheduler,
            Instant::now(),
            crate::proto::unix_ms(SystemTime::now()),
        );
        let shared = Arc::new(Mutex::new(Shared {
            machine,
            entries: HashMap::new(),
        }));
        let (tx, rx) = mpsc::unbounded_channel();
        let session = StreamSession {
            b: b.clone(),
            stream_id,
            ladder,
            shared: shared.clone(),
            tx: tx.clone(),
            feed: Mutex::new(Vec::new()),
        };
        session.refresh_quotes().await?;
        let driver = Driver {
            b,
            stream_id,
            shared,
            tx,
            replies: HashMap::new(),
            tasks: JoinSet::new(),
            attempts: HashMap::new(),
        };
        let task = tokio::spawn(driver.run(rx));
        session.lock_feed().push(task);
        Ok(session)
    }

    fn lock_feed(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.feed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The orchestrators with a valid quote now.
    pub fn orchestrators(&self) -> Vec<Address> {
        lock(&self.shared).machine.orchestrators()
    }

    /// Discovers and re-quotes every orchestrator; those that fail or lie are dropped.
    pub async fn refresh_quotes(&self) -> Result<usize, NegotiateError> {
        let entries = self.b.discover().await?;
        let request = self.b.job_request(self.stream_id, &self.ladder)?;
        let outcomes = self.b.gather_quotes(entries, &request).await;
        let now = Instant::now();
        let n = {
            let mut s = lock(&self.shared);
            let found: HashSet<Address> = outcomes.iter().map(|o| o.entry.address).collect();
            for gone in s.machine.orchestrators() {
                if !found.contains(&gone) {
                    s.machine
                        .handle(now, StreamInput::Forget { orchestrator: gone });
                }
            }
            for o in outcomes {
                let orchestrator = o.entry.address;
                let input = match o.result {
                    Ok((quote, rtt)) => StreamInput::Quote {
                        orchestrator,
                        quote,
                        stake: o.entry.stake,
                        rtt,
                    },
                    Err(e) => {
                        debug!(?orchestrator, error = %e, "no quote");
                        StreamInput::Forget { orchestrator }
                    }
                };
                s.entries.insert(orchestrator, o.entry);
                s.machine.handle(now, input);
            }
            s.machine.orchestrators().len()
        };
        let _ = self.tx.send(Event::Wake);
        if n == 0 {
            return Err(NegotiateError::NoOrchestrators);
        }
        Ok(n)
    }

    /// Re-quotes every `interval` in the background (a price feed).
    pub fn start_price_feed(self: &Arc<Self>, interval: Duration) {
        let me = Arc::downgrade(self);
        let t = tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(s) = me.upgrade() else { return };
                let _ = s.refresh_quotes().await;
            }
        });
        self.lock_feed().push(t);
    }

    /// Keeps quotes fresh from updates the orchestrators push (price or params changes).
    pub async fn subscribe_updates(&self) -> Result<(), NegotiateError> {
        let request = self.b.job_request(self.stream_id, &self.ladder)?;
        let held: Vec<(OrchestratorEntry, Duration)> = {
            let s = lock(&self.shared);
            s.machine
                .orchestrators()
                .iter()
                .filter_map(|a| {
                    let rtt = s.machine.quotes().get(a)?.rtt;
                    Some((s.entries.get(a)?.clone(), rtt))
                })
                .collect()
        };
        for (entry, rtt) in held {
            let Ok(mut rx) = self.b.subscribe(&entry, &request).await else {
                continue;
            };
            let tx = self.tx.clone();
            let t = tokio::spawn(async move {
                while let Some(quote) = rx.recv().await {
                    let input = StreamInput::Quote {
                        orchestrator: entry.address,
                        quote,
                        stake: entry.stake,
                        rtt,
                    };
                    if tx.send(Event::Input(Box::new(input))).is_err() {
                        return;
                    }
                }
            });
            self.lock_feed().push(t);
        }
        Ok(())
    }

    /// The current quote of `orchestrator`.
    pub fn quote_of(&self, orchestrator: &Address) -> Option<Quote> {
        lock(&self.shared).machine.quote(orchestrator).cloned()
    }

    /// The quote held for `orchestrator`, with its stake and how long the quote took: what
    /// the scheduler ranks it by.
    pub fn held_quote(&self, orchestrator: &Address) -> Option<HeldQuote> {
        lock(&self.shared)
            .machine
            .quotes()
            .get(orchestrator)
            .cloned()
    }

    /// Transcodes `segment`: it goes to the scheduler's picks, fails over, and either
    /// comes back transcoded or fails with the reason. Never dropped silently.
    pub async fn transcode(&self, segment: Segment) -> Result<SegmentResult, NegotiateError> {
        self.transcode_excluding(segment, Vec::new()).await
    }

    /// [`transcode`](Self::transcode) by any orchestrator but those in `excluded` (a
    /// re-encode check hires someone other than the orchestrator it checks).
    pub async fn transcode_excluding(
        &self,
        segment: Segment,
        excluded: Vec<Address>,
    ) -> Result<SegmentResult, NegotiateError> {
        segment
            .check_bounds()
            .map_err(|e| NegotiateError::Config(e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Event::Segment(segment, excluded, tx))
            .map_err(|_| NegotiateError::Closed)?;
        rx.await.map_err(|_| NegotiateError::Closed)?
    }
}

/// The driver task: owns the replies and the I/O tasks, never decides.
struct Driver {
    b: Broadcaster,
    stream_id: StreamId,
    shared: Arc<Mutex<Shared>>,
    tx: mpsc::UnboundedSender<Event>,
    replies: HashMap<u64, Reply>,
    /// Every I/O task; dropping the set (with the driver) aborts them.
    tasks: JoinSet<()>,
    /// The task in flight for each attempt.
    attempts: HashMap<AttemptId, AbortHandle>,
}

impl Driver {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Event>) {
        loop {
            self.drain();
            while self.tasks.try_join_next().is_some() {}
            self.attempts.retain(|_, t| !t.is_finished());
            let deadline = lock(&self.shared)
                .machine
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(Event::Input(input)) => {
                        lock(&self.shared).machine.handle(Instant::now(), *input);
                    }
                    Some(Event::Segment(segment, excluded, reply)) => {
                        let seq = segment.seq;
                        if self.replies.contains_key(&seq) {
                            let e = NegotiateError::Config(format!("segment {seq} already in flight"));
                            let _ = reply.send(Err(e));
                            continue;
                        }
                        self.replies.insert(seq, reply);
                        let input = StreamInput::Segment { segment, excluded };
                        lock(&self.shared).machine.handle(Instant::now(), input);
                    }
                    Some(Event::Wake) => {}
                    None => break,
                },
                _ = sleep_opt(deadline) => lock(&self.shared).machine.handle_timeout(Instant::now()),
            }
        }
    }

    /// Carries out the machine's actions until it has none.
    fn drain(&mut self) {
        loop {
            let action = lock(&self.shared).machine.poll_action();
            match action {
                Some(a) => self.carry_out(a),
                None => return,
            }
        }
    }

    /// Runs `fut` as an I/O task whose answer is fed back to the machine.
    fn spawn<F>(&mut self, fut: F) -> AbortHandle
    where
        F: std::future::Future<Output = StreamInput> + Send + 'static,
    {
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            let input = fut.await;
            let _ = tx.send(Event::Input(Box::new(input)));
        })
    }

    fn entry(&self, orchestrator: &Address) -> Option<OrchestratorEntry> {
        lock(&self.shared).entries.get(orchestrator).cloned()
    }

    fn carry_out(&mut self, action: StreamAction) {
        match action {
            StreamAction::RequestQuote {
                orchestrator,
                reason,
            } => {
                debug!(?orchestrator, ?reason, "asking for a quote");
                let (b, entry) = (self.b.clone(), self.entry(&orchestrator));
                let ladder = lock(&self.shared).machine.ladder().clone();
                let stream_id = self.stream_id;
                self.spawn(async move {
                    let failed = StreamInput::QuoteFailed { orchestrator };
                    let Some(entry) = entry else { return failed };
                    let Ok(req) = b.job_request(stream_id, &ladder) else {
                        return failed;
                    };
                    let timeout = b.inner.config.quote_timeout;
                    match tokio::time::timeout(timeout, b.quote(&entry, &req)).await {
                        Ok(Ok((quote, rtt))) => StreamInput::Quote {
                            orchestrator,
                            quote,
                            stake: entry.stake,
                            rtt,
                        },
                        Ok(Err(e)) => {
                            debug!(?orchestrator, error = %e, "no quote");
                            failed
                        }
                        Err(_) => failed,
                    }
                });
            }
            StreamAction::QuoteExpired { orchestrator } => {
                debug!(?orchestrator, "quote expired");
            }
            StreamAction::Pay {
                attempt,
                seq,
                orchestrator,
                quote,
                fee,
                retry,
            } => {
                if retry {
                    debug!(seq, to = ?orchestrator, "failover or hedge");
                }
                let (payments, stream) = (self.b.inner.payments.clone(), self.stream_id);
                let t = self.spawn(async move {
                    let result = payments.pay(&quote, stream, fee).await;
                    StreamInput::Paid { attempt, result }
                });
                self.attempts.insert(attempt, t);
            }
            StreamAction::Send {
                attempt,
                orchestrator,
                header,
                body,
            } => {
                let (b, entry) = (self.b.clone(), self.entry(&orchestrator));
                let t = self.spawn(async move {
                    let Some(entry) = entry else {
                        let error = ExchangeError::Other("orchestrator not discovered".into());
                        return StreamInput::ExchangeFailed { attempt, error };
                    };
                    match exchange(&b, &entry, *header, body).await {
                        Ok((header, bodies)) => StreamInput::Result {
                            attempt,
                            header,
                            bodies,
                        },
                        Err(e) => StreamInput::ExchangeFailed {
                            attempt,
                            error: exchange_error(e),
                        },
                    }
                });
                self.attempts.insert(attempt, t);
            }
            StreamAction::Verify { attempt, request } => {
                let verifier = self.b.inner.verifier.clone();
                let t = self.spawn(async move {
                    let verdict = match verifier {
                        Some(v) => v.verify(&request).await,
                        None => Ok(Verdict::Pass { sampled: false }),
                    };
                    StreamInput::Verified { attempt, verdict }
                });
                self.attempts.insert(attempt, t);
            }
            StreamAction::Cancel { attempt } => {
                if let Some(t) = self.attempts.remove(&attempt) {
                    t.abort();
                }
            }
            StreamAction::AttemptFailed {
                attempt,
                seq,
                orchestrator,
                reason,
                ..
            } => {
                self.attempts.remove(&attempt);
                debug!(seq, ?orchestrator, error = %reason, "attempt failed");
            }
            StreamAction::Completed { attempt, result } => {
                self.attempts.remove(&attempt);
                if let Some(reply) = self.replies.remove(&result.seq) {
                    let _ = reply.send(Ok(*result));
                }
            }
            StreamAction::Failed { seq, reason } => {
                warn!(seq, ?reason, "segment failed");
                if let Some(reply) = self.replies.remove(&seq) {
                    let _ = reply.send(Err(NegotiateError::SegmentFailed { seq, reason }));
                }
            }
        }
    }
}

async fn sleep_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// How the machine sees a driver error.
fn exchange_error(e: NegotiateError) -> ExchangeError {
    match e {
        NegotiateError::Remote(w) => ExchangeError::Refused(w),
        NegotiateError::BadResult(s) => ExchangeError::BadReply(s),
        e if e.is_connection_suspect() => ExchangeError::Connection(e.to_string()),
        e => ExchangeError::Other(e.to_string()),
    }
}

/// Sends `header` and `body` to `entry` and reads its result; a connection that failed in a
/// way that suggests it is dead is forgotten, so the next request dials afresh.
async fn exchange(
    b: &Broadcaster,
    entry: &OrchestratorEntry,
    header: SegmentHeader,
    body: Bytes,
) -> Result<(crate::proto::ResultHeader, Vec<Bytes>), NegotiateError> {
    let conn = b.connection(entry).await?;
    let limits = &b.inner.config.read_limits;
    let r = async {
        let (mut send, mut recv) = open_stream(&conn, limits.idle).await?;
        write_msg(&mut send, &Message::SegmentHeader(header)).await?;
        write_body(&mut send, &body).await?;
        finish_delivered(&conn, &mut send, limits).await?;
        let a = read_assembled(&mut recv, &[MessageType::ResultHeader], limits.clone()).await?;
        match a.head {
            Message::ResultHeader(r) => Ok((r, a.bodies)),
            _ => Err(NegotiateError::BadResult("not a result".into())),
        }
    }
    .await;
    if let Err(e) = &r
        && e.is_connection_suspect()
    {
        b.forget(&entry.address, &conn);
    }
    r
}
