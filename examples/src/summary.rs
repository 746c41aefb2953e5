//! What a devnet run did, printed at the end and written as JSON with `--summary-json`.

use std::time::Duration;

use livepeer_core::U256;
use serde::{Deserialize, Serialize};

/// Wei in one ether.
const WEI_PER_ETH: u64 = 1_000_000_000_000_000_000;

/// `wei` in ether, exactly, without trailing zeros: `0.004`, `1.5`, `0`.
pub fn eth(wei: U256) -> String {
    let (whole, frac) = wei.div_mod(U256::from(WEI_PER_ETH));
    let frac = format!("{:0>18}", frac.to_string());
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{frac}")
    }
}

/// An approximate amount of ether to four significant digits: `0.005988`, `12.35`.
fn eth_approx(eth: f64) -> String {
    if !eth.is_finite() || eth <= 0.0 {
        return "0".to_owned();
    }
    let decimals = (3 - eth.log10().floor() as i32).clamp(0, 18) as usize;
    format!("{eth:.decimals$}")
}

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
    /// [`wei_paid`](Self::wei_paid) in ether (exact decimal).
    pub eth_paid: String,
    /// Wei the work was worth at the quoted prices (pixels × price): what the tickets'
    /// expected value should approach.
    pub wei_expected: String,
    /// [`wei_expected`](Self::wei_expected) in ether (exact decimal).
    pub eth_expected: String,
    /// The price of a minute of video: what the work was worth at the quoted prices per
    /// minute of media, in ether.
    pub eth_per_media_minute: f64,
    /// What the winning tickets paid per minute of media, in ether (a lottery: it approaches
    /// [`eth_per_media_minute`](Self::eth_per_media_minute) over long streams).
    pub eth_paid_per_media_minute: f64,
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
    /// Seconds of media streamed per second of wall time (above 1: faster than real time).
    pub media_seconds_per_wall_second: f64,
    /// Per orchestrator.
    pub orchestrators: Vec<OrchestratorSummary>,
    /// The master playlist written.
    pub master_playlist: String,
}

impl Summary {
    /// Sets the payment figures from wei: paid and expected, in wei and ether, and per
    /// minute of media (call after [`media_seconds`](Self::media_seconds) is set).
    pub fn set_payments(&mut self, paid: U256, expected: U256) {
        self.wei_paid = paid.to_string();
        self.eth_paid = eth(paid);
        self.wei_expected = expected.to_string();
        self.eth_expected = eth(expected);
        let per_minute = |wei: U256| {
            if self.media_seconds > 0.0 {
                // f64 keeps 15 significant digits, plenty for a rate.
                let wei: f64 = wei.to_string().parse().unwrap_or(f64::INFINITY);
                wei / WEI_PER_ETH as f64 / (self.media_seconds / 60.0)
            } else {
                0.0
            }
        };
        self.eth_per_media_minute = per_minute(expected);
        self.eth_paid_per_media_minute = per_minute(paid);
    }

