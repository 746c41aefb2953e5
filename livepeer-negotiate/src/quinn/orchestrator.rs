//! The orchestrator server: binds peers to their addresses, quotes, takes paid segments,
//! hands them to its pool, signs receipts and streams renditions back; also accepts
//! remote transcoders into its pool.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use livepeer_core::transcode::Transcoder;
use livepeer_core::{Address, Domain, PixelPrice, Region, ServiceId, Signer};
use tokio::sync::{Notify, mpsc};
use tracing::{debug, info, warn};

use super::NegotiateError;
use super::admission::{Admission, HandshakeGuard, Verdict};
use super::pool::{Pool, RemoteTranscoder};
use super::wire::{bind_server, read_assembled, read_vetted, send_error, write_body, write_msg};
use crate::payment::PaymentValidator;
use crate::proto::{
    ALPN, AdmissionLimits, ErrorCode, Message, MessageType, OrchestratorAction, OrchestratorInput,
    OrchestratorMachine, OrchestratorRules, POOL_ALPN, PriceBook, ReadLimits, Registered,
    RequestId, Role, TranscoderAdmission, TranscoderRefusal, WireError,
};

/// How an orchestrator runs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct OrchestratorConfig {
    /// Where to listen (use port 0 in tests).
    pub bind: SocketAddr,
    /// Services offered.
    pub services: Vec<ServiceId>,
    /// Regions served.
    pub regions: Vec<Region>,
    /// Most connections at once, finished handshakes or not; more are refused.
    pub max_connections: usize,
    /// Most unfinished handshakes at once (a budget apart from, and well under, the
    /// connection slots, so that peers who never finish cannot take them all).
    pub max_handshakes: usize,
    /// Most unfinished handshakes from one source address at once.
    pub max_handshakes_per_source: usize,
    /// Once this many handshakes are unfinished, a source that has not proven its address
    /// is sent a stateless Retry first (a spoofed or fire-and-forget sender never answers).
    pub retry_above_handshakes: usize,
    /// A handshake not finished in this long is dropped.
    pub handshake_timeout: Duration,
    /// Most concurrent streams per connection (enforced by QUIC flow control).
    pub max_streams_per_connection: u32,
    /// How long a quote holds.
    pub quote_ttl: Duration,
    /// While draining, segments of a stream with one admitted within this long are still
    /// served; a stream idle for longer counts as new (and is refused).
    pub session_idle: Duration,
    /// Deadlines and bounds on what peers send.
    pub read_limits: ReadLimits,
    /// Transcoders allowed into the pool (their proven addresses).
    pub allowed_transcoders: Vec<Address>,
    /// A shared secret transcoders must also present, if set.
    pub transcoder_secret: Option<String>,
    /// A pool task times out after this × its segment duration and moves to another member.
    pub task_timeout_factor: f64,
    /// Most segment body bytes held at once over all connections, from a header's admission
    /// until its stream is answered. A header whose declared body would pass it is refused
    /// with `OrchestratorCapped` before any of its body is read.
    pub max_body_bytes_in_flight: u64,
    /// The stateless-reset secret; give one derived from the node's key
    /// ([`super::tls::StatelessResetKey::derive`]) so that after a restart on the same port
    /// the broadcasters' connections to the previous run end at once instead of at their
    /// idle timeout. A random one when `None`.
    pub reset_key: Option<super::tls::StatelessResetKey>,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        OrchestratorConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            services: vec![ServiceId::cpu_transcoding()],
            regions: vec![Region::global()],
            max_connections: 1024,
            max_handshakes: 256,
            max_handshakes_per_source: 64,
            retry_above_handshakes: 16,
            handshake_timeout: Duration::from_secs(10),
            max_streams_per_connection: 32,
            quote_ttl: Duration::from_secs(60),
            session_idle: Duration::from_secs(300),
            read_limits: ReadLimits::default(),
            allowed_transcoders: Vec::new(),
            transcoder_secret: None,
            task_timeout_factor: 2.0,
            max_body_bytes_in_flight: 1 << 30,
            reset_key: None,
        }
    }
}

struct Inner {
    signer: Arc<dyn Signer>,
    payments: Arc<dyn PaymentValidator>,
    pool: Arc<Pool>,
    config: OrchestratorConfig,
    connections: AtomicUsize,
    /// The protocol decisions.
    machine: Mutex<OrchestratorMachine>,
    /// Where each live request's actions go.
    routes: Mutex<HashMap<RequestId, mpsc::UnboundedSender<OrchestratorAction>>>,
    next_request: AtomicU64,
    /// Wakes the timer task when the machine's next deadline may have changed.
    timer: Arc<Notify>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Lets the timer task see that the orchestrator is gone.
        self.timer.notify_one();
    }
}

