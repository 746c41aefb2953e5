//! The redemption queue against the chain double: timing, batching, gas, replacement,
//! sends of unknown fate, reverts, expiry, and a crash at every step.

use std::collections::HashMap;

use livepeer_core::{H256, Signer, U256, Wei};
use livepeer_pm::queue::FailReason;
use livepeer_pm::test_utils::SendFault;
use livepeer_pm::{QueueConfig, QueueEvent, Winner, WinnerState};

use livepeer_pm::test_utils::sim::{GAS_PRICE, Net, Orch};

fn events(o: &mut Orch) -> Vec<QueueEvent> {
    std::iter::from_fn(|| o.queue.poll_event()).collect()
}

/// Mines and drives until nothing is pending or `max` blocks passed.
fn settle(net: &Net, o: &mut Orch, max: u64) {
    for _ in 0..max {
        o.drive().unwrap();
        if o.queue.pending_by_sender().values().all(Wei::is_zero) {
            return;
        }
        net.chain.mine(1);
    }
}

/// Every winner was paid exactly once, to `o`, at its face value.
fn assert_paid_once(net: &Net, o: &Orch, winners: &[Winner]) {
    let mut paid: HashMap<H256, usize> = HashMap::new();
    for p in net.chain.payouts() {
        *paid.entry(p.ticket).or_default() += 1;
        assert_eq!(p.recipient, o.signer.address());
    }
    for w in winners {
        let h = w.ticket.ticket.hash();
        assert_eq!(
            paid.get(&h),
            Some(&1),
            "winner {h:?} paid {:?} times",
            paid.get(&h)
        );
        assert!(matches!(
            o.queue.record(&h).unwrap().state,
            WinnerState::Redeemed { .. }
        ));
    }
    assert_eq!(paid.len(), winners.len());
}

fn setup(n: usize, config: QueueConfig) -> (Net, Orch, Vec<Winner>) {
    let mut net = Net::new();
    let mut o = net.orchestrator(0x22, config);
    let mut winners = net.winners(&mut o, n);
    winners.truncate(n);
    let block = net.chain.block();
    assert_eq!(o.queue.add_winners(block, &winners).unwrap(), n);
    (net, o, winners)
}

#[test]
fn redeems_after_the_params_expire_in_one_batch() {
    let (net, mut o, winners) = setup(3, QueueConfig::default());
    let block = net.chain.block();
    // Persisted, and idempotent.
    assert_eq!(o.queue.add_winners(block, &winners).unwrap(), 0);
    let reopened = livepeer_pm::RedemptionQueue::open(
        o.store.restart(),
        o.signer.address(),
        QueueConfig::default(),
    )
    .unwrap();
    assert_eq!(reopened.records().count(), 3);

    let exp = winners[0].params_expiration_block;
    o.drive().unwrap();
    net.chain.mine(exp - block);
    o.drive().unwrap();
    assert_eq!(net.chain.sends(), 0, "not before the params expire");
    net.chain.mine(1);
    o.drive().unwrap();
    assert_eq!(net.chain.sends(), 1, "one transaction for the three");
    let pending = o.queue.pending_by_sender();
    assert_eq!(
        pending[&net.sender.address()],
        Wei(winners[0].ticket.ticket.face_value * U256::from(3))
    );
    net.chain.mine(1);
    o.drive().unwrap();
    assert_paid_once(&net, &o, &winners);
    let ev = events(&mut o);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, QueueEvent::Queued { .. }))
            .count(),
        3
    );
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, QueueEvent::Sent { .. }))
            .count(),
        1
    );
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, QueueEvent::Redeemed { tx: Some(_), .. }))
            .count(),
        3
    );
    assert!(o.queue.pending_by_sender().values().all(Wei::is_zero));
    // Settled records can be pruned.
    assert_eq!(o.queue.prune_settled(net.chain.block() + 1).unwrap(), 3);
    assert_eq!(o.queue.records().count(), 0);
}

