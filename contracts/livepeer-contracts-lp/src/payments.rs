//! Livepeer's TicketBroker through the core traits: funds, sender info, redemption.
//!
//! Where Livepeer differs from the core contract:
//! - A batch (`batchRedeemWinningTickets`) does **not** pay all or revert: each ticket is
//!   redeemed in its own inner call whose failure is swallowed, so a mined batch may have paid
//!   only some tickets. Count the `WinningTicketRedeemed` events
//!   ([`LivepeerChain::batch_redeem_winning_tickets`] does) rather than trusting the status.
//! - For the same reason a node's gas estimate of a batch can be far too low (a batch whose
//!   inner calls all run out of gas still succeeds), so batches get a fixed budget per ticket
//!   unless the caller sets a gas limit.
//! - `withdraw` takes the deposit and the reserve together, after `unlockPeriod` rounds.
//! - A sender whose unlock period has passed can no longer be redeemed against
//!   (`"sender is unlocked"`); a sender still unlocking can.

use async_trait::async_trait;
use ethers::contract::EthEvent;
use ethers::contract::builders::ContractCall;
use ethers::providers::Middleware;
use ethers::types::{Address, Bytes, TransactionReceipt, U256};
use livepeer_core::chain::{
    ChainError, GasPriceEstimator, PendingTx, SenderInfo, TicketBrokerReader, TicketFunding,
    TicketRedeemer, TxOptions, TxOutcome, TxStatus,
};
use livepeer_core::ticket::WinningTicket;
use livepeer_core::{H256, Wei};

use crate::bindings::ticket_broker::{Ticket, WinningTicketRedeemedFilter};
use crate::chain::LivepeerChain;
use crate::error::{contract_error, middleware_error};

/// Gas budgeted for a batch redemption beyond its tickets.
pub const BATCH_GAS_BASE: u64 = 100_000;
/// Gas budgeted per ticket of a batch redemption: above the most expensive single path
/// measured on Livepeer's contracts (a first fee of the round paid from the reserve, about
/// 374k).
pub const BATCH_GAS_PER_TICKET: u64 = 450_000;

/// The binding's form of a core ticket. `auxData` is the ticket's own
/// (`creationRound ‖ creationRoundBlockHash`, empty for round 0 with a zero hash), so the
/// contract hashes exactly what the sender signed.
pub fn to_livepeer_ticket(t: &livepeer_core::Ticket) -> Ticket {
    Ticket {
        recipient: t.recipient,
        sender: t.sender,
        face_value: t.face_value,
        win_prob: t.win_prob,
        sender_nonce: U256::from(t.sender_nonce),
        recipient_rand_hash: t.recipient_rand_hash.0,
        aux_data: Bytes::from(t.aux_data()),
    }
}

/// A mined redemption and how many tickets it paid.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Redemption {
    /// The transaction.
    pub outcome: TxOutcome,
    /// `WinningTicketRedeemed` events the TicketBroker emitted in it.
    pub redeemed: usize,
}

