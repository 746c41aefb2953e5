//! livepeer-pm end to end on real contracts: an orchestrator issues params bound to the
//! chain's round, a broadcaster pays segments with real tickets, the winners go through the
//! crash-safe redemption queue, and the queue redeems them on chain, on both backends.

use std::sync::Arc;
use std::time::Instant;

use crate::conformance::client;
use ethers::middleware::SignerMiddleware;
use ethers::providers::{Http, JsonRpcClient, Provider};
use ethers::signers::{LocalWallet, Signer as _};
use ethers::utils::Anvil;
use livepeer_contracts::embedded::DEV_KEYS;
use livepeer_contracts::{DeployConfig, EmbeddedChain, OrchestratorSetup, deploy};
use livepeer_core::chain::{
    GasPriceEstimator, RegistryWriter, RoundInfo, ServiceOffer, TicketBrokerReader, TicketFunding,
};
use livepeer_core::entropy::OsEntropy;
use livepeer_core::{
    LocalSigner, MemStore, PixelPrice, Pixels, Region, ServiceId, StreamId, U256, Wei,
};
use livepeer_pm::queue::{QueueChain, drive};
use livepeer_pm::{
    ExpirationParams, IssueContext, QueueConfig, QueueEvent, Recipient, RecipientConfig,
    RecipientSecret, RedemptionQueue, Sender, SenderConfig, SenderMonitor, WinnerState,
    monitor::fetch_funds,
};

async fn run<P: JsonRpcClient + Clone + 'static>(p: Provider<P>, chain_id: u64) {
    run_with(p, chain_id, false).await;
}

