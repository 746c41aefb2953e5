//! The broadcaster's side: sessions, nonces, ticket counts and each reason to refuse params.

use livepeer_core::chain::SenderInfo;
use livepeer_core::{Address, H256, PixelPrice, Pixels, U256, Wei};
use livepeer_pm::test_utils::{fixture, fixture_funds, fixture_with};
use livepeer_pm::{ParamsError, RecipientConfig, SenderConfig, SenderError};

#[test]
fn nonces_start_at_one_and_never_repeat() {
    let mut fx = fixture();
    let ev = fx.params.ev();
    assert_eq!(ev, Wei::from_u128(8_000_000_000));
    // 3 EV of pixels plus the 2% margin needs 4 tickets.
    let px = Pixels(24_000_000_000);
    let p1 = fx
        .sender
        .pay(&fx.session, fx.stream, px, &fixture_funds(), fx.block)
        .unwrap();
    assert_eq!(p1.fee, Wei::from_u128(24_480_000_000));
    let nonces: Vec<u32> = p1.batch.tickets.iter().map(|t| t.nonce).collect();
    assert_eq!(nonces, vec![1, 2, 3, 4]);
    assert_eq!(
        p1.credit_after,
        Wei::from_u128(32_000_000_000 - 24_480_000_000)
    );
    // The held credit lowers the next count: ceil((24.48 − 7.52) / 8) = 3.
    let p2 = fx
        .sender
        .pay(&fx.session, fx.stream, px, &fixture_funds(), fx.block)
        .unwrap();
    let nonces: Vec<u32> = p2.batch.tickets.iter().map(|t| t.nonce).collect();
    assert_eq!(nonces, vec![5, 6, 7]);
    // A tiny segment still costs one ticket (max(fee, EV)), unless credit covers it.
    let credit = fx.sender.credit(fx.params.recipient, fx.stream);
    let p3 = fx
        .sender
        .pay(
            &fx.session,
            fx.stream,
            Pixels(1),
            &fixture_funds(),
            fx.block,
        )
        .unwrap();
    let expected = if credit >= ev { 0 } else { 1 };
    assert_eq!(p3.batch.tickets.len(), expected);
    // Restarting the session keeps its nonces.
    let again = fx
        .sender
        .start_session(
            fx.params.recipient,
            fx.params.clone(),
            &fixture_funds(),
            fx.block,
        )
        .unwrap();
    assert_eq!(again, fx.session);
    let b = fx.sender.create_batch(&fx.session, 1).unwrap();
    assert!(b.tickets[0].nonce > 7);
}

#[test]
fn session_and_size_errors() {
    let mut fx = fixture();
    assert_eq!(
        fx.sender.pay(
            &H256::zero(),
            fx.stream,
            Pixels(1),
            &fixture_funds(),
            fx.block
        ),
        Err(SenderError::UnknownSession)
    );
    assert_eq!(
        fx.sender.create_batch(&fx.session, u64::from(u32::MAX) + 1),
        Err(SenderError::NonceExhausted)
    );
    // 2000 EV worth of pixels needs more than one batch may carry.
    let r = fx.sender.pay(
        &fx.session,
        fx.stream,
        Pixels(16_000_000_000_000),
        &fixture_funds(),
        fx.block,
    );
    assert!(matches!(
        r,
        Err(SenderError::TooManyTickets { .. }
            | SenderError::Params(ParamsError::TotalEvTooHigh { .. }))
    ));
    fx.sender.prune(fx.params.expiration_block);
    assert!(fx.sender.session_params(&fx.session).is_none());
}

fn refuse(
    f: impl FnOnce(&mut livepeer_pm::TicketParams, &mut SenderInfo, &mut u64, &mut u64),
) -> ParamsError {
    let fx = fixture();
    let mut params = fx.params.clone();
    let mut funds = fixture_funds();
    let mut block = fx.block;
    let mut tickets = 1;
    f(&mut params, &mut funds, &mut block, &mut tickets);
    fx.sender
        .validate_params(fx.params.recipient, &params, &funds, block, tickets)
        .unwrap_err()
}

