//! The orchestrator's winning tickets: persisted in the crash-safe redemption queue before
//! the segment that carried them is admitted, and redeemed by the chain follower. The queue
//! is locked only while it decides or records; never across a chain call, so admitting a
//! paid segment never waits on a redemption's RPCs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use livepeer_core::store::Store;
use livepeer_core::{U256, Wei};
use livepeer_negotiate::{PaymentError, WinnerSink};
use livepeer_pm::queue::{QueueChain, QueueEvent, drive_shared};
use livepeer_pm::{QueueError, RedemptionQueue, Winner, WinnerRecord};

use crate::chain::OrchestratorChain;
use crate::meter::Meter;

/// The store winners are kept in: any [`Store`].
pub type DynStore = Arc<dyn Store>;

/// Winning tickets from persisted to redeemed; the orchestrator's [`WinnerSink`].
pub struct Winners {
    queue: Mutex<RedemptionQueue<DynStore>>,
    won: Mutex<Vec<Winner>>,
    /// A store call failed: the queue reads the store again before its next use.
    stale: AtomicBool,
    meter: Meter,
}

impl std::fmt::Debug for Winners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Winners").finish_non_exhaustive()
    }
}

impl Winners {
    /// Winners kept in `queue`, recorded on `meter`.
    pub fn new(queue: RedemptionQueue<DynStore>, meter: Meter) -> Self {
        Winners {
            queue: Mutex::new(queue),
            won: Mutex::new(Vec::new()),
            stale: AtomicBool::new(false),
            meter,
        }
    }

    /// Every winner persisted by this process (a winner handed over twice counts once).
    pub fn winners(&self) -> Vec<Winner> {
        self.won.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// Face value still waiting for redemption, over all senders.
    pub fn pending(&self) -> Wei {
        self.with(|q| Ok(pending_of(q))).unwrap_or(Wei::ZERO)
    }

    /// Every winner record held, redeemed or not.
    pub fn records(&self) -> Result<Vec<WinnerRecord>, QueueError> {
        self.with(|q| Ok(q.records().cloned().collect()))
    }

    /// Runs `f` on the queue, read from the store again first when a store call failed
    /// since (a failed commit may have landed).
    fn with<R>(
        &self,
        f: impl FnOnce(&mut RedemptionQueue<DynStore>) -> Result<R, QueueError>,
    ) -> Result<R, QueueError> {
        let mut q = self
            .queue
            .lock()
            .map_err(|_| QueueError::other("the redemption queue's lock is poisoned"))?;
        if self.stale.load(Ordering::Acquire) {
            q.reload()?;
            self.stale.store(false, Ordering::Release);
        }
        let r = f(&mut q);
        self.note(r)
    }

    fn note<T>(&self, r: Result<T, QueueError>) -> Result<T, QueueError> {
        if let Err(QueueError::Store(_)) = &r {
            self.stale.store(true, Ordering::Release);
        }
        r
    }

    /// One pass of the redemption state machine against `chain`, then its events on the
    /// meter.
    pub async fn drive<C: OrchestratorChain>(&self, chain: &C) -> Result<(), QueueError> {
        // A reload owed after a store failure happens before the pass.
        self.with(|_| Ok(()))?;
        let r = drive_shared(&self.queue, &QueueChain::from_backend(chain)).await;
        self.note(r)?;
        self.with(|q| {
            while let Some(e) = q.poll_event() {
                match e {
                    QueueEvent::Redeemed { ticket, .. } => self.meter.ticket_redeemed(
                        q.record(&ticket).map_or(U256::zero(), |r| r.face_value().0),
                    ),
                    QueueEvent::Failed { .. } => self.meter.ticket_failed(),
                    _ => {}
                }
            }
            let depth = q.records().filter(|r| r.state.is_pending()).count();
            self.meter.queue(depth, pending_of(q).0);
            Ok(())
        })
    }
}

/// Face value waiting for redemption in `q`, over all senders.
fn pending_of(q: &RedemptionQueue<DynStore>) -> Wei {
    q.pending_by_sender()
        .values()
        .fold(Wei::ZERO, |a, b| Wei(a.0.saturating_add(b.0)))
}

#[async_trait]
impl WinnerSink for Winners {
    async fn persist(&self, block: u64, winners: &[Winner]) -> Result<(), PaymentError> {
        let added = self
            .with(|q| q.add_winners(block, winners))
            .map_err(|e| PaymentError::Backend(e.to_string()))?;
        self.meter.tickets_won(added as u64);
        if let Ok(mut won) = self.won.lock() {
            for w in winners {
                if !won.iter().any(|k| k.ticket == w.ticket) {
                    won.push(w.clone());
                }
            }
        }
        Ok(())
    }
}
