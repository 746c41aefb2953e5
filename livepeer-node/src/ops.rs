//! What operators run a node with: Prometheus metrics, health and readiness endpoints, and
//! the drain state.
//!
//! [`OpsServer`] serves, over HTTP/1.1:
//!
//! | path | answer |
//! |---|---|
//! | `/metrics` | every node's metrics in the process, Prometheus text format |
//! | `/healthz` | `200 ok` while the process serves |
//! | `/readyz` | `200 ready` when the chain answered recently and the node is not draining; `503` with the reason otherwise |

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::task::JoinHandle;
use tracing::warn;

/// Whether a node is alive, following the chain, and taking new work.
#[derive(Debug)]
pub struct Health {
    draining: AtomicBool,
    chain_ok: Mutex<Option<Instant>>,
    stale_after: Duration,
}

impl Health {
    /// A node not yet in touch with the chain; it counts as out of touch when the chain has
    /// not answered for `stale_after`.
    pub fn new(stale_after: Duration) -> Self {
        Health {
            draining: AtomicBool::new(false),
            chain_ok: Mutex::new(None),
            stale_after,
        }
    }

    /// The chain answered a whole follow step now.
    pub fn chain_ok(&self) {
        if let Ok(mut t) = self.chain_ok.lock() {
            *t = Some(Instant::now());
        }
    }

    /// From now on the node takes no new work.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Release);
        metrics::gauge!("livepeer_draining").set(1.0);
    }

    /// Whether the node is draining.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// `Ok` when ready for new work; otherwise why not.
    pub fn ready(&self) -> Result<(), String> {
        if self.is_draining() {
            return Err("draining".into());
        }
        let last = self.chain_ok.lock().map(|t| *t).unwrap_or(None);
        match last {
            None => Err("the chain has not answered yet".into()),
            Some(t) if t.elapsed() > self.stale_after => Err(format!(
                "the chain has not answered for {} s",
                t.elapsed().as_secs()
            )),
            Some(_) => Ok(()),
        }
    }
}

impl Default for Health {
    fn default() -> Self {
        Health::new(Duration::from_secs(60))
    }
}

/// The process's Prometheus recorder, installed on first use. `None` when the application
/// installed another `metrics` recorder first: the nodes' metrics then go to that one.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("seconds".into()),
                    &[0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
                )
                .ok()?;
            let handle = builder.install_recorder().ok()?;
            let upkeep = handle.clone();
            // Histograms and idle metrics are folded in the background, not at each scrape.
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .ok()?;
            Some(handle)
        })
        .as_ref()
}

/// The metrics, health and readiness endpoints of a node, served over HTTP.
#[derive(Debug)]
pub struct OpsServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl OpsServer {
    /// Binds `at` and serves until dropped. Installs the Prometheus recorder if none is.
    pub async fn start(at: SocketAddr, health: Arc<Health>) -> std::io::Result<Self> {
        let handle = prometheus();
        let listener = tokio::net::TcpListener::bind(at).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            loop {
                let (tcp, _) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        warn!("ops endpoint: accepting: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let health = health.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<_>| {
                        let health = health.clone();
                        async move { Ok::<_, Infallible>(answer(req.uri().path(), &health, handle)) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(10))
                        .serve_connection(TokioIo::new(tcp), service);
                    if let Err(e) = conn.await {
                        tracing::debug!("ops endpoint connection: {e}");
                    }
                });
            }
        });
        Ok(OpsServer { addr, task })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for OpsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(path: &str, health: &Health, handle: Option<&PrometheusHandle>) -> Response<Full<Bytes>> {
    let (status, kind, body) = match path {
        "/metrics" => match handle {
            Some(h) => (StatusCode::OK, "text/plain; version=0.0.4", h.render()),
            None => (
                StatusCode::NOT_FOUND,
                "text/plain",
                "metrics go to the application's own recorder\n".to_string(),
            ),
        },
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_string()),
        "/readyz" => match health.ready() {
            Ok(()) => (StatusCode::OK, "text/plain", "ready\n".to_string()),
            Err(why) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                format!("not ready: {why}\n"),
            ),
        },
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_string(),
        ),
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(kind) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}
