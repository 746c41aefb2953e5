//! The engine every backend shares: a pool of runner threads of its own (never the async
//! executor), per-stream encoder reuse, the pipeline, and the startup self-test. A backend
//! brings its decoder and encoder factories.

use std::collections::HashMap;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use livepeer_core::transcode::{Capabilities, TranscodeJob, TranscodeOutput};
use livepeer_core::{Container, Ladder, StreamId, VideoCodec};
use tokio::sync::oneshot;

use crate::decode::{InputLimits, VideoDecoder};
use crate::encode::h264::{MAX_LONG_SIDE, MAX_SHORT_SIDE};
use crate::error::{self, Result, TranscodeError};
use crate::pipeline::{self, EncoderFactory, RenditionWorker, StageTimes};
use crate::software::SoftwareConfig;
use crate::testsrc;

#[derive(Default)]
struct StreamState {
    idle: Vec<RenditionWorker>,
    last_used: u64,
    next_pts: Option<i64>,
}

/// Makes a decoder within limits.
pub(crate) type DecoderFactory = dyn Fn(InputLimits) -> Result<Box<dyn VideoDecoder>> + Send + Sync;

/// What a backend plugs into the engine.
pub(crate) struct Backend {
    /// Name for [`Capabilities::backend`].
    pub name: String,
    /// Whether it runs on dedicated hardware.
    pub hardware: bool,
    /// Whether its H.264 output is bit-identical across runs and machines.
    pub deterministic: bool,
    /// Its decoder.
    pub decoder: Box<DecoderFactory>,
    /// Its encoders.
    pub encoder: Box<EncoderFactory>,
}

struct Shared {
    config: SoftwareConfig,
    backend: Backend,
    streams: Mutex<(u64, HashMap<StreamId, StreamState>)>,
}

type Reply = oneshot::Sender<Result<TranscodeOutput>>;

