//! Framing: `type: u8 | len: u32 (big endian) | payload`. The length is checked against the
//! type's bound as soon as the 5-byte header is in, before any payload is buffered or
//! decoded; payloads are postcard, except [`Message::Chunk`], whose payload is the raw bytes.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ProtoError;
use super::messages::*;

/// ALPN of the broadcaster ↔ orchestrator protocol; the trailing number is the version.
pub const ALPN: &[u8] = b"livepeer-negotiate/1";
/// ALPN of the orchestrator ↔ transcoder pool protocol.
pub const POOL_ALPN: &[u8] = b"livepeer-pool/1";
/// Bytes in a frame header.
pub const HEADER_LEN: usize = 5;
/// Largest chunk of a body or rendition.
pub const MAX_CHUNK: usize = 64 * 1024;

/// The type byte of each message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum MessageType {
    /// [`Message::Hello`].
    Hello = 0x01,
    /// [`Message::JobRequest`].
    JobRequest = 0x02,
    /// [`Message::Quote`].
    Quote = 0x03,
    /// [`Message::Subscribe`].
    Subscribe = 0x04,
    /// [`Message::QuoteUpdate`].
    QuoteUpdate = 0x05,
    /// [`Message::SegmentHeader`].
    SegmentHeader = 0x06,
    /// [`Message::Chunk`].
    Chunk = 0x07,
    /// [`Message::ResultHeader`].
    ResultHeader = 0x08,
    /// [`Message::Error`].
    Error = 0x09,
    /// [`Message::Register`].
    Register = 0x0a,
    /// [`Message::Registered`].
    Registered = 0x0b,
    /// [`Message::Task`].
    Task = 0x0c,
    /// [`Message::TaskResult`].
    TaskResult = 0x0d,
}

impl MessageType {
    /// Every type, in wire order.
    pub const ALL: [MessageType; 13] = [
        MessageType::Hello,
        MessageType::JobRequest,
        MessageType::Quote,
        MessageType::Subscribe,
        MessageType::QuoteUpdate,
        MessageType::SegmentHeader,
        MessageType::Chunk,
        MessageType::ResultHeader,
        MessageType::Error,
        MessageType::Register,
        MessageType::Registered,
        MessageType::Task,
        MessageType::TaskResult,
    ];

    /// The type of a type byte.
    pub fn from_u8(b: u8) -> Result<Self, ProtoError> {
        Self::ALL
            .into_iter()
            .find(|t| *t as u8 == b)
            .ok_or(ProtoError::UnknownType(b))
    }

    /// The largest payload of this type, in bytes.
    pub fn max_len(self) -> usize {
        match self {
            MessageType::Hello => 128,
            MessageType::JobRequest | MessageType::Subscribe => 8 * 1024,
            MessageType::Quote | MessageType::QuoteUpdate => 1024,
            // Ladder (≤ 16 profiles) plus up to 256 tickets.
            MessageType::SegmentHeader => 48 * 1024,
            MessageType::Chunk => MAX_CHUNK,
            MessageType::ResultHeader => 8 * 1024,
            MessageType::Error => 600,
            MessageType::Register => 2 * 1024,
            MessageType::Registered => 16,
            MessageType::Task => 8 * 1024,
            MessageType::TaskResult => 2 * 1024,
        }
    }

    /// A name for errors and logs.
    pub fn name(self) -> &'static str {
        match self {
            MessageType::Hello => "Hello",
            MessageType::JobRequest => "JobRequest",
            MessageType::Quote => "Quote",
            MessageType::Subscribe => "Subscribe",
            MessageType::QuoteUpdate => "QuoteUpdate",
            MessageType::SegmentHeader => "SegmentHeader",
            MessageType::Chunk => "Chunk",
            MessageType::ResultHeader => "ResultHeader",
            MessageType::Error => "Error",
            MessageType::Register => "Register",
            MessageType::Registered => "Registered",
            MessageType::Task => "Task",
            MessageType::TaskResult => "TaskResult",
        }
    }
}

impl Message {
    /// The message's type.
    pub fn kind(&self) -> MessageType {
        match self {
            Message::Hello(_) => MessageType::Hello,
            Message::JobRequest(_) => MessageType::JobRequest,
            Message::Quote(_) => MessageType::Quote,
            Message::Subscribe(_) => MessageType::Subscribe,
            Message::QuoteUpdate(_) => MessageType::QuoteUpdate,
            Message::SegmentHeader(_) => MessageType::SegmentHeader,
            Message::Chunk(_) => MessageType::Chunk,
            Message::ResultHeader(_) => MessageType::ResultHeader,
            Message::Error(_) => MessageType::Error,
            Message::Register(_) => MessageType::Register,
            Message::Registered(_) => MessageType::Registered,
            Message::Task(_) => MessageType::Task,
            Message::TaskResult(_) => MessageType::TaskResult,
        }
    }

