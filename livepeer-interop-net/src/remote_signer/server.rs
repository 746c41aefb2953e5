//! The remote signer's HTTP server: go-livepeer's `POST /sign-orchestrator-info` and
//! `POST /generate-live-payment` over any [`Signer`] (a local key, a KMS), with bounded
//! bodies and typed refusals answered as go-livepeer's JSON errors.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use livepeer_core::chain::RoundInfo;
use livepeer_core::clock::Clock;
use livepeer_core::entropy::{EntropySource, OsEntropy, random_32};
use livepeer_core::{Signer, SignerError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info};

use super::payment::{PaymentPolicy, generate_live_payment_with, orch_info_signature};
use super::wire::{ErrorBody, ErrorMessage, LivePaymentRequest, OrchInfoSigResponse};
use crate::error::{NetError, SignerServiceError};
use crate::serve::{DEFAULT_MAX_CONNECTIONS, ServerHandle, spawn_accept_loop};

/// `POST /sign-orchestrator-info`.
pub const SIGN_ORCHESTRATOR_INFO: &str = "/sign-orchestrator-info";
/// `POST /generate-live-payment`.
pub const GENERATE_LIVE_PAYMENT: &str = "/generate-live-payment";
/// The header naming the orchestrator to refresh with a 480 answer.
pub const REFRESH_ORCHESTRATOR_URL_HEADER: &str = "Livepeer-Orchestrator-URL";
/// The default bound on request bodies: an `OrchestratorInfo` (at most 1 MiB) in base64,
/// with room for the state.
pub const DEFAULT_MAX_BODY: usize = 2 * 1024 * 1024;

/// A remote signer serving gateways with one key.
#[derive(Clone)]
pub struct RemoteSignerServer {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    signer: Arc<dyn Signer>,
    orch_sig: OrchInfoSigResponse,
    max_body: usize,
    body_timeout: Duration,
    bearer: Option<String>,
    allow_public_unauthenticated: bool,
    entropy: Arc<dyn EntropySource>,
    clock: Arc<dyn Clock>,
    rounds: Option<Arc<dyn RoundInfo>>,
    policy: PaymentPolicy,
    max_connections: usize,
}

/// The wall clock.
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> std::time::Instant {
        std::time::Instant::now()
    }
    fn unix_time(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
    }
}

/// The risky settings of a [`RemoteSignerServer`].
#[derive(Debug)]
pub struct DangerousSignerConfig<'a>(&'a mut RemoteSignerServer);

impl DangerousSignerConfig<'_> {
    /// Serves without a bearer token on addresses other than loopback. Anyone who reaches
    /// the port can then spend the key's deposit.
    pub fn allow_unauthenticated_public(&mut self) -> &mut Self {
        Arc::make_mut(&mut self.0.inner).allow_public_unauthenticated = true;
        self
    }
}

impl std::fmt::Debug for RemoteSignerServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSignerServer")
            .field("address", &self.inner.orch_sig.address)
            .field("max_body", &self.inner.max_body)
            .field("authenticated", &self.inner.bearer.is_some())
            .finish_non_exhaustive()
    }
}

impl RemoteSignerServer {
    /// A server signing with `signer`. Signs the `GetOrchestrator` material once, now, as
    /// go-livepeer does at start.
    pub fn new(signer: Arc<dyn Signer>) -> Result<Self, SignerError> {
        let orch_sig = orch_info_signature(signer.as_ref()).map_err(|e| match e {
            SignerServiceError::Signer(s) => s,
            other => SignerError::Backend(other.to_string()),
        })?;
        Ok(RemoteSignerServer {
            inner: Arc::new(Inner {
                signer,
                orch_sig,
                max_body: DEFAULT_MAX_BODY,
                body_timeout: Duration::from_secs(10),
                bearer: None,
                allow_public_unauthenticated: false,
                entropy: Arc::new(OsEntropy),
                clock: Arc::new(SystemClock),
                rounds: None,
                policy: PaymentPolicy::default(),
                max_connections: DEFAULT_MAX_CONNECTIONS,
            }),
        })
    }

