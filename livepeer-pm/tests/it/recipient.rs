//! The orchestrator's side: params generation, validation of every kind of bad input, credit.

use std::time::Duration;

use livepeer_core::test_utils::TestEntropy;
use livepeer_core::ticket::{is_winning, recipient_rand_hash};
use livepeer_core::{Address, H256, PixelPrice, Pixels, Signature, SignatureError, U256, Wei};
use livepeer_pm::test_utils::{Fixture, fixture, fixture_funds, fixture_with, test_signer};
use livepeer_pm::{
    DecodeError, ExpirationParams, IssueContext, IssueError, NonceError, RecipientConfig,
    RecipientSecret, SenderConfig, SenderFunds, TicketBatch, TicketError, TicketSig,
};

fn go_config() -> RecipientConfig {
    // go-livepeer's TestTicketParams fixture: EV 5, redeem gas 10000, multiplier 100. That
    // version had neither the EV multiplier (1 there) nor the 3 gwei floor.
    let mut c = RecipientConfig::default();
    c.ticket_ev = Wei::from_u128(5);
    c.redeem_gas = 10_000;
    c.tx_cost_multiplier = 100;
    c.ev_multiplier = 1;
    c.min_gas_price = U256::zero();
    c
}

#[test]
fn params_match_go() {
    let fx = fixture_with(go_config(), SenderConfig::default());
    let r = &fx.recipient;
    let sender = fx.sender.address();
    let exp = ExpirationParams::new(1, H256::repeat_byte(1));
    let e = TestEntropy::new(1);
    let issue = |gas: u64, max_float: u128| {
        let ctx = IssueContext::new(1, U256::from(gas), exp, Wei::from_u128(max_float));
        r.issue_params(sender, PixelPrice::per_pixel(1), &ctx, &e)
    };
    let p1 = issue(100, 10_000_000_000).unwrap();
    assert_eq!(p1.face_value, U256::from(100_000_000u64));
    assert_eq!(
        p1.win_prob.to_string(),
        "5789604461865809771178549250434395392663499233282028201972879200395660"
    );
    assert_eq!(p1.expiration_block, 41);
    assert_eq!(p1.recipient, r.address());
    let rand = RecipientSecret::from_bytes([0x33; 32]).recipient_rand(&p1, &sender);
    assert_eq!(p1.recipient_rand_hash, recipient_rand_hash(&rand));
    let p2 = issue(100, 10_000_000_000).unwrap();
    assert_ne!(p2.seed, p1.seed);
    assert_ne!(p2.recipient_rand_hash, p1.recipient_rand_hash);

    let p3 = issue(777, 10_000_000_000).unwrap();
    assert_eq!(p3.face_value, U256::from(777_000_000u64));
    assert_eq!(
        p3.win_prob.to_string(),
        "745122839364969082519761808292714979750772102095499125093034646125570"
    );
    let p4 = issue(100, 10_000).unwrap();
    assert_eq!(p4.face_value, U256::from(10_000u64));
    assert_eq!(
        p4.win_prob.to_string(),
        "57896044618658097711785492504343953926634992332820282019728792003956564820"
    );
    assert_eq!(issue(100, 4), Err(IssueError::InsufficientSenderReserve));
    let p5 = issue(0, u128::MAX).unwrap();
    assert_eq!(p5.face_value, U256::from(5));
    assert_eq!(p5.win_prob, U256::MAX);
    assert_eq!(issue(0, 0), Err(IssueError::InsufficientSenderReserve));
    let ctx = IssueContext::new(1, U256::from(100u64), exp, Wei::from_u128(1 << 60));
    let free = r
        .issue_params(sender, PixelPrice::zero(), &ctx, &e)
        .unwrap();
    assert_eq!(
        (free.face_value, free.win_prob),
        (U256::zero(), U256::zero())
    );
}

#[test]
fn face_value_below_the_cost_and_the_floor_is_refused() {
    let mut c = go_config();
    c.min_gas_price = U256::from(3_000_000_000u64);
    let fx = fixture_with(c, SenderConfig::default());
    let ctx = IssueContext::new(
        1,
        U256::from(100u64),
        ExpirationParams::new(1, H256::repeat_byte(1)),
        Wei::from_u128(10_000),
    );
    assert_eq!(
        fx.recipient.face_value(&ctx),
        Err(IssueError::InsufficientSenderReserve)
    );
}

