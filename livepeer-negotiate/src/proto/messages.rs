//! The wire messages. Every message is a serde struct encoded with postcard inside one frame
//! (see [`super::codec`]); segment bodies and renditions follow their header as raw
//! [`Message::Chunk`] frames.

use std::time::Duration;

use bytes::Bytes;
use livepeer_core::transcode::Capabilities;
use livepeer_core::{
    Address, Container, H256, Ladder, PixelPrice, Region, ServiceId, Signature, SignedReceipt,
    Signer, SignerError, StreamId, VideoCodec, keccak256,
};
use serde::{Deserialize, Serialize};

use super::error::ErrorCode;
use livepeer_pm::{TicketBatch, TicketParams};

/// Which side of a connection a party plays; part of what its binding signature covers, so
/// a signature made for one role never passes for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Role {
    /// Serves jobs; the QUIC server.
    Orchestrator,
    /// Sends segments.
    Broadcaster,
    /// Works for an orchestrator's pool.
    Transcoder,
}

impl Role {
    /// One byte naming the role inside signed digests.
    pub fn tag(self) -> u8 {
        match self {
            Role::Orchestrator => 1,
            Role::Broadcaster => 2,
            Role::Transcoder => 3,
        }
    }
}

/// Binds a QUIC connection to an Ethereum address: an EIP-191 signature over the
/// connection's TLS exporter keying material (see [`super::identity`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The role the sender plays.
    pub role: Role,
    /// The sender's address.
    pub address: Address,
    /// Signature over [`super::identity::binding_digest`].
    pub signature: Signature,
}

/// What a broadcaster asks an orchestrator to quote for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRequest {
    /// The service wanted.
    pub service: ServiceId,
    /// Where the broadcaster is.
    pub region: Region,
    /// The renditions wanted.
    pub ladder: Ladder,
    /// The broadcaster.
    pub broadcaster: Address,
    /// The stream the job is for.
    pub stream_id: StreamId,
    /// Unix time of the request in milliseconds, so an old signed request cannot be replayed
    /// much later.
    pub unix_ms: u64,
}

impl JobRequest {
    /// The digest the broadcaster signs: keccak256 of a domain tag and the postcard encoding.
    pub fn digest(&self) -> H256 {
        let mut buf = b"livepeer-rs.negotiate.job-request.v1".to_vec();
        buf.extend(postcard::to_allocvec(self).unwrap_or_default());
        H256::from(keccak256(&buf))
    }

    /// Signs the request with the broadcaster's key.
    pub fn sign(self, signer: &dyn Signer) -> Result<SignedJobRequest, SignerError> {
        let signature = signer.sign_message_hash(&self.digest())?;
        Ok(SignedJobRequest {
            request: self,
            signature,
        })
    }
}

/// A job request with the broadcaster's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedJobRequest {
    /// The request.
    pub request: JobRequest,
    /// EIP-191 signature over [`JobRequest::digest`] by `request.broadcaster`.
    pub signature: Signature,
}

impl SignedJobRequest {
    /// Whether `request.broadcaster` signed it.
    pub fn verify(&self) -> bool {
        self.signature
            .verify_eip191(&self.request.digest(), &self.request.broadcaster)
            .is_ok()
    }
}

/// An orchestrator's offer: price, ticket params, free capacity and how long it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The orchestrator (the address receipts are signed with and tickets pay).
    pub orchestrator: Address,
    /// Price per output pixel.
    pub price: PixelPrice,
    /// The params tickets must use.
    pub ticket_params: TicketParams,
    /// Free capacity now, in output pixels per second.
    pub capacity_pps: u64,
    /// Unix time in milliseconds after which the quote no longer holds.
    pub expires_unix_ms: u64,
}

/// Asks for [`Message::QuoteUpdate`]s pushed over the stream whenever price or params change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribe {
    /// The job the updates are for.
    pub request: SignedJobRequest,
}

