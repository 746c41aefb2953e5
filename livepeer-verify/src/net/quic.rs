//! The tokio + quinn driver of the evidence protocol.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use livepeer_core::chain::ChallengeId;
use livepeer_core::media::MAX_SEGMENT_BYTES;
use livepeer_core::{Address, Signer};
use livepeer_negotiate::proto::identity::{sign_binding, verify_binding};
use livepeer_negotiate::proto::messages::{Hello, Role};
use livepeer_negotiate::quinn::tls;
use tokio::sync::Mutex;
use tracing::debug;

use super::wire::{ALPN, EXPORTER_CONTEXT, MAX_ERROR_TEXT, REQUEST_LEN, Request, Response};
use crate::evidence::{ContentKey, EvidenceError, EvidenceSource, MAX_MANIFEST_BYTES};

/// Largest blob a client accepts: a source segment at its bound. Renditions and manifests
/// are smaller.
const MAX_BLOB: usize = MAX_SEGMENT_BYTES;
/// Largest hello accepted (a JSON binding is about 250 bytes).
const MAX_HELLO: usize = 4096;

fn transport(e: impl std::fmt::Display) -> EvidenceError {
    EvidenceError::Transport(e.to_string())
}

/// Bounds a server keeps whatever its clients do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerLimits {
    /// Connections served at once; more are refused.
    pub max_connections: usize,
    /// Requests in flight per connection (QUIC stream credit).
    pub max_streams_per_connection: u32,
    /// How long a client may take to send its request (slow-drip clients are cut off).
    pub request_timeout: Duration,
}

