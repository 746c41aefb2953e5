//! Funding, redemption of livepeer-pm tickets through Livepeer's TicketBroker, unlock and
//! withdrawal.

use ethers::providers::Middleware;
use livepeer_contracts_lp::deploy::advance_rounds;
use livepeer_core::chain::{
    ChainError, RoundInfo, SenderInfo, TicketBrokerReader, TicketFunding, TicketRedeemer,
    TxOptions, TxStatus,
};
use livepeer_core::{U256, Wei};

use livepeer_contracts_lp::bindings::controller::Controller;

use crate::harness::{BROADCASTER, DEPLOYER, Net, ORCHESTRATOR, winning_ticket};

/// Within the anchor's spread: ±50 from random ticket bytes, ±100 between hardforks.
fn near_anchor(gas: u64, anchor: u64) {
    assert!(
        gas.abs_diff(anchor) <= 200,
        "gas {gas}, Livepeer's figure {anchor}"
    );
}

fn eth(milli: u64) -> Wei {
    Wei(U256::exp10(15) * milli)
}

#[tokio::test]
async fn broadcaster_funds_deposit_and_reserve() {
    let Some(net) = Net::start().await else {
        return;
    };
    let b = net.chain(BROADCASTER).await;
    let me = net.address(BROADCASTER);
    assert_eq!(b.sender_info(me).await.unwrap(), SenderInfo::default());

    // Gas as measured on Livepeer's production setup (shared/reference/livepeer-gas.md):
    // the same bytecode deployed the same way costs the same.
    let fresh = b
        .fund_deposit_and_reserve(eth(1000), eth(1000))
        .await
        .unwrap();
    near_anchor(fresh.gas_used, 107_904);
    let top_up = b.fund_deposit(eth(1000)).await.unwrap();
    near_anchor(top_up.gas_used, 65_832);
    b.fund_reserve(eth(250)).await.unwrap();
    let info = b.sender_info(me).await.unwrap();
    assert_eq!(info.deposit, eth(2000));
    assert_eq!(info.reserve_remaining, eth(1250));
    assert_eq!(info.withdraw_round, 0);
    assert_eq!(info.reserve_claimed_this_round, Wei::ZERO);

    // Anyone may fund a sender.
    let other = net.chain(DEPLOYER).await;
    other
        .fund_deposit_and_reserve_for(me, eth(1), eth(2))
        .await
        .unwrap();
    let info = b.sender_info(me).await.unwrap();
    assert_eq!(info.deposit, eth(2001));
    assert_eq!(info.reserve_remaining, eth(1252));

    // The Minter holds the ETH.
    let held = net
        .provider
        .get_balance(b.addresses().minter, None)
        .await
        .unwrap();
    assert_eq!(Wei(held), eth(3253));
}

