//! What both servers share: the accept loop with its bound on open connections, and the
//! handle that stops it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tracing::warn;

use crate::error::NetError;

/// The default bound on a server's open connections; past it the server stops accepting
/// until one closes.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Accepts connections from `listener` on a new task and serves each with `serve` on its
/// own task, at most `max` at a time.
pub(crate) fn spawn_accept_loop<F, Fut>(
    listener: TcpListener,
    max: usize,
    serve: F,
) -> Result<ServerHandle, NetError>
where
    F: Fn(TcpStream, SocketAddr) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let addr = listener
        .local_addr()
        .map_err(|e| NetError::Setup(e.to_string()))?;
    let permits = Arc::new(Semaphore::new(max.max(1)));
    let task = tokio::spawn(async move {
        // Dropping the set (when the task is aborted) closes every connection.
        let mut connections = JoinSet::new();
        loop {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Reap finished connections so the set does not grow.
            while connections.try_join_next().is_some() {}
            let fut = serve(tcp, peer);
            connections.spawn(async move {
                fut.await;
                drop(permit);
            });
        }
    });
    Ok(ServerHandle { addr, task })
}

/// A running server: its address, and the means to stop it.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and closes every open connection, without waiting (for callers
    /// outside async code; [`Self::shutdown`] waits).
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Stops accepting and closes every open connection.
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}
