//! The crate's error: one enum, each variant mapped to the [`Fault`] that tells the caller
//! who is to blame.

use livepeer_core::{Fault, SignatureError, SignerError};
use thiserror::Error;

/// Why a go-livepeer message could not be decoded, mapped, built or verified.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InteropError {
    /// The input is longer than any valid message of its kind; nothing was decoded.
    #[error("{what}: {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// What was being decoded.
        what: &'static str,
        /// Length of the input.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A header is not padded standard base64.
    #[error("{what}: not standard padded base64")]
    Base64 {
        /// The header.
        what: &'static str,
    },
    /// The bytes are not a protobuf message of the expected kind.
    #[error("{what}: malformed protobuf: {reason}")]
    Protobuf {
        /// The message kind.
        what: &'static str,
        /// prost's description.
        reason: String,
    },
    /// A required field is absent.
    #[error("missing {field}")]
    Missing {
        /// The field.
        field: &'static str,
    },
    /// A fixed-size field has the wrong length.
    #[error("{field}: expected {expected} bytes, got {len}")]
    BadLength {
        /// The field.
        field: &'static str,
        /// The length required.
        expected: usize,
        /// The length received.
        len: usize,
    },
    /// An integer field holds a value out of range (too many bytes, negative, zero where
    /// a positive value is required).
    #[error("{field}: value out of range")]
    OutOfRange {
        /// The field.
        field: &'static str,
    },
    /// A payment carries more tickets than a batch may hold.
    #[error("payment of {count} tickets exceeds the maximum of {max}")]
    TooManyTickets {
        /// Tickets in the payment.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// A signature is malformed or was made by another key.
    #[error("{what}: {source}")]
    Signature {
        /// What the signature covers.
        what: &'static str,
        /// Why it was refused.
        source: SignatureError,
    },
    /// A segment's body does not hash to the `hash` its `SegData` states.
    #[error("segment body does not match SegData.hash")]
    BodyHash,
    /// A result's signature covers a different number of renditions than were received.
    #[error("result lists {listed} renditions, {received} were received")]
    RenditionCount {
        /// Renditions in the result.
        listed: usize,
        /// Renditions the caller holds.
        received: usize,
    },
    /// The caller's values cannot be expressed in go-livepeer's wire form (a price that does
    /// not fit in an `int64`, a batch priced differently from the expected price).
    #[error("cannot encode {field}: {reason}")]
    Unrepresentable {
        /// The field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The signer failed.
    #[error(transparent)]
    Signer(#[from] SignerError),
}

impl InteropError {
    /// Who is at fault: the peer for what it sent, the caller for values it cannot encode,
    /// the backend for a failed signer.
    pub fn fault(&self) -> Fault {
        match self {
            InteropError::Unrepresentable { .. } => Fault::Misuse,
            InteropError::Signer(e) => e.fault(),
            _ => Fault::Peer,
        }
    }

    /// Whether a signature was refused (malformed or by the wrong key).
    pub fn is_signature(&self) -> bool {
        matches!(self, InteropError::Signature { .. })
    }

    /// Whether the input was refused before decoding for its size.
    pub fn is_too_large(&self) -> bool {
        matches!(self, InteropError::TooLarge { .. })
    }
}
