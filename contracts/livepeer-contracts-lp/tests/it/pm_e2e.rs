//! livepeer-pm end to end on Livepeer's contracts: the orchestrator issues params bound to
//! Livepeer's round, the broadcaster pays segments with tickets, the recipient validates them
//! against Livepeer's sender funds, and the crash-safe redemption queue redeems the winners
//! through Livepeer's TicketBroker, all through the core traits `LivepeerChain` implements.

use std::time::Instant;

use livepeer_core::chain::{GasPriceEstimator, RoundInfo, TicketBrokerReader, TicketFunding};
use livepeer_core::entropy::OsEntropy;
use livepeer_core::{MemStore, PixelPrice, Pixels, StreamId, U256, Wei};
use livepeer_pm::queue::{QueueChain, drive};
use livepeer_pm::{
    ExpirationParams, IssueContext, QueueConfig, Recipient, RecipientConfig, RecipientSecret,
    RedemptionQueue, Sender, SenderConfig, SenderMonitor, WinnerState, monitor::fetch_funds,
};

use crate::harness::{BROADCASTER, Net};

#[tokio::test]
async fn pm_queue_redeems_winners_through_livepeers_ticket_broker() {
    let Some(net) = Net::start().await else {
        return;
    };
    let orch = net.orchestrator("https://o.example:8935").await;
    let bcast = net.chain(BROADCASTER).await;
    let eth = Wei(U256::exp10(18));
    bcast.fund_deposit_and_reserve(eth, eth).await.unwrap();

    let mut rc = RecipientConfig::default();
    rc.ticket_ev = Wei(U256::exp10(15));
    rc.redeem_gas = 300_000;
    rc.tx_cost_multiplier = 16;
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
    let mut sender = Sender::new(net.signer(BROADCASTER), sc);
    let session = sender
        .start_session(orch.account(), params, &funds.info, block)
        .unwrap();
    let stream = StreamId::from_name("lp-e2e");

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

    let chain = QueueChain::from_backend(&orch);
    for _ in 0..200 {
        drive(&mut queue, &chain).await.unwrap();
        while queue.poll_event().is_some() {}
        if winners.iter().all(|w| {
            matches!(
                queue.record(&w.ticket.ticket.hash()).map(|r| &r.state),
                Some(WinnerState::Redeemed { .. })
            )
        }) {
            break;
        }
        livepeer_contracts_lp::deploy::mine(&orch, 1).await.unwrap();
    }
    for w in &winners {
        assert!(
            orch.is_ticket_used(&w.ticket).await.unwrap(),
            "winner redeemed on chain"
        );
    }
    let paid = winners
        .iter()
        .fold(U256::zero(), |a, w| a + w.ticket.ticket.face_value);
    let after = bcast.sender_info(bcast.account()).await.unwrap();
    assert_eq!(
        after.deposit.0 + after.reserve_remaining.0,
        eth.0 + eth.0 - paid,
        "paid exactly the face values"
    );
}