impl<M: Middleware + 'static> LivepeerChain<M> {
    fn redeem_call(&self, tickets: &[WinningTicket]) -> Result<ContractCall<M, ()>, ChainError> {
        match tickets {
            [] => Err(ChainError::NotFound("no tickets to redeem".into())),
            [one] => Ok(self.broker.redeem_winning_ticket(
                to_livepeer_ticket(&one.ticket),
                Bytes::from(one.sig.as_bytes().to_vec()),
                one.recipient_rand,
            )),
            many => Ok(self
                .broker
                .batch_redeem_winning_tickets(
                    many.iter().map(|w| to_livepeer_ticket(&w.ticket)).collect(),
                    many.iter()
                        .map(|w| Bytes::from(w.sig.as_bytes().to_vec()))
                        .collect(),
                    many.iter().map(|w| w.recipient_rand).collect(),
                )
                .gas(batch_gas(many.len()))),
        }
    }

    /// Counts the TicketBroker's `WinningTicketRedeemed` events in `receipt`.
    pub fn redeemed_in(&self, receipt: &TransactionReceipt) -> usize {
        let topic = WinningTicketRedeemedFilter::signature();
        receipt
            .logs
            .iter()
            .filter(|l| {
                l.address == self.addresses.ticket_broker && l.topics.first() == Some(&topic)
            })
            .count()
    }

    /// Redeems one winning ticket (`redeemWinningTicket`) and waits for it to be mined.
    pub async fn redeem_winning_ticket(
        &self,
        ticket: &WinningTicket,
    ) -> Result<Redemption, ChainError> {
        let (outcome, receipt) = self
            .send_receipt(self.redeem_call(std::slice::from_ref(ticket))?)
            .await?;
        let redeemed = self.redeemed_in(&receipt);
        Ok(Redemption { outcome, redeemed })
    }

    /// Redeems winning tickets in one `batchRedeemWinningTickets` transaction and waits for
    /// it. The batch may pay only some of them: [`Redemption::redeemed`] says how many.
    pub async fn batch_redeem_winning_tickets(
        &self,
        tickets: &[WinningTicket],
    ) -> Result<Redemption, ChainError> {
        let call = match tickets {
            [one] => self
                .broker
                .batch_redeem_winning_tickets(
                    vec![to_livepeer_ticket(&one.ticket)],
                    vec![Bytes::from(one.sig.as_bytes().to_vec())],
                    vec![one.recipient_rand],
                )
                .gas(batch_gas(1)),
            many => self.redeem_call(many)?,
        };
        let (outcome, receipt) = self.send_receipt(call).await?;
        let redeemed = self.redeemed_in(&receipt);
        Ok(Redemption { outcome, redeemed })
    }

    /// Adds `amount` to the caller's deposit (`fundDeposit`).
    pub async fn fund_deposit(&self, amount: Wei) -> Result<TxOutcome, ChainError> {
        self.send(self.broker.fund_deposit().value(amount.0)).await
    }

    /// Adds `amount` to the caller's reserve (`fundReserve`).
    pub async fn fund_reserve(&self, amount: Wei) -> Result<TxOutcome, ChainError> {
        self.send(self.broker.fund_reserve().value(amount.0)).await
    }

    /// Adds to `sender`'s deposit and reserve, paid by the caller
    /// (`fundDepositAndReserveFor`).
    pub async fn fund_deposit_and_reserve_for(
        &self,
        sender: Address,
        deposit: Wei,
        reserve: Wei,
    ) -> Result<TxOutcome, ChainError> {
        let total = deposit
            .checked_add(reserve)
            .ok_or_else(|| ChainError::Reverted {
                name: "AmountOverflow".into(),
                data: Vec::new(),
            })?;
        self.send(
            self.broker
                .fund_deposit_and_reserve_for(sender, deposit.0, reserve.0)
                .value(total.0),
        )
        .await
    }

    /// The TicketBroker's own hash of a ticket (`getTicketHash`), for checking ours.
    pub async fn ticket_hash(&self, ticket: &livepeer_core::Ticket) -> Result<H256, ChainError> {
        self.broker
            .get_ticket_hash(to_livepeer_ticket(ticket))
            .call()
            .await
            .map(H256::from)
            .map_err(contract_error)
    }

    /// Whether `sender` has an unlock in progress.
    pub async fn is_unlock_in_progress(&self, sender: Address) -> Result<bool, ChainError> {
        self.broker
            .is_unlock_in_progress(sender)
            .call()
            .await
            .map_err(contract_error)
    }
}

fn batch_gas(n: usize) -> u64 {
    BATCH_GAS_BASE + BATCH_GAS_PER_TICKET * n as u64
}

#[async_trait]
impl<M: Middleware + 'static> TicketBrokerReader for LivepeerChain<M> {
    async fn sender_info(&self, sender: Address) -> Result<SenderInfo, ChainError> {
        let (info, reserve) = self
            .broker
            .get_sender_info(sender)
            .call()
            .await
            .map_err(contract_error)?;
        Ok(SenderInfo {
            deposit: Wei(info.deposit),
            withdraw_round: info.withdraw_round.low_u64(),
            reserve_remaining: Wei(reserve.funds_remaining),
            reserve_claimed_this_round: Wei(reserve.claimed_in_current_round),
        })
    }
    async fn claimed_reserve(&self, sender: Address, claimant: Address) -> Result<Wei, ChainError> {
        self.broker
            .claimed_reserve(sender, claimant)
            .call()
            .await
            .map(Wei)
            .map_err(contract_error)
    }
    async fn is_ticket_used(&self, t: &WinningTicket) -> Result<bool, ChainError> {
        self.broker
            .used_tickets(t.ticket.hash().0)
            .call()
            .await
            .map_err(contract_error)
    }
    async fn ticket_validity_period(&self) -> Result<u64, ChainError> {
        self.broker
            .ticket_validity_period()
            .call()
            .await
            .map(|v| v.low_u64())
            .map_err(contract_error)
    }
    async fn unlock_period(&self) -> Result<u64, ChainError> {
        self.broker
            .unlock_period()
            .call()
            .await
            .map(|v| v.low_u64())
            .map_err(contract_error)
    }
    /// Livepeer splits each reserve equally among the transcoder pool
    /// (`BondingManager.getTranscoderPoolSize()`), active or not.
    async fn reserve_pool_size(&self) -> Result<u64, ChainError> {
        self.bonding
            .get_transcoder_pool_size()
            .call()
            .await
            .map(|v| v.low_u64())
            .map_err(contract_error)
    }
    /// The TicketBroker's own `claimableReserve` view: zero for a claimant that is not an
    /// active transcoder.
    async fn claimable_reserve(
        &self,
        sender: Address,
        claimant: Address,
    ) -> Result<Wei, ChainError> {
        self.broker
            .claimable_reserve(sender, claimant)
            .call()
            .await
            .map(Wei)
            .map_err(contract_error)
    }
}

