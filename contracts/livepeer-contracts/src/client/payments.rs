//! Ticket broker traits: sender funds, redemption, gas price.

use async_trait::async_trait;
use ethers::contract::builders::ContractCall;
use ethers::providers::Middleware;
use ethers::types::{Address, Bytes, U256};
use livepeer_core::chain::{
    ChainError, GasPriceEstimator, PendingTx, SenderInfo, TicketBrokerReader, TicketFunding,
    TicketRedeemer, TxOptions, TxOutcome, TxStatus,
};
use livepeer_core::ticket::WinningTicket;
use livepeer_core::{H256, Wei};

use super::ChainClient;
use crate::bindings::ticket_broker::Ticket;
use crate::error::{contract_error, middleware_error};

/// The binding's form of a core ticket (always with its 64-byte auxData).
pub(crate) fn ticket(t: &livepeer_core::Ticket) -> Ticket {
    let mut aux = vec![0u8; 64];
    U256::from(t.creation_round).to_big_endian(&mut aux[..32]);
    aux[32..].copy_from_slice(t.creation_round_block_hash.as_bytes());
    Ticket {
        recipient: t.recipient,
        sender: t.sender,
        face_value: t.face_value,
        win_prob: t.win_prob,
        sender_nonce: U256::from(t.sender_nonce),
        recipient_rand_hash: t.recipient_rand_hash.0,
        aux_data: Bytes::from(aux),
    }
}

impl<M: Middleware + 'static> ChainClient<M> {
    fn redeem_call(&self, tickets: &[WinningTicket]) -> Result<ContractCall<M, ()>, ChainError> {
        match tickets {
            [] => Err(ChainError::NotFound("no tickets to redeem".into())),
            [one] => Ok(self.broker.redeem_winning_ticket(
                ticket(&one.ticket),
                Bytes::from(one.sig.as_bytes().to_vec()),
                one.recipient_rand,
            )),
            many => Ok(self.broker.batch_redeem_winning_tickets(
                many.iter().map(|w| ticket(&w.ticket)).collect(),
                many.iter()
                    .map(|w| Bytes::from(w.sig.as_bytes().to_vec()))
                    .collect(),
                many.iter().map(|w| w.recipient_rand).collect(),
            )),
        }
    }
}

#[async_trait]
impl<M: Middleware + 'static> TicketBrokerReader for ChainClient<M> {
    async fn sender_info(&self, sender: Address) -> Result<SenderInfo, ChainError> {
        // Livepeer's layout: (deposit, withdrawRound) then (fundsRemaining, claimedInCurrentRound).
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
            .is_ticket_used(ticket(&t.ticket))
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
    async fn reserve_pool_size(&self) -> Result<u64, ChainError> {
        self.bonding
            .active_pool_size()
            .call()
            .await
            .map(|v| v.low_u64())
            .map_err(contract_error)
    }
    async fn claimable_reserve(
        &self,
        sender: Address,
        claimant: Address,
    ) -> Result<Wei, ChainError> {
        // The broker's own allocation: its named recipients, or round-start stake.
        self.broker
            .claimable_reserve(sender, claimant)
            .call()
            .await
            .map(Wei)
            .map_err(contract_error)
    }
}

#[async_trait]
impl<M: Middleware + 'static> TicketRedeemer for ChainClient<M> {
    fn redeemer(&self) -> Address {
        self.account
    }

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
        let (hash, nonce) = self.submit(call, opts.nonce).await?;
        Ok(PendingTx {
            hash: H256::from(hash.0),
            nonce,
            gas_price,
        })
    }

    async fn next_nonce(&self) -> Result<Option<u64>, ChainError> {
        self.chosen_nonce().await.map(Some)
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

    async fn estimate_redeem_gas(&self, tickets: &[WinningTicket]) -> Result<u64, ChainError> {
        self.redeem_call(tickets)?
            .estimate_gas()
            .await
            .map(|g| g.low_u64())
            .map_err(contract_error)
    }
}

#[async_trait]
impl<M: Middleware + 'static> GasPriceEstimator for ChainClient<M> {
    async fn gas_price(&self) -> Result<U256, ChainError> {
        self.client.get_gas_price().await.map_err(middleware_error)
    }
}

#[async_trait]
impl<M: Middleware + 'static> TicketFunding for ChainClient<M> {
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
    async fn withdraw(&self) -> Result<TxOutcome, ChainError> {
        self.send(self.broker.withdraw()).await
    }
}
