#![doc = include_str!("../README.md")]
//!
//! ## What this crate deliberately does not do
//!
//! No networking, no chain calls, no disk, no clock: the sender, recipient, monitor and queue
//! are told the time, the block and the chain state, and the queue writes through the core
//! [`Store`](livepeer_core::Store) trait and hands chain calls back as [`queue::Action`]s
//! ([`drive`] is the async loop that carries them out). The only threads are scoped ones,
//! started to recover the signatures of a batch in parallel and joined before it returns.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod batch;
pub mod commitment;
pub mod credit;
pub mod error;
pub mod monitor;
pub mod nonce;
pub mod params;
pub mod queue;
pub mod recipient;
pub mod sender;
pub mod verify;

#[cfg(any(test, feature = "_test_utils"))]
pub mod test_utils;

pub use batch::{MAX_TICKETS_PER_BATCH, TicketBatch, TicketHasher, TicketSig};
pub use commitment::RecipientSecret;
pub use credit::Balances;
pub use error::{
    DecodeError, IssueError, NonceError, ParamsError, QueueError, SenderError, TicketError,
};
pub use monitor::{
    DefaultRiskPolicy, Risk, RiskPolicy, SenderFunds, SenderMonitor, SenderView, StopReason,
};
pub use nonce::NonceWindow;
pub use params::{ExpirationParams, TicketParams, ticket_ev, win_prob_for};
pub use queue::{
    Action, ChainView, QueueChain, QueueConfig, QueueEvent, RedemptionQueue, WinnerRecord,
    WinnerState, drive,
};
pub use recipient::{IssueContext, Received, Recipient, RecipientConfig, Winner};
pub use sender::{Payment, Sender, SenderConfig};
pub use verify::{Checked, TicketVerifier};
