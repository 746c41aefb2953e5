//! A dishonest transcoder for demonstrations and tests: it saves work by encoding every rung
//! at half the width and height it was asked for, and claims the profile it was given. The
//! broadcaster's always-on checks read the real size from the bitstream and catch it.

use std::sync::Arc;

use async_trait::async_trait;
use livepeer_core::Ladder;
use livepeer_core::transcode::{
    Capabilities, TranscodeError, TranscodeJob, TranscodeOutput, Transcoder,
};

/// Wraps an honest transcoder and shrinks every rendition to a quarter of its pixels.
pub struct DownscalingTranscoder {
    inner: Arc<dyn Transcoder>,
}

impl std::fmt::Debug for DownscalingTranscoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownscalingTranscoder")
            .finish_non_exhaustive()
    }
}

impl DownscalingTranscoder {
    /// A cheat over `inner`.
    pub fn new(inner: Arc<dyn Transcoder>) -> Self {
        DownscalingTranscoder { inner }
    }
}

/// Half of `v`, rounded down to an even number, at least 16.
fn half(v: u32) -> u32 {
    (v / 2 / 2 * 2).max(16)
}

#[async_trait]
impl Transcoder for DownscalingTranscoder {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn transcode(&self, job: TranscodeJob) -> Result<TranscodeOutput, TranscodeError> {
        let asked = job.ladder.clone();
        let small: Vec<_> = asked
            .profiles()
            .iter()
            .map(|p| {
                let mut q = p.clone();
                q.width = half(p.width);
                q.height = half(p.height);
                q.bitrate_bps = (p.bitrate_bps / 4).max(1);
                q
            })
            .collect();
        let ladder = Ladder::new(small).map_err(|e| TranscodeError::Backend(e.to_string()))?;
        let mut out = self.inner.transcode(TranscodeJob { ladder, ..job }).await?;
        // Claim the profiles that were asked for.
        for (r, p) in out.renditions.iter_mut().zip(asked.profiles()) {
            r.profile = p.clone();
        }
        Ok(out)
    }
}
