//! A transcoder wrapped for operations: a tracing span, metrics and an in-flight count per
//! segment, so a draining node knows when its last segment is done.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use livepeer_core::transcode::{
    Capabilities, TranscodeError, TranscodeJob, TranscodeOutput, Transcoder,
};
use tracing::Instrument as _;

use crate::meter::Meter;

/// Segments being transcoded now, over every transcoder that shares it.
#[derive(Clone, Debug, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// Segments in progress.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

struct Guard(InFlight);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A transcoder that records what it does.
pub struct Metered {
    inner: Arc<dyn Transcoder>,
    meter: Meter,
    in_flight: InFlight,
}

impl std::fmt::Debug for Metered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metered").finish_non_exhaustive()
    }
}

impl Metered {
    /// `inner`, recorded on `meter` and counted in `in_flight`.
    pub fn new(inner: Arc<dyn Transcoder>, meter: Meter, in_flight: InFlight) -> Self {
        Metered {
            inner,
            meter,
            in_flight,
        }
    }
}

#[async_trait]
impl Transcoder for Metered {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn transcode(&self, job: TranscodeJob) -> Result<TranscodeOutput, TranscodeError> {
        self.in_flight.0.fetch_add(1, Ordering::AcqRel);
        let _guard = Guard(self.in_flight.clone());
        self.meter.segment_in();
        let span = tracing::info_span!(
            "segment",
            stream = ?job.stream_id,
            seq = job.segment.seq
        );
        let t0 = Instant::now();
        let r = self.inner.transcode(job).instrument(span).await;
        match &r {
            Ok(_) => self.meter.segment_out(t0.elapsed()),
            Err(_) => self.meter.segment_failed(),
        }
        r
    }
}