impl Inner {
    fn machine(&self) -> MutexGuard<'_, OrchestratorMachine> {
        self.machine.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn routes(
        &self,
    ) -> MutexGuard<'_, HashMap<RequestId, mpsc::UnboundedSender<OrchestratorAction>>> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Feeds `input` to the machine at the current time and carries out its actions.
    fn feed(&self, input: OrchestratorInput) {
        self.step(|m, now| m.handle(now, input));
    }

    /// Runs `f` on the machine (told the pool's capacity first), then routes the actions to
    /// their requests' tasks; debits are carried out at once.
    fn step(&self, f: impl FnOnce(&mut OrchestratorMachine, SystemTime)) {
        let capacity = self.pool.capacity();
        let now = SystemTime::now();
        let actions: Vec<OrchestratorAction> = {
            let mut m = self.machine();
            m.handle(now, OrchestratorInput::SetCapacity(capacity));
            f(&mut m, now);
            std::iter::from_fn(|| m.poll_action()).collect()
        };
        for a in actions {
            match a {
                OrchestratorAction::Debit {
                    sender,
                    stream,
                    fee,
                    ..
                } => self.payments.debit(sender, stream, fee),
                a => {
                    if let Some(tx) = self.routes().get(&a.request()) {
                        let _ = tx.send(a);
                    }
                }
            }
        }
        self.timer.notify_one();
    }
}

/// A running orchestrator. Dropping it does not stop it; call [`Orchestrator::close`].
#[derive(Clone)]
pub struct Orchestrator {
    inner: Arc<Inner>,
    endpoint: quinn::Endpoint,
}

impl std::fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator")
            .field("address", &self.inner.signer.address())
            .field("local_addr", &self.endpoint.local_addr().ok())
            .finish()
    }
}

/// Builds an [`Orchestrator`]; the signer, the signing domain, the payment validator and the
/// price are required.
pub struct OrchestratorBuilder {
    signer: Arc<dyn Signer>,
    domain: Domain,
    payments: Arc<dyn PaymentValidator>,
    prices: PriceBook,
    config: OrchestratorConfig,
    local: Vec<(Arc<dyn Transcoder>, u64, u32)>,
}

impl Orchestrator {
    /// A builder for an orchestrator signing receipts with `signer` for `domain` (its chain
    /// id and the deployment's FaultVerifier), validating tickets with `payments` and
    /// charging `price` per pixel.
    pub fn builder(
        signer: Arc<dyn Signer>,
        domain: Domain,
        payments: Arc<dyn PaymentValidator>,
        price: PixelPrice,
    ) -> OrchestratorBuilder {
        OrchestratorBuilder {
            signer,
            domain,
            payments,
            prices: PriceBook::new(price),
            config: OrchestratorConfig::default(),
            local: Vec::new(),
        }
    }

    /// The orchestrator's address.
    pub fn address(&self) -> Address {
        self.inner.signer.address()
    }

    /// Where it listens.
    pub fn local_addr(&self) -> Result<SocketAddr, NegotiateError> {
        self.endpoint
            .local_addr()
            .map_err(NegotiateError::transport)
    }

    /// The service URI to register on chain: `quic://ip:port`.
    pub fn service_uri(&self) -> Result<String, NegotiateError> {
        Ok(format!("quic://{}", self.local_addr()?))
    }

    /// The pool.
    pub fn pool(&self) -> &Arc<Pool> {
        &self.inner.pool
    }

    /// Changes the base price; subscribers get a pushed quote update.
    pub fn set_price(&self, price: PixelPrice) {
        self.inner.feed(OrchestratorInput::SetPrice(price));
    }

    /// Stops taking new work: from now on quote requests, subscriptions and segments of
    /// streams not admitted before are refused with [`ErrorCode::Draining`] (broadcasters go
    /// elsewhere), and subscriptions end with it; segments of streams already admitted are
    /// still served. Connections stay open. Call [`Orchestrator::close`] once the streams
    /// have moved on.
    pub fn drain(&self) {
        info!(address = ?self.address(), "draining");
        self.inner.feed(OrchestratorInput::Drain);
    }

    /// Whether [`Orchestrator::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.inner.machine().is_draining()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// Segment body bytes admitted and not yet answered, over all connections.
    pub fn body_bytes_in_flight(&self) -> u64 {
        self.inner.machine().body_bytes_in_flight()
    }