#[test]
fn batches_are_capped_and_grouped() {
    let mut config = QueueConfig::default();
    config.max_batch = 2;
    let (net, mut o, winners) = setup(5, config);
    net.chain
        .mine(winners[0].params_expiration_block + 1 - net.chain.block());
    o.drive().unwrap();
    assert_eq!(net.chain.sends(), 3);
    settle(&net, &mut o, 5);
    assert_paid_once(&net, &o, &winners);
}

#[test]
fn waits_for_cheaper_gas() {
    let (net, mut o, winners) = setup(3, QueueConfig::default());
    // Three winners are worth 2.7 times the cost at 8× the gas price: not enough.
    net.chain.set_gas_price(U256::from(8 * GAS_PRICE));
    net.chain
        .mine(winners[0].params_expiration_block + 1 - net.chain.block());
    for _ in 0..10 {
        o.drive().unwrap();
        net.chain.mine(1);
    }
    assert_eq!(net.chain.sends(), 0);
    net.chain.set_gas_price(U256::from(GAS_PRICE));
    settle(&net, &mut o, 5);
    assert_paid_once(&net, &o, &winners);
}

#[test]
fn redeems_at_any_profit_in_the_last_round() {
    let (net, mut o, winners) = setup(3, QueueConfig::default());
    net.chain.set_gas_price(U256::from(8 * GAS_PRICE));
    let created = winners[0].ticket.ticket.creation_round;
    // Until the last round of validity (created + 1): wait.
    while net.chain.round() < created + 1 {
        o.drive().unwrap();
        net.chain.mine(1);
    }
    assert_eq!(net.chain.sends(), 0);
    settle(&net, &mut o, 5);
    assert_paid_once(&net, &o, &winners);
}

#[test]
fn gives_up_when_the_validity_closes_unpaid() {
    let (net, mut o, winners) = setup(2, QueueConfig::default());
    net.chain.set_gas_price(U256::from(100 * GAS_PRICE));
    let created = winners[0].ticket.ticket.creation_round;
    while net.chain.round() < created + 2 {
        o.drive().unwrap();
        net.chain.mine(1);
    }
    o.drive().unwrap();
    assert_eq!(net.chain.sends(), 0);
    for w in &winners {
        assert!(matches!(
            o.queue.record(&w.ticket.ticket.hash()).unwrap().state,
            WinnerState::Failed {
                reason: FailReason::Expired,
                ..
            }
        ));
    }
    let failed = events(&mut o)
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                QueueEvent::Failed {
                    reason: FailReason::Expired,
                    ..
                }
            )
        })
        .count();
    assert_eq!(failed, 2);
}

#[test]
fn replaces_a_stuck_transaction_with_more_gas() {
    let (net, mut o, winners) = setup(2, QueueConfig::default());
    net.chain
        .set_inclusion_price(U256::from(GAS_PRICE * 105 / 100));
    net.chain
        .mine(winners[0].params_expiration_block + 1 - net.chain.block());
    o.drive().unwrap();
    assert_eq!(net.chain.sends(), 1);
    for _ in 0..10 {
        net.chain.mine(1);
        o.drive().unwrap();
    }
    assert_eq!(net.chain.sends(), 2, "one replacement after 10 blocks");
    settle(&net, &mut o, 5);
    assert_paid_once(&net, &o, &winners);
    match &o
        .queue
        .record(&winners[0].ticket.ticket.hash())
        .unwrap()
        .state
    {
        WinnerState::Redeemed { tx: Some(_), .. } => {}
        s => panic!("{s:?}"),
    }
    assert_eq!(net.chain.reverts(), 0);
}

#[test]
fn a_stuck_redemption_is_bumped_well_before_its_tickets_close() {
    // An operator's long replacement wait must not outlast the tickets: with 60 blocks
    // left, the stuck transaction is bumped within a quarter of them, not after 50.
    let mut config = QueueConfig::default();
    config.replace_after_blocks = 50;
    let (net, mut o, winners) = setup(1, config);
    net.chain
        .set_inclusion_price(U256::from(GAS_PRICE * 105 / 100));
    let round_length = 100;
    let closes = (winners[0].ticket.ticket.creation_round + 2) * round_length;
    net.chain.mine(closes - 60 - net.chain.block());
    o.drive().unwrap();
    assert_eq!(net.chain.sends(), 1);
    for _ in 0..15 {
        net.chain.mine(1);
        o.drive().unwrap();
    }
    assert_eq!(
        net.chain.sends(),
        2,
        "bumped within 15 of the 60 blocks left"
    );
    settle(&net, &mut o, 5);
    assert_paid_once(&net, &o, &winners);
}