/// The shared engine behind [`SoftwareTranscoder`](crate::SoftwareTranscoder) and the
/// hardware backend.
pub(crate) struct Engine {
    shared: Arc<Shared>,
    tx: Option<SyncSender<(TranscodeJob, Reply)>>,
    runners: Vec<JoinHandle<()>>,
    caps: Capabilities,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.shared.config)
            .field("capabilities", &self.caps)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Starts the pool and runs the self-test: a synthetic segment through a two-rung H.264
    /// ladder (and a small AV1 rung when enabled), checked and timed. Fails if it fails.
    pub(crate) fn new(config: SoftwareConfig, backend: Backend) -> Result<Self> {
        let shared = Arc::new(Shared {
            config: config.clone(),
            backend,
            streams: Mutex::new((0, HashMap::new())),
        });
        let caps = self_test(&shared)?;
        let (tx, rx) = mpsc::sync_channel::<(TranscodeJob, Reply)>(config.queue_depth);
        let rx = Arc::new(Mutex::new(rx));
        let runners = (0..config.parallel_segments.max(1))
            .map(|i| {
                let rx = Arc::clone(&rx);
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("transcode-{i}"))
                    .spawn(move || {
                        loop {
                            let next = rx
                                .lock()
                                .map_err(|_| ())
                                .and_then(|r| r.recv().map_err(|_| ()));
                            let Ok((job, reply)) = next else { return };
                            let _ = reply.send(shared.run(job).map(|(o, _)| o));
                        }
                    })
                    .map_err(error::backend)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Engine {
            shared,
            tx: Some(tx),
            runners,
            caps,
        })
    }

    /// Transcodes on the calling thread (plus the segment's workers), bypassing the queue.
    pub(crate) fn transcode_with_stats(
        &self,
        job: TranscodeJob,
    ) -> Result<(TranscodeOutput, StageTimes)> {
        self.caps.check(&job)?;
        self.shared.run(job)
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &SoftwareConfig {
        &self.shared.config
    }

    /// The capabilities the self-test found.
    pub(crate) fn capabilities(&self) -> Capabilities {
        self.caps.clone()
    }

    /// Queues `job` for the pool and awaits it; `Busy` when the queue is full.
    pub(crate) async fn transcode(&self, job: TranscodeJob) -> Result<TranscodeOutput> {
        self.caps.check(&job)?;
        let (reply, rx) = oneshot::channel();
        let tx = self.tx.as_ref().ok_or(TranscodeError::Busy)?;
        match tx.try_send((job, reply)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(TranscodeError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(error::backend("transcoder stopped")),
        }
        rx.await
            .map_err(|_| error::backend("transcoder dropped the job"))?
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.tx = None; // closes the queue; runners finish their job and exit
        for r in self.runners.drain(..) {
            let _ = r.join();
        }
    }
}

impl Shared {
    fn take_workers(
        &self,
        job: &TranscodeJob,
        shape: &livepeer_core::rung::SourceShape,
    ) -> Result<Vec<RenditionWorker>> {
        let mut kept = {
            let mut g = self
                .streams
                .lock()
                .map_err(|_| error::backend("stream table poisoned"))?;
            g.1.get_mut(&job.stream_id)
                .map(|s| std::mem::take(&mut s.idle))
                .unwrap_or_default()
        };
        let mut out = Vec::with_capacity(job.ladder.profiles().len());
        for p in job.ladder.profiles() {
            match kept.iter().position(|w| w.fits(p, shape)) {
                Some(i) => out.push(kept.swap_remove(i)),
                None => out.push(RenditionWorker::new(p, shape, &self.backend.encoder)?),
            }
        }
        self.give_back(job.stream_id, kept, None);
        Ok(out)
    }

    fn give_back(&self, id: StreamId, workers: Vec<RenditionWorker>, next_pts: Option<i64>) {
        let Ok(mut g) = self.streams.lock() else {
            return;
        };
        g.0 += 1;
        let now = g.0;
        let s = g.1.entry(id).or_default();
        s.last_used = now;
        if next_pts.is_some() {
            s.next_pts = next_pts;
        }
        s.idle.extend(workers);
        s.idle.truncate(2 * crate::MAX_RENDITIONS_KEPT);
        if g.1.len() > self.config.max_streams
            && let Some(oldest) = g.1.iter().min_by_key(|(_, s)| s.last_used).map(|(k, _)| *k)
        {
            g.1.remove(&oldest);
        }
    }

    fn run(&self, job: TranscodeJob) -> Result<(TranscodeOutput, StageTimes)> {
        let span = tracing::debug_span!("segment", stream = %job.stream_id, seq = job.segment.seq);
        let _enter = span.enter();
        let prep = pipeline::prepare(&job)?;
        if prep.leading_dropped > 0 {
            tracing::debug!(
                dropped = prep.leading_dropped,
                "access units before the first key frame"
            );
        }
        let expected = {
            let g = self
                .streams
                .lock()
                .map_err(|_| error::backend("stream table poisoned"))?;
            g.1.get(&job.stream_id).and_then(|s| s.next_pts)
        };
        let first = prep.media.video.iter().map(|a| a.pts).min().unwrap_or(0);
        if let Some(e) = expected.filter(|e| (e - first).abs() > 1) {
            tracing::debug!(
                expected = e,
                got = first,
                "timestamp discontinuity between segments"
            );
        }
        let mut workers = self.take_workers(&job, &prep.shape)?;
        let result = prep
            .decoder(&self.backend.decoder, self.config.limits)
            .and_then(|mut dec| {
                pipeline::run(
                    &prep,
                    &mut workers,
                    self.config.workers_per_segment,
                    dec.as_mut(),
                )
            });
        let step =
            i64::from(crate::frame::TIMESCALE) * i64::from(prep.fps.den) / i64::from(prep.fps.num);
        let end = prep
            .media
            .video
            .iter()
            .map(|a| a.pts)
            .max()
            .map(|p| p + step);
        self.give_back(job.stream_id, workers, end);
        let (renditions, times) = result?;
        tracing::debug!(frames = times.frames, "segment transcoded");
        Ok((
            TranscodeOutput {
                renditions,
                source_frames: times.frames,
            },
            times,
        ))
    }
}

fn self_test(shared: &Shared) -> Result<Capabilities> {
    let source = testsrc::synthetic_segment(640, 360, 30, 0)?;
    let ladder = Ladder::parse("360p,240p").map_err(error::backend)?;
    let job = TranscodeJob {
        stream_id: StreamId::from_name("self-test"),
        segment: source,
        ladder,
    };
    let t = Instant::now();
    let (out, _) = shared.run(job)?;
    let secs = t.elapsed().as_secs_f64().max(1e-6);
    for r in &out.renditions {
        if r.frames != 30 || r.data.is_empty() {
            return Err(error::backend(format!(
                "self-test: {} gave {} frames",
                r.profile.name, r.frames
            )));
        }
        let seg = livepeer_core::Segment {
            seq: 0,
            duration: r.duration,
            data: r.data.clone(),
            container: Container::MpegTs,
            codec: VideoCodec::H264,
        };
        let info = crate::inspect::inspect(&seg, shared.config.limits)?;
        if info.frames != 30 || (info.width, info.height) != (r.profile.width, r.profile.height) {
            return Err(error::backend("self-test: output does not decode back"));
        }
    }
    let pps = (out.total_pixels().0 as f64 / secs) as u64;
    let mut encoders = vec![VideoCodec::H264];
    if shared.config.enable_av1 && av1_self_test(shared).is_ok() {
        encoders.push(VideoCodec::Av1);
    }
    Ok(Capabilities {
        backend: if encoders.contains(&VideoCodec::Av1) {
            format!("{}+rav1e", shared.backend.name)
        } else {
            shared.backend.name.clone()
        },
        decoders: vec![VideoCodec::H264],
        encoders,
        containers: vec![Container::MpegTs, Container::Mp4, Container::AnnexB],
        max_width: MAX_LONG_SIDE,
        max_height: MAX_SHORT_SIDE,
        pixels_per_second: pps,
        hardware: shared.backend.hardware,
        deterministic: shared.backend.deterministic,
    })
}

fn av1_self_test(shared: &Shared) -> Result<()> {
    let job = TranscodeJob {
        stream_id: StreamId::from_name("self-test-av1"),
        segment: testsrc::synthetic_segment(128, 72, 4, 0)?,
        ladder: Ladder::parse(
            r#"[{"name":"av1","width":64,"height":36,"bitrate":100000,"codec":"av1"}]"#,
        )
        .map_err(error::backend)?,
    };
    let (out, _) = shared.run(job)?;
    match out.renditions.first() {
        Some(r) if r.frames == 4 && r.data.starts_with(b"DKIF") => Ok(()),
        _ => Err(error::backend("AV1 self-test gave no frames")),
    }
}