    /// Stops: closes every connection and the endpoint.
    pub fn close(&self) {
        self.endpoint.close(0u8.into(), b"shutdown");
    }
}

impl OrchestratorBuilder {
    /// Replaces the configuration.
    pub fn with_config(mut self, config: OrchestratorConfig) -> Self {
        self.config = config;
        self
    }

    /// Charges `broadcaster` `price` instead of the base price.
    pub fn with_price_override(mut self, broadcaster: Address, price: PixelPrice) -> Self {
        self.prices = self.prices.with_override(broadcaster, price);
        self
    }

    /// Adds an in-process transcoder offering `capacity_pps`, at most `max_tasks` at once.
    pub fn with_local_transcoder(
        mut self,
        t: Arc<dyn Transcoder>,
        capacity_pps: u64,
        max_tasks: u32,
    ) -> Self {
        self.local.push((t, capacity_pps, max_tasks));
        self
    }

    /// Binds and starts serving. Must be called inside a tokio runtime.
    pub fn start(self) -> Result<Orchestrator, NegotiateError> {
        let server = super::tls::server_config(self.config.max_streams_per_connection)?;
        let endpoint = super::tls::endpoint_with(
            self.config.bind,
            Some(server),
            self.config.reset_key.clone(),
        )?;
        let pool = Arc::new(Pool::new(
            self.config.task_timeout_factor,
            Duration::from_secs(2),
        ));
        for (t, c, m) in self.local {
            pool.add(t, c, m);
        }
        let c = &self.config;
        let rules = OrchestratorRules {
            services: c.services.clone(),
            regions: c.regions.clone(),
            quote_ttl: c.quote_ttl,
            max_body_bytes_in_flight: c.max_body_bytes_in_flight,
            session_idle: c.session_idle,
        };
        let admission = Admission::new(AdmissionLimits {
            max_connections: c.max_connections,
            max_handshakes: c.max_handshakes,
            max_handshakes_per_source: c.max_handshakes_per_source,
            retry_above_handshakes: c.retry_above_handshakes,
        });
        let inner = Arc::new(Inner {
            machine: Mutex::new(OrchestratorMachine::new(
                self.signer.clone(),
                self.domain,
                self.prices,
                rules,
            )),
            signer: self.signer,
            payments: self.payments,
            pool,
            config: self.config,
            connections: AtomicUsize::new(0),
            routes: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(0),
            timer: Arc::new(Notify::new()),
        });
        spawn_timer(&inner);
        let ep = endpoint.clone();
        let i = inner.clone();
        tokio::spawn(async move {
            while let Some(incoming) = ep.accept().await {
                let connections = i.connections.load(Ordering::Relaxed);
                let source = incoming.remote_address().ip();
                let guard = match admission.decide(
                    source,
                    incoming.remote_address_validated(),
                    connections,
                ) {
                    Verdict::Admit(g) => g,
                    Verdict::Retry => {
                        if let Err(e) = incoming.retry() {
                            e.into_incoming().ignore();
                        }
                        continue;
                    }
                    Verdict::Refuse(what) => {
                        debug!(%source, what, "at capacity; refusing a connection");
                        incoming.refuse();
                        continue;
                    }
                };
                i.connections.fetch_add(1, Ordering::Relaxed);
                let i = i.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve_connection(&i, incoming, guard).await {
                        debug!(error = %e, "connection ended");
                    }
                    i.connections.fetch_sub(1, Ordering::Relaxed);
                });
            }
        });
        info!(addr = ?endpoint.local_addr().ok(), "orchestrator listening");
        Ok(Orchestrator { inner, endpoint })
    }
}

/// Calls the machine's `handle_timeout` when its next deadline (a subscription's refresh,
/// forgetting idle streams) passes; ends once the orchestrator is dropped.
fn spawn_timer(inner: &Arc<Inner>) {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let wake = inner.timer.clone();
    tokio::spawn(async move {
        loop {
            let deadline = {
                let Some(i) = weak.upgrade() else { return };
                i.machine().poll_timeout()
            };
            let wait = deadline.map(|d| d.duration_since(SystemTime::now()).unwrap_or_default());
            tokio::select! {
                () = wake.notified() => continue,
                () = sleep_opt(wait) => {}
            }
            let Some(i) = weak.upgrade() else { return };
            i.step(|m, now| m.handle_timeout(now));
        }
    });
}