#[test]
fn replacement_gas_stops_at_the_cap() {
    let mut config = QueueConfig::default();
    config.max_gas_price = U256::from(GAS_PRICE * 105 / 100);
    let (net, mut o, winners) = setup(1, config);
    net.chain.set_inclusion_price(U256::from(2 * GAS_PRICE));
    net.chain
        .mine(winners[0].params_expiration_block + 1 - net.chain.block());
    for _ in 0..60 {
        o.drive().unwrap();
        net.chain.mine(1);
    }
    // The 5% bump the cap allows is below what a replacement needs: one send only.
    assert_eq!(net.chain.sends(), 1);
    match &o
        .queue
        .record(&winners[0].ticket.ticket.hash())
        .unwrap()
        .state
    {
        WinnerState::Sent { tx, .. } => assert_eq!(tx.gas_price, U256::from(GAS_PRICE * 105 / 100)),
        s => panic!("{s:?}"),
    }
    net.chain.set_inclusion_price(U256::zero());
    settle(&net, &mut o, 5);
    assert_paid_once(&net, &o, &winners);
}

#[test]
fn a_send_that_left_despite_an_error_is_found_paid() {
    let (net, mut o, winners) = setup(2, QueueConfig::default());
    net.chain.inject_send_fault(SendFault::SentButFailed);
    net.chain
        .mine(winners[0].params_expiration_block + 1 - net.chain.block());
    settle(&net, &mut o, 10);
    assert_paid_once(&net, &o, &winners);
    assert_eq!(net.chain.sends(), 1);
    assert!(matches!(
        o.queue
            .record(&winners[0].ticket.ticket.hash())
            .unwrap()
            .state,
        WinnerState::Redeemed { tx: None, .. }
    ));
}

#[test]
fn a_lost_send_is_repeated_at_its_nonce() {
    lost_send(true, 10);
}

#[test]
fn without_nonces_a_lost_send_is_resent_after_the_grace_period() {
    lost_send(false, 20);
}

fn lost_send(nonces: bool, wait: u64) {
    let (net, mut o, winners) = setup(2, QueueConfig::default());
    net.chain.set_tells_nonces(nonces);
    net.chain.inject_send_fault(SendFault::Lost);
    net.chain
        .mine(winners[0].params_expiration_block + 1 - net.chain.block());
    o.drive().unwrap();
    assert_eq!(net.chain.sends(), 0);
    for _ in 0..wait - 1 {
        net.chain.mine(1);
        o.drive().unwrap();
    }
    assert_eq!(net.chain.sends(), 0, "not within {wait} blocks");
    settle(&net, &mut o, 5);
    assert_eq!(net.chain.sends(), 1);
    assert_paid_once(&net, &o, &winners);
}

#[test]
fn a_reverted_redemption_backs_off_and_retries() {
    let (net, mut o, winners) = setup(2, QueueConfig::default());
    net.chain
        .mine(winners[0].params_expiration_block + 1 - net.chain.block());
    o.drive().unwrap();
    assert_eq!(net.chain.sends(), 1);
    // The sender empties its deposit before the transaction is mined.
    let eth = Wei::from_u128(1_000_000_000_000_000_000_000);
    net.chain.fund(net.sender.address(), Wei::ZERO, Wei::ZERO);
    net.chain.mine(1);
    o.drive().unwrap();
    assert_eq!(net.chain.reverts(), 1);
    assert!(
        events(&mut o)
            .iter()
            .any(|e| matches!(e, QueueEvent::Requeued { .. }))
    );
    for _ in 0..10 {
        net.chain.mine(1);
        o.drive().unwrap();
    }
    assert_eq!(
        net.chain.sends(),
        1,
        "no funds: estimates fail, nothing is sent"
    );
    net.chain.fund(net.sender.address(), eth, eth);
    settle(&net, &mut o, 40);
    assert_paid_once(&net, &o, &winners);
}

