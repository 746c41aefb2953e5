//! go-livepeer's protocol beside QUIC (feature `livepeer`): the orchestrator's TLS port
//! answering go-livepeer gateways' `GetOrchestrator` with this node's info (its ticket
//! params, price, address and an auth token), their `POST /segment` with the node's
//! payments, winners' queue and transcoder pool, and their `POST /payment` with its
//! payments alone, and serving the renditions for `GET`. Started by
//! [`crate::OrchestratorBuilder::livepeer`]; stopped when the node closes.
//!
//! The gateway side: [`LivepeerGateway`] streams to go-livepeer orchestrators, and
//! [`crate::BroadcasterNode::stream_mixed`] to them and to ours over QUIC in one stream.

mod auth;
pub mod gateway;
mod mixed;
pub mod renditions;
mod segment;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use livepeer_core::{Address, PixelPrice, Signer, Wei};
use livepeer_interop::messages::{OrchestratorInfo, OrchestratorRequest, Payment, SegData};
use livepeer_interop::payment::{price_to_info, ticket_params_to_wire};
use livepeer_interop_net::orchestrator::{
    InfoFuture, PaymentFuture, PaymentRoute, PaymentSink, SegmentRoute,
};
use livepeer_interop_net::{InfoRefusal, InfoSource, OrchestratorServer, SelfSignedCert};
use livepeer_interop_net::{ServerHandle, tls::Fingerprint};
use livepeer_negotiate::payment::PaymentValidator as _;
use livepeer_negotiate::quinn::Pool;
use livepeer_negotiate::{PaymentError, PmValidator};
use tracing::info;

use crate::error::{NodeError, Result};
use crate::ops::Health;
use auth::Tokens;
pub use gateway::{GatewayBuilder, LivepeerGateway};
pub use renditions::{RenditionRoute, Renditions, Retention};

/// The default bound on a segment's body (go-livepeer's segments are a few MB).
pub const DEFAULT_MAX_SEGMENT: usize = 64 * 1024 * 1024;

/// How the go-livepeer port is served.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LivepeerConfig {
    /// Where it listens: a routable address (go-livepeer gateways refuse `0.0.0.0` and
    /// `localhost` in the transcoder URI); port 0 picks one.
    pub listen: SocketAddr,
    /// The bound on a segment's body (413 beyond it).
    pub max_segment: usize,
    /// How many renditions are kept for gateways to download.
    pub retention: Retention,
}

impl LivepeerConfig {
    /// Serving at `listen` with the default bounds.
    pub fn new(listen: SocketAddr) -> Self {
        LivepeerConfig {
            listen,
            max_segment: DEFAULT_MAX_SEGMENT,
            retention: Retention::default(),
        }
    }
}

/// What the port's answers are made from.
pub(crate) struct Shared {
    pub(crate) signer: Arc<dyn Signer>,
    pub(crate) payments: Arc<PmValidator>,
    pub(crate) pool: Arc<Pool>,
    pub(crate) health: Arc<Health>,
    pub(crate) price: Mutex<PixelPrice>,
    pub(crate) uri: String,
    pub(crate) tokens: Tokens,
    pub(crate) renditions: Renditions,
}

impl Shared {
    pub(crate) fn price(&self) -> PixelPrice {
        *self.price.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This node's info for `gateway`: fresh ticket params (the recipient's commitment to
    /// its random number, never the number), the price, the address and a new auth token.
    pub(crate) async fn info(&self, gateway: Address) -> Result<OrchestratorInfo, InfoRefusal> {
        if self.health.is_draining() {
            return Err(InfoRefusal::Capped);
        }
        let price = self.price();
        // A gateway refused for its funds has them read again by the validator (at most
        // every FUNDS_RETRY_AFTER), so a deposit made after a first refusal is seen.
        let params = self
            .payments
            .quote_params(gateway, price)
            .await
            .map_err(|e| match e {
                PaymentError::Backend(m) => InfoRefusal::Unavailable(m),
                other => InfoRefusal::Refused(other.to_string()),
            })?;
        let unrepresentable = |e: livepeer_interop::InteropError| {
            InfoRefusal::Unavailable(format!("ticket params or price: {e}"))
        };
        Ok(OrchestratorInfo {
            transcoder: self.uri.clone(),
            ticket_params: Some(ticket_params_to_wire(&params, true).map_err(unrepresentable)?),
            price_info: Some(price_to_info(&price).map_err(unrepresentable)?),
            address: self.signer.address().as_bytes().to_vec(),
            auth_token: Some(self.tokens.issue().map_err(InfoRefusal::Unavailable)?),
            ..OrchestratorInfo::default()
        })
    }
}

struct Source(Arc<Shared>);

impl InfoSource for Source {
    fn orchestrator_info(
        &self,
        gateway: Address,
        _request: &OrchestratorRequest,
    ) -> Result<OrchestratorInfo, InfoRefusal> {
        // Without a chain read (the gateway's funds are known) the answer is ready at once.
        let mut fut = std::pin::pin!(self.0.info(gateway));
        match fut
            .as_mut()
            .poll(&mut Context::from_waker(std::task::Waker::noop()))
        {
            Poll::Ready(r) => r,
            Poll::Pending => Err(InfoRefusal::Unavailable(
                "the gateway's funds are being read; ask again".into(),
            )),
        }
    }