/// Pays for `px` pixels and receives the tickets.
fn pay_and_receive(fx: &mut Fixture, px: u64) -> (TicketBatch, livepeer_pm::Received) {
    let pay = fx
        .sender
        .pay(
            &fx.session,
            fx.stream,
            Pixels(px),
            &fixture_funds(),
            fx.block,
        )
        .unwrap();
    let got = fx
        .recipient
        .receive(fx.now, fx.block, &pay.batch, fx.stream, &fx.monitor);
    (pay.batch, got)
}

#[test]
fn a_sender_pays_and_the_recipient_credits() {
    let mut fx = fixture();
    let (batch, got) = pay_and_receive(&mut fx, 80_000_000_000);
    assert_eq!(got.error, None);
    assert_eq!(got.accepted, batch.tickets.len());
    assert_eq!(got.credited, batch.ev());
    assert_eq!(
        fx.recipient.balance(fx.sender.address(), fx.stream),
        got.credited
    );
    // Through the wire form too.
    let pay = fx
        .sender
        .pay(
            &fx.session,
            fx.stream,
            Pixels(1),
            &fixture_funds(),
            fx.block,
        )
        .unwrap();
    let got2 = fx.recipient.receive_bytes(
        fx.now,
        fx.block,
        &pay.batch.encode(),
        fx.stream,
        &fx.monitor,
    );
    assert_eq!(got2.result(), Ok(()));
    // Work is debited; running short is LowPMBalance.
    let sender = fx.sender.address();
    let bal = fx.recipient.balance(sender, fx.stream);
    fx.recipient.ensure_credit(sender, fx.stream, bal).unwrap();
    let e = fx
        .recipient
        .ensure_credit(sender, fx.stream, bal + Wei::from_u128(1))
        .unwrap_err();
    assert!(e.is_low_balance());
    assert_eq!(e.to_string(), "Insufficient balance");
    let e = fx
        .recipient
        .debit(fx.now, sender, fx.stream, bal + Wei::from_u128(1))
        .unwrap_err();
    assert!(matches!(e, TicketError::LowPMBalance { .. }));
    fx.recipient
        .prune_balances(fx.now + Duration::from_secs(60), Duration::from_secs(30));
    assert!(fx.recipient.balances().is_empty());
}

#[test]
fn winners_follow_the_win_rule() {
    let mut c = RecipientConfig::default();
    c.ticket_ev = Wei::from_u128(1_000_000_000_000);
    c.redeem_gas = 1_000;
    c.tx_cost_multiplier = 4;
    let mut fx = fixture_with(c, SenderConfig::default());
    // Face value 4 × 1e12 with EV 1e12: one ticket in four wins.
    assert_eq!(fx.params.face_value, U256::from(4_000_000_000_000u64));
    let rand =
        RecipientSecret::from_bytes([0x33; 32]).recipient_rand(&fx.params, &fx.sender.address());
    let mut wins = 0;
    for _ in 0..10 {
        let (batch, got) = pay_and_receive(&mut fx, 19_000_000_000_000);
        assert_eq!(got.error, None);
        let expected: Vec<_> = batch
            .tickets
            .iter()
            .filter(|t| {
                let sig = Signature::from_slice(&t.sig).unwrap();
                is_winning(&sig, &rand, &fx.params.win_prob)
            })
            .map(|t| t.nonce)
            .collect();
        let got_nonces: Vec<_> = got
            .winners
            .iter()
            .map(|w| w.ticket.ticket.sender_nonce)
            .collect();
        assert_eq!(got_nonces, expected);
        let shown = format!("{got:?}");
        assert!(!shown.contains(&rand.to_string()) && !shown.contains(&format!("{rand:x}")));
        for w in &got.winners {
            assert_eq!(w.ticket.recipient_rand, rand);
            assert_eq!(w.params_expiration_block, fx.params.expiration_block);
            w.ticket
                .sig
                .verify_eip191(&w.ticket.ticket.hash(), &fx.sender.address())
                .unwrap();
        }
        wins += got.winners.len();
    }
    assert!(wins > 10, "{wins} winners of about 200 tickets at 1/4");
}

