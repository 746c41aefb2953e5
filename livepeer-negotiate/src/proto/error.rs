//! Errors: the named codes carried on the wire, and what the codec and stream readers report.

use std::fmt;

use livepeer_core::Fault;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// The named errors of the protocol. Codes are stable numbers on the wire; a code this
/// version does not know decodes as [`ErrorCode::Other`], so newer peers stay readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The sender's credit does not cover the segment (the paper's `LowPMBalance`).
    LowPMBalance,
    /// The ticket params quoted earlier are no longer accepted.
    TicketParamsExpired,
    /// A ticket is malformed, forged, replayed or pays someone else.
    InvalidTicket,
    /// The segment is not in the format the job asked for (the paper's
    /// `SegmentFormatDidntMatchJobInputParams`).
    SegmentFormatDidntMatchJobInputParams,
    /// No capacity for the job now (pixels per second exhausted).
    OrchestratorCapped,
    /// No transcoder of the pool could take the task.
    NoTranscoders,
    /// The transcoder failed on a task the input was fine for.
    TranscodeFailed,
    /// The input is invalid (hash mismatch, bad bounds, no keyframe).
    InvalidInput,
    /// The service or region is not offered.
    ServiceUnavailable,
    /// A frame does not decode, breaks its bound, or has an unknown type.
    Malformed,
    /// A message arrived that the stream's state does not allow.
    UnexpectedMessage,
    /// The peer was too slow (slow-drip, idle or total deadline).
    Timeout,
    /// The peer's identity or signature did not check out.
    Unauthorized,
    /// Too many streams or connections.
    TooManyStreams,
    /// The node failed internally.
    Internal,
    /// The orchestrator is draining: it takes no new stream or quote request, only segments
    /// of streams it admitted before. Go elsewhere.
    Draining,
    /// A code this version does not know.
    Other(u16),
}

impl ErrorCode {
    /// The wire number.
    pub fn to_u16(self) -> u16 {
        match self {
            ErrorCode::LowPMBalance => 1,
            ErrorCode::TicketParamsExpired => 2,
            ErrorCode::InvalidTicket => 3,
            ErrorCode::SegmentFormatDidntMatchJobInputParams => 4,
            ErrorCode::OrchestratorCapped => 5,
            ErrorCode::NoTranscoders => 6,
            ErrorCode::TranscodeFailed => 7,
            ErrorCode::InvalidInput => 8,
            ErrorCode::ServiceUnavailable => 9,
            ErrorCode::Malformed => 10,
            ErrorCode::UnexpectedMessage => 11,
            ErrorCode::Timeout => 12,
            ErrorCode::Unauthorized => 13,
            ErrorCode::TooManyStreams => 14,
            ErrorCode::Internal => 15,
            ErrorCode::Draining => 16,
            ErrorCode::Other(n) => n,
        }
    }

    /// The code for a wire number.
    pub fn from_u16(n: u16) -> Self {
        match n {
            1 => ErrorCode::LowPMBalance,
            2 => ErrorCode::TicketParamsExpired,
            3 => ErrorCode::InvalidTicket,
            4 => ErrorCode::SegmentFormatDidntMatchJobInputParams,
            5 => ErrorCode::OrchestratorCapped,
            6 => ErrorCode::NoTranscoders,
            7 => ErrorCode::TranscodeFailed,
            8 => ErrorCode::InvalidInput,
            9 => ErrorCode::ServiceUnavailable,
            10 => ErrorCode::Malformed,
            11 => ErrorCode::UnexpectedMessage,
            12 => ErrorCode::Timeout,
            13 => ErrorCode::Unauthorized,
            14 => ErrorCode::TooManyStreams,
            15 => ErrorCode::Internal,
            16 => ErrorCode::Draining,
            n => ErrorCode::Other(n),
        }
    }

    /// Who is at fault, seen from the party that receives the error.
    pub fn fault(self) -> Fault {
        match self {
            ErrorCode::LowPMBalance
            | ErrorCode::TicketParamsExpired
            | ErrorCode::InvalidTicket
            | ErrorCode::SegmentFormatDidntMatchJobInputParams
            | ErrorCode::InvalidInput
            | ErrorCode::Malformed
            | ErrorCode::UnexpectedMessage
            | ErrorCode::Unauthorized => Fault::Misuse,
            ErrorCode::OrchestratorCapped
            | ErrorCode::ServiceUnavailable
            | ErrorCode::TooManyStreams
            | ErrorCode::Draining
            | ErrorCode::Other(_) => Fault::Incompatible,
            ErrorCode::NoTranscoders
            | ErrorCode::TranscodeFailed
            | ErrorCode::Timeout
            | ErrorCode::Internal => Fault::Backend,
        }
    }

