//! The one chain follower every node uses: a background task that, once per interval, runs
//! each part's step (blocks and gas, rounds, deposit and reserve, redemptions, rewards,
//! challenges), with a time limit per step and a doubling pause while the chain is away.
//! A failing step never ends the node: it keeps serving what it can check meanwhile.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::ops::Health;

/// One part of a node that follows the chain.
#[async_trait]
pub trait Follow: Send + Sync {
    /// What the part is, for logs.
    fn name(&self) -> &'static str;

    /// One step: read what changed on the chain, tell the node, carry out its chain work.
    async fn step(&self) -> anyhow::Result<()>;
}

/// How often and how patiently the follower steps.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FollowConfig {
    /// The pause between steps while the chain answers.
    pub every: Duration,
    /// The longest one step may take (a transaction's receipt is awaited through RPC
    /// failures, so a step could otherwise wait as long as the chain is away).
    pub step_timeout: Duration,
    /// The longest pause between steps while the chain cannot be reached.
    pub max_backoff: Duration,
}

impl Default for FollowConfig {
    fn default() -> Self {
        FollowConfig {
            every: Duration::from_secs(1),
            step_timeout: Duration::from_secs(30),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl FollowConfig {
    /// The pause before the next step after `failures` failed ones in a row: the interval,
    /// doubled with each failure, at most [`Self::max_backoff`] (or the interval when that
    /// is longer).
    pub fn backoff(&self, failures: u32) -> Duration {
        let doubled = self.every.saturating_mul(1u32 << failures.min(16));
        doubled.min(self.max_backoff.max(self.every))
    }
}

/// The running follower; dropping it stops the task.
#[derive(Debug)]
pub struct Follower {
    task: JoinHandle<()>,
}

impl Follower {
    /// Starts following: the first step at once (winners a previous run left pending are
    /// redeemed promptly), then one per interval. Each success marks the chain reachable in
    /// `health`.
    pub fn spawn(parts: Vec<Arc<dyn Follow>>, cfg: FollowConfig, health: Arc<Health>) -> Self {
        let task = tokio::spawn(async move {
            let mut failures: u32 = 0;
            let mut wait = Duration::ZERO;
            loop {
                tokio::time::sleep(wait).await;
                match step_all(&parts, cfg.step_timeout).await {
                    Ok(()) => {
                        if failures > 0 {
                            info!(failures, "chain reachable again");
                        }
                        failures = 0;
                        health.chain_ok();
                        wait = cfg.every;
                    }
                    Err((local, e)) => {
                        failures = failures.saturating_add(1);
                        // The state store (a full disk) reopens on its next call: no reason
                        // to wait longer than the interval while pending tickets run out.
                        wait = if local {
                            cfg.every
                        } else {
                            cfg.backoff(failures)
                        };
                        warn!(
                            failures,
                            retry_in_ms = wait.as_millis() as u64,
                            "chain step failed; serving on and retrying: {e:#}"
                        );
                    }
                }
            }
        });
        Follower { task }
    }

    /// Stops following.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs every part's step; the first failure is returned with whether it was the local store.
async fn step_all(parts: &[Arc<dyn Follow>], limit: Duration) -> Result<(), (bool, anyhow::Error)> {
    let mut first = None;
    for p in parts {
        let r = match tokio::time::timeout(limit, p.step()).await {
            Ok(r) => r,
            Err(_) => Err(anyhow::anyhow!("{}: no answer in {limit:?}", p.name())),
        };
        if let Err(e) = r {
            let local = e.chain().any(|c| {
                c.downcast_ref::<livepeer_core::store::StoreError>()
                    .is_some()
            });
            // The other parts still step: a broadcaster's funds failing to read must not
            // stop an orchestrator's redemptions in the same process.
            if first.is_none() {
                first = Some((local, e.context(p.name())));
            }
        }
    }
    first.map_or(Ok(()), Err)
}
