//! The renditions of go-livepeer segments, kept in memory for gateways to `GET`, as
//! go-livepeer's local storage serves them (`/stream/<session>/<profile>/<seq>.ts`), with
//! bounded retention: the oldest go first once the count or the bytes pass their bounds.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use hyper::body::Incoming;
use livepeer_interop_net::orchestrator::{HttpFuture, HttpRoutes};
use tonic::body::Body;

/// The prefix of rendition paths.
pub const STREAM_PREFIX: &str = "/stream/";

/// How many renditions, and how many bytes of them, are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// Renditions kept at most (default 1024).
    pub max_renditions: usize,
    /// Bytes kept at most (default 256 MiB).
    pub max_bytes: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_renditions: 1024,
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

#[derive(Default)]
struct Kept {
    by_path: HashMap<String, Bytes>,
    order: VecDeque<String>,
    bytes: usize,
}

/// Renditions by path, the oldest evicted first. Cloning shares the store.
#[derive(Clone, Default)]
pub struct Renditions {
    kept: Arc<Mutex<Kept>>,
    retention: Retention,
}

impl std::fmt::Debug for Renditions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let k = self.lock();
        f.debug_struct("Renditions")
            .field("count", &k.order.len())
            .field("bytes", &k.bytes)
            .field("retention", &self.retention)
            .finish()
    }
}

impl Renditions {
    /// An empty store keeping at most what `retention` allows.
    pub fn new(retention: Retention) -> Self {
        Renditions {
            kept: Arc::default(),
            retention,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        // The map holds bytes only: a poisoned lock still holds a usable map.
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The path of `profile`'s rendition of segment `seq` in `session`.
    pub fn path(session: &str, profile: &str, seq: u64) -> String {
        format!("{STREAM_PREFIX}{session}/{profile}/{seq}.ts")
    }

    /// Keeps `data` at `path` (replacing what was there), then evicts the oldest past the
    /// bounds.
    pub fn insert(&self, path: String, data: Bytes) {
        let mut k = self.lock();
        if let Some(old) = k.by_path.remove(&path) {
            k.bytes -= old.len();
            k.order.retain(|p| p != &path);
        }
        k.bytes += data.len();
        k.order.push_back(path.clone());
        k.by_path.insert(path, data);
        while k.order.len() > self.retention.max_renditions.max(1)
            || (k.bytes > self.retention.max_bytes && k.order.len() > 1)
        {
            let Some(oldest) = k.order.pop_front() else {
                break;
            };
            if let Some(d) = k.by_path.remove(&oldest) {
                k.bytes -= d.len();
            }
        }
    }

    /// The rendition at `path`, while it is kept.
    pub fn get(&self, path: &str) -> Option<Bytes> {
        self.lock().by_path.get(path).cloned()
    }

    /// Renditions kept now.
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Serves `GET /stream/...` from [`Renditions`] (404 for anything else or evicted).
#[derive(Debug)]
pub struct RenditionRoute {
    renditions: Renditions,
}

impl RenditionRoute {
    /// A route over `renditions`.
    pub fn new(renditions: Renditions) -> Self {
        RenditionRoute { renditions }
    }
}

impl HttpRoutes for RenditionRoute {
    fn handle(&self, request: http::Request<Incoming>) -> HttpFuture {
        let path = request.uri().path();
        let found = if request.method() == http::Method::GET && path.starts_with(STREAM_PREFIX) {
            self.renditions.get(path)
        } else {
            None
        };
        Box::pin(async move {
            match found {
                Some(data) => {
                    let mut resp = http::Response::new(Body::new(Full::new(data)));
                    resp.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("video/mp2t"),
                    );
                    resp
                }
                None => {
                    let mut resp = http::Response::new(Body::new(Full::new(Bytes::from_static(
                        b"404 page not found\n",
                    ))));
                    *resp.status_mut() = StatusCode::NOT_FOUND;
                    resp
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_go_first() {
        let r = Renditions::new(Retention {
            max_renditions: 2,
            max_bytes: 10,
        });
        r.insert("/stream/a".into(), Bytes::from_static(b"1234"));
        r.insert("/stream/b".into(), Bytes::from_static(b"1234"));
        r.insert("/stream/c".into(), Bytes::from_static(b"1234"));
        assert!(r.get("/stream/a").is_none());
        assert_eq!(r.len(), 2);
        r.insert("/stream/d".into(), Bytes::from_static(b"12345678"));
        assert_eq!(r.len(), 1, "bytes bound");
        assert!(r.get("/stream/d").is_some());
        r.insert("/stream/d".into(), Bytes::from_static(b"1"));
        assert_eq!(r.get("/stream/d").unwrap().as_ref(), b"1");
        assert_eq!(
            Renditions::path("s", "P240p", 3),
            "/stream/s/P240p/3.ts".to_string()
        );
    }
}
