//! Errors, one enum per operation, each variant mapped to the [`Fault`] that tells the caller
//! who is to blame. `Display` strings carry go-livepeer's messages where one exists, since Go
//! gateways match on them.

use livepeer_core::chain::ChainError;
use livepeer_core::entropy::EntropyError;
use livepeer_core::{Fault, SignatureError, SignerError, StoreError, Wei};
use thiserror::Error;

/// A ticket batch that does not decode.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The encoding is longer than any valid batch.
    #[error("ticket batch of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Length of the input.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// More tickets than a batch may carry.
    #[error("ticket batch of {count} tickets exceeds the maximum of {max}")]
    TooManyTickets {
        /// Tickets in the batch.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// The bytes are not a postcard-encoded batch.
    #[error("malformed ticket batch: {0}")]
    Malformed(String),
    /// Bytes follow the batch.
    #[error("{0} trailing bytes after the ticket batch")]
    TrailingBytes(usize),
    /// The price has a zero pixel count.
    #[error("invalid ticket price: zero pixels per unit")]
    InvalidPrice,
}

impl DecodeError {
    /// Undecodable input is the fault of whoever sent it.
    pub fn fault(&self) -> Fault {
        Fault::Peer
    }
}

/// Why a sender's nonce was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NonceError {
    /// Nonces start at 1.
    #[error("zero")]
    Zero,
    /// The nonce was already used with these params (a replay).
    #[error("already seen")]
    AlreadySeen,
    /// The nonce is older than the window of nonces still tracked for these params.
    #[error("older than the window (highest seen {highest})")]
    TooOld {
        /// The highest nonce seen for these params.
        highest: u32,
    },
}

/// Why a ticket was refused by its recipient. Nothing is credited for a refused ticket.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TicketError {
    /// The batch did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The sender's deposit and reserve unlock within a round.
    #[error("sender is unlocking its deposit and reserve")]
    SenderUnlocking,
    /// The recipient has no on-chain funds information for the sender yet.
    #[error("no funds information for the sender")]
    UnknownSender,
    /// The ticket names another recipient.
    #[error("invalid ticket recipient")]
    WrongRecipient,
    /// The ticket names the zero address as sender.
    #[error("invalid ticket sender")]
    InvalidSender,
    /// The params do not derive the committed random number: they were altered (face value,
    /// win probability, price, expiry, auxData) or were not issued by this recipient.
    #[error("invalid recipientRandHash")]
    InvalidRecipientRand,
    /// The signature is malformed or was not made by the sender.
    #[error("invalid ticket signature: {0}")]
    InvalidSignature(SignatureError),
    /// The nonce was refused.
    #[error("invalid ticket senderNonce: {0}")]
    InvalidNonce(NonceError),
    /// The params expired before the ticket arrived.
    #[error("TicketParams expired")]
    ParamsExpired,
    /// The sender's credit does not cover the work (the paper's `LowPMBalance`).
    #[error("Insufficient balance")]
    LowPMBalance {
        /// Credit the sender has.
        balance: Wei,
        /// Credit the work needs.
        required: Wei,
    },
}

impl TicketError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            TicketError::UnknownSender => Fault::Backend,
            TicketError::ParamsExpired
            | TicketError::SenderUnlocking
            | TicketError::LowPMBalance { .. } => Fault::Incompatible,
            _ => Fault::Peer,
        }
    }

    /// Whether this is the paper's `LowPMBalance`.
    pub fn is_low_balance(&self) -> bool {
        matches!(self, TicketError::LowPMBalance { .. })
    }

    /// Whether the sender may retry with fresh params (expired params).
    pub fn is_expired(&self) -> bool {
        matches!(self, TicketError::ParamsExpired)
    }
}

/// Why a sender refuses a recipient's params.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// The params name another recipient than the one being paid.
    #[error("ticket params name recipient {got:?}, expected {expected:?}")]
    WrongRecipient {
        /// The recipient being paid.
        expected: livepeer_core::Address,
        /// The recipient the params name.
        got: livepeer_core::Address,
    },
    /// The expected value is not below the face value (a certain win).
    #[error("ticket EV {ev} is not below the face value {face_value}")]
    EvNotBelowFaceValue {
        /// Expected value of one ticket.
        ev: Wei,
        /// Face value.
        face_value: Wei,
    },
    /// The expected value of one ticket is zero while there is a fee to pay.
    #[error("ticket EV is zero")]
    ZeroEv,
    /// One ticket's expected value exceeds the configured maximum.
    #[error("ticket EV {ev} higher than max EV {max}")]
    EvTooHigh {
        /// Expected value of one ticket.
        ev: Wei,
        /// The configured maximum.
        max: Wei,
    },
    /// The tickets needed for one payment exceed the configured total.
    #[error("total ticket EV {total} higher than max total EV {max}")]
    TotalEvTooHigh {
        /// Expected value of all the tickets.
        total: Wei,
        /// The configured maximum.
        max: Wei,
    },
    /// The face value exceeds the deposit divided by the configured multiplier.
    #[error("ticket faceValue {face_value} higher than max faceValue {max}")]
    FaceValueTooHigh {
        /// Face value.
        face_value: Wei,
        /// Deposit / multiplier.
        max: Wei,
    },
    /// The sender has no deposit.
    #[error("no sender deposit")]
    NoDeposit,
    /// The sender has no reserve.
    #[error("no sender reserve")]
    NoReserve,
    /// The sender is unlocking its deposit and reserve.
    #[error("sender is unlocking its deposit and reserve")]
    SenderUnlocking,
    /// The params expire within the safety buffer.
    #[error("TicketParams expired")]
    Expired,
    /// The recipient's price more than doubled since paying it began.
    #[error("price {current} more than doubled since the session began at {initial}")]
    PriceMoreThanDoubled {
        /// The price when paying began.
        initial: Box<livepeer_core::PixelPrice>,
        /// The price of the new params.
        current: Box<livepeer_core::PixelPrice>,
    },
    /// The price has a zero pixel count.
    #[error("invalid ticket price: zero pixels per unit")]
    InvalidPrice,
}

