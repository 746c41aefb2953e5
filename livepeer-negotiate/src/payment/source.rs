//! The broadcaster's [`PaymentSource`] over [`livepeer_pm::Sender`].

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use livepeer_core::chain::SenderInfo;
use livepeer_core::{Address, H256, Signer, StreamId, U256, Wei};
use livepeer_pm::{MAX_TICKETS_PER_BATCH, ParamsError, Sender, SenderError, TicketBatch};
use tracing::debug;

use super::{PaymentError, PaymentSource};
use crate::proto::Quote;

/// What the broadcaster believes it holds with one orchestrator on one stream.
#[derive(Clone, Copy, Debug)]
struct Credit {
    /// The params the credit was paid under.
    session: H256,
    amount: Wei,
}

struct State<S> {
    sender: Sender<S>,
    funds: SenderInfo,
    block: u64,
    credit: HashMap<(Address, StreamId), Credit>,
}

/// Payments for a broadcaster with real tickets: one [`Sender`] session per set of params
/// (its nonces count from 1), and per segment `ceil((max(fee, EV) − credit) / EV)` tickets
/// signed, so that the orchestrator's credit covers the fee estimate.
///
/// The credit estimate is conservative: it assumes the whole estimate is spent, and it
/// restarts from zero whenever an orchestrator quotes new params (a re-quote follows a
/// refused payment, whose tickets may not have been credited).
///
/// The chain state is told, not read: call [`PmSource::handle_block`] and
/// [`PmSource::handle_funds`] as the chain moves.
pub struct PmSource<S> {
    state: Mutex<State<S>>,
}

impl<S> std::fmt::Debug for PmSource<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PmSource").finish_non_exhaustive()
    }
}

impl<S: Signer> PmSource<S> {
    /// A source paying through `sender`, whose deposit and reserve are `funds`, at `block`.
    pub fn new(sender: Sender<S>, funds: SenderInfo, block: u64) -> Self {
        PmSource {
            state: Mutex::new(State {
                sender,
                funds,
                block,
                credit: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<S>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new block: sessions whose params expired are ended.
    pub fn handle_block(&self, block: u64) {
        let mut s = self.lock();
        s.block = block;
        s.sender.prune(block);
    }

    /// The broadcaster's latest deposit and reserve.
    pub fn handle_funds(&self, funds: SenderInfo) {
        self.lock().funds = funds;
    }

    /// Forgets the credit held for `stream` with `orchestrator` (the stream ended).
    pub fn end_stream(&self, orchestrator: Address, stream: StreamId) {
        self.lock().credit.remove(&(orchestrator, stream));
    }

    /// The credit the broadcaster believes it holds with `orchestrator` on `stream`.
    pub fn credit(&self, orchestrator: Address, stream: StreamId) -> Wei {
        self.lock()
            .credit
            .get(&(orchestrator, stream))
            .map_or(Wei::ZERO, |c| c.amount)
    }
}

fn sender_error(e: SenderError) -> PaymentError {
    match e {
        SenderError::Params(ParamsError::Expired) => PaymentError::TicketParamsExpired,
        SenderError::Params(p) => PaymentError::InvalidTicket(p.to_string()),
        e => PaymentError::Backend(e.to_string()),
    }
}

#[async_trait]
impl<S: Signer + 'static> PaymentSource for PmSource<S> {
    async fn pay(
        &self,
        quote: &Quote,
        stream: StreamId,
        fee_estimate: Wei,
    ) -> Result<Option<TicketBatch>, PaymentError> {
        let params = &quote.ticket_params;
        if fee_estimate.is_zero() && params.face_value.is_zero() {
            return Ok(None);
        }
        let mut s = self.lock();
        let s = &mut *s;
        let orchestrator = quote.orchestrator;
        let id = s
            .sender
            .start_session(orchestrator, params.clone(), &s.funds, s.block)
            .map_err(sender_error)?;
        let held = match s.credit.get(&(orchestrator, stream)) {
            Some(c) if c.session == id => c.amount,
            _ => Wei::ZERO,
        };
        let ev = params.ev();
        let needed = fee_estimate.max(ev) - held;
        let count = if needed.is_zero() {
            0
        } else if ev.is_zero() {
            return Err(PaymentError::InvalidTicket("ticket EV is zero".into()));
        } else {
            let (q, r) = needed.0.div_mod(ev.0);
            let n = if r.is_zero() { q } else { q + U256::one() };
            if n > U256::from(MAX_TICKETS_PER_BATCH) {
                return Err(sender_error(SenderError::TooManyTickets {
                    needed: n.low_u64(),
                    max: MAX_TICKETS_PER_BATCH,
                }));
            }
            n.low_u64()
        };
        s.sender
            .validate_params(orchestrator, params, &s.funds, s.block, count)
            .map_err(|e| sender_error(e.into()))?;
        let batch = if count == 0 {
            None
        } else {
            Some(s.sender.create_batch(&id, count).map_err(sender_error)?)
        };
        let paid = Wei(ev.0.saturating_mul(U256::from(count)));
        s.credit.insert(
            (orchestrator, stream),
            Credit {
                session: id,
                amount: held + paid - fee_estimate,
            },
        );
        debug!(?orchestrator, tickets = count, fee = %fee_estimate, "payment");
        Ok(batch)
    }
}
