//! What an orchestrator answers to `GetOrchestrator`: an [`InfoSource`] the caller provides,
//! and [`StaticInfo`], fixed answers built from the orchestrator's own pieces.

use std::future::Future;
use std::pin::Pin;

use livepeer_core::{Address, PixelPrice};
use livepeer_interop::InteropError;
use livepeer_interop::messages::{AuthToken, OrchestratorInfo, OrchestratorRequest};
use livepeer_interop::payment::{price_to_info, ticket_params_to_wire};

/// Why a source declines to answer a gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InfoRefusal {
    /// The orchestrator is at capacity (go-livepeer's `OrchestratorCapped`).
    Capped,
    /// This gateway is not served (an authentication webhook said no).
    Refused(String),
    /// The orchestrator cannot answer now (no ticket params: the chain is unreachable).
    Unavailable(String),
}

/// The future [`InfoSource::orchestrator_info_async`] answers with.
pub type InfoFuture<'a> =
    Pin<Box<dyn Future<Output = Result<OrchestratorInfo, InfoRefusal>> + Send + 'a>>;

/// Builds the `OrchestratorInfo` answered to one gateway.
///
/// Contract: called on the server's tasks for every `GetOrchestrator` request, after the
/// requester's signature was checked (`gateway` is its address; zero when unsigned
/// requests are accepted and none was given). [`Self::orchestrator_info`] must be quick and
/// must not block: read cached ticket params and prices, do not call the chain. The server
/// calls [`Self::orchestrator_info_async`], which answers the same by default; a source that
/// must read something first (the funds of a gateway seen for the first time) overrides it,
/// and should still answer within the gateway's timeout.
pub trait InfoSource: Send + Sync {
    /// The answer for `gateway`, which sent `request`.
    fn orchestrator_info(
        &self,
        gateway: Address,
        request: &OrchestratorRequest,
    ) -> Result<OrchestratorInfo, InfoRefusal>;

    /// The answer for `gateway`, possibly after awaiting a read; what the server calls.
    fn orchestrator_info_async<'a>(
        &'a self,
        gateway: Address,
        request: &'a OrchestratorRequest,
    ) -> InfoFuture<'a> {
        Box::pin(std::future::ready(self.orchestrator_info(gateway, request)))
    }
}

/// The same answer for every gateway: transcoder URI, ticket params, price, address and
/// auth token fixed when built.
#[derive(Clone, Debug, PartialEq)]
pub struct StaticInfo {
    info: OrchestratorInfo,
}

impl StaticInfo {
    /// An answer naming `transcoder` (the base URI of `/segment`), the result-signing
    /// `address`, the `price`, the ticket params (`None` for an orchestrator that does not
    /// charge) and the `auth_token` gateways copy into their segments.
    pub fn new(
        transcoder: impl Into<String>,
        address: Address,
        price: &PixelPrice,
        ticket_params: Option<&livepeer_pm::TicketParams>,
        auth_token: AuthToken,
    ) -> Result<Self, InteropError> {
        Ok(StaticInfo {
            info: OrchestratorInfo {
                transcoder: transcoder.into(),
                ticket_params: ticket_params
                    .map(|p| ticket_params_to_wire(p, true))
                    .transpose()?,
                price_info: Some(price_to_info(price)?),
                address: address.as_bytes().to_vec(),
                auth_token: Some(auth_token),
                ..OrchestratorInfo::default()
            },
        })
    }

    /// An answer that is exactly `info`.
    pub fn from_info(info: OrchestratorInfo) -> Self {
        StaticInfo { info }
    }

    /// The answer.
    pub fn info(&self) -> &OrchestratorInfo {
        &self.info
    }
}

impl InfoSource for StaticInfo {
    fn orchestrator_info(
        &self,
        _gateway: Address,
        _request: &OrchestratorRequest,
    ) -> Result<OrchestratorInfo, InfoRefusal> {
        Ok(self.info.clone())
    }
}