/// With `interleave`, the orchestrator sends another transaction (as its main loop sends
/// round initializations and rewards) right after each pass of the queue, while the
/// redemption may still wait in the mempool.
async fn run_with<P: JsonRpcClient + Clone + 'static>(
    p: Provider<P>,
    chain_id: u64,
    interleave: bool,
) {
    let w = DEV_KEYS[0]
        .parse::<LocalWallet>()
        .unwrap()
        .with_chain_id(chain_id);
    let addrs = deploy(
        Arc::new(SignerMiddleware::new(p.clone(), w)),
        &DeployConfig::default(),
    )
    .await
    .unwrap();
    let deployer = client(&p, 0, addrs, chain_id).await;
    let orch = client(&p, 3, addrs, chain_id).await;
    let bcast = client(&p, 4, addrs, chain_id).await;

    let stake = U256::exp10(19);
    deployer
        .transfer_stake_token(orch.account(), stake)
        .await
        .unwrap();
    let offer = ServiceOffer {
        id: ServiceId::cpu_transcoding(),
        verifier: addrs.trusted_verifier,
    };
    orch.join_as_orchestrator(&OrchestratorSetup {
        stake,
        reward_cut_ppm: 0,
        fee_share_ppm: 500_000,
        uri: "quic://127.0.0.1:7001",
        offers: &[offer],
        regions: &[Region::global()],
    })
    .await
    .unwrap();
    let eth = Wei(U256::exp10(18));
    bcast.fund_deposit_and_reserve(eth, eth).await.unwrap();
    orch.advance_round().await.unwrap();

    // The orchestrator issues params for this round; the EV is high so a few segments win.
    let mut rc = RecipientConfig::default();
    rc.ticket_ev = Wei(U256::exp10(15));
    rc.redeem_gas = 250_000;
    rc.tx_cost_multiplier = 16;
    // Params expire well inside the ticket's on-chain validity (two 20-block rounds).
    rc.params_validity_blocks = 8;
    let mut recipient = Recipient::new(
        orch.account(),
        RecipientSecret::random(&OsEntropy).unwrap(),
        rc,
    );
    let mut monitor = SenderMonitor::new();
    let block = orch.current_block().await.unwrap();
    let round = orch.current_round().await.unwrap();
    let funds = fetch_funds(&orch, bcast.account(), orch.account(), block)
        .await
        .unwrap();
    monitor.handle_round(round);
    monitor.handle_funds(bcast.account(), funds.clone());
    let ctx = IssueContext::new(
        block,
        orch.gas_price().await.unwrap(),
        ExpirationParams::new(round, orch.block_hash_for_round(round).await.unwrap()),
        monitor.max_float(bcast.account()).unwrap_or_default(),
    );
    let params = recipient
        .issue_params(bcast.account(), PixelPrice::per_pixel(1), &ctx, &OsEntropy)
        .unwrap();

    let mut sc = SenderConfig::default();
    sc.max_ev = Wei(U256::exp10(16));
    sc.max_total_ev = Wei(U256::exp10(18));
    let mut sender = Sender::new(LocalSigner::from_hex(DEV_KEYS[4]).unwrap(), sc);
    let session = sender
        .start_session(orch.account(), params, &funds.info, block)
        .unwrap();
    let stream = StreamId::from_name("pm-e2e");

    // Pay segments until at least three winners came in; each is persisted before the
    // segment would be acknowledged.
    let mut queue =
        RedemptionQueue::open(MemStore::new(), orch.account(), QueueConfig::default()).unwrap();
    let mut winners = Vec::new();
    for _ in 0..200 {
        let info = bcast.sender_info(bcast.account()).await.unwrap();
        let pay = sender
            .pay(
                &session,
                stream,
                Pixels(1_000_000_000_000_000),
                &info,
                block,
            )
            .unwrap();
        let got = recipient.receive(Instant::now(), block, &pay.batch, stream, &monitor);
        assert_eq!(got.result(), Ok(()));
        queue.add_winners(block, &got.winners).unwrap();
        winners.extend(got.winners);
        if winners.len() >= 3 {
            break;
        }
    }
    assert!(winners.len() >= 3, "only {} winners", winners.len());

    // Drive the queue block by block until every winner is redeemed on chain.
    let chain = QueueChain::from_backend(&orch);
    let mut events = Vec::new();
    for _ in 0..200 {
        drive(&mut queue, &chain).await.unwrap();
        events.extend(std::iter::from_fn(|| queue.poll_event()));
        if interleave {
            RegistryWriter::set_service_uri(&orch, "quic://127.0.0.1:7001")
                .await
                .unwrap();
        }
        if winners.iter().all(|w| {
            matches!(
                queue.record(&w.ticket.ticket.hash()).map(|r| &r.state),
                Some(WinnerState::Redeemed { .. })
            )
        }) {
            break;
        }
        orch.mine(1).await.unwrap();
    }
    for w in &winners {
        assert!(
            orch.is_ticket_used(&w.ticket).await.unwrap(),
            "winner redeemed on chain"
        );
        assert!(matches!(
            queue.record(&w.ticket.ticket.hash()).unwrap().state,
            WinnerState::Redeemed { .. }
        ));
    }
    // Each redemption was mined as sent: none was replaced by another transaction of the
    // same account and had to be queued again.
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, QueueEvent::Requeued { .. })),
        "{events:?}"
    );
    let paid: U256 = winners
        .iter()
        .map(|w| w.ticket.ticket.face_value)
        .fold(U256::zero(), |a, b| a + b);
    let after = bcast.sender_info(bcast.account()).await.unwrap();
    assert_eq!(
        after.deposit.0 + after.reserve_remaining.0,
        eth.0 + eth.0 - paid,
        "paid exactly the face values"
    );
}

#[tokio::test]
async fn pm_queue_redeems_real_winners_on_the_embedded_chain() {
    let chain = EmbeddedChain::with_dev_accounts();
    run(chain.provider(), chain.chain_id()).await;
}

#[tokio::test]
async fn pm_queue_redeems_real_winners_on_anvil() {
    let Some(path) = crate::conformance::anvil_path() else {
        eprintln!("SKIPPED: anvil not found (run `npm ci` in contracts/ or set ANVIL_BIN)");
        return;
    };
    let anvil = Anvil::at(path).arg("--hardfork").arg("cancun").spawn();
    let p = Provider::<Http>::try_from(anvil.endpoint())
        .unwrap()
        .interval(std::time::Duration::from_millis(10));
    run(p, anvil.chain_id()).await;
}

#[tokio::test]
async fn pm_queue_redemptions_survive_other_sends_of_the_same_key_on_anvil() {
    let Some(path) = crate::conformance::anvil_path() else {
        eprintln!("SKIPPED: anvil not found (run `npm ci` in contracts/ or set ANVIL_BIN)");
        return;
    };
    // Interval mining: a redemption waits in the mempool while the next send goes out.
    let anvil = Anvil::at(path)
        .arg("--hardfork")
        .arg("cancun")
        .arg("--block-time")
        .arg("0.2")
        .spawn();
    let p = Provider::<Http>::try_from(anvil.endpoint())
        .unwrap()
        .interval(std::time::Duration::from_millis(10));
    run_with(p, anvil.chain_id(), true).await;
}