async fn sleep_opt(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

async fn serve_connection(
    i: &Arc<Inner>,
    incoming: quinn::Incoming,
    handshake: HandshakeGuard,
) -> Result<(), NegotiateError> {
    let conn = tokio::time::timeout(i.config.handshake_timeout, incoming)
        .await
        .map_err(|_| NegotiateError::Transport("handshake timed out".into()))?
        .map_err(NegotiateError::transport)?;
    drop(handshake);
    let alpn = conn
        .handshake_data()
        .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|d| d.protocol);
    let limits = i.config.read_limits.clone();
    match alpn.as_deref() {
        Some(a) if a == ALPN => {
            let peer = bind_server(&conn, &*i.signer, Role::Broadcaster, limits).await?;
            while let Ok((send, recv)) = conn.accept_bi().await {
                let i = i.clone();
                tokio::spawn(async move { serve_stream(&i, peer, send, recv).await });
            }
            Ok(())
        }
        Some(a) if a == POOL_ALPN => serve_transcoder(i, conn).await,
        _ => {
            conn.close(2u8.into(), b"alpn");
            Err(NegotiateError::Config("unknown ALPN".into()))
        }
    }
}

async fn serve_transcoder(i: &Arc<Inner>, conn: quinn::Connection) -> Result<(), NegotiateError> {
    let limits = i.config.read_limits.clone();
    let rules = TranscoderAdmission::new(
        i.config.allowed_transcoders.clone(),
        i.config.transcoder_secret.clone(),
    );
    let peer = bind_server(&conn, &*i.signer, Role::Transcoder, limits.clone()).await?;
    if let Err(e) = rules.check_peer(peer) {
        conn.close(3u8.into(), b"not authorized");
        return Err(e.into());
    }
    let (mut send, mut recv) = conn.accept_bi().await.map_err(NegotiateError::transport)?;
    let a = read_assembled(&mut recv, &[MessageType::Register], limits.clone()).await?;
    let Message::Register(reg) = a.head else {
        return Err(NegotiateError::Transport("no register".into()));
    };
    match rules.check_register(peer, &reg) {
        Ok(()) => {}
        Err(TranscoderRefusal::Unauthorized { identity, error }) => {
            send_error(&mut send, error).await;
            conn.close(3u8.into(), b"not authorized");
            return Err(identity.into());
        }
        Err(TranscoderRefusal::Malformed(e)) => {
            send_error(&mut send, e).await;
            return Ok(());
        }
    }
    let remote = RemoteTranscoder {
        conn: conn.clone(),
        capabilities: reg.capabilities,
        limits,
        next_task: Default::default(),
    };
    let id = i
        .pool
        .add(Arc::new(remote), reg.capacity_pps, reg.max_tasks);
    write_msg(
        &mut send,
        &Message::Registered(Registered { transcoder_id: id }),
    )
    .await?;
    let _ = send.finish();
    info!(transcoder = ?peer, id, capacity = reg.capacity_pps, "transcoder joined the pool");
    conn.closed().await;
    i.pool.remove(id);
    info!(transcoder = ?peer, id, "transcoder left the pool");
    Ok(())
}

/// A request's place in the machine and its route; dropping it tells the machine the
/// request ended, which gives back whatever it held.
struct RequestGuard {
    inner: Arc<Inner>,
    id: RequestId,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.inner.routes().remove(&self.id);
        self.inner
            .feed(OrchestratorInput::Closed { request: self.id });
    }
}

/// Where carrying out a request's actions stopped.
enum Step {
    /// The header is admitted: read the body.
    ReadBody,
    /// The machine refused the request with this error.
    Refused(WireError),
    /// The request is answered, or its stream is gone.
    Done,
}

