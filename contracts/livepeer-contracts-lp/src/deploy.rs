//! Deploys Livepeer's production bytecode on a development chain (anvil) the way Livepeer's
//! `deploy/deploy_contracts.ts` does, for tests and local networks.
//!
//! Controller first; then each contract registered under `keccak256(name)`. A proxied
//! contract is a target registered as `<Name>Target` plus a `ManagerProxy(controller,
//! keccak256("<Name>Target"))` registered as `<Name>` (TicketBroker is also registered as
//! `JobsManager`, as the Minter knows it). BondingManager links the SortedDoublyLL library.
//! RoundsManager is the production one (not AdjustableRoundsManager), so rounds follow
//! blocks. The only stand-in is `L2LPTDataCache` (see `stub/`), which on a local chain has no
//! L1 supply to report. Treasury, governors, MerkleSnapshot and the polls are not deployed.

use std::sync::Arc;

use ethers::abi::Token;
use ethers::contract::ContractFactory;
use ethers::providers::Middleware;
use ethers::types::{Address, U256};
use ethers::utils::keccak256;
use livepeer_core::chain::{ChainError, RoundInfo};
use serde::{Deserialize, Serialize};

use crate::artifacts::artifact;
use crate::bindings::{
    bonding_manager::BondingManager, controller::Controller, livepeer_token::LivepeerToken,
    rounds_manager::RoundsManager, ticket_broker::TicketBroker,
};
use crate::chain::{LivepeerAddresses, LivepeerChain, contract_id};
use crate::error::{LpError, contract_error};

/// The livepeer/protocol commit the artifacts were compiled at; recorded as each
/// registration's `gitCommitHash`, as Livepeer's deployer records its own HEAD.
pub const PROTOCOL_COMMIT: [u8; 20] = [
    0xf2, 0x25, 0xb1, 0x0c, 0x62, 0xce, 0x4b, 0xae, 0xd0, 0xdb, 0x14, 0xb2, 0xb9, 0xaf, 0x1e, 0x19,
    0xef, 0xee, 0x3b, 0x45,
];

/// Protocol parameters of a local deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeployConfig {
    /// Blocks per round (`RoundsManager.setRoundLength`; 5760 on Arbitrum).
    pub round_length: u64,
    /// Share of a round's last blocks in which transcoders cannot change rates, in parts per
    /// million (`setRoundLockAmount`).
    pub round_lock_amount_ppm: u64,
    /// Rounds between `unlock` and the `withdraw` it allows (`TicketBroker.setUnlockPeriod`).
    pub unlock_period: u64,
    /// Rounds a ticket stays redeemable (`TicketBroker.setTicketValidityPeriod`).
    pub ticket_validity_period: u64,
    /// Size of the active set (`BondingManager.setNumActiveTranscoders`).
    pub num_active_transcoders: u64,
    /// Rounds before unbonded stake can be withdrawn (`setUnbondingPeriod`).
    pub unbonding_period: u64,
    /// Minter constructor: inflation per round, in parts per billion.
    pub inflation: u64,
    /// Minter constructor: inflation change per round, in parts per billion.
    pub inflation_change: u64,
    /// Minter constructor: target bonding rate, in parts per billion.
    pub target_bonding_rate: u64,
    /// LPT minted to the deployer.
    pub deployer_lpt: U256,
}

impl Default for DeployConfig {
    /// The parameters Livepeer's gas figures were measured with: 100-block rounds, unlock and validity of 2 rounds, 100
    /// active transcoders; the Minter's mainnet arguments; 10 million LPT to the deployer.
    fn default() -> Self {
        DeployConfig {
            round_length: 100,
            round_lock_amount_ppm: 100_000,
            unlock_period: 2,
            ticket_validity_period: 2,
            num_active_transcoders: 100,
            unbonding_period: 7,
            inflation: 137,
            inflation_change: 3,
            target_bonding_rate: 500_000,
            deployer_lpt: U256::exp10(25),
        }
    }
}

/// What [`deploy`] put on chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Deployment {
    /// The addresses a client resolves through the Controller.
    pub addresses: LivepeerAddresses,
    /// `(Controller name, address)` of every other registration: targets, `JobsManager`,
    /// `BondingVotes`, `L2LPTDataCache`.
    pub others: Vec<(String, Address)>,
    /// The SortedDoublyLL library BondingManager is linked against.
    pub sorted_doubly_ll: Address,
}

