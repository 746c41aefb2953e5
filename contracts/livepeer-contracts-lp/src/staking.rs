//! An orchestrator's own calls on Livepeer's BondingManager and LivepeerToken: bonding,
//! rates, rewards and fees, and the core [`Staking`] trait over them (so an orchestrator
//! node runs on Livepeer's contracts). Livepeer's staking has more than the trait says
//! (unbonding locks, hints, fees withdrawn by amount): the trait's `withdraw_stake` takes the
//! latest unbonding lock, and its `claim_earnings` claims through the current round.

use async_trait::async_trait;
use ethers::providers::Middleware;
use ethers::types::{Address, U256};
use livepeer_core::Wei;
use livepeer_core::chain::{ChainError, RoundInfo, Staking, TxOutcome};

use crate::chain::LivepeerChain;
use crate::error::contract_error;

impl<M: Middleware + 'static> LivepeerChain<M> {
    /// Approves BondingManager to take `amount` LPT and bonds it to `to` (`bond`).
    pub async fn approve_and_bond(
        &self,
        amount: U256,
        to: Address,
    ) -> Result<TxOutcome, ChainError> {
        self.send(self.token.approve(self.addresses.bonding_manager, amount))
            .await?;
        self.send(self.bonding.bond(amount, to)).await
    }

    /// Sets the caller's reward cut and fee share, in parts per million (`transcoder`); the
    /// caller must be bonded to itself. Joins the pool from the next round if there is room.
    pub async fn set_transcoder_rates(
        &self,
        reward_cut_ppm: u32,
        fee_share_ppm: u32,
    ) -> Result<TxOutcome, ChainError> {
        self.send(
            self.bonding
                .transcoder(U256::from(reward_cut_ppm), U256::from(fee_share_ppm)),
        )
        .await
    }

    /// LPT balance of `who`.
    pub async fn lpt_balance(&self, who: Address) -> Result<U256, ChainError> {
        self.token
            .balance_of(who)
            .call()
            .await
            .map_err(contract_error)
    }

    /// Transfers LPT from the caller.
    pub async fn transfer_lpt(&self, to: Address, amount: U256) -> Result<TxOutcome, ChainError> {
        self.send(self.token.transfer(to, amount)).await
    }

    /// Calls `reward()`: mints this round's inflation for the caller (an active transcoder,
    /// once per round).
    pub async fn reward(&self) -> Result<TxOutcome, ChainError> {
        self.send(self.bonding.reward()).await
    }

    /// Fees `delegator` can withdraw as of the current round (`pendingFees`), redeemed
    /// tickets included.
    pub async fn pending_fees(&self, delegator: Address) -> Result<Wei, ChainError> {
        let round = self.current_round().await?;
        self.bonding
            .pending_fees(delegator, U256::from(round))
            .call()
            .await
            .map(Wei)
            .map_err(contract_error)
    }

    /// Stake of `delegator` with its rewards as of the current round (`pendingStake`).
    pub async fn pending_stake(&self, delegator: Address) -> Result<U256, ChainError> {
        let round = self.current_round().await?;
        self.bonding
            .pending_stake(delegator, U256::from(round))
            .call()
            .await
            .map_err(contract_error)
    }

    /// Withdraws `amount` of the caller's fees to `recipient` (`withdrawFees`; the Minter
    /// sends the ETH).
    pub async fn withdraw_fees(
        &self,
        recipient: Address,
        amount: Wei,
    ) -> Result<TxOutcome, ChainError> {
        self.send(self.bonding.withdraw_fees(recipient, amount.0))
            .await
    }
}

#[async_trait]
impl<M: Middleware + 'static> Staking for LivepeerChain<M> {
    async fn bond(&self, amount: U256, to: Address) -> Result<TxOutcome, ChainError> {
        self.approve_and_bond(amount, to).await
    }

    async fn unbond(&self, amount: U256) -> Result<TxOutcome, ChainError> {
        self.send(self.bonding.unbond(amount)).await
    }

    async fn withdraw_stake(&self) -> Result<TxOutcome, ChainError> {
        let (.., next_lock) = self
            .bonding
            .get_delegator(self.account)
            .call()
            .await
            .map_err(contract_error)?;
        if next_lock.is_zero() {
            return Err(ChainError::NotFound("an unbonding lock to withdraw".into()));
        }
        self.send(self.bonding.withdraw_stake(next_lock - U256::one()))
            .await
    }

    async fn claim_earnings(&self) -> Result<TxOutcome, ChainError> {
        let round = self.current_round().await?;
        self.send(self.bonding.claim_earnings(U256::from(round)))
            .await
    }

    async fn reward(&self) -> Result<TxOutcome, ChainError> {
        LivepeerChain::reward(self).await
    }

    async fn set_rates(
        &self,
        reward_cut_ppm: u32,
        fee_share_ppm: u32,
    ) -> Result<TxOutcome, ChainError> {
        self.set_transcoder_rates(reward_cut_ppm, fee_share_ppm)
            .await
    }
}
