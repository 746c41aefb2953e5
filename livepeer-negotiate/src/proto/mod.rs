//! The sans-IO protocol core: messages, framing with per-type bounds, stream readers with
//! slow-drip deadlines, identity binding, pricing and capacity, connection admission, which
//! transcoders join the pool ([`TranscoderAdmission`]), the
//! orchestrator's state machine ([`OrchestratorMachine`]), selection, the broadcaster's
//! segment scheduler and its checks of quotes and results, and its per-stream state machine
//! over them ([`StreamMachine`]). Nothing here does I/O, spawns, or
//! reads the clock: every time-dependent call takes `now`.
//!
//! This module depends on no other module of the crate; [`crate::payment`] builds on it.

pub mod admission;
pub mod broadcaster;
pub mod codec;
pub mod error;
pub mod identity;
pub mod messages;
pub mod orchestrator;
pub mod payment;
pub mod pool;
pub mod pricing;
pub mod reader;
pub mod scheduler;
pub mod selection;
pub mod stream;

pub use admission::{AdmissionLimits, ConnectionAdmission, ConnectionVerdict};
pub use broadcaster::{Expected, HeldQuote, QuoteBook, Rejected, check_quote, check_result};
pub use codec::{ALPN, FrameDecoder, MAX_CHUNK, MessageType, POOL_ALPN, chunk_frames};
pub use error::{ErrorCode, ProtoError};
pub use identity::{IdentityError, binding_digest, sign_binding, verify_binding};
pub use messages::*;
pub use orchestrator::{
    OrchestratorAction, OrchestratorInput, OrchestratorMachine, OrchestratorRules, RequestId,
    rendition_metas, unix_ms,
};
pub use payment::PaymentError;
pub use pool::{TranscoderAdmission, TranscoderRefusal};
pub use pricing::{CapacityMeter, PriceBook, fee_estimate, ladder_pixels, ladder_rate};
pub use reader::{Assembled, ReadEvent, ReadLimits, StreamReader};
pub use scheduler::{
    AttemptId, AttemptOutcome, FailReason, SchedEvent, Scheduler, SchedulerConfig,
};
pub use selection::{
    Candidate, DefaultPolicy, OrchestratorStats, ScoreConfig, Scoreboard, SelectionPolicy,
};
pub use stream::{
    ExchangeError, QuoteReason, SegmentResult, StreamAction, StreamConfig, StreamInput,
    StreamMachine,
};

#[cfg(test)]
mod tests;
