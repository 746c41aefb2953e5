//! One nonce sequence per account: every transaction a [`super::ChainClient`] sends (round
//! initialization, reward, redemptions, registry updates, funding) takes its nonce here.
//!
//! Without it, transactions filled by the middleware take their nonce from the latest block
//! while another of the same account may still wait in the mempool: the second then carries
//! the first's nonce and, paying more, replaces it. Here a nonce is chosen and the
//! transaction handed to the node under one lock, so two sends never take the same nonce by
//! accident; only a deliberate replacement (an explicit nonce) reuses one.

use std::time::{Duration, Instant};

use tokio::sync::{Mutex, MutexGuard};

/// How long the nonce after the last one handed out is trusted over the node's pending
/// count. A node that has just accepted a transaction may not count it yet (a load balancer
/// in front of several nodes); after this long, a transaction the node does not count was
/// dropped, and trusting the node closes the gap it would otherwise leave.
const HINT_TTL: Duration = Duration::from_secs(10);

/// The next nonce of one account, shared by all of its sends.
#[derive(Debug, Default)]
pub(crate) struct NonceManager {
    hint: Mutex<Hint>,
}

/// The nonce after the last one handed out, and when.
#[derive(Debug, Default)]
pub(crate) struct Hint {
    next: Option<(u64, Instant)>,
}

impl NonceManager {
    /// Holds the sequence: no other send of this client chooses a nonce until the guard is
    /// dropped. Hold it from choosing the nonce until the node has answered the send.
    pub(crate) async fn lock(&self) -> MutexGuard<'_, Hint> {
        self.hint.lock().await
    }
}

impl Hint {
    /// The nonce for a new transaction, given the node's count of the account's
    /// transactions including pending ones.
    pub(crate) fn next(&self, pending: u64, now: Instant) -> u64 {
        match self.next {
            Some((n, at)) if now.saturating_duration_since(at) < HINT_TTL => n.max(pending),
            _ => pending,
        }
    }

    /// Notes that a transaction at `nonce` was accepted by the node.
    pub(crate) fn taken(&mut self, nonce: u64, now: Instant) {
        let after = nonce.saturating_add(1);
        let next = match self.next {
            Some((n, at)) if now.saturating_duration_since(at) < HINT_TTL => n.max(after),
            _ => after,
        };
        self.next = Some((next, now));
    }

    /// Forgets the hint: a send of unknown fate, or a nonce the node refused as too low.
    /// The next nonce is the node's count again.
    pub(crate) fn forget(&mut self) {
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_covers_a_send_the_node_does_not_count_yet() {
        let t0 = Instant::now();
        let mut h = Hint::default();
        assert_eq!(h.next(5, t0), 5);
        h.taken(5, t0);
        // The node still says 5: the transaction at 5 is not counted yet.
        assert_eq!(h.next(5, t0), 6);
        // The node counts more (another process sent): the node wins.
        assert_eq!(h.next(9, t0), 9);
        // A replacement at an older nonce does not move the sequence back.
        h.taken(3, t0);
        assert_eq!(h.next(5, t0), 6);
        // Long after, a transaction the node does not count was dropped: no gap is left.
        assert_eq!(h.next(5, t0 + HINT_TTL), 5);
        h.taken(6, t0);
        h.forget();
        assert_eq!(h.next(5, t0), 5);
    }
}
