//! The orchestrator's TLS port: gRPC `net.Orchestrator/GetOrchestrator` and any HTTP routes
//! on one listener, as go-livepeer serves them (`server/rpc.go`: HTTP/2 requests whose
//! content type is `application/grpc*` go to gRPC, the rest to the HTTP mux).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use livepeer_core::Address;
use livepeer_interop::messages::{OrchestratorInfo, OrchestratorRequest};
use livepeer_interop::verify_orchestrator_request;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tonic::body::Body;
use tonic::server::{Grpc, UnaryService};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;
use tracing::{debug, info_span};

use super::info::{InfoRefusal, InfoSource};
use crate::error::NetError;
use crate::grpc::{GET_ORCHESTRATOR, MAX_REQUEST_LEN, is_grpc};
use crate::serve::{DEFAULT_MAX_CONNECTIONS, ServerHandle, spawn_accept_loop};

/// How the server treats the gateway's signature in `GetOrchestrator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestCheck {
    /// The signature must be the requester's personal signature over its own address (an
    /// on-chain go-livepeer orchestrator's check). The default.
    Signature,
    /// Any request is answered, signed or not (an off-chain go-livepeer orchestrator).
    /// Reached through [`OrchestratorServer::dangerous`].
    AcceptUnsigned,
}

/// A boxed future answering an HTTP request.
pub type HttpFuture = Pin<Box<dyn Future<Output = http::Response<Body>> + Send>>;

/// HTTP routes served beside gRPC on the orchestrator's port (`/segment`, `/payment`, …):
/// every request that is not `application/grpc*` goes here.
///
/// Contract: `handle` must answer every request, with 404 for paths it does not serve; the
/// body is the raw [`Incoming`] stream, so the route bounds what it reads.
pub trait HttpRoutes: Send + Sync {
    /// Answers one request.
    fn handle(&self, request: http::Request<Incoming>) -> HttpFuture;
}

/// The orchestrator's port: answers `GetOrchestrator` from an [`InfoSource`] and hands the
/// rest to [`HttpRoutes`].
#[derive(Clone)]
pub struct OrchestratorServer {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    source: Arc<dyn InfoSource>,
    check: RequestCheck,
    http: Option<Arc<dyn HttpRoutes>>,
    handshake_timeout: Duration,
    max_connections: usize,
}

impl std::fmt::Debug for OrchestratorServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrchestratorServer")
            .field("check", &self.inner.check)
            .field("http", &self.inner.http.is_some())
            .finish_non_exhaustive()
    }
}

/// The risky settings of an [`OrchestratorServer`].
#[derive(Debug)]
pub struct DangerousServerConfig<'a>(&'a mut OrchestratorServer);

impl DangerousServerConfig<'_> {
    /// Answers `GetOrchestrator` without checking the requester's signature, as an
    /// off-chain go-livepeer orchestrator does.
    pub fn accept_unsigned(&mut self) -> &mut Self {
        self.0.inner_mut().check = RequestCheck::AcceptUnsigned;
        self
    }
}

impl OrchestratorServer {
    /// A server answering from `source`, checking signatures, with no HTTP routes.
    pub fn new(source: Arc<dyn InfoSource>) -> Self {
        OrchestratorServer {
            inner: Arc::new(Inner {
                source,
                check: RequestCheck::Signature,
                http: None,
                handshake_timeout: Duration::from_secs(10),
                max_connections: DEFAULT_MAX_CONNECTIONS,
            }),
        }
    }

    /// Serves `routes` for every request that is not gRPC.
    pub fn with_http_routes(mut self, routes: Arc<dyn HttpRoutes>) -> Self {
        self.inner_mut().http = Some(routes);
        self
    }

