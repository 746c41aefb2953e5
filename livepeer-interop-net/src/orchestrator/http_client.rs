//! A gateway's HTTP/2 requests to an orchestrator's port over the pinned connector (the
//! certificate pinned for discovery is the one expected here): `POST /payment`,
//! `POST /segment`, and `GET` of the renditions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioExecutor;
use livepeer_interop::codec::{MAX_ORCHESTRATOR_INFO_LEN, MAX_TRANSCODE_RESULT_LEN};
use livepeer_interop::messages::PaymentResult;
use livepeer_interop::{
    PAYMENT_HEADER, RemoteError, SEGMENT_HEADER, SegmentResponse, decode_payment_result,
    read_transcode_result,
};

use super::payment_route::PAYMENT_PATH;
use super::segment_route::SEGMENT_PATH;
use crate::connector::{PinnedConnector, target_of};
use crate::error::NetError;
use crate::tls::CertPins;

/// Sends HTTP requests to orchestrators, one HTTP/2 connection per orchestrator kept open
/// between requests. Cloning shares the pins and the connections.
#[derive(Clone)]
pub struct OrchestratorHttpClient {
    connector: PinnedConnector,
    timeout: Duration,
    segment_timeout: Duration,
    connections: Arc<Mutex<HashMap<String, Sender>>>,
}

impl std::fmt::Debug for OrchestratorHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrchestratorHttpClient")
            .field("connector", &self.connector)
            .field("timeout", &self.timeout)
            .field("segment_timeout", &self.segment_timeout)
            .finish_non_exhaustive()
    }
}

impl OrchestratorHttpClient {
    /// A client verifying through `pins` (share them with the
    /// [`OrchestratorClient`](super::OrchestratorClient) that discovered the orchestrator).
    pub fn new(pins: CertPins) -> Self {
        OrchestratorHttpClient {
            connector: PinnedConnector::new(pins),
            timeout: Duration::from_secs(5),
            segment_timeout: Duration::from_secs(8),
            connections: Arc::default(),
        }
    }

    /// Sets the time allowed per request.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the time allowed for a segment, upload and transcoding together (8 s by
    /// default, go-livepeer's floor; it allows four times the segment's duration).
    pub fn with_segment_timeout(mut self, timeout: Duration) -> Self {
        self.segment_timeout = timeout;
        self
    }

    /// `POST {transcoder}/payment` with the two headers' values (as a remote signer
    /// returns them), answered with the orchestrator's `PaymentResult`. A refusal is
    /// [`NetError::HttpRefused`] with go-livepeer's error named.
    pub async fn payment(
        &self,
        transcoder: &str,
        payment_header: &str,
        segment_header: &str,
    ) -> Result<PaymentResult, NetError> {
        let body = self
            .exchange(
                http::Method::POST,
                transcoder,
                PAYMENT_PATH,
                &[
                    (PAYMENT_HEADER, payment_header),
                    (SEGMENT_HEADER, segment_header),
                ],
                Bytes::new(),
                MAX_ORCHESTRATOR_INFO_LEN,
                self.timeout,
            )
            .await?;
        Ok(decode_payment_result(&body)?)
    }

    /// `POST {transcoder}/segment` with an MPEG-TS segment, its `Livepeer-Segment` and
    /// `Livepeer-Payment` headers' values, for `renditions` renditions: the renditions'
    /// locations and signature, or the orchestrator's named error. A refusal before
    /// transcoding is [`NetError::HttpRefused`].
    pub async fn segment(
        &self,
        transcoder: &str,
        segment_header: &str,
        payment_header: &str,
        body: Bytes,
        renditions: usize,
    ) -> Result<SegmentResponse, NetError> {
        let answer = self
            .exchange(
                http::Method::POST,
                transcoder,
                SEGMENT_PATH,
                &[
                    (SEGMENT_HEADER, segment_header),
                    (PAYMENT_HEADER, payment_header),
                    ("content-type", "video/MP2T"),
                ],
                body,
                MAX_TRANSCODE_RESULT_LEN,
                self.segment_timeout,
            )
            .await?;
        Ok(read_transcode_result(&answer, renditions)?)
    }