    /// Encodes the message as one frame, header included. Fails if the payload exceeds its
    /// type's bound (a peer would refuse it).
    pub fn encode(&self) -> Result<Bytes, ProtoError> {
        let kind = self.kind();
        let payload = match self {
            Message::Hello(m) => ser(m),
            Message::JobRequest(m) => ser(m),
            Message::Quote(m) | Message::QuoteUpdate(m) => ser(m),
            Message::Subscribe(m) => ser(m),
            Message::SegmentHeader(m) => ser(m),
            Message::Chunk(b) => b.to_vec(),
            Message::ResultHeader(m) => ser(m),
            Message::Error(m) => ser(m),
            Message::Register(m) => ser(m),
            Message::Registered(m) => ser(m),
            Message::Task(m) => ser(m),
            Message::TaskResult(m) => ser(m),
        };
        if payload.len() > kind.max_len() {
            return Err(ProtoError::EncodeTooLarge {
                kind: kind.name(),
                len: payload.len(),
                max: kind.max_len(),
            });
        }
        let mut out = BytesMut::with_capacity(HEADER_LEN + payload.len());
        out.put_u8(kind as u8);
        // The bound above keeps every length far below u32::MAX.
        out.put_u32(payload.len() as u32);
        out.extend_from_slice(&payload);
        Ok(out.freeze())
    }

    /// Decodes the payload of a frame of type `kind`. The caller has checked the bound.
    pub fn decode(kind: MessageType, payload: Bytes) -> Result<Message, ProtoError> {
        if payload.len() > kind.max_len() {
            return Err(ProtoError::TooLarge {
                kind: kind.name(),
                len: payload.len(),
                max: kind.max_len(),
            });
        }
        let p = &payload[..];
        Ok(match kind {
            MessageType::Hello => Message::Hello(de(kind, p)?),
            MessageType::JobRequest => Message::JobRequest(de(kind, p)?),
            MessageType::Quote => Message::Quote(de(kind, p)?),
            MessageType::Subscribe => Message::Subscribe(de(kind, p)?),
            MessageType::QuoteUpdate => Message::QuoteUpdate(de(kind, p)?),
            MessageType::SegmentHeader => {
                let h: SegmentHeader = de(kind, p)?;
                if let Some(b) = &h.payment
                    && b.check_bounds().is_err()
                {
                    return Err(malformed(kind, "ticket batch out of bounds"));
                }
                Message::SegmentHeader(h)
            }
            MessageType::Chunk => {
                if payload.is_empty() {
                    return Err(malformed(kind, "empty chunk"));
                }
                Message::Chunk(payload)
            }
            MessageType::ResultHeader => Message::ResultHeader(de(kind, p)?),
            MessageType::Error => {
                let e: WireError = de(kind, p)?;
                if e.message.len() > WireError::MAX_MESSAGE {
                    return Err(malformed(kind, "message too long"));
                }
                Message::Error(e)
            }
            MessageType::Register => Message::Register(de(kind, p)?),
            MessageType::Registered => Message::Registered(de(kind, p)?),
            MessageType::Task => Message::Task(de(kind, p)?),
            MessageType::TaskResult => Message::TaskResult(de(kind, p)?),
        })
    }
}

fn ser<T: Serialize>(v: &T) -> Vec<u8> {
    // Serializing plain data into a Vec cannot fail.
    postcard::to_allocvec(v).unwrap_or_default()
}

fn malformed(kind: MessageType, reason: &str) -> ProtoError {
    ProtoError::Malformed {
        kind: kind.name(),
        reason: reason.to_owned(),
    }
}

fn de<T: DeserializeOwned>(kind: MessageType, p: &[u8]) -> Result<T, ProtoError> {
    match postcard::take_from_bytes::<T>(p) {
        Ok((v, [])) => Ok(v),
        Ok(_) => Err(malformed(kind, "trailing bytes")),
        Err(e) => Err(ProtoError::Malformed {
            kind: kind.name(),
            reason: e.to_string(),
        }),
    }
}

/// Splits a byte stream into frames. Sans-IO: feed bytes with [`FrameDecoder::handle_data`],
/// then call [`FrameDecoder::poll_frame`] until it returns `Ok(None)` (drain until idle).
/// The buffer never holds more than one frame's bound plus the bytes of one read; after an
/// error the decoder stays failed.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: BytesMut,
    failed: Option<ProtoError>,
}

impl FrameDecoder {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn handle_data(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes buffered and not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed, or the error that
    /// ended the stream.
    #[must_use = "frames must be drained until Ok(None)"]
    pub fn poll_frame(&mut self) -> Result<Option<Message>, ProtoError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.next_frame();
        if let Err(e) = &r {
            self.failed = Some(e.clone());
            self.buf = BytesMut::new();
        }
        r
    }

    fn next_frame(&mut self) -> Result<Option<Message>, ProtoError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let kind = MessageType::from_u8(self.buf[0])?;
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > kind.max_len() {
            return Err(ProtoError::TooLarge {
                kind: kind.name(),
                len,
                max: kind.max_len(),
            });
        }
        if self.buf.len() < HEADER_LEN + len {
            self.buf.reserve(HEADER_LEN + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(HEADER_LEN);
        let payload = self.buf.split_to(len).freeze();
        Message::decode(kind, payload).map(Some)
    }
}

/// Splits `body` into [`Message::Chunk`] frames of at most [`MAX_CHUNK`] bytes.
pub fn chunk_frames(body: &Bytes) -> impl Iterator<Item = Bytes> + '_ {
    (0..body.len()).step_by(MAX_CHUNK).map(move |at| {
        let end = (at + MAX_CHUNK).min(body.len());
        let mut out = BytesMut::with_capacity(HEADER_LEN + end - at);
        out.put_u8(MessageType::Chunk as u8);
        out.put_u32((end - at) as u32);
        out.extend_from_slice(&body[at..end]);
        out.freeze()
    })
}