/// Deploys one carried artifact with constructor `args` (libraries linked by name).
pub async fn deploy_artifact<M: Middleware + 'static>(
    client: &Arc<M>,
    name: &str,
    args: Vec<Token>,
    libraries: &[(&str, Address)],
) -> Result<Address, LpError> {
    let a = artifact(name)?;
    let code = a.linked_bytecode(libraries)?;
    let factory = ContractFactory::new(a.abi, code, client.clone());
    let deployer = factory
        .deploy_tokens(args)
        .map_err(|e| LpError::BadArtifact {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
    let contract = deployer.send().await.map_err(contract_error)?;
    tracing::debug!(name, address = ?contract.address(), "deployed");
    Ok(contract.address())
}

struct Registrar<M> {
    client: Arc<M>,
    controller: Controller<M>,
    others: Vec<(String, Address)>,
}

impl<M: Middleware + 'static> Registrar<M> {
    async fn register(&mut self, name: &str, address: Address) -> Result<(), LpError> {
        send(
            self.controller
                .set_contract_info(contract_id(name), address, PROTOCOL_COMMIT),
        )
        .await?;
        Ok(())
    }

    /// Deploys `name` behind a ManagerProxy: `<name>Target` plus the proxy as `<name>`.
    async fn proxied(
        &mut self,
        name: &str,
        libraries: &[(&str, Address)],
    ) -> Result<Address, LpError> {
        let controller = Token::Address(self.controller.address());
        let target =
            deploy_artifact(&self.client, name, vec![controller.clone()], libraries).await?;
        let target_name = format!("{name}Target");
        self.register(&target_name, target).await?;
        let proxy = deploy_artifact(
            &self.client,
            "ManagerProxy",
            vec![
                controller,
                Token::FixedBytes(keccak256(target_name.as_bytes()).to_vec()),
            ],
            &[],
        )
        .await?;
        self.register(name, proxy).await?;
        self.others.push((target_name, target));
        Ok(proxy)
    }
}

async fn send<M: Middleware + 'static, D: ethers::abi::Detokenize>(
    call: ethers::contract::builders::ContractCall<M, D>,
) -> Result<(), ChainError> {
    let receipt = call
        .send()
        .await
        .map_err(contract_error)?
        .await
        .map_err(crate::error::middleware_error)?
        .ok_or_else(|| ChainError::NotFound("deployment receipt".into()))?;
    if receipt.status.map(|s| s.as_u64()) != Some(1) {
        return Err(ChainError::Reverted {
            name: "unknown".into(),
            data: Vec::new(),
        });
    }
    Ok(())
}

/// Deploys and wires the set, sets `cfg`'s parameters, mints the deployer's LPT, unpauses
/// the Controller, and initializes the first round it can (round 1 or later). `client` sends
/// as the deployer, which stays the Controller's owner.
pub async fn deploy<M: Middleware + 'static>(
    client: Arc<M>,
    cfg: &DeployConfig,
) -> Result<Deployment, LpError> {
    let deployer = client.default_sender().unwrap_or_default();
    let controller = deploy_artifact(&client, "Controller", vec![], &[]).await?;
    let mut r = Registrar {
        client: client.clone(),
        controller: Controller::new(controller, client.clone()),
        others: Vec::new(),
    };
    let c = Token::Address(controller);

    let minter = deploy_artifact(
        &client,
        "Minter",
        vec![
            c.clone(),
            Token::Uint(cfg.inflation.into()),
            Token::Uint(cfg.inflation_change.into()),
            Token::Uint(cfg.target_bonding_rate.into()),
        ],
        &[],
    )
    .await?;
    r.register("Minter", minter).await?;
    let token = deploy_artifact(&client, "LivepeerToken", vec![], &[]).await?;
    r.register("LivepeerToken", token).await?;
    let cache = deploy_artifact(&client, "DummyL2LPTDataCache", vec![], &[]).await?;
    r.register("L2LPTDataCache", cache).await?;
    r.others.push(("L2LPTDataCache".into(), cache));

    let broker = r.proxied("TicketBroker", &[]).await?;
    r.register("JobsManager", broker).await?;
    r.others.push(("JobsManager".into(), broker));
    let list = deploy_artifact(&client, "SortedDoublyLL", vec![], &[]).await?;
    let bonding = r
        .proxied("BondingManager", &[("SortedDoublyLL", list)])
        .await?;
    let votes = r.proxied("BondingVotes", &[]).await?;
    r.others.push(("BondingVotes".into(), votes));
    let rounds = r.proxied("RoundsManager", &[]).await?;
    let registry = r.proxied("ServiceRegistry", &[]).await?;

    let bm = BondingManager::new(bonding, client.clone());
    send(bm.set_unbonding_period(cfg.unbonding_period)).await?;
    send(bm.set_num_active_transcoders(cfg.num_active_transcoders.into())).await?;
    let rm = RoundsManager::new(rounds, client.clone());
    send(rm.set_round_length(cfg.round_length.into())).await?;
    send(rm.set_round_lock_amount(cfg.round_lock_amount_ppm.into())).await?;
    let tb = TicketBroker::new(broker, client.clone());
    send(tb.set_unlock_period(cfg.unlock_period.into())).await?;
    send(tb.set_ticket_validity_period(cfg.ticket_validity_period.into())).await?;

    let lpt = LivepeerToken::new(token, client.clone());
    let minter_role = keccak256(b"MINTER_ROLE");
    send(lpt.grant_role(minter_role, deployer)).await?;
    send(lpt.grant_role(minter_role, minter)).await?;
    if !cfg.deployer_lpt.is_zero() {
        send(lpt.mint(deployer, cfg.deployer_lpt)).await?;
    }
    send(r.controller.unpause()).await?;

    let addresses = LivepeerAddresses {
        controller,
        ticket_broker: broker,
        bonding_manager: bonding,
        rounds_manager: rounds,
        service_registry: registry,
        minter,
        livepeer_token: token,
    };
    let chain = LivepeerChain::connect(client, controller).await?;
    advance_round(&chain).await?;
    Ok(Deployment {
        addresses,
        others: r.others,
        sorted_doubly_ll: list,
    })
}

