//! The orchestrator's transcoder pool: in-process transcoders and remote ones that register
//! over QUIC. Dispatch picks the least loaded compatible member by pixels per second; a
//! task that fails for a reason other than its input is retried on another member; each
//! task is isolated, so one bad segment never affects a transcoder's other work.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use livepeer_core::transcode::{
    Capabilities, Rendition, TranscodeError, TranscodeJob, TranscodeOutput, Transcoder,
};
use livepeer_core::{Address, Pixels, Signer};
use tracing::{debug, warn};

use super::NegotiateError;
use super::wire::{
    bind_client, finish_delivered, read_assembled, send_error, write_body, write_msg,
};
use crate::proto::{
    ErrorCode, Message, MessageType, POOL_ALPN, ReadLimits, Register, RenditionMeta, Role,
    TaskHeader, TaskResult, WireError, ladder_rate,
};

struct Member {
    id: u64,
    transcoder: Arc<dyn Transcoder>,
    capabilities: Capabilities,
    capacity_pps: u64,
    max_tasks: u32,
    load_pps: u64,
    running: u32,
}

/// Load of one pool member.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberLoad {
    /// Pool id.
    pub id: u64,
    /// Capacity, pixels per second.
    pub capacity_pps: u64,
    /// Pixels per second reserved by running tasks.
    pub load_pps: u64,
    /// Tasks running.
    pub running: u32,
}

/// The transcoders an orchestrator hands work to.
pub struct Pool {
    members: Mutex<Vec<Member>>,
    next_id: Mutex<u64>,
    task_timeout_factor: f64,
    min_task_timeout: Duration,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("members", &self.loads())
            .finish()
    }
}

/// Why the pool could not run a job.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolError {
    /// No member can take it (none, incompatible, or all full).
    NoTranscoders,
    /// The input is at fault; no other member was tried.
    Input(TranscodeError),
    /// Every member tried failed; the last error.
    Failed(TranscodeError),
}

impl PoolError {
    /// The wire error for the broadcaster.
    pub fn to_wire(&self) -> WireError {
        match self {
            PoolError::NoTranscoders => {
                WireError::new(ErrorCode::NoTranscoders, "no transcoders available")
            }
            PoolError::Input(e @ TranscodeError::SegmentFormatDidntMatchJobInputParams(_)) => {
                WireError::new(
                    ErrorCode::SegmentFormatDidntMatchJobInputParams,
                    e.to_string(),
                )
            }
            PoolError::Input(e) => WireError::new(ErrorCode::InvalidInput, e.to_string()),
            PoolError::Failed(e) => WireError::new(ErrorCode::TranscodeFailed, e.to_string()),
        }
    }
}

