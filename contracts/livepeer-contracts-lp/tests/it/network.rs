//! Resolution through the Controller, typed errors, rounds and block sources, discovery.

use std::sync::Arc;

use ethers::middleware::SignerMiddleware;
use livepeer_contracts_lp::deploy::deploy_artifact;
use livepeer_contracts_lp::{BlockSource, LivepeerChain, LpError};
use livepeer_core::chain::{
    ChainError, RegistryReader, RoundInfo, StakingReader, TicketBrokerReader,
};
use livepeer_core::{Address, Region, U256};

use crate::harness::{DEPLOYER, Net, ORCHESTRATOR};

#[tokio::test]
async fn resolution_through_the_controller() {
    let Some(net) = Net::start().await else {
        return;
    };
    let d = &net.deployment;
    let chain = net.chain(DEPLOYER).await;
    assert_eq!(chain.addresses(), &d.addresses);
    assert!(!chain.paused().await.unwrap());
    assert!(chain.current_round_initialized().await.unwrap());

    // Targets and aliases are registered as Livepeer's deployer registers them.
    let find = |name: &str| d.others.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(
        chain.resolve("JobsManager").await.unwrap(),
        d.addresses.ticket_broker
    );
    for name in [
        "TicketBroker",
        "BondingManager",
        "RoundsManager",
        "ServiceRegistry",
    ] {
        let target = chain.resolve(&format!("{name}Target")).await.unwrap();
        assert_eq!(target, find(&format!("{name}Target")));
    }
    assert_eq!(
        chain.resolve("BondingVotes").await.unwrap(),
        find("BondingVotes")
    );
    assert_eq!(
        chain.resolve("L2LPTDataCache").await.unwrap(),
        find("L2LPTDataCache")
    );

    // An unregistered name.
    let e = chain.resolve("NoSuchContract").await.unwrap_err();
    assert_eq!(
        e,
        LpError::NotRegistered {
            name: "NoSuchContract".into()
        }
    );
    assert!(e.is_not_registered());

    // A Controller address with no code.
    let nowhere = Address::repeat_byte(0x42);
    let e = LivepeerChain::connect(net.middleware(DEPLOYER), nowhere)
        .await
        .unwrap_err();
    assert_eq!(
        e,
        LpError::NoCode {
            contract: "Controller".into(),
            address: nowhere
        }
    );
    assert!(matches!(
        ChainError::from(e),
        ChainError::UnexpectedCode { .. }
    ));

    // A Controller with nothing registered names the first missing contract.
    let bare = deploy_artifact(&net.middleware(DEPLOYER), "Controller", vec![], &[])
        .await
        .unwrap();
    let e = LivepeerChain::connect(net.middleware(DEPLOYER), bare)
        .await
        .unwrap_err();
    assert_eq!(
        e,
        LpError::NotRegistered {
            name: "TicketBroker".into()
        }
    );

    // A node on another chain.
    let e = LivepeerChain::connect_on(net.middleware(DEPLOYER), d.addresses.controller, 42161)
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        LpError::Chain(ChainError::WrongChain {
            expected: 42161,
            actual: 31337
        })
    ));
    let ok = LivepeerChain::connect_on(
        Arc::new(SignerMiddleware::new(
            net.provider.clone(),
            ethers::signers::LocalWallet::from(net.anvil.keys()[0].clone()),
        )),
        d.addresses.controller,
        31337,
    )
    .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn rounds_and_block_sources() {
    let Some(net) = Net::start().await else {
        return;
    };
    let chain = net.chain(DEPLOYER).await;
    assert_eq!(chain.round_length().await.unwrap(), 100);
    let round = chain.current_round().await.unwrap();
    assert!(round >= 1);
    assert_eq!(chain.last_initialized_round().await.unwrap(), round);
    assert!(!chain.block_hash_for_round(round).await.unwrap().is_zero());
    assert!(
        chain
            .block_hash_for_round(round + 5)
            .await
            .unwrap()
            .is_zero()
    );
    assert_eq!(chain.initialize_round().await.unwrap(), None);

    // On anvil the block the contracts see is the local block (an eth_call may run in the
    // next one).
    let local = chain.block_number().await.unwrap();
    let chain = chain.with_block_source(BlockSource::Local);
    let from_node = chain.current_block().await.unwrap();
    assert!(
        local == from_node || local == from_node + 1,
        "{local} vs {from_node}"
    );
    // anvil headers have no l1BlockNumber.
    let chain = chain.with_block_source(BlockSource::ArbitrumL1);
    assert!(matches!(
        chain.current_block().await,
        Err(ChainError::Decode(_))
    ));

    let next = livepeer_contracts_lp::deploy::advance_round(
        &chain.with_block_source(BlockSource::RoundsManager),
    )
    .await
    .unwrap();
    assert_eq!(next, round + 1);
}

