//! Reading one request or reply off a stream: a head message, then the bodies it declares
//! as chunks. Sans-IO, with deadlines that defeat slow-drip peers.
//!
//! Drive it with [`StreamReader::handle_data`] for every read and
//! [`StreamReader::handle_timeout`] when [`StreamReader::poll_timeout`] passes; after each
//! call, [`StreamReader::poll_event`] says whether it is done.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use livepeer_core::media::MAX_SEGMENT_BYTES;

use super::codec::{FrameDecoder, MessageType};
use super::error::ProtoError;
use super::messages::Message;

/// Bounds on one read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadLimits {
    /// Longest wait between two pieces of progress (a byte that completes nothing counts:
    /// the total deadline stops drips).
    pub idle: Duration,
    /// Longest time for the whole message and its bodies.
    pub total: Duration,
    /// Most body bytes over all bodies.
    pub max_body: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            idle: Duration::from_secs(5),
            total: Duration::from_secs(60),
            max_body: MAX_SEGMENT_BYTES as u64,
        }
    }
}

impl ReadLimits {
    /// Limits with the given idle and total deadlines and the default body bound.
    pub fn new(idle: Duration, total: Duration) -> Self {
        ReadLimits {
            idle,
            total,
            ..Self::default()
        }
    }

    /// Sets the body bound.
    pub fn with_max_body(mut self, max_body: u64) -> Self {
        self.max_body = max_body;
        self
    }
}

/// A complete head message and its bodies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assembled {
    /// The head message.
    pub head: Message,
    /// The bodies it declared, in order.
    pub bodies: Vec<Bytes>,
}

/// What the reader reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadEvent {
    /// The message and its bodies are complete.
    Done(Box<Assembled>),
    /// The peer broke the protocol or was too slow; send it [`ProtoError::to_wire`] and close.
    Failed(ProtoError),
}

/// Reads one head message of an allowed type plus the bodies it declares.
#[derive(Debug)]
pub struct StreamReader {
    allowed: &'static [MessageType],
    limits: ReadLimits,
    decoder: FrameDecoder,
    started: Instant,
    last_progress: Instant,
    head: Option<Message>,
    pending: Vec<u64>,
    current: BytesMut,
    bodies: Vec<Bytes>,
    event: Option<ReadEvent>,
    finished: bool,
}

/// The body lengths a head message declares.
pub fn declared_bodies(m: &Message) -> Vec<u64> {
    match m {
        Message::SegmentHeader(h) => vec![h.body_len],
        Message::Task(t) => vec![t.body_len],
        Message::ResultHeader(r) => r.renditions.iter().map(|r| r.len).collect(),
        Message::TaskResult(r) => r.renditions.iter().map(|r| r.len).collect(),
        _ => Vec::new(),
    }
}

impl StreamReader {
    /// A reader accepting a head of one of the `allowed` types ([`MessageType::Error`] is
    /// always allowed), started at `now`.
    pub fn new(now: Instant, allowed: &'static [MessageType], limits: ReadLimits) -> Self {
        StreamReader {
            allowed,
            limits,
            decoder: FrameDecoder::new(),
            started: now,
            last_progress: now,
            head: None,
            pending: Vec::new(),
            current: BytesMut::new(),
            bodies: Vec::new(),
            event: None,
            finished: false,
        }
    }

    /// Feeds bytes read from the stream at `now`.
    pub fn handle_data(&mut self, now: Instant, data: &[u8]) {
        if self.finished {
            return;
        }
        if !data.is_empty() {
            self.last_progress = now;
        }
        self.decoder.handle_data(data);
        loop {
            match self.decoder.poll_frame() {
                Ok(Some(m)) => {
                    if let Err(e) = self.on_message(m) {
                        return self.fail(e);
                    }
                    if self.finished {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => return self.fail(e),
            }
        }
        self.handle_timeout(now);
    }

    /// The stream ended (FIN) at `now`.
    pub fn handle_end(&mut self, _now: Instant) {
        if !self.finished {
            self.fail(ProtoError::Truncated);
        }
    }

    /// Checks the deadlines at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        if now.saturating_duration_since(self.started) >= self.limits.total {
            self.fail(ProtoError::Timeout("total deadline"));
        } else if now.saturating_duration_since(self.last_progress) >= self.limits.idle {
            self.fail(ProtoError::Timeout("idle deadline"));
        }
    }

    /// When to call [`Self::handle_timeout`] next; `None` once finished.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        Some((self.started + self.limits.total).min(self.last_progress + self.limits.idle))
    }

    /// The head message once it has arrived while its bodies are still coming, so a driver
    /// can vet it (payment, bounds) before accepting megabytes of body.
    pub fn head(&self) -> Option<&Message> {
        if self.finished {
            None
        } else {
            self.head.as_ref()
        }
    }

    /// The outcome, once there is one.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ReadEvent> {
        self.event.take()
    }

    fn fail(&mut self, e: ProtoError) {
        self.finished = true;
        self.event = Some(ReadEvent::Failed(e));
    }

    fn on_message(&mut self, m: Message) -> Result<(), ProtoError> {
        match (&self.head, m) {
            (None, m) => {
                let k = m.kind();
                if k != MessageType::Error && !self.allowed.contains(&k) {
                    return Err(ProtoError::Unexpected {
                        got: k.name(),
                        expected: self.allowed.first().map_or("nothing", |t| t.name()),
                    });
                }
                let lens = declared_bodies(&m);
                let total = lens.iter().fold(0u64, |a, l| a.saturating_add(*l));
                if total > self.limits.max_body {
                    return Err(ProtoError::BodyOverflow {
                        got: total,
                        max: self.limits.max_body,
                    });
                }
                self.pending = lens.into_iter().rev().collect();
                self.head = Some(m);
                self.advance_empty();
            }
            (Some(_), Message::Chunk(c)) => {
                let Some(want) = self.pending.last().copied() else {
                    return Err(ProtoError::Unexpected {
                        got: "Chunk",
                        expected: "end of stream",
                    });
                };
                let got = self.current.len() as u64 + c.len() as u64;
                if got > want {
                    return Err(ProtoError::BodyOverflow { got, max: want });
                }
                self.current.extend_from_slice(&c);
                self.advance_empty();
            }
            (Some(_), other) => {
                return Err(ProtoError::Unexpected {
                    got: other.kind().name(),
                    expected: "Chunk",
                });
            }
        }
        if self.pending.is_empty()
            && let Some(head) = self.head.take()
        {
            self.finished = true;
            self.event = Some(ReadEvent::Done(Box::new(Assembled {
                head,
                bodies: std::mem::take(&mut self.bodies),
            })));
        }
        Ok(())
    }

    /// Moves every body that is complete (including empty ones) to `bodies`.
    fn advance_empty(&mut self) {
        while let Some(&want) = self.pending.last() {
            if self.current.len() as u64 == want {
                self.bodies.push(std::mem::take(&mut self.current).freeze());
                self.pending.pop();
            } else {
                break;
            }
        }
    }
}
