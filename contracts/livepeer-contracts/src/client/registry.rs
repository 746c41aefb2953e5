//! Registry and staking traits.

use async_trait::async_trait;
use ethers::providers::Middleware;
use ethers::types::{Address, U256};
use livepeer_core::chain::{
    ChainError, OrchestratorEntry, RegistryReader, RegistryWriter, ServiceOffer, Staking,
    StakingReader, TxOutcome,
};
use livepeer_core::{H256, Region, ServiceId};

use super::ChainClient;
use crate::bindings::service_registry::{Entry, Service};
use crate::error::contract_error;

/// Most entries read in one call.
const PAGE: u64 = 200;

fn ppm(v: U256) -> u32 {
    u32::try_from(v.min(U256::from(u32::MAX)).as_u64()).unwrap_or(u32::MAX)
}

fn entry(e: Entry) -> Result<OrchestratorEntry, ChainError> {
    let services = e
        .services
        .into_iter()
        .map(|s| {
            ServiceId::from_bytes32(&H256::from(s.id))
                .map(|id| ServiceOffer {
                    id,
                    verifier: s.verifier,
                })
                .map_err(|err| ChainError::Decode(err.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let regions = e
        .regions
        .into_iter()
        .map(|r| {
            Region::from_bytes32(&H256::from(r)).map_err(|err| ChainError::Decode(err.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OrchestratorEntry {
        address: e.orchestrator,
        service_uri: e.service_uri,
        reward_cut_ppm: ppm(e.reward_cut),
        fee_share_ppm: ppm(e.fee_share),
        services,
        regions,
        stake: e.stake,
        active: e.active,
    })
}

#[async_trait]
impl<M: Middleware + 'static> RegistryReader for ChainClient<M> {
    async fn orchestrators(&self) -> Result<Vec<OrchestratorEntry>, ChainError> {
        let mut out = Vec::new();
        let mut start = 0u64;
        loop {
            let page = self
                .registry
                .get_entries_page(U256::from(start), U256::from(PAGE))
                .call()
                .await
                .map_err(contract_error)?;
            let n = page.len() as u64;
            for e in page {
                if e.listed {
                    // An entry that does not decode is skipped, not fatal: one malformed
                    // registration must not hide every other orchestrator.
                    match entry(e) {
                        Ok(x) => out.push(x),
                        Err(err) => tracing::warn!(%err, "skipping undecodable registry entry"),
                    }
                }
            }
            if n < PAGE {
                break;
            }
            start += PAGE;
        }
        Ok(out)
    }

    async fn orchestrator(
        &self,
        address: Address,
    ) -> Result<Option<OrchestratorEntry>, ChainError> {
        let e = self
            .registry
            .get_entry(address)
            .call()
            .await
            .map_err(contract_error)?;
        if !e.listed {
            return Ok(None);
        }
        entry(e).map(Some)
    }
}

fn services(s: &[ServiceOffer]) -> Vec<Service> {
    s.iter()
        .map(|o| Service {
            id: o.id.to_bytes32().0,
            verifier: o.verifier,
        })
        .collect()
}

fn regions(r: &[Region]) -> Vec<[u8; 32]> {
    r.iter().map(|x| x.to_bytes32().0).collect()
}

/// What an account needs to become a listed orchestrator.
#[derive(Clone, Debug)]
pub struct OrchestratorSetup<'a> {
    /// Stake to bond to itself (the account must hold the tokens).
    pub stake: U256,
    /// Reward cut, in parts per million.
    pub reward_cut_ppm: u32,
    /// Fee share, in parts per million.
    pub fee_share_ppm: u32,
    /// Where it is reached.
    pub uri: &'a str,
    /// What it offers.
    pub offers: &'a [ServiceOffer],
    /// Where it serves.
    pub regions: &'a [Region],
}

impl<M: Middleware + 'static> ChainClient<M> {
    /// Bonds the caller's stake to itself, registers it as an orchestrator and lists its
    /// services and regions: the whole way in, in one call. It is active from the next round.
    pub async fn join_as_orchestrator(
        &self,
        setup: &OrchestratorSetup<'_>,
    ) -> Result<(), ChainError> {
        self.approve_and_bond(setup.stake, self.account).await?;
        self.register_orchestrator(setup.reward_cut_ppm, setup.fee_share_ppm)
            .await?;
        self.register_services(setup.uri, setup.offers, setup.regions)
            .await?;
        Ok(())
    }

    /// Lists the caller in the registry with everything at once.
    pub async fn register_services(
        &self,
        uri: &str,
        offers: &[ServiceOffer],
        serves: &[Region],
    ) -> Result<TxOutcome, ChainError> {
        self.send(
            self.registry
                .register(uri.to_owned(), services(offers), regions(serves)),
        )
        .await
    }
}

#[async_trait]
impl<M: Middleware + 'static> RegistryWriter for ChainClient<M> {
    async fn set_service_uri(&self, uri: &str) -> Result<TxOutcome, ChainError> {
        self.send(self.registry.set_service_uri(uri.to_owned()))
            .await
    }
    async fn set_services(&self, offers: &[ServiceOffer]) -> Result<TxOutcome, ChainError> {
        self.send(self.registry.set_services(services(offers)))
            .await
    }
    async fn set_regions(&self, serves: &[Region]) -> Result<TxOutcome, ChainError> {
        self.send(self.registry.set_regions(regions(serves))).await
    }
}

#[async_trait]
impl<M: Middleware + 'static> StakingReader for ChainClient<M> {
    async fn stake_of(&self, orchestrator: Address) -> Result<U256, ChainError> {
        let info = self
            .bonding
            .orchestrator_info(orchestrator)
            .call()
            .await
            .map_err(contract_error)?;
        Ok(info.stake)
    }
    async fn is_active(&self, orchestrator: Address) -> Result<bool, ChainError> {
        self.bonding
            .is_active(orchestrator)
            .call()
            .await
            .map_err(contract_error)
    }
    async fn min_active_stake(&self) -> Result<U256, ChainError> {
        self.bonding
            .min_active_stake()
            .call()
            .await
            .map_err(contract_error)
    }
}

#[async_trait]
impl<M: Middleware + 'static> Staking for ChainClient<M> {
    async fn bond(&self, amount: U256, to: Address) -> Result<TxOutcome, ChainError> {
        self.send(self.bonding.bond(amount, to)).await
    }
    async fn unbond(&self, amount: U256) -> Result<TxOutcome, ChainError> {
        self.send(self.bonding.unbond(amount)).await
    }
    async fn withdraw_stake(&self) -> Result<TxOutcome, ChainError> {
        self.send(self.bonding.withdraw_stake()).await
    }
    async fn claim_earnings(&self) -> Result<TxOutcome, ChainError> {
        self.send(self.bonding.claim_earnings()).await
    }
    async fn reward(&self) -> Result<TxOutcome, ChainError> {
        self.send(self.bonding.reward()).await
    }
    async fn set_rates(
        &self,
        reward_cut_ppm: u32,
        fee_share_ppm: u32,
    ) -> Result<TxOutcome, ChainError> {
        self.send(
            self.bonding
                .set_orchestrator_params(U256::from(reward_cut_ppm), U256::from(fee_share_ppm)),
        )
        .await
    }
}
