#![doc = include_str!("../README.md")]
//!
//! ## What this crate deliberately does not do
//!
//! It moves go-livepeer's messages over go-livepeer's transports and leaves the protocol's
//! decisions to [`livepeer_interop`] and [`livepeer_pm`]: it does not pick orchestrators,
//! watch the chain or keep sessions. It never installs a tracing subscriber, and it never
//! logs keys, signatures of state or credentials.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod connector;
pub mod error;
pub mod fuzz_entry;
pub mod grpc;
pub mod orchestrator;
pub mod remote_signer;
pub mod serve;
#[cfg(any(test, feature = "_test_utils"))]
pub mod test_utils;
pub mod tls;

pub use connector::{PinnedConnector, parse_target};
pub use error::{NetError, SignerServiceError};
pub use orchestrator::{
    HttpRoutes, InfoRefusal, InfoSource, OrchestratorClient, OrchestratorHttpClient,
    OrchestratorServer, PaymentRoute, PaymentSink, RequestCheck, RequestSigner, SegmentHandler,
    SegmentRoute, StaticInfo,
};
pub use remote_signer::{RemoteSignerClient, RemoteSignerServer};
pub use serve::ServerHandle;
pub use tls::{CertPins, Fingerprint, SelfSignedCert};

/// The go-livepeer commit whose `server/rpc.go`, `server/remote_signer.go`,
/// `server/cert.go` and `net/lp_rpc.proto` this crate follows.
pub const GO_LIVEPEER_COMMIT: &str = livepeer_interop::GO_LIVEPEER_COMMIT;