    /// Sets the media and wall times of the stream, and their ratio.
    pub fn set_times(&mut self, media: Duration, wall: Duration) {
        self.media_seconds = media.as_secs_f64();
        self.wall_seconds = wall.as_secs_f64();
        self.media_seconds_per_wall_second = if self.wall_seconds > 0.0 {
            self.media_seconds / self.wall_seconds
        } else {
            0.0
        };
    }

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
            "tickets: {} sent, {} won, {} redeemed; paid {} ETH ({} wei) for work worth {} ETH \
             ({} wei)",
            self.tickets_sent,
            self.tickets_won,
            self.tickets_redeemed,
            self.eth_paid,
            self.wei_paid,
            self.eth_expected,
            self.wei_expected
        ));
        line(format!(
            "price: {} ETH per minute of video at the quoted prices; the winning tickets paid {} \
             ETH per minute",
            eth_approx(self.eth_per_media_minute),
            eth_approx(self.eth_paid_per_media_minute)
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
            "time: median {:.0} ms per segment (max {:.0} ms); {:.1} s of media in {:.1} s \
             ({:.2} s of media per second)",
            self.median_segment_ms,
            self.max_segment_ms,
            self.media_seconds,
            self.wall_seconds,
            self.media_seconds_per_wall_second
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

impl Summary {
    /// Prints the summary, and writes it as JSON to `json` when given.
    #[allow(clippy::print_stdout)]
    pub fn report(&self, json: Option<&std::path::Path>) -> anyhow::Result<()> {
        print!("{}", self.to_text());
        if let Some(path) = json {
            livepeer_transcode::hls::write_atomic(path, &serde_json::to_vec_pretty(self)?)?;
        }
        Ok(())
    }
}

/// Prints what a broadcaster's stream did.
#[allow(clippy::print_stdout)]
pub fn print_stream(st: &livepeer_node::StreamStats, tickets_sent: u64, faults: usize) {
    let mut lat = st.latencies.clone();
    lat.sort();
    println!(
        "segments: {} in, {} out, {} failed; {:.1} s of media in {:.1} s ({:.2} s of media per \
         second); median {} ms per segment",
        st.segments_in,
        st.segments_out,
        st.segments_failed,
        st.media.as_secs_f64(),
        st.wall.as_secs_f64(),
        st.media.as_secs_f64() / st.wall.as_secs_f64().max(1e-9),
        lat.get(lat.len() / 2)
            .map_or(0, std::time::Duration::as_millis)
    );
    println!(
        "tickets sent: {tickets_sent}; work worth {} ETH ({} wei); faults: {faults}",
        eth(st.wei_expected),
        st.wei_expected,
    );
    if st.drained {
        println!("stopped early (drained); go on with --resume");
    }
    println!("output: {}", st.master.display());
}

/// Prints where the broadcaster serves its evidence, as `verifier serve --evidence` takes it.
#[allow(clippy::print_stdout)]
pub fn print_evidence(server: Option<&livepeer_verify::net::EvidenceServer>) -> anyhow::Result<()> {
    if let Some(e) = server {
        println!(
            "evidence served at {}@{}",
            livepeer_core::AddressExt::checksummed(&e.address()),
            e.local_addr()?
        );
    }
    Ok(())
}

/// An error when segments failed everywhere.
pub fn check_failed(st: &livepeer_node::StreamStats) -> anyhow::Result<()> {
    if st.segments_failed > 0 {
        anyhow::bail!(
            "{} of {} segments failed",
            st.segments_failed,
            st.segments_in
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wei_in_ether_is_exact() {
        assert_eq!(eth(U256::zero()), "0");
        assert_eq!(eth(U256::from(1u64)), "0.000000000000000001");
        assert_eq!(eth(U256::from(4_000_000_000_000_000u64)), "0.004");
        assert_eq!(eth(U256::from(1_197_504_000_000_000u64)), "0.001197504");
        assert_eq!(eth(U256::from(WEI_PER_ETH) * 3), "3");
        assert_eq!(
            eth(U256::from(WEI_PER_ETH) * 1000 + U256::from(5u64)),
            "1000.000000000000000005"
        );
        assert_eq!(eth(U256::MAX).len(), 79, "every digit kept");
    }

    #[test]
    fn approximate_ether_keeps_four_digits() {
        assert_eq!(eth_approx(0.005_987_52), "0.005988");
        assert_eq!(eth_approx(12.345_67), "12.35");
        assert_eq!(eth_approx(1234.6), "1235");
        assert_eq!(eth_approx(0.0), "0");
        assert_eq!(eth_approx(f64::NAN), "0");
    }

    #[test]
    fn the_summary_shows_ether_price_per_minute_and_speed() {
        let mut s = Summary::default();
        s.set_times(Duration::from_secs(12), Duration::from_secs(5));
        s.set_payments(
            U256::from(1_000_000_000_000_000u64),
            U256::from(1_197_504_000_000_000u64),
        );
        assert_eq!(
            (s.eth_paid.as_str(), s.wei_paid.as_str()),
            ("0.001", "1000000000000000")
        );
        assert_eq!(s.eth_expected, "0.001197504");
        assert!((s.eth_per_media_minute - 0.005_987_52).abs() < 1e-12);
        assert!((s.eth_paid_per_media_minute - 0.005).abs() < 1e-12);
        assert!((s.media_seconds_per_wall_second - 2.4).abs() < 1e-12);
        let text = s.to_text();
        assert!(
            text.contains("paid 0.001 ETH (1000000000000000 wei) for work worth 0.001197504 ETH"),
            "{text}"
        );
        assert!(
            text.contains("price: 0.005988 ETH per minute of video"),
            "{text}"
        );
        assert!(text.contains("0.005000 ETH per minute"), "{text}");
        assert!(text.contains("(2.40 s of media per second)"), "{text}");
        // No media: no division by zero.
        let mut empty = Summary::default();
        empty.set_times(Duration::ZERO, Duration::ZERO);
        empty.set_payments(U256::zero(), U256::zero());
        assert_eq!(empty.eth_per_media_minute, 0.0);
        assert_eq!(empty.media_seconds_per_wall_second, 0.0);
    }
}