    /// Sets the bound on request bodies; longer ones get 413 unread.
    pub fn with_max_body(mut self, max: usize) -> Self {
        Arc::make_mut(&mut self.inner).max_body = max;
        self
    }

    /// Requires `Authorization: Bearer <token>` on every request (401 otherwise). A signer
    /// reachable by others must require it.
    pub fn with_bearer_token(mut self, token: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.inner).bearer = Some(token.into());
        self
    }

    /// Sets the bound on open connections ([`DEFAULT_MAX_CONNECTIONS`] by default).
    pub fn with_max_connections(mut self, max: usize) -> Self {
        Arc::make_mut(&mut self.inner).max_connections = max;
        self
    }

    /// Sets the time a client has to send a request body (10 s by default; 408 after).
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.inner).body_timeout = timeout;
        self
    }

    /// Holds orchestrators' ticket params to `policy` (its `l1_block` is replaced by the
    /// chain's when [`RemoteSignerServer::with_round_info`] is set).
    pub fn with_policy(mut self, policy: PaymentPolicy) -> Self {
        Arc::make_mut(&mut self.inner).policy = policy;
        self
    }

    /// Reads the current block from `rounds` for every payment, so expiring ticket params
    /// ask for a refresh (480) as in go-livepeer. A failed read answers 503.
    pub fn with_round_info(mut self, rounds: Arc<dyn RoundInfo>) -> Self {
        Arc::make_mut(&mut self.inner).rounds = Some(rounds);
        self
    }

    /// Reads the time from `clock` instead of the system's.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        Arc::make_mut(&mut self.inner).clock = clock;
        self
    }

    /// Settings that weaken the server's protections.
    pub fn dangerous(&mut self) -> DangerousSignerConfig<'_> {
        DangerousSignerConfig(self)
    }

    /// Draws state ids and manifest ids from `entropy` instead of the OS.
    pub fn with_entropy(mut self, entropy: Arc<dyn EntropySource>) -> Self {
        Arc::make_mut(&mut self.inner).entropy = entropy;
        self
    }

    /// Answers one request.
    pub async fn handle<B>(&self, request: http::Request<B>) -> http::Response<Full<Bytes>>
    where
        B: hyper::body::Body + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = request.uri().path().to_owned();
        let result = self.dispatch(request).await;
        match result {
            Ok(body) => {
                debug!(%path, "remote signer: ok");
                json_response(StatusCode::OK, body)
            }
            Err(e) => {
                info!(%path, status = e.status(), error = %e, "remote signer: refused");
                error_response(&e)
            }
        }
    }

    async fn dispatch<B>(&self, request: http::Request<B>) -> Result<Vec<u8>, SignerServiceError>
    where
        B: hyper::body::Body + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = request.uri().path();
        if path != SIGN_ORCHESTRATOR_INFO && path != GENERATE_LIVE_PAYMENT {
            return Err(SignerServiceError::NotFound);
        }
        if request.method() != Method::POST {
            return Err(SignerServiceError::MethodNotAllowed);
        }
        self.authorize(request.headers())?;
        let sign_info = path == SIGN_ORCHESTRATOR_INFO;
        let body = tokio::time::timeout(
            self.inner.body_timeout,
            read_bounded(request.into_body(), self.inner.max_body),
        )
        .await
        .map_err(|_| SignerServiceError::Timeout)??;
        if sign_info {
            return json(&self.inner.orch_sig);
        }
        let req: LivePaymentRequest = serde_json::from_slice(&body)
            .map_err(|e| SignerServiceError::MalformedJson(e.to_string()))?;
        let fresh =
            random_32(self.inner.entropy.as_ref()).map_err(|e| SignerError::Backend(e.0))?;
        let mut policy = self.inner.policy.clone();
        if let Some(rounds) = &self.inner.rounds {
            let block = rounds
                .current_block()
                .await
                .map_err(|e| SignerServiceError::Chain(e.to_string()))?;
            policy.l1_block = Some(block);
        }
        let now = self.inner.clock.unix_time();
        let resp =
            generate_live_payment_with(self.inner.signer.as_ref(), &req, now, fresh, &policy)?;
        json(&resp)
    }

    fn authorize(&self, headers: &http::HeaderMap) -> Result<(), SignerServiceError> {
        let Some(token) = &self.inner.bearer else {
            return Ok(());
        };
        let given = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if constant_time_eq(given.as_bytes(), token.as_bytes()) {
            Ok(())
        } else {
            Err(SignerServiceError::Unauthorized)
        }
    }

    /// Serves plain HTTP (as go-livepeer's remote signer does) from `listener` on a new
    /// task, until [`ServerHandle::shutdown`].
    pub fn spawn(&self, listener: TcpListener) -> Result<ServerHandle, NetError> {
        self.spawn_inner(listener, None)
    }

    /// Serves HTTPS with `tls` from `listener` on a new task.
    pub fn spawn_tls(
        &self,
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
    ) -> Result<ServerHandle, NetError> {
        self.spawn_inner(listener, Some(TlsAcceptor::from(tls)))
    }

    fn spawn_inner(
        &self,
        listener: TcpListener,
        tls: Option<TlsAcceptor>,
    ) -> Result<ServerHandle, NetError> {
        let addr = listener
            .local_addr()
            .map_err(|e| NetError::Setup(e.to_string()))?;
        if !addr.ip().is_loopback()
            && self.inner.bearer.is_none()
            && !self.inner.allow_public_unauthenticated
        {
            return Err(NetError::Setup(format!(
                "refusing to serve a remote signer on {addr} without a bearer token"
            )));
        }
        let server = self.clone();
        spawn_accept_loop(listener, self.inner.max_connections, move |tcp, peer| {
            let server = server.clone();
            let tls = tls.clone();
            async move {
                match tls {
                    None => server.serve_io(tcp, peer).await,
                    Some(acceptor) => {
                        match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp))
                            .await
                        {
                            Ok(Ok(io)) => server.serve_io(io, peer).await,
                            _ => debug!(%peer, "TLS handshake failed"),
                        }
                    }
                }
            }
        })
    }

    async fn serve_io<I>(&self, io: I, peer: SocketAddr)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let server = self.clone();
        let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
            let server = server.clone();
            async move { Ok::<_, Infallible>(server.handle(req).await) }
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        // Slow clients get 10 s to send their headers.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10));
        if let Err(e) = builder.serve_connection(TokioIo::new(io), service).await {
            debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// Reads a body of at most `max` bytes; a longer one is [`SignerServiceError::BodyTooLarge`]
/// (checked against `Content-Length` first where the body states its size).
pub(crate) async fn read_bounded<B>(body: B, max: usize) -> Result<Bytes, SignerServiceError>
where
    B: hyper::body::Body + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if let Some(upper) = body.size_hint().exact()
        && upper > max as u64
    {
        return Err(SignerServiceError::BodyTooLarge { max });
    }
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(SignerServiceError::BodyTooLarge { max })
        }
        Err(e) => Err(SignerServiceError::Transport(e.to_string())),
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, SignerServiceError> {
    serde_json::to_vec(value).map_err(|e| SignerServiceError::BadAnswer(e.to_string()))
}

fn json_response(status: StatusCode, body: Vec<u8>) -> http::Response<Full<Bytes>> {
    let mut resp = http::Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn error_response(e: &SignerServiceError) -> http::Response<Full<Bytes>> {
    let body = ErrorBody {
        error: ErrorMessage {
            message: e.to_string(),
        },
    };
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json_response(status, serde_json::to_vec(&body).unwrap_or_default());
    if let SignerServiceError::RefreshSession {
        orchestrator_url: Some(url),
    } = e
        && let Ok(v) = HeaderValue::from_str(url)
    {
        resp.headers_mut()
            .insert(REFRESH_ORCHESTRATOR_URL_HEADER, v);
    }
    resp
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
