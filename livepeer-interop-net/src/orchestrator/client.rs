//! The gateway's side of discovery: a signed `GetOrchestrator` over gRPC and TLS, the
//! orchestrator's certificate pinned on first use, the answer checked.

use std::sync::Arc;
use std::time::Duration;

use http::uri::PathAndQuery;
use livepeer_core::{Address, Signer};
use livepeer_interop::InteropError;
use livepeer_interop::codec::MAX_ORCHESTRATOR_INFO_LEN;
use livepeer_interop::messages::{Capabilities, OrchestratorInfo, OrchestratorRequest};
use livepeer_interop::payment::{price_from_info, ticket_params_from_info};
use tonic::transport::Endpoint;
use tonic_prost::ProstCodec;
use tracing::debug;

use crate::connector::{PinnedConnector, parse_target, target_of};
use crate::error::NetError;
use crate::grpc::GET_ORCHESTRATOR;
use crate::remote_signer::RemoteSignerClient;
use crate::tls::CertPins;

/// Who signs the gateway's `GetOrchestrator` request.
#[derive(Clone)]
#[non_exhaustive]
pub enum RequestSigner {
    /// A key held by this process (or any [`Signer`], such as a KMS-backed one).
    Local(Arc<dyn Signer>),
    /// A remote signer's `/sign-orchestrator-info`.
    Remote(Box<RemoteSignerClient>),
}

impl std::fmt::Debug for RequestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestSigner::Local(s) => f.debug_tuple("Local").field(&s.address()).finish(),
            RequestSigner::Remote(c) => f.debug_tuple("Remote").field(c).finish(),
        }
    }
}

impl RequestSigner {
    /// A signed request, carrying `capabilities` if given.
    pub async fn request(
        &self,
        capabilities: Option<Capabilities>,
    ) -> Result<OrchestratorRequest, NetError> {
        match self {
            RequestSigner::Local(signer) => {
                livepeer_interop::orchestrator_request(signer, capabilities).map_err(|e| match e {
                    InteropError::Signer(s) => NetError::Signer(s),
                    other => NetError::BadInfo(other),
                })
            }
            RequestSigner::Remote(client) => {
                let material = client.sign_orchestrator_info().await?;
                Ok(OrchestratorRequest {
                    address: material.address.as_bytes().to_vec(),
                    sig: material.signature.as_bytes().to_vec(),
                    capabilities,
                    ignore_capacity_check: false,
                })
            }
        }
    }
}

/// Calls `GetOrchestrator` on orchestrators, pinning each one's certificate on first use.
/// Cloning shares the pins.
#[derive(Clone, Debug)]
pub struct OrchestratorClient {
    connector: PinnedConnector,
    timeout: Duration,
}

impl Default for OrchestratorClient {
    fn default() -> Self {
        OrchestratorClient::new(CertPins::new())
    }
}

impl OrchestratorClient {
    /// A client pinning into `pins`.
    pub fn new(pins: CertPins) -> Self {
        OrchestratorClient {
            connector: PinnedConnector::new(pins),
            timeout: Duration::from_secs(5),
        }
    }

    /// Sets the time allowed to connect and complete the TLS handshake (3 s by default, as
    /// go-livepeer).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connector = self.connector.with_timeout(timeout);
        self
    }

    /// Sets the time allowed for the whole call once connected (5 s by default, as
    /// Livepeer's Python SDK).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The pins.
    pub fn pins(&self) -> &CertPins {
        self.connector.pins()
    }

    /// Asks the orchestrator at `uri` (`https://host:port` or `host:port`) for its info
    /// with a request signed by `signer`, and checks the answer ([`check_info`]) and,
    /// where given, that it names `expected`.
    pub async fn discover(
        &self,
        uri: &str,
        signer: &RequestSigner,
        capabilities: Option<Capabilities>,
        expected: Option<Address>,
    ) -> Result<OrchestratorInfo, NetError> {
        let request = signer.request(capabilities).await?;
        self.get_orchestrator(uri, request, expected).await
    }

    /// Sends `request` as is to the orchestrator at `uri` and checks the answer as
    /// [`OrchestratorClient::discover`] does.
    pub async fn get_orchestrator(
        &self,
        uri: &str,
        request: OrchestratorRequest,
        expected: Option<Address>,
    ) -> Result<OrchestratorInfo, NetError> {
        let (host, port) = parse_target(uri)?;
        let target = target_of(&host, port);
        let call = self.call(&target, request);
        let info = match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r?,
            Err(_) => return Err(NetError::Timeout { target }),
        };
        let address = check_info(&info)?;
        if let Some(expected) = expected
            && expected != address
        {
            return Err(NetError::AddressMismatch {
                expected,
                got: address,
            });
        }
        debug!(%target, ?address, "GetOrchestrator answered");
        Ok(info)
    }

    async fn call(
        &self,
        target: &str,
        request: OrchestratorRequest,
    ) -> Result<OrchestratorInfo, NetError> {
        let endpoint = Endpoint::from_shared(format!("https://{target}")).map_err(|_| {
            NetError::InvalidUri {
                uri: target.to_owned(),
                reason: "not a valid endpoint",
            }
        })?;
        let channel = endpoint
            .connect_with_connector(self.connector.clone())
            .await
            .map_err(|e| transport_error(target, &e))?;
        let mut grpc =
            tonic::client::Grpc::new(channel).max_decoding_message_size(MAX_ORCHESTRATOR_INFO_LEN);
        grpc.ready()
            .await
            .map_err(|e| transport_error(target, &e))?;
        let codec = ProstCodec::<OrchestratorRequest, OrchestratorInfo>::default();
        let response = grpc
            .unary(
                tonic::Request::new(request),
                PathAndQuery::from_static(GET_ORCHESTRATOR),
                codec,
            )
            .await
            .map_err(|status| match find_net_error(&status) {
                Some(e) => e,
                None => NetError::Refused {
                    code: status.code(),
                    message: status.message().to_owned(),
                },
            })?;
        Ok(response.into_inner())
    }
}

/// The checks a gateway makes on an answer before using it, as go-livepeer's discovery
/// filters: a transcoder URI, a 20-byte address, a valid price if one is stated, and valid
/// ticket params (with their expiration params) if any are given. Returns the address.
pub fn check_info(info: &OrchestratorInfo) -> Result<Address, NetError> {
    if info.transcoder.is_empty() {
        return Err(InteropError::Missing {
            field: "OrchestratorInfo.transcoder",
        }
        .into());
    }
    if info.address.len() != 20 {
        return Err(InteropError::BadLength {
            field: "OrchestratorInfo.address",
            expected: 20,
            len: info.address.len(),
        }
        .into());
    }
    if let Some(price) = &info.price_info {
        price_from_info(price)?;
    }
    if info.ticket_params.is_some() {
        ticket_params_from_info(info)?;
    }
    Ok(Address::from_slice(&info.address))
}

fn find_net_error(e: &(dyn std::error::Error + 'static)) -> Option<NetError> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(net) = err.downcast_ref::<NetError>() {
            return Some(net.clone());
        }
        cur = err.source();
    }
    None
}

fn transport_error(target: &str, e: &(dyn std::error::Error + 'static)) -> NetError {
    find_net_error(e).unwrap_or_else(|| NetError::Connect {
        target: target.to_owned(),
        reason: error_chain(e),
    })
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        out.push_str(": ");
        out.push_str(&err.to_string());
        cur = err.source();
    }
    out
}
