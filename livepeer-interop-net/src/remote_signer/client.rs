//! A gateway's client of a remote signer (go-livepeer's, or
//! [`RemoteSignerServer`](super::RemoteSignerServer)): the `GetOrchestrator` signature and
//! live payments.

use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use livepeer_core::{Address, Signature};

use super::server::{
    GENERATE_LIVE_PAYMENT, REFRESH_ORCHESTRATOR_URL_HEADER, SIGN_ORCHESTRATOR_INFO, read_bounded,
};
use super::wire::{ErrorBody, LivePaymentRequest, LivePaymentResponse, OrchInfoSigResponse};
use crate::error::SignerServiceError;

/// The longest answer read from a signer.
pub const MAX_ANSWER: usize = 4 * 1024 * 1024;

/// The gateway's `GetOrchestrator` material from a remote signer, checked: `signature` is
/// `address`'s signature over its own address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerMaterial {
    /// The gateway's address.
    pub address: Address,
    /// Its personal signature over keccak256 of its EIP-55 address string.
    pub signature: Signature,
}

/// A client of one remote signer over plain HTTP (go-livepeer's remote signer serves no
/// TLS; put one behind a TLS proxy on untrusted networks). Cloning shares connections.
#[derive(Clone)]
pub struct RemoteSignerClient {
    origin: String,
    client: Client<HttpConnector, Full<Bytes>>,
    headers: HeaderMap,
    timeout: Duration,
}

impl std::fmt::Debug for RemoteSignerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers may carry credentials: only their number is shown.
        f.debug_struct("RemoteSignerClient")
            .field("origin", &self.origin)
            .field("headers", &self.headers.len())
            .finish_non_exhaustive()
    }
}

impl RemoteSignerClient {
    /// A client of the signer at `url` (`http://host:port`; a path is ignored, as the
    /// Python SDK ignores it).
    pub fn new(url: &str) -> Result<Self, SignerServiceError> {
        let bad = |why: &str| SignerServiceError::Transport(format!("signer URL {url:?}: {why}"));
        let uri = Uri::from_str(url).map_err(|_| bad("not a URI"))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad("only http:// is supported"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        Ok(RemoteSignerClient {
            origin: format!("http://{authority}"),
            client: Client::builder(TokioExecutor::new()).build_http(),
            headers: HeaderMap::new(),
            timeout: Duration::from_secs(5),
        })
    }

    /// Sends `name: value` with every request (credentials the signer requires).
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, SignerServiceError> {
        let bad = || SignerServiceError::Transport(format!("invalid header {name:?}"));
        let name = HeaderName::from_str(name).map_err(|_| bad())?;
        let mut value = HeaderValue::from_str(value).map_err(|_| bad())?;
        value.set_sensitive(true);
        self.headers.insert(name, value);
        Ok(self)
    }

    /// Sets the time allowed per request (5 s by default, as the Python SDK).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The signer's origin, `http://host:port`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `POST /sign-orchestrator-info`: the gateway's address and `GetOrchestrator`
    /// signature, checked against each other.
    pub async fn sign_orchestrator_info(&self) -> Result<SignerMaterial, SignerServiceError> {
        let body = self.post(SIGN_ORCHESTRATOR_INFO, b"{}".to_vec()).await?;
        let raw: OrchInfoSigResponse = serde_json::from_slice(&body)
            .map_err(|e| SignerServiceError::BadAnswer(e.to_string()))?;
        let bad = |why: &str| SignerServiceError::BadAnswer(why.to_owned());
        let address = Address::from_str(raw.address.trim_start_matches("0x"))
            .map_err(|_| bad("address is not 20 bytes of hex"))?;
        let sig_bytes = hex::decode(raw.signature.trim_start_matches("0x"))
            .map_err(|_| bad("signature is not hex"))?;
        let signature =
            Signature::from_slice(&sig_bytes).map_err(|_| bad("signature is not 65 bytes"))?;
        signature
            .verify_eip191(
                &livepeer_interop::orchestrator_request_digest(&address),
                &address,
            )
            .map_err(|_| bad("signature is not the address's"))?;
        Ok(SignerMaterial { address, signature })
    }

    /// `POST /generate-live-payment`. Refusals come back typed: 480 as
    /// [`SignerServiceError::RefreshSession`], 481 as
    /// [`SignerServiceError::PriceExceeded`], 482 as [`SignerServiceError::NoTickets`].
    pub async fn generate_live_payment(
        &self,
        request: &LivePaymentRequest,
    ) -> Result<LivePaymentResponse, SignerServiceError> {
        let json = serde_json::to_vec(request)
            .map_err(|e| SignerServiceError::MalformedJson(e.to_string()))?;
        let body = self.post(GENERATE_LIVE_PAYMENT, json).await?;
        serde_json::from_slice(&body).map_err(|e| SignerServiceError::BadAnswer(e.to_string()))
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> Result<Bytes, SignerServiceError> {
        match tokio::time::timeout(self.timeout, self.post_inner(path, body)).await {
            Ok(r) => r,
            Err(_) => Err(SignerServiceError::Transport(format!(
                "{}{path}: timed out",
                self.origin
            ))),
        }
    }

    async fn post_inner(&self, path: &str, body: Vec<u8>) -> Result<Bytes, SignerServiceError> {
        let transport = |e: &dyn std::fmt::Display| {
            SignerServiceError::Transport(format!("{}{path}: {e}", self.origin))
        };
        let mut request = http::Request::builder()
            .method(Method::POST)
            .uri(format!("{}{path}", self.origin))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| transport(&e))?;
        request.headers_mut().extend(self.headers.clone());
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| transport(&e))?;
        let status = response.status();
        let refresh_url = response
            .headers()
            .get(REFRESH_ORCHESTRATOR_URL_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_bounded(response.into_body(), MAX_ANSWER)
            .await
            .map_err(|e| match e {
                SignerServiceError::BodyTooLarge { max } => {
                    SignerServiceError::BadAnswer(format!("answer longer than {max} bytes"))
                }
                other => other,
            })?;
        if status.is_success() {
            return Ok(body);
        }
        let message = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => e.error.message,
            Err(_) => String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
        };
        Err(match status.as_u16() {
            480 => SignerServiceError::RefreshSession {
                orchestrator_url: refresh_url,
            },
            481 => SignerServiceError::PriceExceeded(message),
            482 => SignerServiceError::NoTickets,
            code => SignerServiceError::Rejected {
                status: code,
                message,
            },
        })
    }
}