    /// Sets the bound on open connections ([`DEFAULT_MAX_CONNECTIONS`] by default).
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.inner_mut().max_connections = max;
        self
    }

    /// Sets the time a client has to complete the TLS handshake.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.inner_mut().handshake_timeout = timeout;
        self
    }

    /// Settings that weaken the server's checks.
    pub fn dangerous(&mut self) -> DangerousServerConfig<'_> {
        DangerousServerConfig(self)
    }

    /// How requests are checked.
    pub fn request_check(&self) -> RequestCheck {
        self.inner.check
    }

    fn inner_mut(&mut self) -> &mut Inner {
        // Settings are made before the server is shared; a clone made earlier keeps its own.
        Arc::make_mut(&mut self.inner)
    }

    /// Answers one `GetOrchestrator` request: checks the signature (per
    /// [`RequestCheck`]) and asks the source ([`InfoSource::orchestrator_info`]).
    pub fn answer(&self, request: &OrchestratorRequest) -> Result<OrchestratorInfo, Status> {
        let gateway = self.requester(request)?;
        self.inner
            .source
            .orchestrator_info(gateway, request)
            .map_err(refusal_status)
    }

    /// As [`Self::answer`], asking the source through
    /// [`InfoSource::orchestrator_info_async`]: what the server does on its port.
    pub async fn answer_async(
        &self,
        request: &OrchestratorRequest,
    ) -> Result<OrchestratorInfo, Status> {
        let gateway = self.requester(request)?;
        self.inner
            .source
            .orchestrator_info_async(gateway, request)
            .await
            .map_err(refusal_status)
    }

    fn requester(&self, request: &OrchestratorRequest) -> Result<Address, Status> {
        match self.inner.check {
            RequestCheck::Signature => verify_orchestrator_request(request).map_err(|e| {
                debug!(error = %e, "GetOrchestrator: bad request signature");
                // go-livepeer's wording, so Go and Python gateways show the same error.
                Status::unknown(format!(
                    "Invalid orchestrator request: orchestrator req sig check failed ({e})"
                ))
            }),
            RequestCheck::AcceptUnsigned => Ok(if request.address.len() == 20 {
                Address::from_slice(&request.address)
            } else {
                Address::zero()
            }),
        }
    }

    /// Answers one HTTP request (gRPC or not) as the server does on its port; for tests and
    /// for embedding in another server.
    pub async fn route(&self, request: http::Request<Incoming>) -> http::Response<Body> {
        if is_grpc(request.headers()) {
            return self.grpc(request).await;
        }
        match &self.inner.http {
            Some(routes) => routes.handle(request).await,
            None => not_found(),
        }
    }

    async fn grpc(&self, request: http::Request<Incoming>) -> http::Response<Body> {
        match request.uri().path() {
            GET_ORCHESTRATOR => {
                let codec = ProstCodec::<OrchestratorInfo, OrchestratorRequest>::default();
                let mut grpc = Grpc::new(codec).max_decoding_message_size(MAX_REQUEST_LEN);
                grpc.unary(GetOrchestratorService(self.clone()), request)
                    .await
            }
            path => {
                debug!(path, "gRPC: no such method");
                Status::unimplemented(format!("no method {path}")).into_http()
            }
        }
    }

    /// Serves TLS connections from `listener` with `tls` on a new task, until
    /// [`ServerHandle::shutdown`] (dropping the handle leaves the server running).
    pub fn spawn(
        &self,
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
    ) -> Result<ServerHandle, NetError> {
        let server = self.clone();
        let acceptor = TlsAcceptor::from(tls);
        spawn_accept_loop(listener, self.inner.max_connections, move |tcp, peer| {
            let server = server.clone();
            let acceptor = acceptor.clone();
            async move { server.serve_connection(tcp, peer, acceptor).await }
        })
    }

    async fn serve_connection(
        &self,
        tcp: tokio::net::TcpStream,
        peer: SocketAddr,
        acceptor: TlsAcceptor,
    ) {
        let span = info_span!("orchestrator_conn", %peer);
        let _ = tcp.set_nodelay(true);
        let tls =
            match tokio::time::timeout(self.inner.handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    span.in_scope(|| debug!(error = %e, "TLS handshake failed"));
                    return;
                }
                Err(_) => {
                    span.in_scope(|| debug!("TLS handshake timed out"));
                    return;
                }
            };
        let server = self.clone();
        let service = hyper::service::service_fn(move |req| {
            let server = server.clone();
            async move { Ok::<_, Infallible>(server.route(req).await) }
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        // HTTP/1 clients get 10 s to send their headers.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10));
        if let Err(e) = builder.serve_connection(TokioIo::new(tls), service).await {
            span.in_scope(|| debug!(error = %e, "connection ended with an error"));
        }
    }
}

struct GetOrchestratorService(OrchestratorServer);

impl UnaryService<OrchestratorRequest> for GetOrchestratorService {
    type Response = OrchestratorInfo;
    type Future = Pin<Box<dyn Future<Output = Result<Response<OrchestratorInfo>, Status>> + Send>>;

    fn call(&mut self, request: Request<OrchestratorRequest>) -> Self::Future {
        let server = self.0.clone();
        Box::pin(async move {
            server
                .answer_async(request.get_ref())
                .await
                .map(Response::new)
        })
    }
}

fn refusal_status(refusal: InfoRefusal) -> Status {
    match refusal {
        InfoRefusal::Capped => Status::unknown("Invalid orchestrator request: OrchestratorCapped"),
        InfoRefusal::Refused(m) => Status::permission_denied(m),
        InfoRefusal::Unavailable(m) => Status::unavailable(m),
    }
}

fn not_found() -> http::Response<Body> {
    let mut resp = http::Response::new(Body::new(Full::new(Bytes::from_static(
        b"404 page not found\n",
    ))));
    *resp.status_mut() = http::StatusCode::NOT_FOUND;
    resp
}
