//! Payments through livepeer-pm: an orchestrator's params on the wire become the params a
//! gateway signs against, its batch becomes a `Livepeer-Payment` header, and the header
//! becomes a batch the orchestrator's recipient accepts.

use livepeer_core::{Fault, U256};
use livepeer_interop::messages::{OrchestratorInfo, PriceInfo};
use livepeer_interop::payment::{ticket_params_to_wire, u256_to_bytes};
use livepeer_interop::*;
use livepeer_pm::test_utils::fixture;

fn info_for(params: &livepeer_pm::TicketParams) -> OrchestratorInfo {
    OrchestratorInfo {
        transcoder: "https://127.0.0.1:8935".into(),
        ticket_params: Some(ticket_params_to_wire(params, true).unwrap()),
        price_info: Some(price_to_info(&params.price).unwrap()),
        address: params.recipient.as_bytes().to_vec(),
        ..OrchestratorInfo::default()
    }
}

#[test]
fn a_wire_payment_is_accepted_by_the_recipient() {
    let mut fx = fixture();
    let info = info_for(&fx.params);
    // The gateway reads the params the orchestrator sent.
    let info = decode_orchestrator_info(&prost::Message::encode_to_vec(&info)).unwrap();
    assert_eq!(ticket_params_from_info(&info).unwrap(), fx.params);

    let batch = fx.sender.create_batch(&fx.session, 3).unwrap();
    let price = info.price_info.clone().unwrap();
    let payment = payment_from_batch(&batch, &price).unwrap();

    // go-livepeer's layout: minimal integers, expiration beside the params, nonces from 1,
    // 65-byte signatures, the price verbatim.
    let tp = payment.ticket_params.as_ref().unwrap();
    assert_eq!(tp.face_value, u256_to_bytes(&fx.params.face_value));
    assert_ne!(tp.face_value.first(), Some(&0));
    assert!(tp.expiration_params.is_none());
    assert_eq!(
        payment.expiration_params.as_ref().unwrap().creation_round,
        fx.params.expiration.creation_round as i64
    );
    let nonces: Vec<u32> = payment
        .ticket_sender_params
        .iter()
        .map(|t| t.sender_nonce)
        .collect();
    assert_eq!(nonces, vec![1, 2, 3]);
    assert!(
        payment
            .ticket_sender_params
            .iter()
            .all(|t| t.sig.len() == 65)
    );
    assert_eq!(payment.expected_price.as_ref(), Some(&price));

    let header = encode_payment_header(&payment);
    // The fuzz entry's mapping round trip holds on a real payment.
    let mut fuzz_input = vec![1u8];
    fuzz_input.extend_from_slice(header.as_bytes());
    livepeer_interop::fuzz_entry::headers(&fuzz_input);
    let received = payment_to_batch(&decode_payment_header(header.as_bytes()).unwrap()).unwrap();
    assert_eq!(received.sender, fx.sender.address());
    let got = received.batch.unwrap();
    assert_eq!(got, batch);
    let r = fx
        .recipient
        .receive(fx.now, fx.block, &got, fx.stream, &fx.monitor);
    assert!(r.result().is_ok(), "{:?}", r.error);
    assert_eq!(r.accepted, 3);
}

#[test]
fn a_changed_price_or_signature_is_refused() {
    let mut fx = fixture();
    let batch = fx.sender.create_batch(&fx.session, 2).unwrap();
    let price = price_to_info(&fx.params.price).unwrap();

    // A price that is not the one the tickets were made for cannot be encoded...
    let other = PriceInfo {
        price_per_unit: price.price_per_unit + 1,
        ..price.clone()
    };
    let e = payment_from_batch(&batch, &other).unwrap_err();
    assert_eq!(e.fault(), Fault::Misuse);
    // ...and an equal ratio written differently is echoed as given.
    let scaled = PriceInfo {
        price_per_unit: price.price_per_unit * 2,
        pixels_per_unit: price.pixels_per_unit * 2,
        ..price.clone()
    };
    assert_eq!(
        payment_from_batch(&batch, &scaled)
            .unwrap()
            .expected_price
            .unwrap(),
        scaled
    );

    // A payment whose price was altered in transit fails the recipient's checks.
    let mut payment = payment_from_batch(&batch, &price).unwrap();
    payment.expected_price = Some(other);
    let got = payment_to_batch(&payment).unwrap().batch.unwrap();
    let r = fx
        .recipient
        .receive(fx.now, fx.block, &got, fx.stream, &fx.monitor);
    assert_eq!(r.accepted, 0);
    assert!(r.error.is_some());

    // A tampered signature is refused ticket by ticket.
    let mut payment = payment_from_batch(&batch, &price).unwrap();
    payment.ticket_sender_params[0].sig[10] ^= 1;
    let got = payment_to_batch(&payment).unwrap().batch.unwrap();
    let r = fx
        .recipient
        .receive(fx.now, fx.block, &got, fx.stream, &fx.monitor);
    assert_eq!(r.accepted, 0);
}

#[test]
fn incomplete_payments_are_typed_errors() {
    let mut fx = fixture();
    let batch = fx.sender.create_batch(&fx.session, 1).unwrap();
    let price = price_to_info(&fx.params.price).unwrap();
    let full = payment_from_batch(&batch, &price).unwrap();
    type Breaker = fn(&mut livepeer_interop::messages::Payment);
    let cases: [(&str, Breaker); 5] = [
        ("Payment.ticket_params", |p| p.ticket_params = None),
        ("Payment.expiration_params", |p| p.expiration_params = None),
        ("Payment.expected_price", |p| p.expected_price = None),
        ("Payment.sender", |p| p.sender.clear()),
        ("TicketParams.recipient", |p| {
            if let Some(t) = p.ticket_params.as_mut() {
                t.recipient.pop();
            }
        }),
    ];
    for (field, break_it) in cases {
        let mut p = full.clone();
        break_it(&mut p);
        let e = payment_to_batch(&p).unwrap_err();
        assert!(e.to_string().contains(field), "{field}: {e}");
        assert_eq!(e.fault(), Fault::Peer);
    }
    // Too many tickets, before any is looked at.
    let mut p = full.clone();
    p.ticket_sender_params = vec![p.ticket_sender_params[0].clone(); 1025];
    assert!(matches!(
        payment_to_batch(&p),
        Err(InteropError::TooManyTickets { .. })
    ));
    // No tickets: the sender and price only.
    let bare = payment_without_tickets(fx.sender.address(), &price);
    let got = payment_to_batch(&bare).unwrap();
    assert!(got.batch.is_none());
    assert_eq!(got.expected_price, Some(fx.params.price));
    assert!(
        payment_to_batch(&Default::default())
            .unwrap()
            .batch
            .is_none()
    );
}

#[test]
fn the_fee_estimate_drives_the_ticket_count() {
    use livepeer_interop::messages::VideoProfile;
    let fx = fixture();
    let ev = fx.params.ev();
    let profiles = [VideoProfile {
        width: 1280,
        height: 720,
        fps: 30,
        ..VideoProfile::default()
    }];
    let fee = estimate_fee(
        &profiles,
        std::time::Duration::from_secs(2),
        &fx.params.price,
    )
    .unwrap();
    // 1280·720·30·2 pixels at 1 wei each, plus 2 %.
    assert_eq!(fee.0, U256::from(1280u64 * 720 * 30 * 2 * 102 / 100));
    let n = tickets_needed(fee, ev, livepeer_core::Wei::ZERO);
    assert!(U256::from(n.low_u64()) * ev.0 >= fee.0);
    assert!(U256::from(n.low_u64() - 1) * ev.0 < fee.0);
}
