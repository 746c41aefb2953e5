//! Payments as a seam: what the orchestrator asks of its ticket validator and what the
//! broadcaster asks of its ticket source.
//!
//! The wire types are `livepeer-pm`'s own ([`TicketParams`], [`TicketBatch`]), so tickets are
//! byte-compatible with Livepeer's TicketBroker. [`PmValidator`] implements
//! [`PaymentValidator`] over [`livepeer_pm::Recipient`] and [`PmSource`] implements
//! [`PaymentSource`] over [`livepeer_pm::Sender`].
//!
//! The dependency points one way: this module builds on [`crate::proto`] (quotes, the
//! payment error the orchestrator's state machine reasons about), never the reverse.

use async_trait::async_trait;
use livepeer_core::{Address, PixelPrice, StreamId, Wei};

pub use crate::proto::PaymentError;
use crate::proto::Quote;

mod source;
mod validator;

pub use livepeer_pm::{
    ExpirationParams, MAX_TICKETS_PER_BATCH, TicketBatch, TicketParams, TicketSig, Winner,
};
pub use source::PmSource;
pub use validator::{FUNDS_FRESH_FOR, FUNDS_RETRY_AFTER, PmValidator, WinnerSink};

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