impl Default for ServerLimits {
    /// 64 connections, 8 requests each, 10 s to send a request.
    fn default() -> Self {
        ServerLimits {
            max_connections: 64,
            max_streams_per_connection: 8,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// A broadcaster's evidence server: answers [`Request`]s from an [`EvidenceSource`] (its
/// [`EvidenceStore`](crate::EvidenceStore)) and proves `signer`'s address on every
/// connection. Stops when dropped or [`close`](Self::close)d.
pub struct EvidenceServer {
    endpoint: quinn::Endpoint,
    address: Address,
}

impl std::fmt::Debug for EvidenceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceServer")
            .field("address", &self.address)
            .field("local_addr", &self.endpoint.local_addr().ok())
            .finish()
    }
}

impl EvidenceServer {
    /// Serves `source` on `addr` (port 0 picks one). Must be called inside a tokio runtime.
    pub fn start(
        addr: SocketAddr,
        signer: Arc<dyn Signer>,
        source: Arc<dyn EvidenceSource>,
        limits: ServerLimits,
    ) -> Result<Self, EvidenceError> {
        let config = tls::server_config_for(&[ALPN], limits.max_streams_per_connection)
            .map_err(transport)?;
        let endpoint = tls::endpoint(addr, Some(config)).map_err(transport)?;
        let address = signer.address();
        let open = Arc::new(AtomicUsize::new(0));
        let ep = endpoint.clone();
        tokio::spawn(async move {
            while let Some(incoming) = ep.accept().await {
                if open.load(Ordering::Acquire) >= limits.max_connections {
                    incoming.refuse();
                    continue;
                }
                open.fetch_add(1, Ordering::AcqRel);
                let (signer, source, open) = (signer.clone(), source.clone(), open.clone());
                tokio::spawn(async move {
                    if let Ok(conn) = incoming.await {
                        serve_connection(conn, signer, source, limits).await;
                    }
                    open.fetch_sub(1, Ordering::AcqRel);
                });
            }
        });
        Ok(EvidenceServer { endpoint, address })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> Result<SocketAddr, EvidenceError> {
        self.endpoint.local_addr().map_err(transport)
    }

    /// The address it proves to clients.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Stops serving: open connections are closed.
    pub fn close(&self) {
        self.endpoint.close(0u8.into(), b"closed");
    }
}

impl Drop for EvidenceServer {
    fn drop(&mut self) {
        self.close();
    }
}

async fn serve_connection(
    conn: quinn::Connection,
    signer: Arc<dyn Signer>,
    source: Arc<dyn EvidenceSource>,
    limits: ServerLimits,
) {
    while let Ok((mut send, mut recv)) = conn.accept_bi().await {
        let (conn, signer, source) = (conn.clone(), signer.clone(), source.clone());
        tokio::spawn(async move {
            let read = tokio::time::timeout(limits.request_timeout, recv.read_to_end(REQUEST_LEN));
            let response = match read.await {
                Ok(Ok(bytes)) => match Request::parse(&bytes) {
                    Ok(r) => answer(&conn, signer.as_ref(), source.as_ref(), r).await,
                    Err(e) => Response::Failed(e.to_string()),
                },
                Ok(Err(e)) => Response::Failed(format!("request: {e}")),
                Err(_) => Response::Failed("request timed out".into()),
            };
            // Status byte, then the body as it is (a blob is not copied again).
            let sent = async {
                send.write_all(&[response.status()]).await?;
                send.write_chunk(response.body()).await?;
                send.finish()?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            };
            if let Err(e) = sent.await {
                debug!(error = %e, "evidence answer not delivered");
            }
        });
    }
}

async fn answer(
    conn: &quinn::Connection,
    signer: &dyn Signer,
    source: &dyn EvidenceSource,
    request: Request,
) -> Response {
    let found = |r: Result<Option<Bytes>, EvidenceError>| match r {
        Ok(Some(b)) => Response::Found(b),
        Ok(None) => Response::NotFound,
        Err(e) => Response::Failed(e.to_string()),
    };
    match request {
        Request::Hello => {
            let hello = tls::exporter(conn, EXPORTER_CONTEXT)
                .map_err(transport)
                .and_then(|ex| sign_binding(signer, Role::Broadcaster, &ex).map_err(transport))
                .and_then(|h| serde_json::to_vec(&h).map_err(transport));
            found(hello.map(|h| Some(Bytes::from(h))))
        }
        Request::Manifest(id) => found(
            source
                .manifest_key(&id)
                .await
                .map(|k| k.map(|k| Bytes::copy_from_slice(&k.0))),
        ),
        Request::Blob(k) => found(source.fetch(&k).await),
    }
}

/// Evidence fetched from a broadcaster's [`EvidenceServer`]: an [`EvidenceSource`] for a
/// verifier node. Connects on first use, refuses a server that does not prove the expected
/// address, reconnects after a lost connection, and bounds every answer.
pub struct RemoteEvidence {
    endpoint: quinn::Endpoint,
    config: quinn::ClientConfig,
    server: SocketAddr,
    expected: Address,
    timeout: Duration,
    conn: Mutex<Option<quinn::Connection>>,
}

impl std::fmt::Debug for RemoteEvidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteEvidence")
            .field("server", &self.server)
            .field("expected", &self.expected)
            .finish()
    }
}

impl RemoteEvidence {
    /// Evidence served at `server` by `expected` (the challenger's address). Must be called
    /// inside a tokio runtime; nothing is sent until the first request.
    pub fn new(server: SocketAddr, expected: Address) -> Result<Self, EvidenceError> {
        let bind: SocketAddr = if server.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        Ok(RemoteEvidence {
            endpoint: tls::endpoint(bind, None).map_err(transport)?,
            config: tls::client_config(ALPN, 8).map_err(transport)?,
            server,
            expected,
            timeout: Duration::from_secs(60),
            conn: Mutex::new(None),
        })
    }

    /// Gives up on a request (connection included) after `timeout` (default 60 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The address the server must prove.
    pub fn expected(&self) -> Address {
        self.expected
    }

