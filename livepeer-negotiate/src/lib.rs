#![doc = include_str!("../README.md")]
//!
//! ## What this crate deliberately does not do
//!
//! It never transcodes, verifies or redeems tickets itself: it calls the
//! [`livepeer_core::transcode::Transcoder`], [`livepeer_core::verify::SegmentVerifier`] and
//! [`payment`] seams. The [`proto`] core does no I/O and reads no clock; only the `quinn`
//! driver owns sockets, timers and tasks.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(hidden)]
pub mod fuzz_entry;
pub mod payment;
pub mod proto;
#[cfg(feature = "quinn")]
pub mod quinn;

#[cfg(any(test, feature = "_test_utils"))]
pub mod test_utils;

pub use payment::{
    PaymentError, PaymentSource, PaymentValidator, PmSource, PmValidator, TicketBatch,
    TicketParams, WinnerSink,
};
pub use proto::{ALPN, ErrorCode, Message, POOL_ALPN, ProtoError, Quote};
#[cfg(feature = "quinn")]
pub use quinn::{
    Broadcaster, BroadcasterConfig, NegotiateError, Orchestrator, OrchestratorConfig,
    StreamSession, TranscoderNode,
};
