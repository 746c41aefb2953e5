//! Errors of the driver, grouped by who is at fault.

use livepeer_core::chain::ChainError;
use livepeer_core::receipt::ReceiptError;
use livepeer_core::transcode::TranscodeError;
use livepeer_core::{Fault, SignerError};
use thiserror::Error;

use crate::payment::PaymentError;
use crate::proto::{FailReason, IdentityError, ProtoError, WireError};

/// Which of a peer's limits a request ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// Connections at once: the orchestrator refused a new connection.
    Connections,
    /// Concurrent streams on one connection: the peer gave no credit for another stream
    /// within the idle deadline.
    Streams,
}

/// What went wrong in the driver.
#[derive(Clone, Debug, Error)]
#[non_exhaustive]
pub enum NegotiateError {
    /// The peer broke the protocol (bad frame, bound, type, deadline).
    #[error("protocol: {0}")]
    Proto(#[from] ProtoError),
    /// The peer answered with a named error.
    #[error("peer error: {}: {}", .0.code, .0.message)]
    Remote(WireError),
    /// The peer's identity did not check out.
    #[error("identity: {0}")]
    Identity(#[from] IdentityError),
    /// A quote is inconsistent (params for someone else, another price, expired).
    #[error("bad quote: {0}")]
    BadQuote(String),
    /// A result is inconsistent with the request or its receipt.
    #[error("bad result: {0}")]
    BadResult(String),
    /// The peer is at one of its limits and refused or stalled the request; it is honest
    /// but full, so try later or elsewhere.
    #[error("peer at capacity: {0:?}")]
    AtCapacity(Limit),
    /// Connecting, reading or writing failed.
    #[error("transport: {0}")]
    Transport(String),
    /// Payment failed.
    #[error("payment: {0}")]
    Payment(#[from] PaymentError),
    /// Transcoding failed.
    #[error("transcode: {0}")]
    Transcode(#[from] TranscodeError),
    /// The chain backend failed.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    /// Signing failed.
    #[error("signer: {0}")]
    Signer(#[from] SignerError),
    /// A receipt failed to sign or verify.
    #[error("receipt: {0}")]
    Receipt(#[from] ReceiptError),
    /// No orchestrator qualifies.
    #[error("no orchestrator available")]
    NoOrchestrators,
    /// A segment could not be transcoded by anyone.
    #[error("segment {seq} failed: {reason:?}")]
    SegmentFailed {
        /// The segment.
        seq: u64,
        /// Why.
        reason: FailReason,
    },
    /// Bad configuration or use of the API.
    #[error("configuration: {0}")]
    Config(String),
    /// The node is shut down.
    #[error("closed")]
    Closed,
}

impl NegotiateError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            NegotiateError::Proto(e) => e.fault(),
            NegotiateError::Remote(w) => w.code.fault(),
            NegotiateError::Identity(e) => e.fault(),
            NegotiateError::BadQuote(_) | NegotiateError::BadResult(_) => Fault::Peer,
            NegotiateError::Payment(e) => e.fault(),
            NegotiateError::Transcode(e) => e.fault(),
            NegotiateError::Chain(e) => e.fault(),
            NegotiateError::Receipt(e) => e.fault(),
            NegotiateError::NoOrchestrators
            | NegotiateError::SegmentFailed { .. }
            | NegotiateError::AtCapacity(_) => Fault::Incompatible,
            NegotiateError::Config(_) | NegotiateError::Closed => Fault::Misuse,
            NegotiateError::Transport(_) | NegotiateError::Signer(_) => Fault::Backend,
        }
    }

    /// The named error the peer sent, if that is what this is.
    pub fn remote_code(&self) -> Option<crate::proto::ErrorCode> {
        match self {
            NegotiateError::Remote(w) => Some(w.code),
            _ => None,
        }
    }

    /// Whether the connection it happened on may be dead (a transport failure, a timeout,
    /// a broken message): the next request should dial afresh.
    pub fn is_connection_suspect(&self) -> bool {
        matches!(
            self,
            NegotiateError::Transport(_) | NegotiateError::Proto(_) | NegotiateError::Closed
        )
    }

    /// Whether the peer was at capacity (connections or streams).
    pub fn is_at_capacity(&self) -> bool {
        matches!(self, NegotiateError::AtCapacity(_))
    }

    #[cold]
    pub(crate) fn transport(e: impl std::fmt::Display) -> Self {
        NegotiateError::Transport(e.to_string())
    }

    /// A failed connection attempt: a refusal (the orchestrator's connection limit) is
    /// [`NegotiateError::AtCapacity`], anything else a transport error.
    #[cold]
    pub(crate) fn connect(e: quinn::ConnectionError) -> Self {
        match &e {
            quinn::ConnectionError::ConnectionClosed(c)
                if c.error_code == quinn::TransportErrorCode::CONNECTION_REFUSED =>
            {
                NegotiateError::AtCapacity(Limit::Connections)
            }
            _ => NegotiateError::transport(e),
        }
    }
}