    async fn connection(&self) -> Result<quinn::Connection, EvidenceError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| c.close_reason().is_none()) {
            return Ok(c.clone());
        }
        let conn = self
            .endpoint
            .connect_with(self.config.clone(), self.server, "livepeer-evidence")
            .map_err(transport)?
            .await
            .map_err(transport)?;
        let ex = tls::exporter(&conn, EXPORTER_CONTEXT).map_err(transport)?;
        let proven = match exchange(&conn, Request::Hello, MAX_HELLO).await? {
            Response::Found(b) => serde_json::from_slice::<Hello>(&b)
                .map_err(|e| EvidenceError::Malformed(format!("hello: {e}")))
                .and_then(|h| {
                    verify_binding(&h, Role::Broadcaster, &ex, Some(self.expected))
                        .map_err(|e| EvidenceError::Malformed(format!("server identity: {e}")))
                }),
            other => Err(EvidenceError::Malformed(format!(
                "server identity: no hello ({other:?})"
            ))),
        };
        if let Err(e) = proven {
            conn.close(1u8.into(), b"identity");
            return Err(e);
        }
        *slot = Some(conn.clone());
        Ok(conn)
    }

    async fn request(&self, request: Request, max: usize) -> Result<Response, EvidenceError> {
        let run = async {
            let conn = self.connection().await?;
            exchange(&conn, request, max).await
        };
        tokio::time::timeout(self.timeout, run)
            .await
            .map_err(|_| EvidenceError::Transport("evidence server timed out".into()))?
    }
}

async fn exchange(
    conn: &quinn::Connection,
    request: Request,
    max: usize,
) -> Result<Response, EvidenceError> {
    let (mut send, mut recv) = conn.open_bi().await.map_err(transport)?;
    send.write_all(&request.encode()).await.map_err(transport)?;
    send.finish().map_err(transport)?;
    let limit = 1 + max.max(MAX_ERROR_TEXT);
    let data = recv.read_to_end(limit).await.map_err(|e| match e {
        quinn::ReadToEndError::TooLong => {
            EvidenceError::Malformed(format!("answer longer than {limit} bytes"))
        }
        e => transport(e),
    })?;
    Response::parse(Bytes::from(data), max)
}

#[async_trait]
impl EvidenceSource for RemoteEvidence {
    async fn manifest_key(
        &self,
        challenge: &ChallengeId,
    ) -> Result<Option<ContentKey>, EvidenceError> {
        match self.request(Request::Manifest(*challenge), 32).await? {
            Response::Found(b) => <[u8; 32]>::try_from(&b[..])
                .map(|k| Some(ContentKey(k)))
                .map_err(|_| {
                    EvidenceError::Malformed(format!("manifest key of {} bytes", b.len()))
                }),
            Response::NotFound => Ok(None),
            Response::Failed(m) => Err(EvidenceError::Transport(format!("server: {m}"))),
        }
    }

    async fn fetch(&self, key: &ContentKey) -> Result<Option<Bytes>, EvidenceError> {
        match self
            .request(Request::Blob(*key), MAX_BLOB.max(MAX_MANIFEST_BYTES))
            .await?
        {
            Response::Found(b) => Ok(Some(b)),
            Response::NotFound => Ok(None),
            Response::Failed(m) => Err(EvidenceError::Transport(format!("server: {m}"))),
        }
    }
}

/// Parses `ADDRESS@HOST:PORT` (an evidence server and the address it must prove).
pub fn parse_endpoint(s: &str) -> Result<(Address, SocketAddr), EvidenceError> {
    let bad = |m: String| EvidenceError::Malformed(format!("evidence endpoint {s:?}: {m}"));
    let (address, host) = s
        .split_once('@')
        .ok_or_else(|| bad("expected ADDRESS@HOST:PORT".into()))?;
    let address = livepeer_core::parse_address(address).map_err(|e| bad(e.to_string()))?;
    let host = std::net::ToSocketAddrs::to_socket_addrs(host)
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("host resolves to nothing".into()))?;
    Ok((address, host))
}
