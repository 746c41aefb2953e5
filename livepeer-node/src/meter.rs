//! The metrics a node records, through the `metrics` facade: every series is labelled with
//! the node's role and address, so several nodes in one process stay apart.
//!
//! | metric | kind | meaning |
//! |---|---|---|
//! | `livepeer_segments_in_total` | counter | segments taken (broadcaster: cut from the input; orchestrator: handed to a transcoder) |
//! | `livepeer_segments_out_total` | counter | segments done (broadcaster: verified and written; orchestrator: transcoded) |
//! | `livepeer_segments_failed_total` | counter | segments that failed |
//! | `livepeer_segment_latency_seconds` | histogram | per segment, sending to verified result (broadcaster) or transcoding time (orchestrator) |
//! | `livepeer_streams_active` | gauge | streams in progress |
//! | `livepeer_tickets_sent_total` | counter | tickets signed and sent |
//! | `livepeer_tickets_won_total` | counter | winning tickets persisted |
//! | `livepeer_tickets_redeemed_total` | counter | winning tickets paid on chain |
//! | `livepeer_tickets_failed_total` | counter | winning tickets given up |
//! | `livepeer_wei_paid` | gauge | expected value of the tickets sent, wei, since start |
//! | `livepeer_wei_earned` | gauge | face value of the winners redeemed, wei, since start |
//! | `livepeer_deposit_wei`, `livepeer_reserve_wei` | gauge | the broadcaster's funds left in the TicketBroker |
//! | `livepeer_redemption_queue_depth` | gauge | winners waiting for redemption |
//! | `livepeer_redemption_pending_wei` | gauge | their face value |
//! | `livepeer_faults_total` | counter | faults found in results |
//! | `livepeer_challenges_total` | counter | challenges opened on chain |
//! | `livepeer_draining` | gauge | 1 once the process is draining |

use std::time::Duration;

use livepeer_core::{Address, AddressExt, U256};
use metrics::{Label, counter, gauge, histogram};

/// Records one node's metrics.
#[derive(Clone, Debug)]
pub struct Meter {
    labels: Vec<Label>,
}

/// A wei amount as a float (exact to 53 bits: monitoring, not accounting).
pub(crate) fn wei_f64(v: U256) -> f64 {
    v.to_string().parse().unwrap_or(f64::MAX)
}

impl Meter {
    /// The meter of the node in `role` ("broadcaster", "orchestrator", ...) at `address`.
    pub fn new(role: &'static str, address: Address) -> Self {
        Meter {
            labels: vec![
                Label::new("role", role),
                Label::new("address", address.checksummed().to_string()),
            ],
        }
    }

    fn add(&self, name: &'static str, n: u64) {
        counter!(name, self.labels.iter()).increment(n);
    }

    /// A segment taken.
    pub fn segment_in(&self) {
        self.add("livepeer_segments_in_total", 1);
    }

    /// A segment done in `latency`.
    pub fn segment_out(&self, latency: Duration) {
        self.add("livepeer_segments_out_total", 1);
        histogram!("livepeer_segment_latency_seconds", self.labels.iter())
            .record(latency.as_secs_f64());
    }

    /// A segment failed.
    pub fn segment_failed(&self) {
        self.add("livepeer_segments_failed_total", 1);
    }

    /// A stream started (`+1`) or ended (`-1`).
    pub fn streams(&self, delta: f64) {
        gauge!("livepeer_streams_active", self.labels.iter()).increment(delta);
    }

    /// `n` tickets sent, worth `ev` wei in expectation.
    pub fn tickets_sent(&self, n: u64, ev: U256) {
        self.add("livepeer_tickets_sent_total", n);
        gauge!("livepeer_wei_paid", self.labels.iter()).increment(wei_f64(ev));
    }

    /// `n` winners persisted.
    pub fn tickets_won(&self, n: u64) {
        self.add("livepeer_tickets_won_total", n);
    }

    /// A winner of `face` wei paid.
    pub fn ticket_redeemed(&self, face: U256) {
        self.add("livepeer_tickets_redeemed_total", 1);
        gauge!("livepeer_wei_earned", self.labels.iter()).increment(wei_f64(face));
    }

    /// A winner given up.
    pub fn ticket_failed(&self) {
        self.add("livepeer_tickets_failed_total", 1);
    }

    /// The broadcaster's funds left.
    pub fn funds(&self, deposit: U256, reserve: U256) {
        gauge!("livepeer_deposit_wei", self.labels.iter()).set(wei_f64(deposit));
        gauge!("livepeer_reserve_wei", self.labels.iter()).set(wei_f64(reserve));
    }

    /// Winners waiting for redemption, and their face value.
    pub fn queue(&self, depth: usize, pending: U256) {
        gauge!("livepeer_redemption_queue_depth", self.labels.iter()).set(depth as f64);
        gauge!("livepeer_redemption_pending_wei", self.labels.iter()).set(wei_f64(pending));
    }

    /// A fault found.
    pub fn fault(&self) {
        self.add("livepeer_faults_total", 1);
    }

    /// `n` challenges opened.
    pub fn challenges(&self, n: u64) {
        self.add("livepeer_challenges_total", n);
    }
}
