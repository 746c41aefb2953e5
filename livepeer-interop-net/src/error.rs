//! The crate's errors, each mapped to the [`Fault`] that tells the caller who is to blame:
//! [`NetError`] for discovery over gRPC and TLS, [`SignerServiceError`] for the remote
//! signer's HTTP endpoints (with the HTTP status each answers with).

use livepeer_core::{Address, Fault, SignerError};
use livepeer_interop::InteropError;
use thiserror::Error;

/// Why a remote signer request failed: on the server, the reason it answers with (see
/// [`SignerServiceError::status`]); on the client, what the server answered.
///
/// The messages of the variants go-livepeer also produces are go-livepeer's.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignerServiceError {
    /// The request body is longer than the server accepts; nothing was parsed.
    #[error("request body exceeds the maximum of {max} bytes")]
    BodyTooLarge {
        /// The bound.
        max: usize,
    },
    /// The body is not JSON, or a field has the wrong type.
    #[error("malformed request: {0}")]
    MalformedJson(String),
    /// A field decodes but its content is invalid (bad base64, protobuf, address, price).
    #[error("invalid request: {0}")]
    Invalid(#[from] InteropError),
    /// A required field is absent (go-livepeer's `missing orchestrator`, `missing or zero
    /// priceInfo`, `missing ticketParams in OrchestratorInfo`, `missing manifestID`).
    #[error("{0}")]
    Missing(&'static str),
    /// The state blob's signature is not the signer's (go-livepeer's `invalid sig`).
    #[error("invalid sig")]
    InvalidStateSig,
    /// The state blob is signed but does not parse (`invalid state`).
    #[error("invalid state")]
    InvalidState,
    /// The state belongs to another orchestrator, app or job type (`orchestratorAddress
    /// mismatch`, `app mismatch`, `job type mismatch`).
    #[error("{0} mismatch")]
    StateMismatch(&'static str),
    /// The orchestrator's ticket params are unacceptable (expiration block 0, EV not below
    /// the face value, EV above the signer's limits), in go-livepeer's words.
    #[error("{0}")]
    BadTicketParams(String),
    /// The chain could not be read (HTTP 503).
    #[error("chain unavailable: {0}")]
    Chain(String),
    /// The job type is none of `live`, `lv2v`, `fixed` (`invalid job type`).
    #[error("invalid job type")]
    InvalidJobType,
    /// Nothing to bill: no job type and no `inPixels` (`missing billable unit or job type`).
    #[error("missing billable unit or job type")]
    NoBillableUnits,
    /// The payment would need more tickets than one request may carry.
    #[error("numTickets {count} exceeds maximum of {max}")]
    TooManyTickets {
        /// The tickets needed.
        count: u64,
        /// The bound (100, as in go-livepeer).
        max: u64,
    },
    /// The orchestrator's auth token or ticket params are about to expire: refresh its info
    /// and ask again (HTTP 480).
    #[error("refresh session for remote signer")]
    RefreshSession {
        /// The orchestrator to refresh (the `Livepeer-Orchestrator-URL` header), if given.
        orchestrator_url: Option<String>,
    },
    /// The orchestrator's price is above a ceiling (HTTP 481).
    #[error("{0}")]
    PriceExceeded(String),
    /// The credit already covers the request: no tickets this cycle (HTTP 482).
    #[error("no tickets")]
    NoTickets,
    /// The client did not send its request in time (HTTP 408).
    #[error("request timed out")]
    Timeout,
    /// The request lacks the credentials the server requires (HTTP 401).
    #[error("unauthorized")]
    Unauthorized,
    /// No such endpoint (HTTP 404).
    #[error("not found")]
    NotFound,
    /// The endpoint takes POST only (HTTP 405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The signer backend failed (HTTP 500).
    #[error("signer failed: {0}")]
    Signer(#[from] SignerError),
    /// The server answered another status (client side only).
    #[error("remote signer answered HTTP {status}: {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The message of its JSON error body, or the body.
        message: String,
    },
    /// The server could not be reached, or the exchange broke off (client side only).
    #[error("remote signer unreachable: {0}")]
    Transport(String),
    /// The server's answer does not parse or is inconsistent (client side only).
    #[error("bad answer from remote signer: {0}")]
    BadAnswer(String),
}

impl SignerServiceError {
    /// The HTTP status a server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            SignerServiceError::BodyTooLarge { .. } => 413,
            SignerServiceError::RefreshSession { .. } => 480,
            SignerServiceError::PriceExceeded(_) => 481,
            SignerServiceError::NoTickets => 482,
            SignerServiceError::Unauthorized => 401,
            SignerServiceError::Timeout => 408,
            SignerServiceError::NotFound => 404,
            SignerServiceError::MethodNotAllowed => 405,
            SignerServiceError::Signer(_) => 500,
            SignerServiceError::Chain(_) => 503,
            SignerServiceError::Rejected { status, .. } => *status,
            SignerServiceError::Transport(_) | SignerServiceError::BadAnswer(_) => 502,
            _ => 400,
        }
    }

    /// Who is to blame.
    pub fn fault(&self) -> Fault {
        match self {
            SignerServiceError::RefreshSession { .. }
            | SignerServiceError::BadTicketParams(_)
            | SignerServiceError::PriceExceeded(_)
            | SignerServiceError::NoTickets => Fault::Incompatible,
            SignerServiceError::Signer(_)
            | SignerServiceError::Chain(_)
            | SignerServiceError::Transport(_) => Fault::Backend,
            SignerServiceError::BadAnswer(_) => Fault::Peer,
            SignerServiceError::Rejected { status, .. } if *status >= 500 => Fault::Backend,
            _ => Fault::Misuse,
        }
    }

    /// Whether the caller should refresh the orchestrator's info and retry (HTTP 480).
    pub fn is_refresh(&self) -> bool {
        matches!(self, SignerServiceError::RefreshSession { .. })
    }

    /// Whether the caller should skip this payment cycle (HTTP 482).
    pub fn is_no_tickets(&self) -> bool {
        matches!(self, SignerServiceError::NoTickets)
    }
}

