//! What the protocol core knows about payments: why one was refused, and the wire code for
//! it. The ticket types themselves are `livepeer-pm`'s; the adapters that validate and
//! produce tickets live in [`crate::payment`], which depends on this module and not back.

use livepeer_core::Fault;
use livepeer_pm::TicketError;
use thiserror::Error;

use super::{ErrorCode, WireError};

/// Why a payment was refused. `Display` carries the reference network's messages.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PaymentError {
    /// The sender's credit does not cover the work (the paper's `LowPMBalance`).
    #[error("LowPMBalance: Insufficient balance")]
    LowPMBalance,
    /// The ticket params are no longer accepted; fetch a fresh quote.
    #[error("TicketParams expired")]
    TicketParamsExpired,
    /// A ticket is malformed, forged, replayed or for another recipient.
    #[error("invalid ticket: {0}")]
    InvalidTicket(String),
    /// The sender's funds do not allow the work: unknown, unlocking, or a reserve too small
    /// for any ticket.
    #[error("sender funds: {0}")]
    SenderFunds(String),
    /// The payment backend (chain, store, signer) failed.
    #[error("payment backend: {0}")]
    Backend(String),
}

impl PaymentError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            PaymentError::LowPMBalance
            | PaymentError::TicketParamsExpired
            | PaymentError::SenderFunds(_) => Fault::Incompatible,
            PaymentError::InvalidTicket(_) => Fault::Peer,
            PaymentError::Backend(_) => Fault::Backend,
        }
    }
}

impl From<TicketError> for PaymentError {
    fn from(e: TicketError) -> Self {
        match e {
            // Params whose recipientRand this node cannot derive were issued by another run
            // of it (its secret is fresh at every start): to the sender they are as good as
            // expired, and a new quote is the cure.
            TicketError::ParamsExpired | TicketError::InvalidRecipientRand => {
                PaymentError::TicketParamsExpired
            }
            TicketError::LowPMBalance { .. } => PaymentError::LowPMBalance,
            TicketError::UnknownSender | TicketError::SenderUnlocking => {
                PaymentError::SenderFunds(e.to_string())
            }
            e => PaymentError::InvalidTicket(e.to_string()),
        }
    }
}

impl PaymentError {
    /// The named error sent to the peer for this refusal.
    pub fn to_wire(&self) -> WireError {
        let code = match self {
            PaymentError::LowPMBalance | PaymentError::SenderFunds(_) => ErrorCode::LowPMBalance,
            PaymentError::TicketParamsExpired => ErrorCode::TicketParamsExpired,
            PaymentError::InvalidTicket(_) => ErrorCode::InvalidTicket,
            PaymentError::Backend(_) => ErrorCode::Internal,
        };
        WireError::new(code, self.to_string())
    }
}