impl ParamsError {
    /// Who is at fault: the sender's own funds state is its own affair; anything else is a
    /// recipient asking for what this sender will not accept.
    pub fn fault(&self) -> Fault {
        match self {
            ParamsError::NoDeposit | ParamsError::NoReserve | ParamsError::SenderUnlocking => {
                Fault::Misuse
            }
            ParamsError::WrongRecipient { .. } | ParamsError::InvalidPrice => Fault::Peer,
            _ => Fault::Incompatible,
        }
    }

    /// Whether fresh params from the same recipient could be acceptable.
    pub fn is_expired(&self) -> bool {
        matches!(self, ParamsError::Expired)
    }
}

/// A sender could not pay.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SenderError {
    /// The recipient's params are unacceptable.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// The signer failed.
    #[error(transparent)]
    Signer(#[from] SignerError),
    /// No session was started for these params.
    #[error("no payment session for these ticket params")]
    UnknownSession,
    /// The session's nonces are used up; fresh params are needed.
    #[error("sender nonces exhausted for these ticket params")]
    NonceExhausted,
    /// The fee needs more tickets than one batch may carry.
    #[error("{needed} tickets needed, more than the {max} one batch may carry")]
    TooManyTickets {
        /// Tickets the fee needs.
        needed: u64,
        /// The bound.
        max: usize,
    },
}

impl SenderError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            SenderError::Params(e) => e.fault(),
            SenderError::Signer(e) => e.fault(),
            SenderError::UnknownSession | SenderError::NonceExhausted => Fault::Misuse,
            SenderError::TooManyTickets { .. } => Fault::Incompatible,
        }
    }
}

/// A recipient could not issue params.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The sender's funds (max float) cannot back a face value worth redeeming.
    #[error("insufficient sender reserve")]
    InsufficientSenderReserve,
    /// The entropy source failed.
    #[error(transparent)]
    Entropy(#[from] EntropyError),
}

impl IssueError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            IssueError::InsufficientSenderReserve => Fault::Incompatible,
            IssueError::Entropy(e) => e.fault(),
        }
    }
}

/// The redemption queue failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The store failed; nothing of the step that failed was written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored record does not decode.
    #[error("corrupt redemption record {key}: {reason}")]
    Corrupt {
        /// The key (lossy UTF-8).
        key: String,
        /// Why it does not decode.
        reason: String,
    },
    /// The winner belongs to another recipient than this queue's.
    #[error("winning ticket is for another recipient")]
    WrongRecipient,
    /// An answer to an action the queue did not hand out, or no longer waits for.
    #[error("unexpected answer for redemption attempt {0}")]
    UnknownAttempt(u64),
    /// A chain call of the driver failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl QueueError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            QueueError::Store(e) => e.fault(),
            QueueError::Corrupt { .. } => Fault::Backend,
            QueueError::WrongRecipient | QueueError::UnknownAttempt(_) => Fault::Misuse,
            QueueError::Chain(e) => e.fault(),
        }
    }

    /// A backend failure described by `reason`.
    #[cold]
    pub fn other(reason: impl Into<String>) -> Self {
        QueueError::Store(StoreError::Backend(reason.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_messages() {
        assert_eq!(
            TicketError::ParamsExpired.to_string(),
            "TicketParams expired"
        );
        assert_eq!(
            TicketError::InvalidNonce(NonceError::AlreadySeen).to_string(),
            "invalid ticket senderNonce: already seen"
        );
        let low = TicketError::LowPMBalance {
            balance: Wei::ZERO,
            required: Wei::from_u128(1),
        };
        assert_eq!(low.to_string(), "Insufficient balance");
        assert!(low.is_low_balance());
        assert_eq!(
            IssueError::InsufficientSenderReserve.to_string(),
            "insufficient sender reserve"
        );
        assert_eq!(ParamsError::Expired.to_string(), "TicketParams expired");
        assert_eq!(TicketError::WrongRecipient.fault(), Fault::Peer);
    }
}
