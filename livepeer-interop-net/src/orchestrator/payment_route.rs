//! go-livepeer's `POST /payment` on the orchestrator's port (`server/segment_rpc.go`
//! `Payment`): a payment and segment credentials in the `Livepeer-Payment` and
//! `Livepeer-Segment` headers, no body, answered with a `PaymentResult`. Live AI gateways
//! and Livepeer's Python SDK (`PaymentSession.send_payment`) top up their credit with it.

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use hyper::body::Incoming;
use livepeer_core::Address;
use livepeer_interop::messages::{OrchestratorInfo, Payment, PaymentResult, SegData};
use livepeer_interop::{
    PAYMENT_HEADER, SEGMENT_HEADER, decode_payment_header, decode_segment_header, verify_seg_data,
};
use prost::Message;
use tonic::body::Body;
use tracing::debug;

use super::server::{HttpFuture, HttpRoutes};

/// The path.
pub const PAYMENT_PATH: &str = "/payment";

/// What the orchestrator does with a payment whose headers decode and whose segment
/// credentials the sender signed.
///
/// Contract: called on the server's tasks, once per request; it checks the auth token
/// (the orchestrator's own secret), the tickets (with [`livepeer_pm`]) and credits the
/// session, and must not block for long.
pub trait PaymentSink: Send + Sync {
    /// Processes `payment` from `sender` for the session of `seg` and returns the
    /// orchestrator's refreshed info (its auth token is replaced by the segment's, as
    /// go-livepeer does), or the message of a refusal answered with 400.
    fn process_payment(
        &self,
        sender: Address,
        payment: &Payment,
        seg: &SegData,
    ) -> Result<OrchestratorInfo, String>;
}

/// Routes `POST /payment` to a [`PaymentSink`] and every other request to `next` (404
/// without one).
pub struct PaymentRoute {
    sink: Arc<dyn PaymentSink>,
    next: Option<Arc<dyn HttpRoutes>>,
}

impl std::fmt::Debug for PaymentRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentRoute")
            .field("next", &self.next.is_some())
            .finish_non_exhaustive()
    }
}

impl PaymentRoute {
    /// A route handing payments to `sink`.
    pub fn new(sink: Arc<dyn PaymentSink>) -> Self {
        PaymentRoute { sink, next: None }
    }

    /// Hands every other request to `next`.
    pub fn with_next(mut self, next: Arc<dyn HttpRoutes>) -> Self {
        self.next = Some(next);
        self
    }

    /// Answers one `/payment` request from its headers (the body is ignored, as in
    /// go-livepeer): 402 for a payment header that does not decode, 403 for segment
    /// credentials that do not decode, lack an auth token or are not the sender's, 400 when
    /// the sink refuses, 200 with a `PaymentResult` otherwise.
    pub fn answer(&self, headers: &http::HeaderMap) -> (StatusCode, Vec<u8>) {
        let header = |name| headers.get(name).map(|v| v.as_bytes()).unwrap_or_default();
        let payment = match decode_payment_header(header(PAYMENT_HEADER)) {
            Ok(p) => p,
            Err(e) => return (StatusCode::PAYMENT_REQUIRED, text(e)),
        };
        let sender = if payment.sender.len() == 20 {
            Address::from_slice(&payment.sender)
        } else {
            Address::zero()
        };
        let seg = match decode_segment_header(header(SEGMENT_HEADER)) {
            Ok(s) => s,
            Err(e) => return (StatusCode::FORBIDDEN, text(e)),
        };
        if seg.auth_token.is_none() {
            return (StatusCode::FORBIDDEN, b"missing auth token\n".to_vec());
        }
        if let Err(e) = verify_seg_data(&seg, &sender) {
            return (StatusCode::FORBIDDEN, text(e));
        }
        match self.sink.process_payment(sender, &payment, &seg) {
            Ok(mut info) => {
                info.auth_token = seg.auth_token;
                let result = PaymentResult { info: Some(info) };
                (StatusCode::OK, result.encode_to_vec())
            }
            Err(message) => {
                debug!(?sender, %message, "payment refused");
                (StatusCode::BAD_REQUEST, format!("{message}\n").into_bytes())
            }
        }
    }
}

fn text(e: impl std::fmt::Display) -> Vec<u8> {
    format!("{e}\n").into_bytes()
}

impl HttpRoutes for PaymentRoute {
    fn handle(&self, request: http::Request<Incoming>) -> HttpFuture {
        if request.uri().path() != PAYMENT_PATH {
            return match &self.next {
                Some(next) => next.handle(request),
                None => Box::pin(async { status_response(StatusCode::NOT_FOUND, Vec::new()) }),
            };
        }
        let (status, body) = if request.method() == http::Method::POST {
            self.answer(request.headers())
        } else {
            (StatusCode::METHOD_NOT_ALLOWED, Vec::new())
        };
        Box::pin(async move { status_response(status, body) })
    }
}

fn status_response(status: StatusCode, body: Vec<u8>) -> http::Response<Body> {
    let mut resp = http::Response::new(Body::new(Full::new(Bytes::from(body))));
    *resp.status_mut() = status;
    resp
}