#[tokio::test]
async fn discovery_lists_the_orchestrator() {
    let Some(net) = Net::start().await else {
        return;
    };
    let uri = "https://orchestrator.example:8935";
    let o = net.orchestrator(uri).await;
    let chain = net.chain(DEPLOYER).await;
    let me = net.address(ORCHESTRATOR);

    assert_eq!(chain.transcoder_pool().await.unwrap(), vec![me]);
    let all = chain.orchestrators().await.unwrap();
    assert_eq!(all.len(), 1);
    let e = &all[0];
    assert_eq!(e.address, me);
    assert_eq!(e.service_uri, uri);
    assert_eq!(e.stake, U256::exp10(21));
    assert!(e.active);
    assert_eq!((e.reward_cut_ppm, e.fee_share_ppm), (100_000, 500_000));
    assert!(e.services.is_empty());
    assert!(e.serves(&Region::parse("eu-west").unwrap()));
    assert_eq!(chain.active_orchestrators().await.unwrap(), all);
    assert_eq!(chain.orchestrator(me).await.unwrap().as_ref(), Some(e));
    assert_eq!(
        chain.orchestrator(net.address(DEPLOYER)).await.unwrap(),
        None
    );
    assert_eq!(chain.service_uri(me).await.unwrap(), uri);
    assert!(chain.is_active(me).await.unwrap());
    assert_eq!(chain.stake_of(me).await.unwrap(), U256::exp10(21));
    assert_eq!(chain.min_active_stake().await.unwrap(), U256::zero());
    assert_eq!(chain.reserve_pool_size().await.unwrap(), 1);

    // Rewards: the orchestrator mints its round's inflation once.
    o.reward().await.unwrap();
    assert!(o.pending_stake(me).await.unwrap() > U256::exp10(21));
    let e = o.reward().await.unwrap_err();
    assert!(
        e.is_revert("caller has already called reward for the current round"),
        "{e:?}"
    );

    // The orchestrator can move its URI.
    o.set_service_uri("https://elsewhere.example:8935")
        .await
        .unwrap();
    assert_eq!(
        chain.service_uri(me).await.unwrap(),
        "https://elsewhere.example:8935"
    );
}

/// The core `Staking` trait over Livepeer's BondingManager (what an orchestrator node of
/// ours calls): bond more, claim earnings, unbond, and withdraw the unbonding lock once its
/// period has passed; nothing to withdraw is a typed error.
#[tokio::test]
async fn the_core_staking_trait_drives_livepeers_bonding_manager() {
    use livepeer_contracts_lp::deploy::advance_rounds;
    use livepeer_core::chain::Staking;

    let Some(net) = Net::start().await else {
        return;
    };
    let o = net.orchestrator("https://orchestrator.example:8935").await;
    let me = net.address(ORCHESTRATOR);
    let funder = net.chain(DEPLOYER).await;
    assert!(matches!(
        Staking::withdraw_stake(&o).await.unwrap_err(),
        ChainError::NotFound(_)
    ));
    funder.transfer_lpt(me, U256::exp10(20)).await.unwrap();
    Staking::bond(&o, U256::exp10(20), me).await.unwrap();
    // An active orchestrator changes its rates only after this round's reward.
    Staking::reward(&o).await.unwrap();
    Staking::set_rates(&o, 200_000, 400_000).await.unwrap();
    advance_rounds(&o, 1).await.unwrap();
    Staking::reward(&o).await.unwrap();
    Staking::claim_earnings(&o).await.unwrap();
    let bonded = o.pending_stake(me).await.unwrap();
    assert!(bonded > U256::exp10(21) + U256::exp10(20), "{bonded}");
    let before = o.lpt_balance(me).await.unwrap();
    Staking::unbond(&o, U256::exp10(20)).await.unwrap();
    // Not before the unbonding period (7 rounds).
    assert!(Staking::withdraw_stake(&o).await.is_err());
    advance_rounds(&o, 7).await.unwrap();
    Staking::withdraw_stake(&o).await.unwrap();
    assert_eq!(o.lpt_balance(me).await.unwrap(), before + U256::exp10(20));
}