/// Receives `batch` with a fresh fixture state and checks the error and that nothing was
/// credited.
fn refused(fx: &mut Fixture, batch: &TicketBatch) -> TicketError {
    let before = fx.recipient.balance(batch.sender, fx.stream);
    let got = fx
        .recipient
        .receive(fx.now, fx.block, batch, fx.stream, &fx.monitor);
    assert_eq!(got.accepted, 0, "{got:?}");
    assert_eq!(got.credited, Wei::ZERO);
    assert!(got.winners.is_empty());
    assert_eq!(fx.recipient.balance(batch.sender, fx.stream), before);
    got.error.unwrap()
}

fn one_ticket(fx: &mut Fixture) -> TicketBatch {
    fx.sender.create_batch(&fx.session, 1).unwrap()
}

fn with_sig(batch: &TicketBatch, f: impl Fn(&mut Vec<u8>)) -> TicketBatch {
    let mut b = batch.clone();
    f(&mut b.tickets[0].sig);
    b
}

#[test]
fn every_kind_of_bad_input_is_a_named_error_with_no_credit() {
    let mut fx = fixture();
    let good = one_ticket(&mut fx);

    // Forged: signed by another key.
    let other = test_signer(0x44);
    let hash = good.ticket(good.tickets[0].nonce).hash();
    let forged = livepeer_core::Signer::sign_message_hash(&other, &hash).unwrap();
    let b = with_sig(&good, |s| *s = forged.as_bytes().to_vec());
    assert!(matches!(
        refused(&mut fx, &b),
        TicketError::InvalidSignature(SignatureError::WrongSigner { .. })
    ));
    // High s: the malleated twin (r, n − s, v ^ 1) recovers the same key.
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let b = with_sig(&good, |s| {
        let high = n - U256::from_big_endian(&s[32..64]);
        high.to_big_endian(&mut s[32..64]);
        s[64] ^= 0x07; // 27 ↔ 28
    });
    assert_eq!(
        refused(&mut fx, &b),
        TicketError::InvalidSignature(SignatureError::HighS)
    );
    // Wrong v, and the right v of the other parity (recovers another key).
    let b = with_sig(&good, |s| s[64] = 1);
    assert_eq!(
        refused(&mut fx, &b),
        TicketError::InvalidSignature(SignatureError::BadV(1))
    );
    let b = with_sig(&good, |s| s[64] ^= 0x07);
    assert!(matches!(
        refused(&mut fx, &b),
        TicketError::InvalidSignature(_)
    ));
    // Wrong lengths.
    for len in [0, 64, 66] {
        let b = with_sig(&good, |s| s.resize(len, 0));
        assert_eq!(
            refused(&mut fx, &b),
            TicketError::InvalidSignature(SignatureError::BadLength(len))
        );
    }
    // Altered fields bound into the commitment.
    let alter: [&dyn Fn(&mut TicketBatch); 6] = [
        &|b| b.params.face_value += U256::one(),
        &|b| b.params.win_prob += U256::one(),
        &|b| b.params.price = PixelPrice::per_pixel(2),
        &|b| b.params.expiration_block += 1,
        &|b| b.params.seed = H256::repeat_byte(9),
        &|b| b.params.expiration.creation_round += 1,
    ];
    for f in alter {
        let mut b = good.clone();
        f(&mut b);
        assert_eq!(refused(&mut fx, &b), TicketError::InvalidRecipientRand);
    }
    // Another recipient's tickets.
    let mut b = good.clone();
    b.params.recipient = Address::repeat_byte(0x55);
    assert_eq!(refused(&mut fx, &b), TicketError::WrongRecipient);
    // A sender the recipient has no funds information for, and a zero sender.
    let mut b = good.clone();
    b.sender = Address::repeat_byte(0x66);
    assert_eq!(refused(&mut fx, &b), TicketError::UnknownSender);
    // Undecodable bytes.
    let got = fx
        .recipient
        .receive_bytes(fx.now, fx.block, &[1, 2, 3], fx.stream, &fx.monitor);
    assert!(matches!(
        got.error,
        Some(TicketError::Decode(DecodeError::Malformed(_)))
    ));

    // The good ticket is accepted once, then replayed.
    let got = fx
        .recipient
        .receive(fx.now, fx.block, &good, fx.stream, &fx.monitor);
    assert_eq!(got.result(), Ok(()));
    assert_eq!(
        refused(&mut fx, &good),
        TicketError::InvalidNonce(NonceError::AlreadySeen)
    );
    assert_eq!(
        TicketError::InvalidNonce(NonceError::AlreadySeen).to_string(),
        "invalid ticket senderNonce: already seen"
    );
    // Nonce 0 is never valid.
    let mut zero = good.clone();
    zero.tickets[0].nonce = 0;
    let sig = livepeer_core::Signer::sign_message_hash(&test_signer(0x11), &zero.ticket(0).hash())
        .unwrap();
    zero.tickets[0].sig = sig.as_bytes().to_vec();
    assert_eq!(
        refused(&mut fx, &zero),
        TicketError::InvalidNonce(NonceError::Zero)
    );
}

