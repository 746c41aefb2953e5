//! go-livepeer's `POST /segment` on the orchestrator's port (`server/segment_rpc.go`
//! `ServeSegment`): the segment's bytes as the body, its credentials and payment in the
//! `Livepeer-Segment` and `Livepeer-Payment` headers, answered with a protobuf
//! `TranscodeResult`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use livepeer_core::Address;
use livepeer_interop::messages::{Payment, SegData, TranscodeResult};
use livepeer_interop::{
    InteropError, PAYMENT_HEADER, SEGMENT_HEADER, check_segment, decode_payment_header,
    decode_segment_header,
};
use prost::Message;
use tonic::body::Body;
use tracing::debug;

use super::server::{HttpFuture, HttpRoutes};

/// The path.
pub const SEGMENT_PATH: &str = "/segment";
/// The default bound on a segment's body. go-livepeer allows five minutes at 8 Mbit/s
/// (300 MB); two-second live segments are a few MB.
pub const DEFAULT_MAX_SEGMENT: usize = 64 * 1024 * 1024;

/// A segment whose headers decode, whose body hashes to the signed hash and whose
/// credentials the payment's sender signed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SegmentRequest {
    /// The payment's sender (zero when the payment names none).
    pub sender: Address,
    /// The segment's data.
    pub seg: SegData,
    /// The payment sent with it.
    pub payment: Payment,
    /// The segment's bytes (or, with `application/vnd+livepeer.uri`, a URL to fetch).
    pub body: Bytes,
    /// The request's content type.
    pub content_type: String,
    /// The segment's duration (0 in the message means 2 s).
    pub duration: Duration,
}

/// A segment refused before transcoding, with the HTTP status to answer (go-livepeer: 400
/// for payment errors such as `Insufficient balance`, 403 for a bad auth token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentRefusal {
    /// The HTTP status.
    pub status: u16,
    /// The message, written as the body's text.
    pub message: String,
}

/// The future a [`SegmentHandler`] answers with.
pub type SegmentFuture =
    Pin<Box<dyn Future<Output = Result<TranscodeResult, SegmentRefusal>> + Send>>;

/// What the orchestrator does with a checked segment: credit the payment, check the auth
/// token, transcode, and say where the renditions are.
///
/// Contract: the future may take as long as transcoding takes; a transcoding failure is a
/// `TranscodeResult` carrying go-livepeer's error string, not a refusal.
pub trait SegmentHandler: Send + Sync {
    /// Handles one segment.
    fn handle_segment(&self, request: SegmentRequest) -> SegmentFuture;
}

/// Routes `POST /segment` to a [`SegmentHandler`] and every other request to `next` (404
/// without one).
pub struct SegmentRoute {
    handler: Arc<dyn SegmentHandler>,
    next: Option<Arc<dyn HttpRoutes>>,
    max_body: usize,
}

impl std::fmt::Debug for SegmentRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentRoute")
            .field("max_body", &self.max_body)
            .field("next", &self.next.is_some())
            .finish_non_exhaustive()
    }
}

impl SegmentRoute {
    /// A route handing segments to `handler`, bounded by [`DEFAULT_MAX_SEGMENT`].
    pub fn new(handler: Arc<dyn SegmentHandler>) -> Self {
        SegmentRoute {
            handler,
            next: None,
            max_body: DEFAULT_MAX_SEGMENT,
        }
    }

    /// Hands every other request to `next`.
    pub fn with_next(mut self, next: Arc<dyn HttpRoutes>) -> Self {
        self.next = Some(next);
        self
    }

    /// Sets the bound on a segment's body (413 beyond it).
    pub fn with_max_body(mut self, max: usize) -> Self {
        self.max_body = max;
        self
    }

    /// Checks the headers and the body: 402 for a payment header that does not decode,
    /// 403 for segment credentials that do not decode, lack an auth token, do not match
    /// the body's hash or are not the sender's, 400 for a duration out of range.
    pub fn check(
        headers: &http::HeaderMap,
        body: Bytes,
    ) -> Result<SegmentRequest, (StatusCode, String)> {
        let header = |name| headers.get(name).map(|v| v.as_bytes()).unwrap_or_default();
        let payment = decode_payment_header(header(PAYMENT_HEADER))
            .map_err(|e| (StatusCode::PAYMENT_REQUIRED, e.to_string()))?;
        let sender = if payment.sender.len() == 20 {
            Address::from_slice(&payment.sender)
        } else {
            Address::zero()
        };
        let seg = decode_segment_header(header(SEGMENT_HEADER))
            .map_err(|e| (StatusCode::FORBIDDEN, e.to_string()))?;
        let duration = check_segment(&seg, &body, &sender).map_err(|e| match e {
            InteropError::OutOfRange { .. } => (StatusCode::BAD_REQUEST, e.to_string()),
            other => (StatusCode::FORBIDDEN, other.to_string()),
        })?;
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok(SegmentRequest {
            sender,
            seg,
            payment,
            body,
            content_type,
            duration,
        })
    }
}

impl HttpRoutes for SegmentRoute {
    fn handle(&self, request: http::Request<Incoming>) -> HttpFuture {
        if request.uri().path() != SEGMENT_PATH {
            return match &self.next {
                Some(next) => next.handle(request),
                None => Box::pin(async { text_response(StatusCode::NOT_FOUND, String::new()) }),
            };
        }
        if request.method() != http::Method::POST {
            return Box::pin(async {
                text_response(StatusCode::METHOD_NOT_ALLOWED, String::new())
            });
        }
        let handler = self.handler.clone();
        let max = self.max_body;
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = match Limited::new(body, max).collect().await {
                Ok(c) => c.to_bytes(),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    return text_response(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("segment exceeds {max} bytes"),
                    );
                }
                Err(e) => return text_response(StatusCode::BAD_REQUEST, e.to_string()),
            };
            let checked = match SegmentRoute::check(&parts.headers, body) {
                Ok(c) => c,
                Err((status, message)) => {
                    debug!(%status, %message, "segment refused");
                    return text_response(status, message);
                }
            };
            match handler.handle_segment(checked).await {
                Ok(result) => {
                    let mut resp = http::Response::new(Body::new(Full::new(Bytes::from(
                        result.encode_to_vec(),
                    ))));
                    resp.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/x-protobuf"),
                    );
                    resp
                }
                Err(refusal) => text_response(
                    StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST),
                    refusal.message,
                ),
            }
        })
    }
}

fn text_response(status: StatusCode, message: String) -> http::Response<Body> {
    let body = if message.is_empty() {
        Bytes::new()
    } else {
        Bytes::from(format!("{message}\n"))
    };
    let mut resp = http::Response::new(Body::new(Full::new(body)));
    *resp.status_mut() = status;
    resp
}
