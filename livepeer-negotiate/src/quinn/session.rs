//! One stream's session: the driver task that runs the sans-IO [`Scheduler`] for a stream,
//! and the attempts it dispatches (pay, send, check the receipt, verify).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use livepeer_core::chain::OrchestratorEntry;
use livepeer_core::transcode::Rendition;
use livepeer_core::verify::{Verdict, VerificationRequest};
use livepeer_core::{Address, Ladder, Segment, SegmentClaim, SignedReceipt, StreamId};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::NegotiateError;
use super::broadcaster::Broadcaster;
use super::wire::{finish_delivered, open_stream, read_assembled, write_body, write_msg};
use crate::payment::PaymentError;
use crate::proto::{
    AttemptId, AttemptOutcome, Candidate, ErrorCode, Expected, Message, MessageType, Quote,
    SchedEvent, Scheduler, SegmentHeader, check_result, fee_estimate,
};

/// A transcoded segment.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SegmentResult {
    /// The segment.
    pub seq: u64,
    /// Who transcoded it.
    pub orchestrator: Address,
    /// The renditions, in ladder order.
    pub renditions: Vec<Rendition>,
    /// The orchestrator's signed receipt.
    pub receipt: SignedReceipt,
    /// From sending to the last rendition byte.
    pub latency: Duration,
}

type Table = Arc<RwLock<HashMap<Address, (OrchestratorEntry, Quote, Duration)>>>;

enum Cmd {
    Segment(
        Segment,
        Vec<Address>,
        oneshot::Sender<Result<SegmentResult, NegotiateError>>,
    ),
    Candidates,
}

/// One stream's session. Segments may be submitted concurrently.
pub struct StreamSession {
    b: Broadcaster,
    stream_id: StreamId,
    ladder: Ladder,
    table: Table,
    tx: mpsc::Sender<Cmd>,
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

impl StreamSession {
    /// Discovers, gathers quotes and starts a session for `stream_id` and `ladder`.
    pub(crate) async fn start(
        b: Broadcaster,
        stream_id: StreamId,
        ladder: Ladder,
    ) -> Result<StreamSession, NegotiateError> {
        let table: Table = Arc::new(RwLock::new(HashMap::new()));
        let (tx, rx) = mpsc::channel(64);
        let session = StreamSession {
            b: b.clone(),
            stream_id,
            ladder: ladder.clone(),
            table: table.clone(),
            tx,
            feed: Mutex::new(Vec::new()),
        };
        session.refresh_quotes().await?;
        let scheduler = Scheduler::new(
            b.inner.config.scheduler.clone(),
            b.inner.policy.clone(),
            b.inner.board.clone(),
        );
        let driver = Driver {
            b: b.clone(),
            stream_id,
            ladder,
            table,
            sched: scheduler,
            segments: HashMap::new(),
            attempts: HashMap::new(),
            results: HashMap::new(),
        };
        let task = tokio::spawn(driver.run(rx));
        session.lock_feed().push(task);
        Ok(session)
    }

