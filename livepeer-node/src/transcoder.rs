//! A remote transcoder: joins an orchestrator's pool over QUIC with its own key, works on
//! the segments it is handed, rejoins by itself when the orchestrator restarts, and on
//! SIGTERM finishes its segments in flight before leaving.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use livepeer_core::transcode::Transcoder;
use livepeer_core::{Address, LocalSigner, Signer};
use livepeer_negotiate::TranscoderNode as PoolMember;
use livepeer_negotiate::quinn::tls;
use tracing::{debug, info, warn};

use crate::error::{NodeError, Result};
use crate::meter::Meter;
use crate::metered::{InFlight, Metered};

/// Builds a [`TranscoderNode`].
pub struct TranscoderBuilder {
    at: SocketAddr,
    orchestrator: Address,
    signer: Option<Arc<dyn Signer>>,
    transcoder: Option<Arc<dyn Transcoder>>,
    max_tasks: u32,
    secret: Option<String>,
    drain_timeout: Duration,
}

impl std::fmt::Debug for TranscoderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TranscoderBuilder")
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

impl TranscoderBuilder {
    /// Joins with `key` (the orchestrator must allow its address).
    pub fn key(mut self, key: LocalSigner) -> Self {
        self.signer = Some(Arc::new(key));
        self
    }

    /// Joins with any [`Signer`].
    pub fn signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Transcodes with `t` (default: the software transcoder).
    pub fn transcoder(mut self, t: Arc<dyn Transcoder>) -> Self {
        self.transcoder = Some(t);
        self
    }

    /// Segments worked on at once (default 4).
    pub fn max_tasks(mut self, n: u32) -> Self {
        self.max_tasks = n.max(1);
        self
    }

    /// The shared secret the orchestrator asks of its transcoders.
    pub fn secret(mut self, secret: Option<String>) -> Self {
        self.secret = secret;
        self
    }

    /// How long a drain waits for the segments in flight (default 60 s).
    pub fn drain_timeout(mut self, d: Duration) -> Self {
        self.drain_timeout = d;
        self
    }

    /// Joins the pool. The first join must succeed: a wrong address or secret is the
    /// operator's to fix, so it is an error here rather than a retry loop.
    pub async fn build(self) -> Result<TranscoderNode> {
        let signer = self.signer.ok_or(NodeError::MissingSigner)?;
        let inner: Arc<dyn Transcoder> = match self.transcoder {
            Some(t) => t,
            None => crate::software_transcoder().await?,
        };
        let capacity_pps = inner.capabilities().pixels_per_second.max(1);
        let in_flight = InFlight::default();
        let transcoder: Arc<dyn Transcoder> = Arc::new(Metered::new(
            inner,
            Meter::new("transcoder", signer.address()),
            in_flight.clone(),
        ));
        let endpoint =
            tls::endpoint(([0, 0, 0, 0], 0).into(), None).map_err(anyhow::Error::from)?;
        let node = TranscoderNode {
            endpoint,
            at: self.at,
            orchestrator: self.orchestrator,
            signer,
            transcoder,
            capacity_pps,
            max_tasks: self.max_tasks,
            secret: self.secret,
            in_flight,
            drain_timeout: self.drain_timeout,
            member: tokio::sync::Mutex::new(None),
        };
        let m = node
            .join()
            .await
            .map_err(|e| anyhow::anyhow!("joining the pool at {}: {e}", self.at))?;
        info!(capacity_pps, "joined the pool");
        *node.member.lock().await = Some(Arc::new(m));
        Ok(node)
    }
}

/// A transcoder in an orchestrator's pool.
pub struct TranscoderNode {
    endpoint: quinn::Endpoint,
    at: SocketAddr,
    orchestrator: Address,
    signer: Arc<dyn Signer>,
    transcoder: Arc<dyn Transcoder>,
    capacity_pps: u64,
    max_tasks: u32,
    secret: Option<String>,
    in_flight: InFlight,
    drain_timeout: Duration,
    member: tokio::sync::Mutex<Option<Arc<PoolMember>>>,
}

impl std::fmt::Debug for TranscoderNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TranscoderNode")
            .field("orchestrator", &self.at)
            .finish_non_exhaustive()
    }
}

impl TranscoderNode {
    /// A builder for joining the pool of the orchestrator `orchestrator` serving at `at`.
    pub fn builder(at: SocketAddr, orchestrator: Address) -> TranscoderBuilder {
        TranscoderBuilder {
            at,
            orchestrator,
            signer: None,
            transcoder: None,
            max_tasks: 4,
            secret: None,
            drain_timeout: Duration::from_secs(60),
        }
    }

    async fn join(&self) -> Result<PoolMember> {
        Ok(PoolMember::connect(
            &self.endpoint,
            self.at,
            self.orchestrator,
            self.signer.clone(),
            self.transcoder.clone(),
            self.capacity_pps,
            self.max_tasks,
            self.secret.clone(),
        )
        .await
        .map_err(anyhow::Error::from)?)
    }

    /// Segments being transcoded now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.get()
    }

    /// Works until SIGTERM or Ctrl-C. When the orchestrator restarts or the network fails
    /// it rejoins by itself, backing off to one try every 5 s, for as long as it takes. On
    /// the signal it finishes the segments in flight (up to the drain timeout), then leaves.
    pub async fn run_until_signal(&self) -> Result<()> {
        let stop = crate::signal::terminated();
        tokio::pin!(stop);
        loop {
            let member = self.member.lock().await.clone();
            let lost = async {
                if let Some(m) = member {
                    m.closed().await;
                }
            };
            tokio::select! {
                () = lost => {}
                () = &mut stop => return self.drain().await,
            }
            warn!(orchestrator = %self.at, "lost the orchestrator; rejoining");
            let mut wait = Duration::from_millis(250);
            let m = loop {
                tokio::select! {
                    r = self.join() => match r {
                        Ok(m) => break m,
                        Err(e) => debug!(error = %e, "rejoin failed"),
                    },
                    () = &mut stop => return self.drain().await,
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            };
            info!(capacity_pps = self.capacity_pps, "rejoined the pool");
            *self.member.lock().await = Some(Arc::new(m));
        }
    }

    /// Finishes the segments in flight (up to the drain timeout), then leaves the pool.
    pub async fn drain(&self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.drain_timeout;
        while self.in_flight.get() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.close().await;
        Ok(())
    }

    /// Leaves the pool at once.
    pub async fn close(&self) {
        if let Some(m) = self.member.lock().await.as_ref() {
            m.close();
        }
    }
}