#[test]
fn expired_params_and_unlocking_senders() {
    let mut fx = fixture();
    let b = one_ticket(&mut fx);
    fx.block = fx.params.expiration_block;
    assert_eq!(refused(&mut fx, &b), TicketError::ParamsExpired);
    assert_eq!(
        TicketError::ParamsExpired.to_string(),
        "TicketParams expired"
    );
    fx.block -= 1;
    let got = fx
        .recipient
        .receive(fx.now, fx.block, &b, fx.stream, &fx.monitor);
    assert_eq!(got.result(), Ok(()));
    // Replayed after its params expire: the window is forgotten, and expiry refuses it.
    fx.recipient.handle_block(fx.params.expiration_block);
    fx.block = fx.params.expiration_block;
    assert_eq!(refused(&mut fx, &b), TicketError::ParamsExpired);

    let mut fx = fixture();
    let b = one_ticket(&mut fx);
    let mut funds = fixture_funds();
    funds.withdraw_round = 11;
    fx.monitor.handle_funds(
        fx.sender.address(),
        SenderFunds::new(funds, Wei::ZERO, 1, fx.block),
    );
    assert_eq!(refused(&mut fx, &b), TicketError::SenderUnlocking);
}

#[test]
fn a_bad_ticket_stops_the_batch_after_the_good_ones() {
    let mut fx = fixture();
    let mut b = fx.sender.create_batch(&fx.session, 4).unwrap();
    b.tickets[2].sig[64] = 0;
    let got = fx
        .recipient
        .receive(fx.now, fx.block, &b, fx.stream, &fx.monitor);
    assert_eq!(got.accepted, 2);
    assert_eq!(got.credited.0, fx.params.ev().0 * U256::from(2));
    assert_eq!(
        got.error,
        Some(TicketError::InvalidSignature(SignatureError::BadV(0)))
    );
    // Across the chunks signatures are checked in.
    let mut b = fx.sender.create_batch(&fx.session, 200).unwrap();
    b.tickets[70].sig[64] = 0;
    let got = fx
        .recipient
        .receive(fx.now, fx.block, &b, fx.stream, &fx.monitor);
    assert_eq!(got.accepted, 70);
    assert_eq!(
        got.error,
        Some(TicketError::InvalidSignature(SignatureError::BadV(0)))
    );
    // Duplicates inside one batch.
    let mut b = fx.sender.create_batch(&fx.session, 2).unwrap();
    b.tickets.push(b.tickets[0].clone());
    let got = fx
        .recipient
        .receive(fx.now, fx.block, &b, fx.stream, &fx.monitor);
    assert_eq!(got.accepted, 2);
    assert_eq!(
        got.error,
        Some(TicketError::InvalidNonce(NonceError::AlreadySeen))
    );
    // Out of order within the window is fine.
    let mut b = fx.sender.create_batch(&fx.session, 5).unwrap();
    b.tickets.reverse();
    let got = fx
        .recipient
        .receive(fx.now, fx.block, &b, fx.stream, &fx.monitor);
    assert_eq!(got.result(), Ok(()));
    let _ = TicketSig::new(1, vec![]);
}