    fn lock_feed(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.feed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The orchestrators with a valid quote now.
    pub fn orchestrators(&self) -> Vec<Address> {
        self.table
            .read()
            .map(|t| t.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Discovers and re-quotes every orchestrator; those that fail or lie are dropped.
    pub async fn refresh_quotes(&self) -> Result<usize, NegotiateError> {
        let entries = self.b.discover().await?;
        let request = self.b.job_request(self.stream_id, &self.ladder)?;
        let outcomes = self.b.gather_quotes(entries, &request).await;
        let mut fresh = HashMap::new();
        for o in outcomes {
            match o.result {
                Ok((q, rtt)) => {
                    fresh.insert(o.entry.address, (o.entry, q, rtt));
                }
                Err(e) => debug!(orchestrator = ?o.entry.address, error = %e, "no quote"),
            }
        }
        let n = fresh.len();
        if let Ok(mut t) = self.table.write() {
            *t = fresh;
        }
        let _ = self.tx.send(Cmd::Candidates).await;
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
        let entries: Vec<(OrchestratorEntry, Duration)> = self
            .table
            .read()
            .map(|t| t.values().map(|(e, _, r)| (e.clone(), *r)).collect())
            .unwrap_or_default();
        for (entry, rtt) in entries {
            let Ok(mut rx) = self.b.subscribe(&entry, &request).await else {
                continue;
            };
            let table = self.table.clone();
            let tx = self.tx.clone();
            let t = tokio::spawn(async move {
                while let Some(q) = rx.recv().await {
                    if let Ok(mut t) = table.write() {
                        t.insert(entry.address, (entry.clone(), q, rtt));
                    }
                    if tx.send(Cmd::Candidates).await.is_err() {
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
        self.table
            .read()
            .ok()
            .and_then(|t| t.get(orchestrator).map(|(_, q, _)| q.clone()))
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
            .send(Cmd::Segment(segment, excluded, tx))
            .await
            .map_err(|_| NegotiateError::Closed)?;
        rx.await.map_err(|_| NegotiateError::Closed)?
    }
}

type Done = (AttemptId, AttemptOutcome, Option<SegmentResult>);

struct Driver {
    b: Broadcaster,
    stream_id: StreamId,
    ladder: Ladder,
    table: Table,
    sched: Scheduler,
    segments: HashMap<
        u64,
        (
            Segment,
            oneshot::Sender<Result<SegmentResult, NegotiateError>>,
        ),
    >,
    attempts: HashMap<AttemptId, JoinHandle<()>>,
    results: HashMap<AttemptId, SegmentResult>,
}

impl Driver {
    fn candidates(&self) -> Vec<Candidate> {
        self.table
            .read()
            .map(|t| {
                t.values()
                    .map(|(e, q, rtt)| Candidate {
                        address: e.address,
                        price: q.price,
                        stake: e.stake,
                        capacity_pps: q.capacity_pps,
                        quote_rtt: *rtt,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
        let c = self.candidates();
        self.sched.set_candidates(c);
        loop {
            self.drain(&done_tx);
            let deadline = self
                .sched
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Cmd::Segment(s, excluded, reply)) => {
                        let c = self.candidates();
                        self.sched.set_candidates(c);
                        let (seq, d) = (s.seq, s.duration);
                        if self.segments.contains_key(&seq) {
                            let _ = reply.send(Err(NegotiateError::Config(format!("segment {seq} already in flight"))));
                            continue;
                        }
                        self.segments.insert(seq, (s, reply));
                        self.sched.handle_segment_excluding(Instant::now(), seq, d, excluded);
                    }
                    Some(Cmd::Candidates) => {
                        let c = self.candidates();
                        self.sched.set_candidates(c);
                    }
                    None => break,
                },
                Some((id, outcome, result)) = done_rx.recv() => {
                    self.attempts.remove(&id);
                    if let Some(r) = result {
                        self.results.insert(id, r);
                    }
                    self.sched.handle_outcome(Instant::now(), id, outcome);
                    self.drain(&done_tx);
                    // Results of attempts that lost the race are not needed.
                    self.results.clear();
                }
                _ = sleep_opt(deadline) => self.sched.handle_timeout(Instant::now()),
            }
        }
        for (_, t) in self.attempts.drain() {
            t.abort();
        }
    }

    fn drain(&mut self, done_tx: &mpsc::UnboundedSender<Done>) {
        while let Some(ev) = self.sched.poll_event() {
            match ev {
                SchedEvent::Dispatch {
                    seq,
                    attempt,
                    orchestrator,
                    retry,
                } => {
                    let found = self
                        .table
                        .read()
                        .ok()
                        .and_then(|t| t.get(&orchestrator).cloned());
                    let (Some((segment, _)), Some((entry, quote, _))) =
                        (self.segments.get(&seq), found)
                    else {
                        let _ = done_tx.send((attempt, AttemptOutcome::Failed, None));
                        continue;
                    };
                    if retry {
                        debug!(seq, to = ?orchestrator, "failover or hedge");
                    }
                    let job = Attempt {
                        b: self.b.clone(),
                        entry,
                        quote,
                        stream_id: self.stream_id,
                        ladder: self.ladder.clone(),
                        segment: segment.clone(),
                        table: self.table.clone(),
                    };
                    let tx = done_tx.clone();
                    let t = tokio::spawn(async move {
                        let (outcome, result) = job.run().await;
                        let _ = tx.send((attempt, outcome, result));
                    });
                    self.attempts.insert(attempt, t);
                }
                SchedEvent::Cancel { attempt, .. } => {
                    if let Some(t) = self.attempts.remove(&attempt) {
                        t.abort();
                    }
                    self.results.remove(&attempt);
                }
                SchedEvent::Completed { seq, attempt, .. } => {
                    let r = self.results.remove(&attempt);
                    if let Some((_, reply)) = self.segments.remove(&seq) {
                        let _ = reply.send(r.ok_or(NegotiateError::Closed));
                    }
                }
                SchedEvent::Failed { seq, reason } => {
                    warn!(seq, ?reason, "segment failed");
                    if let Some((_, reply)) = self.segments.remove(&seq) {
                        let _ = reply.send(Err(NegotiateError::SegmentFailed { seq, reason }));
                    }
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

struct Attempt {
    b: Broadcaster,
    entry: OrchestratorEntry,
    quote: Quote,
    stream_id: StreamId,
    ladder: Ladder,
    segment: Segment,
    table: Table,
}

impl Attempt {
    async fn run(self) -> (AttemptOutcome, Option<SegmentResult>) {
        let mut r = self.send(&self.quote).await;
        // Stale params or credit, found by the orchestrator or by our own payment source
        // (params that expired while quoted): re-quote the same orchestrator once before
        // giving up on it.
        // A connection that failed may have been to a previous run of the orchestrator,
        // whose params died with it: a fresh quote (on a fresh connection) settles both.
        let stale = match r.as_ref().err() {
            Some(NegotiateError::Payment(PaymentError::TicketParamsExpired)) => true,
            Some(e) if e.is_connection_suspect() => true,
            Some(e) => matches!(
                e.remote_code(),
                Some(ErrorCode::TicketParamsExpired | ErrorCode::LowPMBalance)
            ),
            None => false,
        };
        let timeout = self.b.inner.config.quote_timeout;
        if stale
            && let Ok(req) = self.b.job_request(self.stream_id, &self.ladder)
            && let Ok(Ok((q, rtt))) =
                tokio::time::timeout(timeout, self.b.quote(&self.entry, &req)).await
        {
            if let Ok(mut t) = self.table.write() {
                t.insert(self.entry.address, (self.entry.clone(), q.clone(), rtt));
            }
            r = self.send(&q).await;
        }
        match r {
            Ok(res) => (AttemptOutcome::Success, Some(res)),
            Err(e) => {
                debug!(seq = self.segment.seq, orchestrator = ?self.entry.address, error = %e, "attempt failed");
                let outcome = match &e {
                    NegotiateError::Remote(w) if w.code.is_input_error() => {
                        AttemptOutcome::InputRejected
                    }
                    // Healthy but taking no new streams: as good as unavailable for this one.
                    NegotiateError::Remote(w) if w.code.is_draining() => {
                        AttemptOutcome::Unreachable
                    }
                    NegotiateError::BadResult(_) => AttemptOutcome::Fault,
                    // Still a dead or refused connection after the fresh quote above.
                    e if e.is_connection_suspect() => AttemptOutcome::Unreachable,
                    _ => AttemptOutcome::Failed,
                };
                (outcome, None)
            }
        }
    }

    async fn send(&self, quote: &Quote) -> Result<SegmentResult, NegotiateError> {
        let t0 = Instant::now();
        let b = &self.b;
        let seg = &self.segment;
        let fee = fee_estimate(&quote.price, &self.ladder, seg.duration);
        let payment = b.inner.payments.pay(quote, self.stream_id, fee).await?;
        let conn = b.connection(&self.entry).await?;
        let r = self.exchange(&conn, payment, t0).await;
        if let Err(e) = &r
            && e.is_connection_suspect()
        {
            b.forget(&self.entry.address, &conn);
        }
        r
    }

    /// Sends the segment with its payment on `conn` and checks the result.
    async fn exchange(
        &self,
        conn: &quinn::Connection,
        payment: Option<crate::payment::TicketBatch>,
        t0: Instant,
    ) -> Result<SegmentResult, NegotiateError> {
        let b = &self.b;
        let seg = &self.segment;
        let input_hash = seg.keccak();
        let head = Message::SegmentHeader(SegmentHeader {
            stream_id: self.stream_id,
            seq: seg.seq,
            duration_ms: seg.duration.as_millis() as u64,
            container: seg.container,
            codec: seg.codec,
            ladder: self.ladder.clone(),
            input_hash,
            body_len: seg.data.len() as u64,
            payment,
        });
        let (mut send, mut recv) = open_stream(conn, b.inner.config.read_limits.idle).await?;
        write_msg(&mut send, &head).await?;
        write_body(&mut send, &seg.data).await?;
        finish_delivered(conn, &mut send, &b.inner.config.read_limits).await?;
        let a = read_assembled(
            &mut recv,
            &[MessageType::ResultHeader],
            b.inner.config.read_limits.clone(),
        )
        .await?;
        let Message::ResultHeader(r) = a.head else {
            return Err(NegotiateError::BadResult("not a result".into()));
        };
        let expected = Expected {
            broadcaster: b.address(),
            orchestrator: self.entry.address,
            stream_id: self.stream_id,
            seq: seg.seq,
            input_hash,
            ladder: &self.ladder,
        };
        let renditions = check_result(&expected, &r, a.bodies)
            .map_err(|e| NegotiateError::BadResult(e.0.to_owned()))?;
        if let Some(v) = &b.inner.verifier {
            let claim = SegmentClaim {
                broadcaster: b.address(),
                orchestrator: self.entry.address,
                stream_id: self.stream_id,
                seq: seg.seq,
                input_hash,
                profile_ids: self.ladder.ids(),
                duration_ms: seg.duration.as_millis() as u64,
            }
            .sign(&*b.inner.signer)?;
            let req = VerificationRequest {
                segment: seg.clone(),
                ladder: self.ladder.clone(),
                renditions: renditions.clone(),
                receipt: r.receipt.clone(),
                claim,
            };
            if let Ok(Verdict::Fault(f)) = v.verify(&req).await {
                return Err(NegotiateError::BadResult(format!(
                    "verification fault: {:?}",
                    f.kind
                )));
            }
        }
        Ok(SegmentResult {
            seq: seg.seq,
            orchestrator: self.entry.address,
            renditions,
            receipt: r.receipt,
            latency: t0.elapsed(),
        })
    }
}
