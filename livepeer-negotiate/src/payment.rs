//! Payments as a seam: what the orchestrator asks of its ticket validator and what the
//! broadcaster asks of its ticket source.
//!
//! The wire types [`TicketParams`] and [`TicketBatch`] have the shape of `livepeer-pm`'s; an
//! adapter over pm's `Sender` and `Recipient` implements [`PaymentSource`] and
//! [`PaymentValidator`].

use async_trait::async_trait;
use livepeer_core::{Address, Fault, H256, PixelPrice, Signature, StreamId, U256, Wei};
use primitive_types::U512;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::proto::Quote;

/// Most tickets one batch may carry.
pub const MAX_TICKETS_PER_BATCH: usize = 256;

/// The round a set of params was created in and its block hash (a ticket's auxData).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExpirationParams {
    /// The round the params were created in.
    pub creation_round: u64,
    /// The block hash recorded for `creation_round`.
    pub creation_round_block_hash: H256,
}

/// The ticket parameters an orchestrator quotes: what every ticket paying it must use.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TicketParams {
    /// Who may redeem the tickets: the orchestrator's own address.
    pub recipient: Address,
    /// Wei paid by a winning ticket.
    pub face_value: U256,
    /// Win probability as a fraction of 2^256 − 1.
    pub win_prob: U256,
    /// The recipient's commitment: keccak256 of its random number.
    pub recipient_rand_hash: H256,
    /// Random bytes from which the recipient re-derives its random number.
    pub seed: H256,
    /// The block at and after which the params no longer buy work.
    pub expiration_block: u64,
    /// The price per pixel the params were issued for.
    pub price: PixelPrice,
    /// Creation round and its block hash.
    pub expiration: ExpirationParams,
}

impl TicketParams {
    /// Expected value of one ticket: `face_value × win_prob / (2^256 − 1)`, rounded down.
    pub fn ticket_ev(&self) -> Wei {
        let q = self.face_value.full_mul(self.win_prob) / U512::from(U256::MAX);
        Wei(U256::try_from(q).unwrap_or(U256::MAX))
    }
}

/// One signed ticket of a batch: its nonce and the sender's signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TicketSig {
    /// The sender's nonce for this ticket.
    pub nonce: u32,
    /// The sender's signature over the ticket hash.
    pub signature: Signature,
}

/// Tickets sent with a segment: one set of params, one sender, several signed nonces.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TicketBatch {
    /// The params every ticket of the batch uses.
    pub params: TicketParams,
    /// Who signed the tickets.
    pub sender: Address,
    /// The tickets.
    pub tickets: Vec<TicketSig>,
}

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
    /// The payment backend (chain, store) failed.
    #[error("payment backend: {0}")]
    Backend(String),
}

impl PaymentError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            PaymentError::LowPMBalance | PaymentError::TicketParamsExpired => Fault::Incompatible,
            PaymentError::InvalidTicket(_) => Fault::Peer,
            PaymentError::Backend(_) => Fault::Backend,
        }
    }
}

/// The orchestrator's side of payments: issue params, take tickets, charge for work.
///
/// Contract: `accept` runs before any work starts and may take a chain round trip; `debit`
/// is called once per finished segment with the fee of the pixels actually produced.
/// Implementations are shared by every connection and must be safe to call concurrently.
#[async_trait]
pub trait PaymentValidator: Send + Sync {
    /// Ticket params to quote to `broadcaster` at `price`.
    async fn quote_params(
        &self,
        broadcaster: Address,
        price: PixelPrice,
    ) -> Result<TicketParams, PaymentError>;

    /// Validates `batch` (none: pay from existing credit), credits `sender` for `stream`, and
    /// checks the credit covers `fee_estimate`. Returns the credit after crediting.
    async fn accept(
        &self,
        batch: Option<&TicketBatch>,
        sender: Address,
        stream: StreamId,
        fee_estimate: Wei,
    ) -> Result<Wei, PaymentError>;

    /// Charges `fee` for finished work.
    fn debit(&self, sender: Address, stream: StreamId, fee: Wei);
}

/// The broadcaster's side of payments: tickets to cover the fee of one segment.
///
/// Contract: called once per segment and orchestrator, just before sending; may return
/// `None` when the orchestrator is free. Shared by every stream.
#[async_trait]
pub trait PaymentSource: Send + Sync {
    /// Tickets paying `fee_estimate` to the orchestrator that sent `quote`, for `stream`.
    async fn pay(
        &self,
        quote: &Quote,
        stream: StreamId,
        fee_estimate: Wei,
    ) -> Result<Option<TicketBatch>, PaymentError>;
}

#[async_trait]
impl<T: PaymentValidator + ?Sized> PaymentValidator for std::sync::Arc<T> {
    async fn quote_params(
        &self,
        broadcaster: Address,
        price: PixelPrice,
    ) -> Result<TicketParams, PaymentError> {
        (**self).quote_params(broadcaster, price).await
    }
    async fn accept(
        &self,
        batch: Option<&TicketBatch>,
        sender: Address,
        stream: StreamId,
        fee_estimate: Wei,
    ) -> Result<Wei, PaymentError> {
        (**self).accept(batch, sender, stream, fee_estimate).await
    }
    fn debit(&self, sender: Address, stream: StreamId, fee: Wei) {
        (**self).debit(sender, stream, fee)
    }
}

#[async_trait]
impl<T: PaymentSource + ?Sized> PaymentSource for std::sync::Arc<T> {
    async fn pay(
        &self,
        quote: &Quote,
        stream: StreamId,
        fee_estimate: Wei,
    ) -> Result<Option<TicketBatch>, PaymentError> {
        (**self).pay(quote, stream, fee_estimate).await
    }
}