/// Carries out the actions the machine routes to request `id` until it is answered, refused
/// or admitted for its body. Without `send` (while the header is being vetted) there is
/// nothing to write to.
async fn run(
    i: &Arc<Inner>,
    id: RequestId,
    peer: Address,
    rx: &mut mpsc::UnboundedReceiver<OrchestratorAction>,
    mut send: Option<&mut quinn::SendStream>,
) -> Step {
    loop {
        let next = match send.as_deref_mut() {
            Some(s) => tokio::select! {
                a = rx.recv() => a,
                _ = s.stopped() => return Step::Done,
            },
            None => rx.recv().await,
        };
        let Some(action) = next else {
            return Step::Done;
        };
        match action {
            OrchestratorAction::IssueParams {
                broadcaster, price, ..
            } => {
                let result = i.payments.quote_params(broadcaster, price).await;
                i.feed(OrchestratorInput::ParamsIssued {
                    request: id,
                    result,
                });
            }
            OrchestratorAction::CheckPayment {
                sender,
                stream,
                batch,
                fee_estimate,
                ..
            } => {
                let result = i
                    .payments
                    .accept(batch.as_ref(), sender, stream, fee_estimate)
                    .await;
                i.feed(OrchestratorInput::PaymentChecked {
                    request: id,
                    result,
                });
            }
            OrchestratorAction::ReadBody { .. } => return Step::ReadBody,
            OrchestratorAction::Transcode { job, .. } => {
                let seq = job.segment.seq;
                let result = i.pool.run(job).await.map_err(|e| {
                    warn!(seq, error = ?e, "segment failed");
                    e.to_wire()
                });
                i.feed(OrchestratorInput::Transcoded {
                    request: id,
                    result,
                });
            }
            OrchestratorAction::Reply {
                message, finish, ..
            } => {
                let Some(s) = send.as_deref_mut() else {
                    return Step::Done;
                };
                if let Err(e) = write_msg(s, &message).await {
                    debug!(error = %e, "reply failed");
                    return Step::Done;
                }
                if finish {
                    let _ = s.finish();
                    return Step::Done;
                }
            }
            OrchestratorAction::SendResult { header, bodies, .. } => {
                let Some(s) = send.as_deref_mut() else {
                    return Step::Done;
                };
                debug!(seq = header.receipt.receipt.seq, broadcaster = ?peer, "segment transcoded");
                match write_result(s, header, &bodies).await {
                    Ok(()) => {
                        let _ = s.finish();
                    }
                    Err(e) => debug!(error = %e, "stream failed"),
                }
                return Step::Done;
            }
            OrchestratorAction::Refuse { error, .. } => return Step::Refused(error),
            // Carried out where the machine emitted it.
            OrchestratorAction::Debit { .. } => {}
        }
    }
}

async fn serve_stream(
    i: &Arc<Inner>,
    peer: Address,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    const ALLOWED: &[MessageType] = &[
        MessageType::JobRequest,
        MessageType::Subscribe,
        MessageType::SegmentHeader,
    ];
    let id = i.next_request.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel();
    i.routes().insert(id, tx);
    let _guard = RequestGuard {
        inner: i.clone(),
        id,
    };
    // A segment is paid for, and its body fits the memory budget, before its body is
    // accepted: no unpaid megabytes in memory, and a bounded total over all connections.
    let read = {
        let rx = &mut rx;
        let vet = move |m: Message| async move {
            let Message::SegmentHeader(header) = m else {
                return Ok(());
            };
            i.feed(OrchestratorInput::SegmentHeader {
                request: id,
                peer,
                header,
            });
            match run(i, id, peer, rx, None).await {
                Step::ReadBody => Ok(()),
                Step::Refused(w) => Err(w),
                Step::Done => Err(WireError::new(ErrorCode::Internal, "request ended")),
            }
        };
        read_vetted(&mut recv, ALLOWED, i.config.read_limits.clone(), vet).await
    };
    let a = match read {
        Ok(a) => a,
        Err(NegotiateError::Proto(e)) => {
            debug!(error = %e, "stream refused");
            let _ = recv.stop(1u8.into());
            return send_error(&mut send, e.to_wire()).await;
        }
        Err(NegotiateError::Remote(w)) => {
            let _ = recv.stop(1u8.into());
            return send_error(&mut send, w).await;
        }
        Err(_) => return,
    };
    let input = match a.head {
        Message::JobRequest(job) => OrchestratorInput::JobRequest {
            request: id,
            peer,
            job,
        },
        Message::Subscribe(s) => OrchestratorInput::Subscribe {
            request: id,
            peer,
            job: s.request,
        },
        Message::SegmentHeader(_) => OrchestratorInput::Body {
            request: id,
            body: a.bodies.into_iter().next().unwrap_or_default(),
        },
        _ => {
            let w = WireError::new(ErrorCode::UnexpectedMessage, "unexpected message");
            return send_error(&mut send, w).await;
        }
    };
    i.feed(input);
    if let Step::Refused(w) = run(i, id, peer, &mut rx, Some(&mut send)).await {
        send_error(&mut send, w).await;
    }
}

async fn write_result(
    send: &mut quinn::SendStream,
    head: crate::proto::ResultHeader,
    bodies: &[bytes::Bytes],
) -> Result<(), NegotiateError> {
    write_msg(send, &Message::ResultHeader(head)).await?;
    for b in bodies {
        write_body(send, b).await?;
    }
    Ok(())
}