#[tokio::test]
async fn winning_tickets_are_redeemed() {
    let Some(net) = Net::start().await else {
        return;
    };
    let o = net.orchestrator("https://o.example:8935").await;
    let b = net.chain(BROADCASTER).await;
    let sender = net.signer(BROADCASTER);
    let recipient = net.address(ORCHESTRATOR);
    b.fund_deposit_and_reserve(eth(1000), eth(1000))
        .await
        .unwrap();
    let face = U256::exp10(16);

    // One ticket: the broker hashes it as livepeer-pm does, and pays it from the deposit.
    let w = winning_ticket(&o, &sender, recipient, 1, face).await;
    assert_eq!(o.ticket_hash(&w.ticket).await.unwrap(), w.ticket.hash());
    assert!(!o.is_ticket_used(&w).await.unwrap());
    let r = o.redeem_winning_ticket(&w).await.unwrap();
    assert_eq!(r.redeemed, 1);
    // The first fee of the round, from the deposit, as on Livepeer's setup.
    near_anchor(r.outcome.gas_used, 292_804);
    assert!(o.is_ticket_used(&w).await.unwrap());
    let info = b.sender_info(net.address(BROADCASTER)).await.unwrap();
    assert_eq!(info.deposit, Wei(eth(1000).0 - face));
    assert_eq!(info.reserve_remaining, eth(1000));

    // The same ticket again: Livepeer's reason string.
    let e = o.redeem_winning_ticket(&w).await.unwrap_err();
    assert!(e.is_revert("ticket is used"), "{e:?}");

    // A batch through the core trait, then the same tickets again: the batch is mined but
    // pays nothing, which only the event count shows.
    let batch = vec![
        winning_ticket(&o, &sender, recipient, 2, face).await,
        winning_ticket(&o, &sender, recipient, 3, face).await,
    ];
    assert!(o.estimate_redeem_gas(&batch).await.unwrap() > 400_000);
    let tx = o.send_redeem(&batch, &TxOptions::default()).await.unwrap();
    let mut mined = None;
    for _ in 0..200 {
        if let TxStatus::Mined { success, .. } = o.tx_status(&tx).await.unwrap() {
            mined = Some(success);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(mined, Some(true));
    let receipt = net
        .provider
        .get_transaction_receipt(ethers::types::H256(tx.hash.0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.redeemed_in(&receipt), 2);
    let again = o.batch_redeem_winning_tickets(&batch).await.unwrap();
    assert_eq!(again.redeemed, 0);
    let info = b.sender_info(net.address(BROADCASTER)).await.unwrap();
    assert_eq!(info.deposit, Wei(eth(1000).0 - face * 3));

    // With the deposit gone, a ticket is paid from the orchestrator's slice of the reserve
    // (the whole reserve: it is alone in the pool).
    let big = eth(1000).0 - face * 3;
    let drain = winning_ticket(&o, &sender, recipient, 4, big).await;
    assert_eq!(o.redeem_winning_ticket(&drain).await.unwrap().redeemed, 1);
    assert_eq!(
        o.claimable_reserve(net.address(BROADCASTER), recipient)
            .await
            .unwrap(),
        eth(1000)
    );
    let from_reserve = winning_ticket(&o, &sender, recipient, 5, face).await;
    assert_eq!(
        o.batch_redeem_winning_tickets(std::slice::from_ref(&from_reserve))
            .await
            .unwrap()
            .redeemed,
        1
    );
    let info = b.sender_info(net.address(BROADCASTER)).await.unwrap();
    assert_eq!(info.deposit, Wei::ZERO);
    assert_eq!(info.reserve_remaining, Wei(eth(1000).0 - face));
    assert_eq!(info.reserve_claimed_this_round, Wei(face));
    assert_eq!(
        o.claimed_reserve(net.address(BROADCASTER), recipient)
            .await
            .unwrap(),
        Wei(face)
    );

    // The orchestrator, its own only delegator, earned every fee and withdraws them.
    let paid = face * 4 + big;
    let fees = o.pending_fees(recipient).await.unwrap();
    assert!(paid - fees.0 <= U256::from(10), "fees {fees}, paid {paid}");
    let to = ethers::types::Address::repeat_byte(0x77);
    o.withdraw_fees(to, fees).await.unwrap();
    assert_eq!(net.provider.get_balance(to, None).await.unwrap(), fees.0);

    // Tickets expire after the validity period.
    let old = winning_ticket(&o, &sender, recipient, 6, face).await;
    advance_rounds(&o, o.ticket_validity_period().await.unwrap())
        .await
        .unwrap();
    let e = o.redeem_winning_ticket(&old).await.unwrap_err();
    assert!(e.is_revert("ticket is expired"), "{e:?}");
}

#[tokio::test]
async fn unlock_and_withdraw_after_the_unlock_period() {
    let Some(net) = Net::start().await else {
        return;
    };
    let b = net.chain(BROADCASTER).await;
    let me = net.address(BROADCASTER);
    b.fund_deposit_and_reserve(eth(1000), eth(500))
        .await
        .unwrap();

    // Not unlocking: withdraw is refused.
    let e = b.withdraw().await.unwrap_err();
    assert!(e.is_revert("no unlock request in progress"), "{e:?}");

    near_anchor(b.unlock().await.unwrap().gas_used, 88_919);
    assert!(b.is_unlock_in_progress(me).await.unwrap());
    let round = b.current_round().await.unwrap();
    let period = b.unlock_period().await.unwrap();
    assert_eq!(period, 2);
    assert_eq!(
        b.sender_info(me).await.unwrap().withdraw_round,
        round + period
    );
    let e = b.withdraw().await.unwrap_err();
    assert!(e.is_revert("account is locked"), "{e:?}");

    // Cancelling and unlocking again restarts the period.
    near_anchor(b.cancel_unlock().await.unwrap().gas_used, 40_667);
    assert!(!b.is_unlock_in_progress(me).await.unwrap());
    b.unlock().await.unwrap();
    advance_rounds(&b, period).await.unwrap();

    let before = net.provider.get_balance(me, None).await.unwrap();
    let out = b.withdraw().await.unwrap();
    let after = net.provider.get_balance(me, None).await.unwrap();
    // Livepeer zeroes the funds and leaves withdrawRound as it was.
    let info = b.sender_info(me).await.unwrap();
    assert_eq!(
        (info.deposit, info.reserve_remaining),
        (Wei::ZERO, Wei::ZERO)
    );
    assert!(info.withdraw_round > 0);
    // 1.5 ETH back, less the gas of the withdrawal.
    let gained = after - before;
    assert!(gained <= eth(1500).0 && gained > eth(1499).0, "{gained}");
    near_anchor(out.gas_used, 88_570);
    let e = b.withdraw().await.unwrap_err();
    assert!(
        matches!(&e, ChainError::Reverted { name, .. } if name == "sender deposit and reserve are zero"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_paused_protocol_reverts_with_its_reason() {
    let Some(net) = Net::start().await else {
        return;
    };
    let o = net.orchestrator("https://o.example:8935").await;
    let b = net.chain(BROADCASTER).await;
    b.fund_deposit_and_reserve(eth(100), eth(100))
        .await
        .unwrap();
    let sender = net.signer(BROADCASTER);
    let recipient = net.address(ORCHESTRATOR);
    let batch = vec![
        winning_ticket(&o, &sender, recipient, 1, U256::exp10(15)).await,
        winning_ticket(&o, &sender, recipient, 2, U256::exp10(15)).await,
    ];

    let controller = Controller::new(
        net.deployment.addresses.controller,
        net.middleware(DEPLOYER),
    );
    controller.pause().send().await.unwrap().await.unwrap();
    assert!(o.paused().await.unwrap());
    // Refused at estimation.
    let e = b.fund_deposit(eth(1)).await.unwrap_err();
    assert!(e.is_revert("system is paused"), "{e:?}");
    // A batch goes out with a fixed gas budget, so it is mined and reverts; the reason is
    // read back by replaying it.
    let e = o.batch_redeem_winning_tickets(&batch).await.unwrap_err();
    assert!(e.is_revert("system is paused"), "{e:?}");

    controller.unpause().send().await.unwrap().await.unwrap();
    let r = o.batch_redeem_winning_tickets(&batch).await.unwrap();
    assert_eq!(r.redeemed, 2);
}