    fn orchestrator_info_async<'a>(
        &'a self,
        gateway: Address,
        _request: &'a OrchestratorRequest,
    ) -> InfoFuture<'a> {
        Box::pin(self.0.info(gateway))
    }
}

/// `POST /payment`: tickets without a segment (live gateways and Livepeer's Python SDK top
/// up a session's credit with it), checked and credited as a segment's are.
struct Payments(Arc<Shared>);

impl PaymentSink for Payments {
    fn process_payment(
        &self,
        _sender: Address,
        _payment: &Payment,
        _seg: &SegData,
    ) -> Result<OrchestratorInfo, String> {
        // Crediting may persist winners, which is awaited: only the route's asynchronous
        // call is served.
        Err("payments are processed through the asynchronous route".into())
    }

    fn process_payment_async<'a>(
        &'a self,
        sender: Address,
        payment: &'a Payment,
        seg: &'a SegData,
    ) -> PaymentFuture<'a> {
        Box::pin(async move {
            let token = seg.auth_token.as_ref().ok_or("missing auth token")?;
            self.0.tokens.check(token)?;
            segment::credit(&self.0, sender, payment, &token.session_id, Wei::ZERO)
                .await
                .map_err(|r| r.message)?;
            self.0.info(sender).await.map_err(|r| format!("{r:?}"))
        })
    }
}

/// The running go-livepeer port of an orchestrator node.
pub struct LivepeerPort {
    shared: Arc<Shared>,
    handle: Mutex<Option<ServerHandle>>,
    addr: SocketAddr,
    fingerprint: Fingerprint,
}

impl std::fmt::Debug for LivepeerPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivepeerPort")
            .field("addr", &self.addr)
            .field("uri", &self.shared.uri)
            .finish_non_exhaustive()
    }
}

impl LivepeerPort {
    /// Binds `config.listen`, makes a self-signed certificate naming its host (as
    /// go-livepeer does) and serves gRPC discovery, `/segment` and the renditions.
    pub(crate) async fn start(
        config: &LivepeerConfig,
        signer: Arc<dyn Signer>,
        payments: Arc<PmValidator>,
        pool: Arc<Pool>,
        health: Arc<Health>,
        price: PixelPrice,
    ) -> Result<Self> {
        let at = config.listen;
        if at.ip().is_unspecified() {
            return Err(NodeError::Config(format!(
                "go-livepeer port {at}: gateways need a routable address, not {}",
                at.ip()
            )));
        }
        let listener = tokio::net::TcpListener::bind(at)
            .await
            .map_err(|e| NodeError::Config(format!("go-livepeer port {at}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| NodeError::Config(format!("go-livepeer port {at}: {e}")))?;
        let host = addr.ip().to_string();
        let cert = SelfSignedCert::generate(&[host.as_str()])
            .map_err(|e| NodeError::Config(format!("go-livepeer certificate: {e}")))?;
        let tls = cert
            .server_config()
            .map_err(|e| NodeError::Config(format!("go-livepeer TLS: {e}")))?;
        let renditions = Renditions::new(config.retention);
        let shared = Arc::new(Shared {
            signer,
            payments,
            pool,
            health,
            price: Mutex::new(price),
            uri: format!("https://{addr}"),
            tokens: Tokens::new().map_err(NodeError::Config)?,
            renditions: renditions.clone(),
        });
        let segments = SegmentRoute::new(Arc::new(segment::Handler(shared.clone())))
            .with_max_body(config.max_segment)
            .with_next(Arc::new(RenditionRoute::new(renditions)));
        let routes =
            PaymentRoute::new(Arc::new(Payments(shared.clone()))).with_next(Arc::new(segments));
        let handle = OrchestratorServer::new(Arc::new(Source(shared.clone())))
            .with_http_routes(Arc::new(routes))
            .spawn(listener, tls)
            .map_err(|e| NodeError::Config(format!("go-livepeer port {at}: {e}")))?;
        info!(uri = %shared.uri, "serving go-livepeer gateways");
        Ok(LivepeerPort {
            shared,
            handle: Mutex::new(Some(handle)),
            addr,
            fingerprint: cert.fingerprint(),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The transcoder URI it answers in `GetOrchestrator`: `https://ip:port`.
    pub fn uri(&self) -> &str {
        &self.shared.uri
    }

    /// The SHA-256 of its certificate, for gateways that pin it ahead of time.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The renditions kept for download.
    pub fn renditions(&self) -> &Renditions {
        &self.shared.renditions
    }

    /// Changes the price it answers and charges.
    pub(crate) fn set_price(&self, price: PixelPrice) {
        *self.shared.price.lock().unwrap_or_else(|e| e.into_inner()) = price;
    }

    /// Stops serving: closes the listener and every open connection.
    pub(crate) fn close(&self) {
        if let Some(h) = self.handle.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.abort();
        }
    }
}

impl Drop for LivepeerPort {
    fn drop(&mut self) {
        self.close();
    }
}
