//! What a broadcaster streams, and who hears how it goes.

use std::path::Path;
use std::time::Duration;

use livepeer_core::verify::FaultReport;
use livepeer_core::{Address, AddressExt, Segment};
use livepeer_transcode::input::InputStream;
use livepeer_transcode::testsrc::synthetic_segment;
use tracing::{info, warn};

use crate::error::Result;

/// Hears how a stream goes; binaries draw a progress bar with it.
pub trait Progress: Send + Sync {
    /// A stage begins.
    fn stage(&self, what: &str);
    /// Segments to go, when known.
    fn total(&self, segments: Option<u64>);
    /// A segment is done.
    fn segment(&self, seq: u64, orchestrator: Address, latency: Duration);
    /// A fault was found.
    fn fault(&self, report: &FaultReport);
}

/// Progress that goes to the log only.
#[derive(Debug, Default)]
pub struct LogProgress;

impl Progress for LogProgress {
    fn stage(&self, what: &str) {
        info!("{what}");
    }
    fn total(&self, _: Option<u64>) {}
    fn segment(&self, seq: u64, orchestrator: Address, latency: Duration) {
        info!(seq, orchestrator = %orchestrator.checksummed(), ?latency, "segment done");
    }
    fn fault(&self, report: &FaultReport) {
        warn!(kind = ?report.kind, orchestrator = %report.orchestrator.checksummed(), "fault");
    }
}

/// The segments to stream: a file's or playlist's, or a generated test pattern's.
#[derive(Debug)]
pub enum SegmentSource {
    /// Cut from a file or playlist.
    File(Box<InputStream>),
    /// The test pattern: 2 s segments of 30 fps pictures.
    Pattern {
        /// Picture size.
        size: (u32, u32),
        /// The next segment number.
        next: u64,
        /// Segments in all.
        end: u64,
    },
}

impl SegmentSource {
    /// Opens `input` (checking it before any work), or the test pattern when `None`.
    pub fn open(
        input: Option<&Path>,
        segment: Duration,
        size: (u32, u32),
        segments: u64,
    ) -> Result<Self> {
        Ok(match input {
            Some(p) => SegmentSource::File(Box::new(
                InputStream::open(p, segment).map_err(anyhow::Error::from)?,
            )),
            None => SegmentSource::Pattern {
                size,
                next: 0,
                end: segments,
            },
        })
    }

    /// Opens the file or playlist at `input`, cut in 2 s segments.
    pub fn file(input: &Path) -> Result<Self> {
        Self::open(Some(input), Duration::from_secs(2), (0, 0), 0)
    }

    /// Segments in all, when known in advance.
    pub fn known_len(&self) -> Option<u64> {
        match self {
            SegmentSource::Pattern { end, .. } => Some(*end),
            SegmentSource::File(_) => None,
        }
    }

    /// The next segment, or `None` at the end.
    pub fn next_segment(&mut self) -> Result<Option<Segment>> {
        match self {
            SegmentSource::File(s) => Ok(s.next_segment().map_err(anyhow::Error::from)?),
            SegmentSource::Pattern { size, next, end } => {
                if *next >= *end {
                    return Ok(None);
                }
                let s =
                    synthetic_segment(size.0, size.1, 60, *next).map_err(anyhow::Error::from)?;
                *next += 1;
                Ok(Some(s))
            }
        }
    }
}

/// Checks that `out` holds no HLS stream already, before any work: a new stream must not
/// overwrite one (resume it instead).
pub fn check_output(out: &Path) -> Result<()> {
    if out.join(livepeer_transcode::hls::MASTER).exists() {
        return Err(crate::NodeError::Config(format!(
            "{} already holds an HLS stream; choose an empty directory, or resume it",
            out.display()
        )));
    }
    Ok(())
}
