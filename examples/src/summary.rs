//! What a devnet run did, printed at the end and written as JSON with `--summary-json`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One orchestrator's share of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrchestratorSummary {
    /// Its address (EIP-55).
    pub address: String,
    /// Whether it ran as the dishonest one.
    pub cheating: bool,
    /// Segments it returned that were accepted.
    pub segments: u64,
    /// Winning tickets it received.
    pub tickets_won: u64,
    /// Of those, redeemed on chain.
    pub tickets_redeemed: u64,
    /// Faults found in its results.
    pub faults: u64,
    /// Whether its stake was slashed on chain.
    pub slashed: bool,
    /// Stake before and after the run, in wei of the stake token.
    pub stake_before: String,
    /// Stake after the run.
    pub stake_after: String,
}

/// The run's totals.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Segments cut from the input.
    pub segments_in: u64,
    /// Segments transcoded, verified and written.
    pub segments_out: u64,
    /// Segments that failed on every orchestrator tried.
    pub segments_failed: u64,
    /// Renditions per segment (the ladder's rungs).
    pub renditions: u64,
    /// Rendition names, in ladder order.
    pub profiles: Vec<String>,
    /// Tickets the broadcaster signed and sent.
    pub tickets_sent: u64,
    /// Winning tickets the orchestrators persisted.
    pub tickets_won: u64,
    /// Winning tickets redeemed on chain.
    pub tickets_redeemed: u64,
    /// Wei the broadcaster's deposit and reserve went down by (what redemptions paid).
    pub wei_paid: String,
    /// Wei the work was worth at the quoted prices (pixels × price): what the tickets'
    /// expected value should approach.
    pub wei_expected: String,
    /// Faults the broadcaster's verification found.
    pub faults: u64,
    /// Challenges decided guilty on chain.
    pub challenges_won: u64,
    /// Orchestrators slashed on chain (EIP-55 addresses).
    pub slashed: Vec<String>,
    /// Median wall time per segment, from sending to the verified result, in milliseconds.
    pub median_segment_ms: f64,
    /// Slowest segment, in milliseconds.
    pub max_segment_ms: f64,
    /// Media duration of the input, in seconds.
    pub media_seconds: f64,
    /// Wall time of the stream, in seconds.
    pub wall_seconds: f64,
    /// Per orchestrator.
    pub orchestrators: Vec<OrchestratorSummary>,
    /// The master playlist written.
    pub master_playlist: String,
}

impl Summary {
    /// Median and maximum of per-segment latencies, in milliseconds.
    pub fn set_latencies(&mut self, mut lat: Vec<Duration>) {
        lat.sort();
        let ms = |d: &Duration| d.as_secs_f64() * 1e3;
        self.median_segment_ms = lat.get(lat.len() / 2).map_or(0.0, ms);
        self.max_segment_ms = lat.last().map_or(0.0, ms);
    }

    /// The summary as a few human-readable lines.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let mut line = |l: String| {
            s.push_str(&l);
            s.push('\n');
        };
        line(format!(
            "segments: {} in, {} out, {} failed; {} renditions each ({})",
            self.segments_in,
            self.segments_out,
            self.segments_failed,
            self.renditions,
            self.profiles.join(", ")
        ));
        line(format!(
            "tickets: {} sent, {} won, {} redeemed; paid {} wei for work worth {} wei",
            self.tickets_sent,
            self.tickets_won,
            self.tickets_redeemed,
            self.wei_paid,
            self.wei_expected
        ));
        line(format!(
            "verification: {} fault(s), {} challenge(s) won, slashed: {}",
            self.faults,
            self.challenges_won,
            if self.slashed.is_empty() {
                "none".to_owned()
            } else {
                self.slashed.join(", ")
            }
        ));
        line(format!(
            "time: median {:.0} ms per segment (max {:.0} ms); {:.1} s of media in {:.1} s",
            self.median_segment_ms, self.max_segment_ms, self.media_seconds, self.wall_seconds
        ));
        for o in &self.orchestrators {
            line(format!(
                "  {}{}: {} segments, {} won / {} redeemed, {} fault(s){}",
                o.address,
                if o.cheating { " (cheat)" } else { "" },
                o.segments,
                o.tickets_won,
                o.tickets_redeemed,
                o.faults,
                if o.slashed { ", slashed" } else { "" }
            ));
        }
        line(format!("output: {}", self.master_playlist));
        s
    }
}
