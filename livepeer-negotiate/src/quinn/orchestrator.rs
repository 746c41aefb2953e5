//! The orchestrator server: binds peers to their addresses, quotes, takes paid segments,
//! hands them to its pool, signs receipts and streams renditions back; also accepts
//! remote transcoders into its pool.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use livepeer_core::transcode::{TranscodeJob, Transcoder};
use livepeer_core::{
    Address, H256, PixelPrice, Receipt, Region, Segment, ServiceId, Signer, keccak256,
};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::NegotiateError;
use super::admission::{Admission, AdmissionLimits, HandshakeGuard, Verdict};
use super::pool::{Pool, RemoteTranscoder, metas};
use super::wire::{bind_server, read_assembled, read_vetted, send_error, write_body, write_msg};
use crate::payment::{PaymentError, PaymentValidator};
use crate::proto::{
    ALPN, CapacityMeter, ErrorCode, JobRequest, Message, MessageType, POOL_ALPN, PriceBook, Quote,
    ReadLimits, Registered, ResultHeader, Role, SegmentHeader, SignedJobRequest, WireError,
    fee_estimate, ladder_rate,
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
    prices: RwLock<PriceBook>,
    capacity: Mutex<CapacityMeter>,
    pool: Arc<Pool>,
    config: OrchestratorConfig,
    connections: AtomicUsize,
    bodies: Arc<AtomicU64>,
    updates: watch::Sender<u64>,
}

/// Segment body bytes reserved against [`OrchestratorConfig::max_body_bytes_in_flight`];
/// given back when dropped.
struct BodyPermit {
    held: Arc<AtomicU64>,
    bytes: u64,
}

impl Drop for BodyPermit {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Reserves `bytes` of the body budget, or `None` when they do not fit.
fn reserve_body(i: &Inner, bytes: u64) -> Option<BodyPermit> {
    let budget = i.config.max_body_bytes_in_flight;
    i.bodies
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
            held.checked_add(bytes).filter(|&n| n <= budget)
        })
        .ok()
        .map(|_| BodyPermit {
            held: i.bodies.clone(),
            bytes,
        })
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

/// Builds an [`Orchestrator`]; the signer, the payment validator and the price are required.
pub struct OrchestratorBuilder {
    signer: Arc<dyn Signer>,
    payments: Arc<dyn PaymentValidator>,
    prices: PriceBook,
    config: OrchestratorConfig,
    local: Vec<(Arc<dyn Transcoder>, u64, u32)>,
}

