//! The stream machine's inputs, actions and results.

use std::time::Duration;

use bytes::Bytes;
use livepeer_core::transcode::Rendition;
use livepeer_core::verify::{Verdict, VerificationRequest, VerifyError};
use livepeer_core::{Address, Segment, SignedReceipt, U256, Wei};
use livepeer_pm::TicketBatch;

use crate::proto::payment::PaymentError;
use crate::proto::scheduler::{AttemptId, AttemptOutcome, FailReason};
use crate::proto::{Quote, ResultHeader, SegmentHeader, WireError};

/// A transcoded segment.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SegmentResult {
    /// The segment.
    pub seq: u64,
    /// Who transcoded it.
    pub orchestrator: Address,
    /// The renditions, in ladder order.
    pub renditions: Vec<Rendition>,
    /// The orchestrator's signed receipt.
    pub receipt: SignedReceipt,
    /// From paying to the last rendition byte.
    pub latency: Duration,
}

/// Why an exchange with an orchestrator failed, as the driver saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The orchestrator answered with a named error.
    Refused(WireError),
    /// The connection could not be opened or died, or the reply broke the protocol: it may
    /// be a connection to a previous run of the orchestrator, so a fresh quote is asked for
    /// once before giving up on it.
    Connection(String),
    /// The reply was well-framed but not a result: the orchestrator's fault.
    BadReply(String),
    /// Anything else (the orchestrator's limits, its identity, a local failure).
    Other(String),
}

impl std::fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExchangeError::Refused(w) => write!(f, "peer error: {}: {}", w.code, w.message),
            ExchangeError::BadReply(s) => write!(f, "bad result: {s}"),
            ExchangeError::Connection(s) | ExchangeError::Other(s) => f.write_str(s),
        }
    }
}

/// What happened, fed to [`StreamMachine::handle`](super::StreamMachine::handle).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StreamInput {
    /// A quote (asked for, or a pushed update) from `orchestrator`; it replaces the one
    /// held if it checks out, and answers a [`StreamAction::RequestQuote`].
    Quote {
        /// Who was asked.
        orchestrator: Address,
        /// The quote.
        quote: Quote,
        /// The orchestrator's stake, from discovery.
        stake: U256,
        /// How long the quote took.
        rtt: Duration,
    },
    /// Asking `orchestrator` for a quote failed (refused, unreachable, timed out, or the
    /// quote did not check out). Answers a [`StreamAction::RequestQuote`]; one the machine
    /// did not ask for (a refresh by the driver) drops the quote held.
    QuoteFailed {
        /// Who was asked.
        orchestrator: Address,
    },
    /// `orchestrator` left discovery: its quote is dropped and it is not asked again.
    Forget {
        /// The orchestrator.
        orchestrator: Address,
    },
    /// A segment to transcode by anyone but those in `excluded`. A `seq` already in flight
    /// is ignored.
    Segment {
        /// The segment.
        segment: Segment,
        /// Orchestrators it must never go to.
        excluded: Vec<Address>,
    },
    /// The answer to [`StreamAction::Pay`].
    Paid {
        /// The attempt.
        attempt: AttemptId,
        /// The tickets (`None`: nothing to pay), or why there are none.
        result: Result<Option<TicketBatch>, PaymentError>,
    },
    /// The answer to [`StreamAction::Send`]: the orchestrator's result, unchecked.
    Result {
        /// The attempt.
        attempt: AttemptId,
        /// The result header.
        header: ResultHeader,
        /// The rendition bodies, in order.
        bodies: Vec<Bytes>,
    },
    /// The answer to [`StreamAction::Send`] when no result came.
    ExchangeFailed {
        /// The attempt.
        attempt: AttemptId,
        /// Why.
        error: ExchangeError,
    },
    /// The answer to [`StreamAction::Verify`]. A verifier that could not run counts as a
    /// pass: it is no verdict on the orchestrator.
    Verified {
        /// The attempt.
        attempt: AttemptId,
        /// The verdict.
        verdict: Result<Verdict, VerifyError>,
    },
}

/// Why the machine asks for a quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuoteReason {
    /// The held quote is close to expiry.
    Refresh,
    /// The held quote expired and was dropped.
    Expired,
    /// An attempt found its params or credit stale, or its connection dead.
    Stale,
    /// An earlier request failed; asking again after a backoff.
    Retry,
}

/// What the driver must do, from [`StreamMachine::poll_action`](super::StreamMachine::poll_action).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StreamAction {
    /// Ask `orchestrator` for a quote for this stream; answer with exactly one
    /// [`StreamInput::Quote`] or [`StreamInput::QuoteFailed`] (the driver bounds the wait).
    RequestQuote {
        /// Whom to ask.
        orchestrator: Address,
        /// Why.
        reason: QuoteReason,
    },
    /// `orchestrator`'s quote expired and was dropped (it is asked again by a
    /// [`StreamAction::RequestQuote`]); nothing to carry out.
    QuoteExpired {
        /// The orchestrator.
        orchestrator: Address,
    },
    /// Pay for attempt `attempt` under `quote`; answer with [`StreamInput::Paid`].
    Pay {
        /// The attempt.
        attempt: AttemptId,
        /// The segment.
        seq: u64,
        /// Who is paid.
        orchestrator: Address,
        /// The quote paid under.
        quote: Box<Quote>,
        /// The fee estimate for the segment.
        fee: Wei,
        /// Whether the attempt is a hedge or a failover rather than a first send.
        retry: bool,
    },
    /// Send `header` then `body` to `orchestrator` and read its result; answer with
    /// [`StreamInput::Result`] or [`StreamInput::ExchangeFailed`].
    Send {
        /// The attempt.
        attempt: AttemptId,
        /// Where to.
        orchestrator: Address,
        /// The segment header, payment included.
        header: Box<SegmentHeader>,
        /// The segment's bytes.
        body: Bytes,
    },
    /// Verify a checked result; answer with [`StreamInput::Verified`].
    Verify {
        /// The attempt.
        attempt: AttemptId,
        /// What to verify, the broadcaster's claim signed.
        request: Box<VerificationRequest>,
    },
    /// Stop attempt `attempt` (timed out, or its segment is done); any answer to it is
    /// ignored.
    Cancel {
        /// The attempt.
        attempt: AttemptId,
    },
    /// Attempt `attempt` failed (it is over; the segment may go elsewhere). For the log;
    /// nothing to carry out.
    AttemptFailed {
        /// The attempt.
        attempt: AttemptId,
        /// The segment.
        seq: u64,
        /// Who failed.
        orchestrator: Address,
        /// How the scheduler counts it.
        outcome: AttemptOutcome,
        /// What went wrong.
        reason: String,
    },
    /// A segment is transcoded, checked and verified.
    Completed {
        /// The attempt that did it.
        attempt: AttemptId,
        /// The result.
        result: Box<SegmentResult>,
    },
    /// A segment failed for good.
    Failed {
        /// The segment.
        seq: u64,
        /// Why.
        reason: FailReason,
    },
}
