//! An async driver for the queue over the core chain traits: one call per block.

use livepeer_core::chain::{
    ChainError, GasPriceEstimator, RoundInfo, TicketBrokerReader, TicketRedeemer,
};
use std::sync::Mutex;

use livepeer_core::store::Store;

use super::{Action, ChainView, RedemptionQueue};
use crate::error::QueueError;

/// The chain capabilities the queue's driver calls.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct QueueChain<'a> {
    /// Reads used flags and the validity period.
    pub broker: &'a dyn TicketBrokerReader,
    /// Estimates, sends and follows redemptions.
    pub redeemer: &'a dyn TicketRedeemer,
    /// Reads the block and the round.
    pub rounds: &'a dyn RoundInfo,
    /// Reads the gas price.
    pub gas: &'a dyn GasPriceEstimator,
}

impl<'a> QueueChain<'a> {
    /// The capabilities from four backends.
    pub fn new(
        broker: &'a dyn TicketBrokerReader,
        redeemer: &'a dyn TicketRedeemer,
        rounds: &'a dyn RoundInfo,
        gas: &'a dyn GasPriceEstimator,
    ) -> Self {
        QueueChain {
            broker,
            redeemer,
            rounds,
            gas,
        }
    }

    /// The capabilities from one backend that has them all.
    pub fn from_backend<C>(chain: &'a C) -> Self
    where
        C: TicketBrokerReader + TicketRedeemer + RoundInfo + GasPriceEstimator,
    {
        Self::new(chain, chain, chain, chain)
    }
}

impl std::fmt::Debug for QueueChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueChain")
            .field("redeemer", &self.redeemer.redeemer())
            .finish_non_exhaustive()
    }
}

/// Reads the [`ChainView`] the queue decides on.
pub async fn read_view(chain: &QueueChain<'_>) -> Result<ChainView, ChainError> {
    let block = chain.rounds.current_block().await?;
    let round = chain.rounds.current_round().await?;
    let validity_rounds = chain.broker.ticket_validity_period().await?;
    let gas_price = chain.gas.gas_price().await?;
    let next_nonce = chain.redeemer.next_nonce().await?;
    let round_length = chain.rounds.round_length().await?;
    Ok(ChainView::new(block, round, validity_rounds, gas_price)
        .with_next_nonce(next_nonce)
        .with_round_length(Some(round_length)))
}

/// Runs the queue for the current block: reads the view, then carries out and answers every
/// action until none is left. Call it once per block. Returns the view it used.
///
/// A chain call that fails is answered as failed, and the queue asks again at a later block.
/// A store failure ends the call with the error; the store then holds every transition that
/// was completed, and reopening the queue carries on from there.
pub async fn drive<St: Store>(
    queue: &mut RedemptionQueue<St>,
    chain: &QueueChain<'_>,
) -> Result<ChainView, QueueError> {
    drive_with(&mut Exclusive(queue), chain).await
}

/// [`drive`] on a queue shared with the code that adds winners: the lock is held only while
/// the queue decides or takes an answer, never across a chain call, so persisting a winner
/// (and admitting the segment that carried it) never waits on a redemption's RPCs.
///
/// Winners added between an action and its answer are safe: every transition is a
/// compare-and-set store batch on the records it moves, and new winners are new records.
/// A poisoned lock (a panic while it was held) is reported as a store failure.
pub async fn drive_shared<St: Store>(
    queue: &Mutex<RedemptionQueue<St>>,
    chain: &QueueChain<'_>,
) -> Result<ChainView, QueueError> {
    drive_with(&mut Shared(queue), chain).await
}

/// How a driver reaches the queue: for each step, briefly.
trait Access<St: Store> {
    fn with<R>(
        &mut self,
        f: impl FnOnce(&mut RedemptionQueue<St>) -> Result<R, QueueError>,
    ) -> Result<R, QueueError>;
}

struct Exclusive<'q, St>(&'q mut RedemptionQueue<St>);

impl<St: Store> Access<St> for Exclusive<'_, St> {
    fn with<R>(
        &mut self,
        f: impl FnOnce(&mut RedemptionQueue<St>) -> Result<R, QueueError>,
    ) -> Result<R, QueueError> {
        f(self.0)
    }
}

struct Shared<'q, St>(&'q Mutex<RedemptionQueue<St>>);

impl<St: Store> Access<St> for Shared<'_, St> {
    fn with<R>(
        &mut self,
        f: impl FnOnce(&mut RedemptionQueue<St>) -> Result<R, QueueError>,
    ) -> Result<R, QueueError> {
        let mut q = self
            .0
            .lock()
            .map_err(|_| QueueError::other("the redemption queue's lock is poisoned"))?;
        f(&mut q)
    }
}

async fn drive_with<St: Store>(
    queue: &mut impl Access<St>,
    chain: &QueueChain<'_>,
) -> Result<ChainView, QueueError> {
    let view = read_view(chain).await?;
    while let Some(action) = queue.with(|q| q.poll_action(&view))? {
        match action {
            Action::CheckUsed { tickets } => {
                let mut answers = Vec::with_capacity(tickets.len());
                for t in &tickets {
                    answers.push((t.ticket.hash(), chain.broker.is_ticket_used(t).await));
                }
                queue.with(|q| q.handle_used(&view, answers))?;
            }
            Action::CheckTx { attempt, txs } => {
                let mut answers = Vec::with_capacity(txs.len());
                for tx in &txs {
                    answers.push((tx.hash, chain.redeemer.tx_status(tx).await));
                }
                queue.with(|q| q.handle_tx_status(&view, attempt, answers))?;
            }
            Action::EstimateGas { tickets } => {
                let r = chain.redeemer.estimate_redeem_gas(&tickets).await;
                queue.with(|q| {
                    q.handle_estimate(&view, &tickets, r);
                    Ok(())
                })?;
            }
            Action::Redeem {
                attempt,
                tickets,
                opts,
            } => {
                let r = chain.redeemer.send_redeem(&tickets, &opts).await;
                queue.with(|q| q.handle_sent(&view, attempt, r))?;
            }
        }
    }
    Ok(view)
}
