//! The orchestrator's TLS port: the server answering `GetOrchestrator` and HTTP routes
//! (`POST /payment`, `POST /segment`), the source of what it answers, and the gateway's clients.

pub mod client;
pub mod http_client;
pub mod info;
pub mod payment_route;
pub mod segment_route;
pub mod server;

pub use client::{OrchestratorClient, RequestSigner, check_info};
pub use http_client::OrchestratorHttpClient;
pub use info::{InfoFuture, InfoRefusal, InfoSource, StaticInfo};
pub use payment_route::{PaymentFuture, PaymentRoute, PaymentSink};
pub use segment_route::{SegmentHandler, SegmentRefusal, SegmentRequest, SegmentRoute};
pub use server::{HttpFuture, HttpRoutes, OrchestratorServer, RequestCheck};
