//! The tokio + quinn driver: TLS and endpoints, the orchestrator server and its pool,
//! remote transcoders, and the broadcaster session manager. It owns sockets, timers and
//! tasks only; protocol decisions live in [`crate::proto`].

mod admission;
pub mod broadcaster;
mod error;
pub mod orchestrator;
pub mod pool;
mod session;
pub mod tls;
mod wire;

pub use broadcaster::{
    Broadcaster, BroadcasterBuilder, BroadcasterConfig, QuoteOutcome, SegmentResult, StreamSession,
};
pub use error::{Limit, NegotiateError};
pub use orchestrator::{Orchestrator, OrchestratorBuilder, OrchestratorConfig};
pub use pool::{MemberLoad, Pool, PoolError, TranscoderNode};