/// Everything about a segment except its bytes, which follow as chunks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentHeader {
    /// The stream.
    pub stream_id: StreamId,
    /// Sequence number.
    pub seq: u64,
    /// Media duration in milliseconds.
    pub duration_ms: u64,
    /// Container of the body.
    pub container: Container,
    /// Codec of the body.
    pub codec: VideoCodec,
    /// The renditions wanted.
    pub ladder: Ladder,
    /// keccak256 of the body, checked before work starts.
    pub input_hash: H256,
    /// Body length in bytes.
    pub body_len: u64,
    /// Tickets paying for the segment; `None` when paid from existing credit.
    pub payment: Option<TicketBatch>,
}

impl SegmentHeader {
    /// The media duration.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }
}

/// What came back for one rendition; its bytes follow as chunks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenditionMeta {
    /// Frames in it.
    pub frames: u32,
    /// Pixels in it.
    pub pixels: u64,
    /// Media duration in milliseconds.
    pub duration_ms: u64,
    /// Length in bytes.
    pub len: u64,
}

/// The result of a segment: the signed receipt and the renditions, in ladder order, whose
/// bytes follow as chunks (first rendition first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultHeader {
    /// The orchestrator's receipt over input hash, profiles, output hashes and pixels.
    pub receipt: SignedReceipt,
    /// One per rendition.
    pub renditions: Vec<RenditionMeta>,
    /// Frames decoded from the input.
    pub source_frames: u32,
}

/// A named error, sent instead of a reply; the stream is closed after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// What went wrong.
    pub code: ErrorCode,
    /// Detail for humans (at most [`WireError::MAX_MESSAGE`] bytes).
    pub message: String,
}

impl WireError {
    /// Longest message carried.
    pub const MAX_MESSAGE: usize = 512;

    /// An error with `code` and `message`, truncated to the bound on a char boundary.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.len() > Self::MAX_MESSAGE {
            let mut end = Self::MAX_MESSAGE;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        WireError { code, message }
    }
}

/// A transcoder offers its capacity to an orchestrator's pool. `Debug` never shows the
/// secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    /// What it can do.
    pub capabilities: Capabilities,
    /// Output pixels per second it offers.
    pub capacity_pps: u64,
    /// Most tasks it runs at once.
    pub max_tasks: u32,
    /// A shared secret, where the orchestrator uses one in addition to the signed identity.
    pub secret: Option<String>,
}

impl std::fmt::Debug for Register {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Register")
            .field("capabilities", &self.capabilities)
            .field("capacity_pps", &self.capacity_pps)
            .field("max_tasks", &self.max_tasks)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The orchestrator accepted a transcoder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// The id the pool knows it by.
    pub transcoder_id: u64,
}

/// A task the orchestrator hands to a remote transcoder; the segment bytes follow as chunks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskHeader {
    /// Task id, for logs.
    pub task_id: u64,
    /// The stream.
    pub stream_id: StreamId,
    /// Sequence number.
    pub seq: u64,
    /// Media duration in milliseconds.
    pub duration_ms: u64,
    /// Container of the body.
    pub container: Container,
    /// Codec of the body.
    pub codec: VideoCodec,
    /// The renditions wanted.
    pub ladder: Ladder,
    /// Body length in bytes.
    pub body_len: u64,
}

/// A remote transcoder's result; rendition bytes follow as chunks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskResult {
    /// Task id.
    pub task_id: u64,
    /// One per rendition, in ladder order.
    pub renditions: Vec<RenditionMeta>,
    /// Frames decoded from the input.
    pub source_frames: u32,
}

/// Every message of the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// Identity binding.
    Hello(Hello),
    /// Ask for a quote.
    JobRequest(SignedJobRequest),
    /// A quote.
    Quote(Quote),
    /// Ask for pushed quote updates.
    Subscribe(Subscribe),
    /// A pushed quote update.
    QuoteUpdate(Quote),
    /// A segment's header; its body follows.
    SegmentHeader(SegmentHeader),
    /// A piece of a body or a rendition (raw bytes, not postcard).
    Chunk(Bytes),
    /// A segment's result; renditions follow.
    ResultHeader(ResultHeader),
    /// A named error.
    Error(WireError),
    /// A transcoder registers.
    Register(Register),
    /// Registration accepted.
    Registered(Registered),
    /// A task for a transcoder; its body follows.
    Task(TaskHeader),
    /// A task's result; renditions follow.
    TaskResult(TaskResult),
}
