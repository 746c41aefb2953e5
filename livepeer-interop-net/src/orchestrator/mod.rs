//! Orchestrator discovery: the server answering `GetOrchestrator` on the orchestrator's TLS
//! port, the source of what it answers, and the gateway's client.

pub mod client;
pub mod info;
pub mod server;

pub use client::{OrchestratorClient, RequestSigner};
pub use info::{InfoRefusal, InfoSource, StaticInfo};
pub use server::{HttpFuture, HttpRoutes, OrchestratorServer, RequestCheck, ServerHandle};