impl Pool {
    /// An empty pool; a task times out after `task_timeout_factor` × its segment duration
    /// (at least `min_task_timeout`) and is retried elsewhere.
    pub fn new(task_timeout_factor: f64, min_task_timeout: Duration) -> Self {
        Pool {
            members: Mutex::new(Vec::new()),
            next_id: Mutex::new(1),
            task_timeout_factor,
            min_task_timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Member>> {
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a transcoder offering `capacity_pps` and at most `max_tasks` at once; returns its id.
    pub fn add(&self, transcoder: Arc<dyn Transcoder>, capacity_pps: u64, max_tasks: u32) -> u64 {
        let id = {
            let mut n = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
            *n += 1;
            *n - 1
        };
        let capabilities = transcoder.capabilities();
        self.lock().push(Member {
            id,
            transcoder,
            capabilities,
            capacity_pps,
            max_tasks: max_tasks.max(1),
            load_pps: 0,
            running: 0,
        });
        id
    }

    /// Removes a member (a remote transcoder that went away). Its running tasks fail over.
    pub fn remove(&self, id: u64) {
        self.lock().retain(|m| m.id != id);
    }

    /// Total capacity, pixels per second.
    pub fn capacity(&self) -> u64 {
        self.lock().iter().map(|m| m.capacity_pps).sum()
    }

    /// Members and their load.
    pub fn loads(&self) -> Vec<MemberLoad> {
        self.lock()
            .iter()
            .map(|m| MemberLoad {
                id: m.id,
                capacity_pps: m.capacity_pps,
                load_pps: m.load_pps,
                running: m.running,
            })
            .collect()
    }

    /// Picks and reserves the least loaded compatible member not in `tried`.
    fn reserve(
        &self,
        job: &TranscodeJob,
        rate: u64,
        tried: &[u64],
    ) -> Option<(u64, Arc<dyn Transcoder>)> {
        let mut members = self.lock();
        let best = members
            .iter_mut()
            .filter(|m| !tried.contains(&m.id))
            .filter(|m| m.running < m.max_tasks)
            .filter(|m| m.capabilities.check(job).is_ok())
            .min_by(|a, b| {
                let la = (a.load_pps + rate) as f64 / a.capacity_pps.max(1) as f64;
                let lb = (b.load_pps + rate) as f64 / b.capacity_pps.max(1) as f64;
                la.total_cmp(&lb).then(a.id.cmp(&b.id))
            })?;
        best.load_pps = best.load_pps.saturating_add(rate);
        best.running += 1;
        Some((best.id, best.transcoder.clone()))
    }

    fn release(&self, id: u64, rate: u64) {
        if let Some(m) = self.lock().iter_mut().find(|m| m.id == id) {
            m.load_pps = m.load_pps.saturating_sub(rate);
            m.running = m.running.saturating_sub(1);
        }
    }

    /// Runs `job` on the pool, failing over between members.
    pub async fn run(&self, job: TranscodeJob) -> Result<TranscodeOutput, PoolError> {
        let rate = ladder_rate(&job.ladder);
        let timeout = job
            .segment
            .duration
            .mul_f64(self.task_timeout_factor)
            .max(self.min_task_timeout);
        let mut tried = Vec::new();
        let mut last = None;
        loop {
            let Some((id, t)) = self.reserve(&job, rate, &tried) else {
                return Err(last.map_or(PoolError::NoTranscoders, PoolError::Failed));
            };
            tried.push(id);
            let r = tokio::time::timeout(timeout, t.transcode(job.clone())).await;
            self.release(id, rate);
            match r {
                Ok(Ok(out)) if out.renditions.len() == job.ladder.profiles().len() => {
                    return Ok(out);
                }
                Ok(Ok(out)) => {
                    warn!(
                        member = id,
                        got = out.renditions.len(),
                        "transcoder returned a wrong number of renditions"
                    );
                    last = Some(TranscodeError::Backend("wrong number of renditions".into()));
                }
                Ok(Err(e)) if e.is_input_error() => return Err(PoolError::Input(e)),
                Ok(Err(e)) => {
                    debug!(member = id, error = %e, "task failed; trying another transcoder");
                    last = Some(e);
                }
                Err(_) => {
                    warn!(member = id, "task timed out; trying another transcoder");
                    last = Some(TranscodeError::Backend("task timed out".into()));
                }
            }
        }
    }
}

/// A transcoder on the other end of a pool connection.
pub(crate) struct RemoteTranscoder {
    pub(crate) conn: quinn::Connection,
    pub(crate) capabilities: Capabilities,
    pub(crate) limits: ReadLimits,
    pub(crate) next_task: std::sync::atomic::AtomicU64,
}

#[async_trait]
impl Transcoder for RemoteTranscoder {
    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }

    async fn transcode(&self, job: TranscodeJob) -> Result<TranscodeOutput, TranscodeError> {
        let backend = |e: NegotiateError| TranscodeError::Backend(e.to_string());
        let task_id = self
            .next_task
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (mut send, mut recv) = self
            .conn
            .open_bi()
            .await
            .map_err(|e| TranscodeError::Backend(e.to_string()))?;
        let head = Message::Task(TaskHeader {
            task_id,
            stream_id: job.stream_id,
            seq: job.segment.seq,
            duration_ms: job.segment.duration.as_millis() as u64,
            container: job.segment.container,
            codec: job.segment.codec,
            ladder: job.ladder.clone(),
            body_len: job.segment.data.len() as u64,
        });
        write_msg(&mut send, &head).await.map_err(backend)?;
        write_body(&mut send, &job.segment.data)
            .await
            .map_err(backend)?;
        finish_delivered(&self.conn, &mut send, &self.limits)
            .await
            .map_err(backend)?;
        let a = match read_assembled(&mut recv, &[MessageType::TaskResult], self.limits.clone())
            .await
        {
            Ok(a) => a,
            Err(NegotiateError::Remote(w)) => {
                return Err(match w.code {
                    ErrorCode::SegmentFormatDidntMatchJobInputParams => {
                        TranscodeError::SegmentFormatDidntMatchJobInputParams(w.message)
                    }
                    ErrorCode::InvalidInput => TranscodeError::InvalidInput(w.message),
                    _ => TranscodeError::Backend(w.message),
                });
            }
            Err(e) => return Err(backend(e)),
        };
        let Message::TaskResult(r) = a.head else {
            return Err(TranscodeError::Backend("unexpected reply".into()));
        };
        if r.renditions.len() != job.ladder.profiles().len() {
            return Err(TranscodeError::Backend("wrong number of renditions".into()));
        }
        let renditions = job
            .ladder
            .profiles()
            .iter()
            .zip(r.renditions)
            .zip(a.bodies)
            .map(|((p, m), data)| Rendition {
                profile: p.clone(),
                data,
                frames: m.frames,
                pixels: Pixels(m.pixels),
                duration: Duration::from_millis(m.duration_ms),
            })
            .collect();
        Ok(TranscodeOutput {
            renditions,
            source_frames: r.source_frames,
        })
    }
}

/// Metadata of renditions for the wire.
pub(crate) fn metas(out: &TranscodeOutput) -> Vec<RenditionMeta> {
    crate::proto::rendition_metas(out)
}

/// A transcoder working for a remote orchestrator's pool.
#[derive(Debug)]
pub struct TranscoderNode {
    conn: quinn::Connection,
    task: tokio::task::JoinHandle<()>,
}

impl TranscoderNode {
    /// Connects from `endpoint` to the orchestrator at `addr`, checks it proves
    /// `orchestrator`, proves our own address, registers `capacity_pps` and serves tasks
    /// until the connection ends. Each task runs on its own, so one failing never touches
    /// the others.
    #[allow(clippy::too_many_arguments)]
    pub async fn connect(
        endpoint: &quinn::Endpoint,
        addr: std::net::SocketAddr,
        orchestrator: Address,
        signer: Arc<dyn Signer>,
        transcoder: Arc<dyn Transcoder>,
        capacity_pps: u64,
        max_tasks: u32,
        secret: Option<String>,
    ) -> Result<TranscoderNode, NegotiateError> {
        let limits = ReadLimits::default();
        let cfg = super::tls::client_config(POOL_ALPN, 64)?;
        let conn = endpoint
            .connect_with(cfg, addr, &super::tls::server_name(&orchestrator))
            .map_err(NegotiateError::transport)?
            .await
            .map_err(NegotiateError::connect)?;
        bind_client(
            &conn,
            &*signer,
            Role::Transcoder,
            orchestrator,
            limits.clone(),
        )
        .await?;
        let (mut send, mut recv) = conn.open_bi().await.map_err(NegotiateError::transport)?;
        let reg = Register {
            capabilities: transcoder.capabilities(),
            capacity_pps,
            max_tasks,
            secret,
        };
        write_msg(&mut send, &Message::Register(reg)).await?;
        let _ = send.finish();
        read_assembled(&mut recv, &[MessageType::Registered], limits.clone()).await?;
        let c = conn.clone();
        let task = tokio::spawn(async move {
            while let Ok((send, recv)) = c.accept_bi().await {
                let t = transcoder.clone();
                let limits = limits.clone();
                tokio::spawn(async move { serve_task(t, send, recv, limits).await });
            }
        });
        Ok(TranscoderNode { conn, task })
    }

    /// Leaves the pool.
    pub fn close(&self) {
        self.conn.close(0u8.into(), b"bye");
        self.task.abort();
    }

    /// Waits until the orchestrator goes away.
    pub async fn closed(&self) {
        self.conn.closed().await;
    }
}

async fn serve_task(
    t: Arc<dyn Transcoder>,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    limits: ReadLimits,
) {
    let a = match read_assembled(&mut recv, &[MessageType::Task], limits).await {
        Ok(a) => a,
        Err(NegotiateError::Proto(e)) => return send_error(&mut send, e.to_wire()).await,
        Err(_) => return,
    };
    let (Message::Task(h), Some(data)) = (a.head, a.bodies.into_iter().next()) else {
        return;
    };
    let job = TranscodeJob {
        stream_id: h.stream_id,
        segment: livepeer_core::Segment {
            seq: h.seq,
            duration: Duration::from_millis(h.duration_ms),
            data,
            container: h.container,
            codec: h.codec,
        },
        ladder: h.ladder,
    };
    match t.transcode(job).await {
        Ok(out) => {
            let head = Message::TaskResult(TaskResult {
                task_id: h.task_id,
                renditions: metas(&out),
                source_frames: out.source_frames,
            });
            if write_msg(&mut send, &head).await.is_ok() {
                for r in &out.renditions {
                    if write_body(&mut send, &r.data).await.is_err() {
                        return;
                    }
                }
                let _ = send.finish();
            }
        }
        Err(e) => {
            let code = match &e {
                TranscodeError::SegmentFormatDidntMatchJobInputParams(_) => {
                    ErrorCode::SegmentFormatDidntMatchJobInputParams
                }
                e if e.is_input_error() => ErrorCode::InvalidInput,
                _ => ErrorCode::TranscodeFailed,
            };
            let msg = match &e {
                TranscodeError::SegmentFormatDidntMatchJobInputParams(m)
                | TranscodeError::InvalidInput(m) => m.clone(),
                other => other.to_string(),
            };
            send_error(&mut send, WireError::new(code, msg)).await;
        }
    }
}
