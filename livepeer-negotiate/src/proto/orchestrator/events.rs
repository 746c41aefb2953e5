//! The orchestrator machine's inputs and actions.

use bytes::Bytes;
use livepeer_core::transcode::{TranscodeJob, TranscodeOutput};
use livepeer_core::{Address, PixelPrice, StreamId, Wei};
use livepeer_pm::{TicketBatch, TicketParams};

use super::RequestId;
use crate::proto::payment::PaymentError;
use crate::proto::{Message, ResultHeader, SegmentHeader, SignedJobRequest, WireError};

/// What happened, fed to [`OrchestratorMachine::handle`](super::OrchestratorMachine::handle).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum OrchestratorInput {
    /// `peer` asks for one quote on `request`.
    JobRequest {
        /// The request stream.
        request: RequestId,
        /// The proven address of the connection's broadcaster.
        peer: Address,
        /// The signed job request.
        job: SignedJobRequest,
    },
    /// `peer` asks for quote updates pushed on `request` until it closes.
    Subscribe {
        /// The request stream.
        request: RequestId,
        /// The proven address of the connection's broadcaster.
        peer: Address,
        /// The signed job request.
        job: SignedJobRequest,
    },
    /// A segment's header arrived on `request`; its body has not been read.
    SegmentHeader {
        /// The request stream.
        request: RequestId,
        /// The proven address of the connection's broadcaster.
        peer: Address,
        /// The header.
        header: SegmentHeader,
    },
    /// The answer to [`OrchestratorAction::IssueParams`].
    ParamsIssued {
        /// The request stream.
        request: RequestId,
        /// The params, or why there are none.
        result: Result<TicketParams, PaymentError>,
    },
    /// The answer to [`OrchestratorAction::CheckPayment`]: the credit after crediting.
    PaymentChecked {
        /// The request stream.
        request: RequestId,
        /// The credit, or why the payment was refused.
        result: Result<Wei, PaymentError>,
    },
    /// The admitted segment's whole body (after [`OrchestratorAction::ReadBody`]).
    Body {
        /// The request stream.
        request: RequestId,
        /// The body.
        body: Bytes,
    },
    /// The answer to [`OrchestratorAction::Transcode`].
    Transcoded {
        /// The request stream.
        request: RequestId,
        /// The renditions, or the error to send.
        result: Result<TranscodeOutput, WireError>,
    },
    /// The request stream ended (answered, reset, or its connection closed): whatever it
    /// held is given back.
    Closed {
        /// The request stream.
        request: RequestId,
    },
    /// A new base price; subscribers get a fresh quote.
    SetPrice(PixelPrice),
    /// The pool's capacity now, output pixels per second.
    SetCapacity(u64),
    /// Stop taking new streams and quote requests; segments of streams admitted before are
    /// still served. Subscriptions end with [`ErrorCode::Draining`](crate::proto::ErrorCode::Draining).
    Drain,
}

/// What the driver must do, drained from [`OrchestratorMachine::poll_action`](super::OrchestratorMachine::poll_action).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum OrchestratorAction {
    /// Ask the payment validator for ticket params for `broadcaster` at `price`; answer with
    /// [`OrchestratorInput::ParamsIssued`].
    IssueParams {
        /// The request stream.
        request: RequestId,
        /// Who the params are for.
        broadcaster: Address,
        /// The price quoted.
        price: PixelPrice,
    },
    /// Hand the tickets (none: pay from credit) to the payment validator, which must find
    /// the credit covering `fee_estimate`; answer with [`OrchestratorInput::PaymentChecked`].
    CheckPayment {
        /// The request stream.
        request: RequestId,
        /// The paying broadcaster.
        sender: Address,
        /// The stream paid for.
        stream: StreamId,
        /// The tickets.
        batch: Option<TicketBatch>,
        /// What the segment is estimated to cost.
        fee_estimate: Wei,
    },
    /// The segment is paid for and its body fits the budget: read the body and feed it with
    /// [`OrchestratorInput::Body`].
    ReadBody {
        /// The request stream.
        request: RequestId,
    },
    /// Run `job` on the pool; answer with [`OrchestratorInput::Transcoded`].
    Transcode {
        /// The request stream.
        request: RequestId,
        /// The job.
        job: TranscodeJob,
    },
    /// Charge `sender` `fee` on `stream` for finished work (no answer).
    Debit {
        /// The request stream.
        request: RequestId,
        /// Who pays.
        sender: Address,
        /// The stream.
        stream: StreamId,
        /// The fee of the pixels produced.
        fee: Wei,
    },
    /// Write `message`; with `finish`, the request is answered and the stream ends.
    Reply {
        /// The request stream.
        request: RequestId,
        /// A [`Message::Quote`] or [`Message::QuoteUpdate`].
        message: Message,
        /// Whether this is the request's last message.
        finish: bool,
    },
    /// Write the result and the rendition bodies, then end the stream.
    SendResult {
        /// The request stream.
        request: RequestId,
        /// The result with the signed receipt.
        header: ResultHeader,
        /// The rendition bytes, in ladder order.
        bodies: Vec<Bytes>,
    },
    /// Send the named error and end the stream.
    Refuse {
        /// The request stream.
        request: RequestId,
        /// Why.
        error: WireError,
    },
}

impl OrchestratorAction {
    /// The request the action belongs to.
    pub fn request(&self) -> RequestId {
        match self {
            OrchestratorAction::IssueParams { request, .. }
            | OrchestratorAction::CheckPayment { request, .. }
            | OrchestratorAction::ReadBody { request }
            | OrchestratorAction::Transcode { request, .. }
            | OrchestratorAction::Debit { request, .. }
            | OrchestratorAction::Reply { request, .. }
            | OrchestratorAction::SendResult { request, .. }
            | OrchestratorAction::Refuse { request, .. } => *request,
        }
    }
}