/// Why a discovery call (`GetOrchestrator` over gRPC and TLS) failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NetError {
    /// The orchestrator presents a certificate other than the one pinned for it. It may have
    /// restarted with a fresh self-signed certificate, or someone else answers for it: only
    /// the caller can tell, by forgetting the pin deliberately
    /// ([`CertPins::forget`](crate::tls::CertPins::forget)).
    #[error("{target}: certificate changed (pinned sha256 {pinned}, presented sha256 {presented})")]
    CertificateChanged {
        /// The `host:port` the pin is for.
        target: String,
        /// Hex SHA-256 of the pinned certificate.
        pinned: String,
        /// Hex SHA-256 of the presented certificate.
        presented: String,
    },
    /// The TLS handshake failed for another reason.
    #[error("{target}: TLS handshake failed: {reason}")]
    Tls {
        /// The `host:port`.
        target: String,
        /// rustls's description.
        reason: String,
    },
    /// The orchestrator could not be reached, or the connection broke off.
    #[error("{target}: {reason}")]
    Connect {
        /// The `host:port`.
        target: String,
        /// What failed.
        reason: String,
    },
    /// The orchestrator answered with a gRPC error status (go-livepeer answers a bad
    /// signature with `Invalid orchestrator request: …`).
    #[error("orchestrator refused: {code:?}: {message}")]
    Refused {
        /// The gRPC status code.
        code: tonic::Code,
        /// The status message.
        message: String,
    },
    /// The orchestrator answered an HTTP request with an error status (go-livepeer writes
    /// its error as the body's text).
    #[error("orchestrator answered HTTP {status}: {error}")]
    HttpRefused {
        /// The HTTP status.
        status: u16,
        /// The error, named where go-livepeer's string is known.
        error: livepeer_interop::RemoteError,
    },
    /// The answer is not a valid `OrchestratorInfo`.
    #[error("bad OrchestratorInfo: {0}")]
    BadInfo(#[from] InteropError),
    /// The orchestrator answered for another address than the one expected.
    #[error("orchestrator address mismatch: expected {expected:?}, got {got:?}")]
    AddressMismatch {
        /// The address the caller expected (from the registry).
        expected: Address,
        /// The address the orchestrator answered with.
        got: Address,
    },
    /// The request could not be signed.
    #[error("signing the request failed: {0}")]
    Signer(#[from] SignerError),
    /// The remote signer failed to sign the request.
    #[error("remote signer: {0}")]
    RemoteSigner(#[from] SignerServiceError),
    /// The orchestrator URI is not `https://host:port` or `host:port`.
    #[error("invalid orchestrator URI {uri:?}: {reason}")]
    InvalidUri {
        /// The URI given.
        uri: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The orchestrator did not answer in time.
    #[error("{target}: timed out")]
    Timeout {
        /// The `host:port`.
        target: String,
    },
    /// A server could not be set up (bad certificate, port in use).
    #[error("server setup failed: {0}")]
    Setup(String),
}

impl NetError {
    /// Who is to blame.
    pub fn fault(&self) -> Fault {
        match self {
            NetError::CertificateChanged { .. }
            | NetError::BadInfo(_)
            | NetError::AddressMismatch { .. } => Fault::Peer,
            NetError::Refused { .. } | NetError::HttpRefused { .. } => Fault::Incompatible,
            NetError::InvalidUri { .. } | NetError::Setup(_) => Fault::Misuse,
            NetError::RemoteSigner(e) => e.fault(),
            _ => Fault::Backend,
        }
    }

    /// Whether the orchestrator presented a certificate other than the pinned one.
    pub fn is_certificate_changed(&self) -> bool {
        matches!(self, NetError::CertificateChanged { .. })
    }

    /// The gRPC status code the orchestrator refused with, if it did.
    pub fn refused_code(&self) -> Option<tonic::Code> {
        match self {
            NetError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}