#[test]
fn each_reason_to_refuse_params() {
    let fx = fixture();
    fx.sender
        .validate_params(
            fx.params.recipient,
            &fx.params,
            &fixture_funds(),
            fx.block,
            1,
        )
        .unwrap();

    assert!(matches!(
        refuse(|p, _, _, _| p.win_prob = U256::MAX),
        ParamsError::EvNotBelowFaceValue { .. }
    ));
    assert!(matches!(
        refuse(|p, _, _, _| p.win_prob = U256::MAX / 2),
        ParamsError::EvTooHigh { .. }
    ));
    assert!(matches!(
        refuse(|_, _, _, n| *n = 2501),
        ParamsError::TotalEvTooHigh { .. }
    ));
    assert!(matches!(
        refuse(|_, f, _, _| f.deposit = Wei::from_u128(1_000)),
        ParamsError::FaceValueTooHigh { .. }
    ));
    assert_eq!(
        refuse(|_, f, _, _| f.deposit = Wei::ZERO),
        ParamsError::NoDeposit
    );
    assert_eq!(
        refuse(|_, f, _, _| f.reserve_remaining = Wei::ZERO),
        ParamsError::NoReserve
    );
    assert_eq!(
        refuse(|_, f, _, _| f.withdraw_round = 12),
        ParamsError::SenderUnlocking
    );
    let exp = fx.params.expiration_block;
    assert_eq!(refuse(|_, _, b, _| *b = exp - 1), ParamsError::Expired);
    assert_eq!(ParamsError::Expired.to_string(), "TicketParams expired");
    assert!(matches!(
        refuse(|p, _, _, _| p.recipient = Address::repeat_byte(9)),
        ParamsError::WrongRecipient { .. }
    ));
    assert_eq!(
        refuse(|p, _, _, _| p.price.pixels = U256::zero()),
        ParamsError::InvalidPrice
    );
    // One block of buffer left is not enough; two is.
    let mut ok = fixture_funds();
    ok.deposit = Wei(fx.params.face_value);
    fx.sender
        .validate_params(fx.params.recipient, &fx.params, &ok, exp - 2, 1)
        .unwrap();
}

#[test]
fn price_more_than_doubled_since_the_session_began() {
    let fx = fixture();
    let mut p = fx.params.clone();
    p.price = PixelPrice::per_pixel(2);
    fx.sender
        .validate_params(fx.params.recipient, &p, &fixture_funds(), fx.block, 1)
        .unwrap();
    p.price = PixelPrice::new(U256::from(201), U256::from(100)).unwrap();
    let e = fx
        .sender
        .validate_params(fx.params.recipient, &p, &fixture_funds(), fx.block, 1)
        .unwrap_err();
    assert!(matches!(e, ParamsError::PriceMoreThanDoubled { .. }));
    let mut s = fixture().sender;
    s.reset_price(fx.params.recipient);
    s.validate_params(fx.params.recipient, &p, &fixture_funds(), fx.block, 1)
        .unwrap();
}

#[test]
fn free_params_need_no_tickets() {
    let mut sc = SenderConfig::default();
    sc.fee_margin_ppm = 0;
    let fx = fixture_with(RecipientConfig::default(), sc);
    assert_eq!(
        fx.sender.fee(
            Pixels(3),
            &PixelPrice::new(U256::from(1), U256::from(2)).unwrap()
        ),
        Wei::from_u128(2)
    );
    assert_eq!(fx.sender.fee(Pixels(3), &PixelPrice::zero()), Wei::ZERO);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

    /// The tickets of a payment plus the credit held cover the fee, and overpay by less than
    /// one ticket (unless the fee is below one EV, when one ticket is the least).
    #[test]
    fn payments_cover_the_fee_and_no_more(segments in proptest::collection::vec(1u64..80_000_000_000, 1..6)) {
        let mut fx = fixture();
        let ev = fx.params.ev();
        for px in segments {
            let before = fx.sender.credit(fx.params.recipient, fx.stream);
            let pay = fx
                .sender
                .pay(&fx.session, fx.stream, Pixels(px), &fixture_funds(), fx.block)
                .unwrap();
            let funded = before + pay.ev;
            proptest::prop_assert!(funded >= pay.fee);
            if pay.fee >= ev && !pay.batch.tickets.is_empty() {
                proptest::prop_assert!(funded - pay.fee < ev);
            }
            proptest::prop_assert_eq!(pay.credit_after, funded - pay.fee);
        }
    }
}