#[test]
fn a_ticket_redeemed_elsewhere_is_recognised() {
    let (net, mut o, winners) = setup(2, QueueConfig::default());
    net.chain
        .mine(winners[0].params_expiration_block + 1 - net.chain.block());
    // Another process of the same orchestrator redeems the first winner.
    let other = net.chain.as_account(o.signer.address());
    livepeer_pm::test_utils::block_on(livepeer_core::chain::TicketRedeemer::send_redeem(
        &other,
        &[winners[0].ticket.clone()],
        &Default::default(),
    ))
    .unwrap();
    net.chain.mine(1);
    settle(&net, &mut o, 10);
    assert_paid_once(&net, &o, &winners);
    assert_eq!(net.chain.reverts(), 0);
}

/// One winner set redeemed with a crash after every step in turn (each poll and each
/// chain call), then with the store failing at every commit in turn, once with a clean
/// redemption and once with a stuck transaction that must be replaced: never a lost winner,
/// never one paid twice.
#[test]
fn a_crash_at_any_step_neither_loses_nor_double_pays() {
    for (stuck, nonces) in [(false, true), (true, true), (false, false)] {
        let mut crash_at = 1;
        while run_with_crash(Some(crash_at), None, stuck, nonces) {
            crash_at += 1;
        }
        assert!(
            crash_at > if stuck { 20 } else { 10 },
            "only {crash_at} steps"
        );
        let mut fail_after = 0;
        while run_with_crash(None, Some(fail_after), stuck, nonces) {
            fail_after += 1;
        }
        assert!(
            fail_after >= if stuck { 4 } else { 3 },
            "only {fail_after} commits"
        );
    }
}

/// Runs one redemption with the crash asked for; returns whether it crashed.
fn run_with_crash(
    crash_at: Option<usize>,
    fail_after: Option<i64>,
    stuck: bool,
    nonces: bool,
) -> bool {
    let (net, mut o, winners) = setup(3, QueueConfig::default());
    net.chain.set_tells_nonces(nonces);
    if stuck {
        net.chain
            .set_inclusion_price(U256::from(GAS_PRICE * 105 / 100));
    }
    net.chain
        .mine(winners[0].params_expiration_block + 1 - net.chain.block());
    if let Some(n) = fail_after {
        o.store.fail_after(n);
    }
    let mut crashed = false;
    let mut steps = 0;
    for block in 0..120 {
        let at = match crash_at {
            Some(c) if !crashed => Some(c - steps),
            _ => None,
        };
        match o.drive_until(at) {
            Ok(s) => steps += s,
            Err(_) => {
                crashed = true;
                o.crash(block);
            }
        }
        if o.queue.pending_by_sender().values().all(Wei::is_zero) {
            break;
        }
        net.chain.mine(1);
    }
    assert_paid_once(&net, &o, &winners);
    crashed
}

#[test]
fn reload_brings_memory_back_in_line_with_the_store() {
    // A commit that landed although its caller saw it fail looks, to the queue, like a
    // write by another hand: its memory is behind the store until it reloads.
    let (_net, o, winners) = setup(2, QueueConfig::default());
    let store = std::sync::Arc::new(livepeer_core::MemStore::new());
    let me = o.signer.address();
    let open =
        || livepeer_pm::RedemptionQueue::open(store.clone(), me, QueueConfig::default()).unwrap();
    let (mut behind, mut writer) = (open(), open());
    assert_eq!(writer.add_winners(1, &winners).unwrap(), 2);
    assert!(
        behind.add_winners(1, &winners).is_err(),
        "memory behind the store"
    );
    behind.reload().unwrap();
    assert_eq!(behind.records().count(), 2);
    assert_eq!(behind.add_winners(1, &winners).unwrap(), 0);
}
