//! What a stream did ([`StreamStats`]), and the bookkeeping every stream shares: a segment
//! taken from the input, written as HLS and counted, or failed everywhere.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use livepeer_core::transcode::Rendition;
use livepeer_core::{Address, U256};
use livepeer_transcode::hls::HlsWriter;

use crate::error::Result;
use crate::meter::Meter;
use crate::source::Progress;

/// What one stream did.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct StreamStats {
    /// Segments cut from the input.
    pub segments_in: u64,
    /// Segments transcoded, verified and written.
    pub segments_out: u64,
    /// Segments that failed everywhere.
    pub segments_failed: u64,
    /// Per-segment latency, sending to verified result.
    pub latencies: Vec<Duration>,
    /// Segments accepted per orchestrator.
    pub per_orchestrator: HashMap<Address, u64>,
    /// The work's worth at the quoted prices, wei.
    pub wei_expected: U256,
    /// Media duration streamed.
    pub media: Duration,
    /// Wall time of the stream.
    pub wall: Duration,
    /// The master playlist written.
    pub master: PathBuf,
    /// The stream stopped early because the node is draining.
    pub drained: bool,
}

/// A segment transcoded, about to be written and counted.
pub(crate) struct Written<'a> {
    /// The segment.
    pub(crate) seq: u64,
    /// Who transcoded it.
    pub(crate) orchestrator: Address,
    /// The renditions, in ladder order.
    pub(crate) renditions: &'a [Rendition],
    /// Its worth at the orchestrator's price, wei.
    pub(crate) fee: U256,
    /// When it was cut from the input.
    pub(crate) started: Instant,
}

impl StreamStats {
    /// A segment cut from the input.
    pub(crate) fn took(&mut self, duration: Duration, meter: Option<&Meter>) {
        self.segments_in += 1;
        self.media += duration;
        if let Some(m) = meter {
            m.segment_in();
        }
    }

    /// Writes a transcoded segment to `hls` and counts it.
    pub(crate) fn write(
        &mut self,
        hls: &mut HlsWriter,
        w: Written<'_>,
        progress: &dyn Progress,
        meter: Option<&Meter>,
    ) -> Result<()> {
        hls.write_segment(w.seq, w.renditions)
            .map_err(anyhow::Error::from)?;
        self.segments_out += 1;
        self.wei_expected = self.wei_expected.saturating_add(w.fee);
        *self.per_orchestrator.entry(w.orchestrator).or_default() += 1;
        let lat = w.started.elapsed();
        self.latencies.push(lat);
        if let Some(m) = meter {
            m.segment_out(lat);
        }
        progress.segment(w.seq, w.orchestrator, lat);
        Ok(())
    }

    /// What became of segment `seq`, cut at `started`: its orchestrator, renditions and fee
    /// written and counted, or (`None`) a failure everywhere tried, logged and counted.
    pub(crate) fn settle(
        &mut self,
        hls: &mut HlsWriter,
        (seq, started): (u64, Instant),
        done: Option<(Address, Vec<Rendition>, livepeer_core::Wei)>,
        progress: &dyn Progress,
        meter: Option<&Meter>,
    ) -> Result<()> {
        let Some((orchestrator, renditions, fee)) = done else {
            tracing::warn!(seq, "segment failed on every orchestrator tried");
            self.failed(meter);
            return Ok(());
        };
        let w = Written {
            seq,
            orchestrator,
            renditions: &renditions,
            fee: fee.0,
            started,
        };
        self.write(hls, w, progress, meter)
    }

    /// A segment that failed everywhere tried.
    pub(crate) fn failed(&mut self, meter: Option<&Meter>) {
        self.segments_failed += 1;
        if let Some(m) = meter {
            m.segment_failed();
        }
    }
}