    /// `GET` of a rendition's URL from a `TranscodeResult` (`https://host:port/path`, on
    /// the orchestrator's port, through the same pins), at most `max` bytes. A refusal is
    /// [`NetError::HttpRefused`].
    pub async fn download(&self, url: &str, max: usize) -> Result<Bytes, NetError> {
        let parsed: Uri = url.parse().map_err(|_| NetError::InvalidUri {
            uri: url.to_owned(),
            reason: "not a URI",
        })?;
        let path = parsed
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        self.exchange(
            http::Method::GET,
            url,
            &path,
            &[],
            Bytes::new(),
            max,
            self.timeout,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &self,
        method: http::Method,
        transcoder: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        max_answer: usize,
        timeout: Duration,
    ) -> Result<Bytes, NetError> {
        let (host, port) = origin(transcoder)?;
        let target = target_of(&host, port);
        let request = || {
            let mut builder = http::Request::builder()
                .method(method.clone())
                .uri(format!("https://{target}{path}"));
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            builder
                .body(Full::new(body.clone()))
                .map_err(|_| NetError::InvalidUri {
                    uri: transcoder.to_owned(),
                    reason: "not a valid request (URI or header value)",
                })
        };
        request()?;
        let exchange = async {
            let connect_err = |e: hyper::Error| NetError::Connect {
                target: target.clone(),
                reason: e.to_string(),
            };
            let (mut send, fresh) = self.sender(&host, port, &target).await?;
            let response = match send.send_request(request()?).await {
                Ok(r) => r,
                // A kept connection the orchestrator closed before taking the request: once
                // more on a new one.
                Err(e) if !fresh && (e.is_canceled() || e.is_closed()) => {
                    self.lock().remove(&target);
                    let (mut send, _) = self.sender(&host, port, &target).await?;
                    send.send_request(request()?).await.map_err(connect_err)?
                }
                Err(e) => return Err(connect_err(e)),
            };
            let status = response.status();
            let body = Limited::new(response.into_body(), max_answer)
                .collect()
                .await
                .map_err(|e| NetError::Connect {
                    target: target.clone(),
                    reason: e.to_string(),
                })?
                .to_bytes();
            Ok::<_, NetError>((status, body))
        };
        let (status, body) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| NetError::Timeout {
                target: target.clone(),
            })??;
        if !status.is_success() {
            let message = String::from_utf8_lossy(&body[..body.len().min(1024)]);
            return Err(NetError::HttpRefused {
                status: status.as_u16(),
                error: RemoteError::parse(message.trim()),
            });
        }
        Ok(body)
    }
}

impl OrchestratorHttpClient {
    /// A ready HTTP/2 connection to `target`: the open one, or a new one (verified through
    /// the pins; `true` beside it) when there is none or it has closed.
    async fn sender(
        &self,
        host: &str,
        port: u16,
        target: &str,
    ) -> Result<(Sender, bool), NetError> {
        let cached = self.lock().get(target).cloned();
        if let Some(mut send) = cached {
            if send.ready().await.is_ok() {
                return Ok((send, false));
            }
            self.lock().remove(target);
        }
        let io = self.connector.connect(host, port).await?;
        let (send, conn) = hyper::client::conn::http2::handshake(
            TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(io),
        )
        .await
        .map_err(|e| NetError::Connect {
            target: target.to_owned(),
            reason: e.to_string(),
        })?;
        tokio::spawn(conn);
        self.lock().insert(target.to_owned(), send.clone());
        Ok((send, true))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Sender>> {
        // The map holds handles only, so a poisoned lock still holds a usable map.
        self.connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

type Sender = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

/// The host and port of a transcoder URI (`https://host:port[/path]`; a path is ignored).
fn origin(uri: &str) -> Result<(String, u16), NetError> {
    let bad = |reason| NetError::InvalidUri {
        uri: uri.to_owned(),
        reason,
    };
    let parsed: Uri = uri.parse().map_err(|_| bad("not a URI"))?;
    if parsed.scheme_str() != Some("https") {
        return Err(bad("only https:// orchestrators are supported"));
    }
    let host = parsed.host().ok_or(bad("no host"))?.to_owned();
    Ok((host, parsed.port_u16().unwrap_or(443)))
}