/// An orchestrator to set up with [`setup_orchestrator`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrchestratorSetup {
    /// LPT it bonds to itself (sent to it by the funder first).
    pub stake: U256,
    /// Share of rewards it keeps, parts per million.
    pub reward_cut_ppm: u32,
    /// Share of fees it passes to delegators, parts per million.
    pub fee_share_ppm: u32,
    /// Its service URI.
    pub service_uri: String,
}

impl OrchestratorSetup {
    /// `stake` LPT, 10% reward cut, 50% fee share, and `service_uri`.
    pub fn new(stake: U256, service_uri: impl Into<String>) -> Self {
        OrchestratorSetup {
            stake,
            reward_cut_ppm: 100_000,
            fee_share_ppm: 500_000,
            service_uri: service_uri.into(),
        }
    }
}

/// Makes `orchestrator`'s account an active transcoder: `funder` (holding LPT) sends it the
/// stake, it bonds to itself, sets its rates and service URI, and the chain advances one round
/// so it is active. `orchestrator` must be connected as the orchestrator's account.
pub async fn setup_orchestrator<M: Middleware + 'static, N: Middleware + 'static>(
    funder: &LivepeerChain<M>,
    orchestrator: &LivepeerChain<N>,
    setup: &OrchestratorSetup,
) -> Result<(), ChainError> {
    let me = orchestrator.account();
    funder.transfer_lpt(me, setup.stake).await?;
    orchestrator.approve_and_bond(setup.stake, me).await?;
    orchestrator
        .set_transcoder_rates(setup.reward_cut_ppm, setup.fee_share_ppm)
        .await?;
    orchestrator.set_service_uri(&setup.service_uri).await?;
    advance_round(orchestrator).await?;
    Ok(())
}

/// Mines `n` blocks with `anvil_mine` (anvil and other development nodes only).
pub async fn mine<M: Middleware + 'static>(
    chain: &LivepeerChain<M>,
    n: u64,
) -> Result<(), ChainError> {
    if n == 0 {
        return Ok(());
    }
    chain
        .middleware()
        .provider()
        .request::<_, serde_json::Value>("anvil_mine", [U256::from(n)])
        .await
        .map(|_| ())
        .map_err(|e| ChainError::Transport(e.to_string()))
}

/// Mines to the first block of the next round and initializes it; returns the new round.
/// Development nodes only (it mines with `anvil_mine`).
pub async fn advance_round<M: Middleware + 'static>(
    chain: &LivepeerChain<M>,
) -> Result<u64, ChainError> {
    let len = chain.round_length().await?;
    let block = chain.block_number().await?;
    let next_start = (block / len + 1) * len;
    mine(chain, next_start - block).await?;
    chain.initialize_round().await?;
    chain.current_round().await
}

/// Advances `n` rounds with [`advance_round`].
pub async fn advance_rounds<M: Middleware + 'static>(
    chain: &LivepeerChain<M>,
    n: u64,
) -> Result<u64, ChainError> {
    let mut round = chain.current_round().await?;
    for _ in 0..n {
        round = advance_round(chain).await?;
    }
    Ok(round)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_commit_is_the_artifacts_commit() {
        assert_eq!(
            ethers::utils::hex::encode(PROTOCOL_COMMIT),
            "f225b10c62ce4baed0db14b2b9af1e19efee3b45"
        );
    }

    #[test]
    fn default_config_is_the_gas_anchor_setup() {
        let c = DeployConfig::default();
        assert_eq!(
            (c.round_length, c.unlock_period, c.ticket_validity_period),
            (100, 2, 2)
        );
        assert_eq!(c.num_active_transcoders, 100);
    }
}
