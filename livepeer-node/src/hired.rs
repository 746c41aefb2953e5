//! Sampled segments re-encoded by another orchestrator, hired through negotiation and paid
//! with tickets.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use livepeer_core::StreamId;
use livepeer_core::transcode::Transcoder;
use livepeer_negotiate::Broadcaster;

/// Another orchestrator as a [`Transcoder`]: each ladder gets a negotiation session of its
/// own, and a job is one segment sent through it. Its output is what an honest orchestrator
/// running the deterministic software backend returns, so a result that differs bit for
/// bit from it is a re-encode mismatch.
pub struct HiredTranscoder {
    broadcaster: Broadcaster,
    sessions: tokio::sync::Mutex<
        HashMap<Vec<livepeer_core::H256>, Arc<livepeer_negotiate::StreamSession>>,
    >,
}

impl std::fmt::Debug for HiredTranscoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HiredTranscoder").finish_non_exhaustive()
    }
}

impl HiredTranscoder {
    /// Hires through `broadcaster` (which should not verify with this transcoder itself).
    pub fn new(broadcaster: Broadcaster) -> Self {
        HiredTranscoder {
            broadcaster,
            sessions: tokio::sync::Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl Transcoder for HiredTranscoder {
    fn capabilities(&self) -> livepeer_core::transcode::Capabilities {
        livepeer_core::transcode::Capabilities {
            backend: "hired orchestrator".into(),
            decoders: vec![livepeer_core::VideoCodec::H264],
            encoders: vec![livepeer_core::VideoCodec::H264],
            containers: vec![livepeer_core::Container::MpegTs],
            max_width: 4096,
            max_height: 2304,
            pixels_per_second: 0,
            hardware: false,
            deterministic: true,
        }
    }

    async fn transcode(
        &self,
        job: livepeer_core::transcode::TranscodeJob,
    ) -> Result<livepeer_core::transcode::TranscodeOutput, livepeer_core::transcode::TranscodeError>
    {
        let backend = |e: livepeer_negotiate::NegotiateError| {
            livepeer_core::transcode::TranscodeError::Backend(format!("hired re-encode: {e}"))
        };
        let key = job.ladder.ids();
        let session = {
            let mut sessions = self.sessions.lock().await;
            match sessions.get(&key) {
                Some(s) => s.clone(),
                None => {
                    let name = format!("reencode {:?}", key.first());
                    let s = Arc::new(
                        self.broadcaster
                            .start_stream(StreamId::from_name(&name), job.ladder.clone())
                            .await
                            .map_err(backend)?,
                    );
                    sessions.insert(key, s.clone());
                    s
                }
            }
        };
        // Never the orchestrator whose result this re-encode checks.
        let excluded = livepeer_verify::reencode::checked_orchestrator()
            .into_iter()
            .collect();
        let r = session
            .transcode_excluding(job.segment, excluded)
            .await
            .map_err(backend)?;
        Ok(livepeer_core::transcode::TranscodeOutput {
            renditions: r.renditions,
            source_frames: 0,
        })
    }
}
