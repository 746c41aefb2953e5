//! Rounds, the transcoder pool and service URIs: discovery the way go-livepeer does it
//! (`eth/client.go TranscoderPool`).
//!
//! Where Livepeer differs from the core registry:
//! - There are no service offers or regions on chain: entries carry no [`ServiceOffer`]s and
//!   the region `global`. Capabilities and prices come from the orchestrator itself.
//! - The pool is BondingManager's sorted transcoder list (`getFirstTranscoderInPool`, then
//!   `getNextTranscoderInPool` until the zero address). A transcoder is in it from the round
//!   after it joins; [`OrchestratorEntry::active`] is `isActiveTranscoder` for this round.
//! - The walk costs a few calls per orchestrator and is not one consistent snapshot: blocks
//!   may pass while it runs.
//!
//! [`ServiceOffer`]: livepeer_core::chain::ServiceOffer

use async_trait::async_trait;
use ethers::providers::Middleware;
use ethers::types::{Address, U256};
use livepeer_core::chain::{
    ChainError, OrchestratorEntry, RegistryReader, RoundInfo, StakingReader, TxOutcome,
};
use livepeer_core::{H256, Region};

use crate::chain::LivepeerChain;
use crate::error::contract_error;

impl<M: Middleware + 'static> LivepeerChain<M> {
    /// Every address in BondingManager's transcoder pool, highest stake first.
    pub async fn transcoder_pool(&self) -> Result<Vec<Address>, ChainError> {
        let max = self
            .bonding
            .get_transcoder_pool_max_size()
            .call()
            .await
            .map_err(contract_error)?;
        let mut out = Vec::new();
        let mut next = self
            .bonding
            .get_first_transcoder_in_pool()
            .call()
            .await
            .map_err(contract_error)?;
        while !next.is_zero() {
            // The list is bounded by the pool's size; a longer walk means a broken node.
            if U256::from(out.len()) >= max {
                return Err(ChainError::Decode(
                    "transcoder pool longer than its maximum".into(),
                ));
            }
            out.push(next);
            next = self
                .bonding
                .get_next_transcoder_in_pool(next)
                .call()
                .await
                .map_err(contract_error)?;
        }
        Ok(out)
    }

    /// The service URI `orchestrator` registered (`ServiceRegistry.getServiceURI`); empty
    /// when none.
    pub async fn service_uri(&self, orchestrator: Address) -> Result<String, ChainError> {
        self.registry
            .get_service_uri(orchestrator)
            .call()
            .await
            .map_err(contract_error)
    }

    /// Sets the caller's service URI (`ServiceRegistry.setServiceURI`).
    pub async fn set_service_uri(&self, uri: &str) -> Result<TxOutcome, ChainError> {
        self.send(self.registry.set_service_uri(uri.to_owned()))
            .await
    }

    /// Whether `who` is a registered transcoder (bonded to itself).
    pub async fn is_registered_transcoder(&self, who: Address) -> Result<bool, ChainError> {
        self.bonding
            .is_registered_transcoder(who)
            .call()
            .await
            .map_err(contract_error)
    }

    /// One orchestrator as discovery reports it.
    pub async fn entry(&self, address: Address) -> Result<OrchestratorEntry, ChainError> {
        // (lastRewardRound, rewardCut, feeShare, …)
        let t = self
            .bonding
            .get_transcoder(address)
            .call()
            .await
            .map_err(contract_error)?;
        Ok(OrchestratorEntry {
            address,
            service_uri: self.service_uri(address).await?,
            // Livepeer's percentages are parts per million (MathUtils.PERC_DIVISOR).
            reward_cut_ppm: u32::try_from(t.1).unwrap_or(u32::MAX),
            fee_share_ppm: u32::try_from(t.2).unwrap_or(u32::MAX),
            services: Vec::new(),
            regions: vec![Region::global()],
            stake: self.stake_of(address).await?,
            active: self.is_active(address).await?,
        })
    }

    /// The pool's orchestrators that are active this round, with URI and stake.
    pub async fn active_orchestrators(&self) -> Result<Vec<OrchestratorEntry>, ChainError> {
        let mut out = self.orchestrators().await?;
        out.retain(|e| e.active);
        Ok(out)
    }
}

#[async_trait]
impl<M: Middleware + 'static> RegistryReader for LivepeerChain<M> {
    /// The whole transcoder pool, active this round or not.
    async fn orchestrators(&self) -> Result<Vec<OrchestratorEntry>, ChainError> {
        let mut out = Vec::new();
        for a in self.transcoder_pool().await? {
            out.push(self.entry(a).await?);
        }
        Ok(out)
    }
    /// `None` unless `address` is a registered transcoder.
    async fn orchestrator(
        &self,
        address: Address,
    ) -> Result<Option<OrchestratorEntry>, ChainError> {
        if !self.is_registered_transcoder(address).await? {
            return Ok(None);
        }
        self.entry(address).await.map(Some)
    }
}

#[async_trait]
impl<M: Middleware + 'static> StakingReader for LivepeerChain<M> {
    async fn stake_of(&self, orchestrator: Address) -> Result<U256, ChainError> {
        self.bonding
            .transcoder_total_stake(orchestrator)
            .call()
            .await
            .map_err(contract_error)
    }
    async fn is_active(&self, orchestrator: Address) -> Result<bool, ChainError> {
        self.bonding
            .is_active_transcoder(orchestrator)
            .call()
            .await
            .map_err(contract_error)
    }
    /// Livepeer has no fixed minimum: while the pool has room any stake joins (zero); once it
    /// is full, a newcomer must exceed the smallest stake in it, which this returns.
    async fn min_active_stake(&self) -> Result<U256, ChainError> {
        let size = self
            .bonding
            .get_transcoder_pool_size()
            .call()
            .await
            .map_err(contract_error)?;
        let max = self
            .bonding
            .get_transcoder_pool_max_size()
            .call()
            .await
            .map_err(contract_error)?;
        if size < max {
            return Ok(U256::zero());
        }
        match self.transcoder_pool().await?.last() {
            Some(last) => self.stake_of(*last).await,
            None => Ok(U256::zero()),
        }
    }
}

#[async_trait]
impl<M: Middleware + 'static> RoundInfo for LivepeerChain<M> {
    /// The block number from the chain's [`crate::BlockSource`]: on Arbitrum, the L1 block
    /// that Livepeer's rounds and ticket expiry count in.
    async fn current_block(&self) -> Result<u64, ChainError> {
        self.block_number().await
    }
    async fn current_round(&self) -> Result<u64, ChainError> {
        self.rounds
            .current_round()
            .call()
            .await
            .map(|r| r.low_u64())
            .map_err(contract_error)
    }
    async fn last_initialized_round(&self) -> Result<u64, ChainError> {
        self.rounds
            .last_initialized_round()
            .call()
            .await
            .map(|r| r.low_u64())
            .map_err(contract_error)
    }
    /// Zero for a round nobody initialized; go-livepeer then backdates ticket params to the
    /// last initialized round.
    async fn block_hash_for_round(&self, round: u64) -> Result<H256, ChainError> {
        self.rounds
            .block_hash_for_round(U256::from(round))
            .call()
            .await
            .map(H256::from)
            .map_err(contract_error)
    }
    async fn round_length(&self) -> Result<u64, ChainError> {
        self.rounds
            .round_length()
            .call()
            .await
            .map(|r| r.low_u64())
            .map_err(contract_error)
    }
}