    /// Whether the orchestrator refused because it is draining: it is healthy but takes no
    /// new work, so the broadcaster goes elsewhere as if it were unavailable.
    pub fn is_draining(self) -> bool {
        self == ErrorCode::Draining
    }

    /// Whether the input itself is at fault, so sending it elsewhere fails the same way.
    pub fn is_input_error(self) -> bool {
        matches!(
            self,
            ErrorCode::SegmentFormatDidntMatchJobInputParams | ErrorCode::InvalidInput
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::LowPMBalance => f.write_str("LowPMBalance"),
            ErrorCode::TicketParamsExpired => f.write_str("TicketParams expired"),
            ErrorCode::InvalidTicket => f.write_str("invalid ticket"),
            ErrorCode::SegmentFormatDidntMatchJobInputParams => {
                f.write_str("SegmentFormatDidntMatchJobInputParams")
            }
            ErrorCode::OrchestratorCapped => f.write_str("OrchestratorCapped"),
            ErrorCode::NoTranscoders => f.write_str("no transcoders available"),
            ErrorCode::TranscodeFailed => f.write_str("transcode failed"),
            ErrorCode::InvalidInput => f.write_str("invalid input"),
            ErrorCode::ServiceUnavailable => f.write_str("service unavailable"),
            ErrorCode::Malformed => f.write_str("malformed frame"),
            ErrorCode::UnexpectedMessage => f.write_str("unexpected message"),
            ErrorCode::Timeout => f.write_str("timeout"),
            ErrorCode::Unauthorized => f.write_str("unauthorized"),
            ErrorCode::TooManyStreams => f.write_str("too many streams"),
            ErrorCode::Internal => f.write_str("internal error"),
            ErrorCode::Draining => f.write_str("orchestrator draining"),
            ErrorCode::Other(n) => write!(f, "error code {n}"),
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.to_u16())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u16::deserialize(d).map(ErrorCode::from_u16)
    }
}

/// A frame or stream broke the protocol. Every variant is the peer's fault except
/// [`ProtoError::EncodeTooLarge`], which is ours.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The frame header names a type this version does not know.
    #[error("unknown message type {0:#04x}")]
    UnknownType(u8),
    /// The frame is longer than its type allows (checked before reading it).
    #[error("{kind} frame of {len} bytes exceeds its bound of {max}")]
    TooLarge {
        /// The message type's name.
        kind: &'static str,
        /// Declared length.
        len: usize,
        /// The type's bound.
        max: usize,
    },
    /// The payload does not decode as its type, or decodes to an invalid value.
    #[error("{kind} frame does not decode: {reason}")]
    Malformed {
        /// The message type's name.
        kind: &'static str,
        /// Why.
        reason: String,
    },
    /// A message the stream's state does not allow.
    #[error("unexpected {got} message (expected {expected})")]
    Unexpected {
        /// What arrived.
        got: &'static str,
        /// What the state allows.
        expected: &'static str,
    },
    /// A body is longer than declared or than the bound on bodies.
    #[error("body overflow: {got} bytes, at most {max}")]
    BodyOverflow {
        /// Bytes received or declared.
        got: u64,
        /// The bound.
        max: u64,
    },
    /// The stream ended before the message or body was complete.
    #[error("stream ended early")]
    Truncated,
    /// The peer was too slow: no progress within the idle deadline, or not done within the
    /// total deadline (slow-drip defence).
    #[error("peer too slow: {0}")]
    Timeout(&'static str),
    /// We tried to send a message larger than its bound.
    #[error("outgoing {kind} message of {len} bytes exceeds its bound of {max}")]
    EncodeTooLarge {
        /// The message type's name.
        kind: &'static str,
        /// Encoded length.
        len: usize,
        /// The type's bound.
        max: usize,
    },
}

impl ProtoError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            ProtoError::EncodeTooLarge { .. } => Fault::Misuse,
            _ => Fault::Peer,
        }
    }

    /// The wire code to send the peer before closing the stream.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtoError::Timeout(_) => ErrorCode::Timeout,
            ProtoError::Unexpected { .. } => ErrorCode::UnexpectedMessage,
            ProtoError::EncodeTooLarge { .. } => ErrorCode::Internal,
            _ => ErrorCode::Malformed,
        }
    }

    /// The error as a wire error.
    pub fn to_wire(&self) -> super::WireError {
        super::WireError::new(self.code(), self.to_string())
    }
}
