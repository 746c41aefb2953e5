//! go-livepeer's `POST /payment` on the orchestrator's port (`server/segment_rpc.go`
//! `Payment`): a payment and segment credentials in the `Livepeer-Payment` and
//! `Livepeer-Segment` headers, no body, answered with a `PaymentResult`. Live AI gateways
//! and Livepeer's Python SDK (`PaymentSession.send_payment`) top up their credit with it.

use std::future::Future;
use std::pin::Pin;
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
/// session, and must not block for long. The route calls
/// [`Self::process_payment_async`], which answers [`Self::process_payment`] by default; a
/// sink that awaits (a store persisting winning tickets, a chain read) overrides it.
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

    /// As [`Self::process_payment`], possibly awaiting; what the route calls.
    fn process_payment_async<'a>(
        &'a self,
        sender: Address,
        payment: &'a Payment,
        seg: &'a SegData,
    ) -> PaymentFuture<'a> {
        Box::pin(std::future::ready(
            self.process_payment(sender, payment, seg),
        ))
    }
}

/// The future [`PaymentSink::process_payment_async`] answers with.
pub type PaymentFuture<'a> =
    Pin<Box<dyn Future<Output = Result<OrchestratorInfo, String>> + Send + 'a>>;

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
        match Self::check(headers) {
            Ok((sender, payment, seg)) => {
                let r = self.sink.process_payment(sender, &payment, &seg);
                Self::result(sender, seg, r)
            }
            Err(refusal) => refusal,
        }
    }

    /// As [`Self::answer`], through [`PaymentSink::process_payment_async`]: what the route
    /// does on the port.
    pub async fn answer_async(&self, headers: &http::HeaderMap) -> (StatusCode, Vec<u8>) {
        match Self::check(headers) {
            Ok((sender, payment, seg)) => {
                let r = self
                    .sink
                    .process_payment_async(sender, &payment, &seg)
                    .await;
                Self::result(sender, seg, r)
            }
            Err(refusal) => refusal,
        }
    }

    #[allow(clippy::type_complexity)]
    fn check(
        headers: &http::HeaderMap,
    ) -> Result<(Address, Payment, SegData), (StatusCode, Vec<u8>)> {
        let header = |name| headers.get(name).map(|v| v.as_bytes()).unwrap_or_default();
        let payment = decode_payment_header(header(PAYMENT_HEADER))
            .map_err(|e| (StatusCode::PAYMENT_REQUIRED, text(e)))?;
        let sender = if payment.sender.len() == 20 {
            Address::from_slice(&payment.sender)
        } else {
            Address::zero()
        };
        let seg = decode_segment_header(header(SEGMENT_HEADER))
            .map_err(|e| (StatusCode::FORBIDDEN, text(e)))?;
        if seg.auth_token.is_none() {
            return Err((StatusCode::FORBIDDEN, b"missing auth token\n".to_vec()));
        }
        verify_seg_data(&seg, &sender).map_err(|e| (StatusCode::FORBIDDEN, text(e)))?;
        Ok((sender, payment, seg))
    }

    fn result(
        sender: Address,
        seg: SegData,
        r: Result<OrchestratorInfo, String>,
    ) -> (StatusCode, Vec<u8>) {
        match r {
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
        if request.method() != http::Method::POST {
            return Box::pin(async { status_response(StatusCode::METHOD_NOT_ALLOWED, Vec::new()) });
        }
        let route = PaymentRoute {
            sink: self.sink.clone(),
            next: None,
        };
        Box::pin(async move {
            let (status, body) = route.answer_async(request.headers()).await;
            status_response(status, body)
        })
    }
}

fn status_response(status: StatusCode, body: Vec<u8>) -> http::Response<Body> {
    let mut resp = http::Response::new(Body::new(Full::new(Bytes::from(body))));
    *resp.status_mut() = status;
    resp
}