#[async_trait]
impl<M: Middleware + 'static> TicketRedeemer for LivepeerChain<M> {
    fn redeemer(&self) -> Address {
        self.account
    }

    /// Sends `redeemWinningTicket` for one ticket, `batchRedeemWinningTickets` for more. A
    /// mined batch may have paid only some tickets (see the module docs).
    async fn send_redeem(
        &self,
        tickets: &[WinningTicket],
        opts: &TxOptions,
    ) -> Result<PendingTx, ChainError> {
        let mut call = self.redeem_call(tickets)?.legacy();
        let gas_price = match opts.gas_price {
            Some(p) => p,
            None => self
                .client
                .get_gas_price()
                .await
                .map_err(middleware_error)?,
        };
        call = call.gas_price(gas_price);
        if let Some(limit) = opts.gas_limit {
            call = call.gas(limit);
        }
        let nonce = match opts.nonce {
            Some(n) => n,
            None => self.pending_nonce().await?,
        };
        let call = call.nonce(nonce);
        let pending = call.send().await.map_err(contract_error)?;
        Ok(PendingTx {
            hash: H256::from(pending.tx_hash().0),
            nonce,
            gas_price,
        })
    }

    async fn next_nonce(&self) -> Result<Option<u64>, ChainError> {
        self.pending_nonce().await.map(Some)
    }

    async fn tx_status(&self, tx: &PendingTx) -> Result<TxStatus, ChainError> {
        let hash = ethers::types::H256(tx.hash.0);
        if let Some(r) = self
            .client
            .get_transaction_receipt(hash)
            .await
            .map_err(middleware_error)?
        {
            return Ok(TxStatus::Mined {
                block: r.block_number.map_or(0, |b| b.as_u64()),
                gas_used: r.gas_used.map_or(0, |g| g.low_u64()),
                success: r.status.map(|s| s.as_u64()) == Some(1),
            });
        }
        match self
            .client
            .get_transaction(hash)
            .await
            .map_err(middleware_error)?
        {
            Some(_) => Ok(TxStatus::Pending),
            None => Ok(TxStatus::NotFound),
        }
    }

    /// The node's estimate for one ticket; for a batch, the fixed budget it is sent with
    /// ([`BATCH_GAS_BASE`] + [`BATCH_GAS_PER_TICKET`] per ticket), because the node's estimate
    /// of a batch can be too low to pay any ticket.
    async fn estimate_redeem_gas(&self, tickets: &[WinningTicket]) -> Result<u64, ChainError> {
        if tickets.len() > 1 {
            return Ok(batch_gas(tickets.len()));
        }
        self.redeem_call(tickets)?
            .estimate_gas()
            .await
            .map(|g| g.low_u64())
            .map_err(contract_error)
    }
}

impl<M: Middleware + 'static> LivepeerChain<M> {
    async fn pending_nonce(&self) -> Result<u64, ChainError> {
        self.client
            .get_transaction_count(
                self.account,
                Some(ethers::types::BlockNumber::Pending.into()),
            )
            .await
            .map(|n| n.low_u64())
            .map_err(middleware_error)
    }
}

#[async_trait]
impl<M: Middleware + 'static> GasPriceEstimator for LivepeerChain<M> {
    async fn gas_price(&self) -> Result<U256, ChainError> {
        self.client.get_gas_price().await.map_err(middleware_error)
    }
}

#[async_trait]
impl<M: Middleware + 'static> TicketFunding for LivepeerChain<M> {
    async fn fund_deposit_and_reserve(
        &self,
        deposit: Wei,
        reserve: Wei,
    ) -> Result<TxOutcome, ChainError> {
        let total = deposit
            .checked_add(reserve)
            .ok_or_else(|| ChainError::Reverted {
                name: "AmountOverflow".into(),
                data: Vec::new(),
            })?;
        self.send(
            self.broker
                .fund_deposit_and_reserve(deposit.0, reserve.0)
                .value(total.0),
        )
        .await
    }
    async fn unlock(&self) -> Result<TxOutcome, ChainError> {
        self.send(self.broker.unlock()).await
    }
    async fn cancel_unlock(&self) -> Result<TxOutcome, ChainError> {
        self.send(self.broker.cancel_unlock()).await
    }
    /// Withdraws the deposit and the reserve together (Livepeer has no partial withdrawal).
    async fn withdraw(&self) -> Result<TxOutcome, ChainError> {
        self.send(self.broker.withdraw()).await
    }
}