impl Orchestrator {
    /// A builder for an orchestrator signing with `signer`, validating tickets with
    /// `payments` and charging `price` per pixel.
    pub fn builder(
        signer: Arc<dyn Signer>,
        payments: Arc<dyn PaymentValidator>,
        price: PixelPrice,
    ) -> OrchestratorBuilder {
        OrchestratorBuilder {
            signer,
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
        if let Ok(mut p) = self.inner.prices.write() {
            p.set_base(price);
        }
        self.inner.updates.send_modify(|v| *v += 1);
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// Segment body bytes admitted and not yet answered, over all connections.
    pub fn body_bytes_in_flight(&self) -> u64 {
        self.inner.bodies.load(Ordering::Acquire)
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
        let inner = Arc::new(Inner {
            signer: self.signer,
            payments: self.payments,
            prices: RwLock::new(self.prices),
            capacity: Mutex::new(CapacityMeter::new(0)),
            pool,
            config: self.config,
            connections: AtomicUsize::new(0),
            bodies: Arc::new(AtomicU64::new(0)),
            updates: watch::channel(0).0,
        });
        let ep = endpoint.clone();
        let i = inner.clone();
        let c = &inner.config;
        let admission = Admission::new(AdmissionLimits {
            max_connections: c.max_connections,
            max_handshakes: c.max_handshakes,
            max_handshakes_per_source: c.max_handshakes_per_source,
            retry_above_handshakes: c.retry_above_handshakes,
        });
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
    let peer = bind_server(&conn, &*i.signer, Role::Transcoder, limits.clone()).await?;
    if !i.config.allowed_transcoders.contains(&peer) {
        conn.close(3u8.into(), b"not authorized");
        return Err(crate::proto::IdentityError::NotAuthorized(peer).into());
    }
    let (mut send, mut recv) = conn.accept_bi().await.map_err(NegotiateError::transport)?;
    let a = read_assembled(&mut recv, &[MessageType::Register], limits.clone()).await?;
    let Message::Register(reg) = a.head else {
        return Err(NegotiateError::Transport("no register".into()));
    };
    if i.config.transcoder_secret.is_some() && reg.secret != i.config.transcoder_secret {
        send_error(
            &mut send,
            WireError::new(ErrorCode::Unauthorized, "bad secret"),
        )
        .await;
        conn.close(3u8.into(), b"not authorized");
        return Err(NegotiateError::Identity(
            crate::proto::IdentityError::NotAuthorized(peer),
        ));
    }
    if reg.capacity_pps == 0 {
        send_error(
            &mut send,
            WireError::new(ErrorCode::Malformed, "zero capacity"),
        )
        .await;
        return Ok(());
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

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
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
    // A segment is paid for, and its body fits the memory budget, before its body is
    // accepted: no unpaid megabytes in memory, and a bounded total over all connections.
    // The permit is held until this stream is answered.
    let permit = Mutex::new(None);
    let vet = |m: Message| {
        let permit = &permit;
        async move {
            match &m {
                Message::SegmentHeader(h) => admit(i, peer, h, permit).await,
                _ => Ok(()),
            }
        }
    };
    let a = match read_vetted(&mut recv, ALLOWED, i.config.read_limits.clone(), vet).await {
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
    let r = match a.head {
        Message::JobRequest(req) => match quote(i, peer, &req).await {
            Ok(q) => write_msg(&mut send, &Message::Quote(q)).await,
            Err(w) => Err(NegotiateError::Remote(w)),
        },
        Message::Subscribe(s) => subscribe(i, peer, &s.request, &mut send).await,
        Message::SegmentHeader(h) => {
            let body = a.bodies.into_iter().next().unwrap_or_default();
            match segment(i, peer, h, body).await {
                Ok((head, bodies)) => write_result(&mut send, head, bodies).await,
                Err(w) => Err(NegotiateError::Remote(w)),
            }
        }
        _ => Err(NegotiateError::Remote(WireError::new(
            ErrorCode::UnexpectedMessage,
            "unexpected message",
        ))),
    };
    match r {
        Ok(()) => {
            let _ = send.finish();
        }
        Err(NegotiateError::Remote(w)) => send_error(&mut send, w).await,
        Err(e) => debug!(error = %e, "stream failed"),
    }
}

fn check_request(i: &Inner, peer: Address, req: &SignedJobRequest) -> Result<(), WireError> {
    let r: &JobRequest = &req.request;
    if r.broadcaster != peer || !req.verify() {
        return Err(WireError::new(
            ErrorCode::Unauthorized,
            "request not signed by the connection's broadcaster",
        ));
    }
    if !i.config.services.contains(&r.service) {
        return Err(WireError::new(
            ErrorCode::ServiceUnavailable,
            format!("service {} not offered", r.service),
        ));
    }
    if !i.config.regions.iter().any(|g| g.serves(&r.region)) {
        return Err(WireError::new(
            ErrorCode::ServiceUnavailable,
            format!("region {} not served", r.region),
        ));
    }
    Ok(())
}

fn payment_wire(e: PaymentError) -> WireError {
    let code = match e {
        PaymentError::LowPMBalance | PaymentError::SenderFunds(_) => ErrorCode::LowPMBalance,
        PaymentError::TicketParamsExpired => ErrorCode::TicketParamsExpired,
        PaymentError::InvalidTicket(_) => ErrorCode::InvalidTicket,
        _ => ErrorCode::Internal,
    };
    WireError::new(code, e.to_string())
}

async fn quote(i: &Inner, peer: Address, req: &SignedJobRequest) -> Result<Quote, WireError> {
    check_request(i, peer, req)?;
    let price = i
        .prices
        .read()
        .map(|p| p.price_for(&peer))
        .map_err(|_| WireError::new(ErrorCode::Internal, "price book"))?;
    let ticket_params = i
        .payments
        .quote_params(peer, price)
        .await
        .map_err(payment_wire)?;
    let free = {
        let mut c = i.capacity.lock().unwrap_or_else(|e| e.into_inner());
        c.set_capacity(i.pool.capacity());
        c.free()
    };
    Ok(Quote {
        orchestrator: i.signer.address(),
        price,
        ticket_params,
        capacity_pps: free,
        expires_unix_ms: unix_ms() + i.config.quote_ttl.as_millis() as u64,
    })
}

async fn subscribe(
    i: &Inner,
    peer: Address,
    req: &SignedJobRequest,
    send: &mut quinn::SendStream,
) -> Result<(), NegotiateError> {
    let mut rx = i.updates.subscribe();
    loop {
        let q = quote(i, peer, req).await.map_err(NegotiateError::Remote)?;
        write_msg(send, &Message::QuoteUpdate(q)).await?;
        // Refresh before the quote runs out even if nothing changes.
        let refresh = i.config.quote_ttl / 2;
        tokio::select! {
            r = rx.changed() => if r.is_err() { return Ok(()) },
            _ = tokio::time::sleep(refresh) => {}
            _ = send.stopped() => return Ok(()),
        }
    }
}

/// Vets a segment header before its body is read: bounds, ticket sender and recipient, room
/// in the body budget (the permit goes to `permit`), and the payment covering the fee
/// estimate.
async fn admit(
    i: &Inner,
    peer: Address,
    h: &SegmentHeader,
    permit: &Mutex<Option<BodyPermit>>,
) -> Result<(), WireError> {
    if h.duration_ms == 0 || h.duration() > livepeer_core::media::MAX_SEGMENT_DURATION {
        return Err(WireError::new(
            ErrorCode::InvalidInput,
            "segment duration out of bounds",
        ));
    }
    if h.body_len == 0 || h.body_len > livepeer_core::media::MAX_SEGMENT_BYTES as u64 {
        return Err(WireError::new(
            ErrorCode::InvalidInput,
            "segment size out of bounds",
        ));
    }
    if let Some(b) = &h.payment {
        if b.sender != peer {
            return Err(WireError::new(
                ErrorCode::InvalidTicket,
                "tickets from another sender",
            ));
        }
        if b.params.recipient != i.signer.address() {
            return Err(WireError::new(
                ErrorCode::InvalidTicket,
                "tickets pay another recipient",
            ));
        }
    }
    // Reserved before the payment is taken, so a refusal here leaves the broadcaster's
    // credit untouched; a refused payment drops the reservation.
    let reserved = reserve_body(i, h.body_len).ok_or_else(|| {
        WireError::new(
            ErrorCode::OrchestratorCapped,
            "segment memory budget full; try later",
        )
    })?;
    let price = i
        .prices
        .read()
        .map(|p| p.price_for(&peer))
        .map_err(|_| WireError::new(ErrorCode::Internal, "price book"))?;
    let estimate = fee_estimate(&price, &h.ladder, h.duration());
    i.payments
        .accept(h.payment.as_ref(), peer, h.stream_id, estimate)
        .await
        .map_err(payment_wire)?;
    *permit.lock().unwrap_or_else(|e| e.into_inner()) = Some(reserved);
    Ok(())
}

async fn segment(
    i: &Inner,
    peer: Address,
    h: SegmentHeader,
    body: Bytes,
) -> Result<(Message, Vec<Bytes>), WireError> {
    let seg = Segment {
        seq: h.seq,
        duration: h.duration(),
        data: body,
        container: h.container,
        codec: h.codec,
    };
    seg.check_bounds()
        .map_err(|e| WireError::new(ErrorCode::InvalidInput, e.to_string()))?;
    if seg.keccak() != h.input_hash {
        return Err(WireError::new(
            ErrorCode::InvalidInput,
            "body does not hash to input_hash",
        ));
    }
    let price = i
        .prices
        .read()
        .map(|p| p.price_for(&peer))
        .map_err(|_| WireError::new(ErrorCode::Internal, "price book"))?;
    let rate = ladder_rate(&h.ladder);
    {
        let mut c = i.capacity.lock().unwrap_or_else(|e| e.into_inner());
        c.set_capacity(i.pool.capacity());
        if !c.try_reserve(rate) {
            return Err(WireError::new(
                ErrorCode::OrchestratorCapped,
                "OrchestratorCapped",
            ));
        }
    }
    let input_hash = h.input_hash;
    let job = TranscodeJob {
        stream_id: h.stream_id,
        segment: seg,
        ladder: h.ladder.clone(),
    };
    let out = i.pool.run(job).await;
    i.capacity
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .release(rate);
    let out = out.map_err(|e| {
        warn!(seq = h.seq, error = ?e, "segment failed");
        e.to_wire()
    })?;
    i.payments
        .debit(peer, h.stream_id, price.fee(out.total_pixels()));
    debug!(seq = h.seq, broadcaster = ?peer, "segment transcoded");
    let receipt = Receipt {
        orchestrator: i.signer.address(),
        broadcaster: peer,
        stream_id: h.stream_id,
        seq: h.seq,
        input_hash,
        profile_ids: h.ladder.ids(),
        output_hashes: out
            .renditions
            .iter()
            .map(|r| H256::from(keccak256(&r.data)))
            .collect(),
        pixels: out.renditions.iter().map(|r| r.pixels.0).collect(),
    }
    .sign(&*i.signer)
    .map_err(|e| WireError::new(ErrorCode::Internal, e.to_string()))?;
    let head = Message::ResultHeader(ResultHeader {
        receipt,
        renditions: metas(&out),
        source_frames: out.source_frames,
    });
    Ok((head, out.renditions.into_iter().map(|r| r.data).collect()))
}

async fn write_result(
    send: &mut quinn::SendStream,
    head: Message,
    bodies: Vec<Bytes>,
) -> Result<(), NegotiateError> {
    write_msg(send, &head).await?;
    for b in &bodies {
        write_body(send, b).await?;
    }
    Ok(())
}
