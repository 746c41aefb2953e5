//! Entry points shared by the fuzz targets and the corpus-replay test. Not a stable API.
//!
//! [`routes`] feeds outside headers and bodies to the orchestrator's `/segment` and
//! `/payment` checks. [`remote_signer`] feeds outside bytes to the remote signer's request decoding and
//! payment logic, and checks what comes out: a typed refusal, or a payment whose headers
//! decode, whose tickets are consecutive and at most [`MAX_TICKETS`], and whose state the
//! signer takes back.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use livepeer_core::{H256, LocalSigner, PixelPrice, Signer, U256};
use livepeer_interop::messages::{AuthToken, OrchestratorInfo};
use livepeer_interop::{decode_payment_header, decode_segment_header, payment_to_batch};
use livepeer_pm::{ExpirationParams, TicketParams};
use prost::Message;

use crate::orchestrator::StaticInfo;
use crate::remote_signer::payment::{MAX_TICKETS, generate_live_payment, seal_bytes};
use crate::remote_signer::wire::{LivePaymentRequest, LivePaymentResponse};

/// The time the fuzzed signer runs at (seconds since the Unix epoch).
pub const NOW: Duration = Duration::from_secs(1_700_000_000);

fn signer() -> Option<LocalSigner> {
    LocalSigner::from_bytes(&[0x11; 32]).ok()
}

/// A valid orchestrator answer: price 1000 wei per 10 pixels, ticket EV about 1e6 wei, an
/// auth token valid for 30 minutes after [`NOW`].
pub fn valid_info() -> Option<OrchestratorInfo> {
    let orchestrator = LocalSigner::from_bytes(&[0x22; 32]).ok()?.address();
    let price = PixelPrice::new(U256::from(1000u64), U256::from(10u64))?;
    let params = TicketParams::new(
        orchestrator,
        U256::from(1_000_000_000u64),
        U256::MAX / U256::from(1000u64),
        H256::repeat_byte(0x33),
        H256::repeat_byte(0x44),
        1_000_000,
        price,
        ExpirationParams::new(4000, H256::repeat_byte(0x55)),
    );
    let token = AuthToken {
        token: vec![9; 32],
        session_id: "s".into(),
        expiration: NOW.as_secs() as i64 + 1800,
    };
    StaticInfo::new(
        "https://127.0.0.1:8935",
        orchestrator,
        &price,
        Some(&params),
        token,
    )
    .ok()
    .map(|s| s.info().clone())
}

/// Inputs that reach a payment, one per mode: a JSON request, a state, an info.
pub fn seeds() -> Vec<Vec<u8>> {
    let Some(info) = valid_info() else {
        return Vec::new();
    };
    let json = format!(
        r#"{{"orchestrator":"{}","type":"live","ManifestID":"m"}}"#,
        STANDARD.encode(info.encode_to_vec())
    );
    let orchestrator = livepeer_core::Address::from_slice(&info.address);
    let state = format!(
        r#"{{"StateID":"00","PMSessionID":"","LastUpdateMs":1699999990000,"OrchestratorAddress":"{orchestrator:?}","App":"","SenderNonce":3,"Balance":"5","InitialPricePerUnit":1000,"InitialPixelsPerUnit":10,"Type":"live","SequenceNumber":1}}"#
    );
    let with = |mode: u8, rest: &[u8]| {
        let mut v = vec![mode];
        v.extend_from_slice(rest);
        v
    };
    vec![
        with(0, json.as_bytes()),
        with(1, state.as_bytes()),
        with(2, &info.encode_to_vec()),
    ]
}

/// The first byte picks what the rest is: 0, a `generate-live-payment` JSON body; 1, the
/// bytes of a state blob (signed by the signer, so the fuzzer gets past the signature) sent
/// with a valid request; 2, an `OrchestratorInfo` in a `live` request. Returns whether a
/// payment was made.
pub fn remote_signer(data: &[u8]) -> bool {
    let (Some(signer), Some(info)) = (signer(), valid_info()) else {
        return false;
    };
    let (mode, rest) = data.split_first().map_or((0, data), |(m, r)| (*m, r));
    let base = LivePaymentRequest {
        orchestrator: info.encode_to_vec(),
        manifest_id: "m".into(),
        job_type: "live".into(),
        ..LivePaymentRequest::default()
    };
    let request = match mode % 3 {
        0 => match serde_json::from_slice::<LivePaymentRequest>(rest) {
            Ok(r) => r,
            Err(_) => return false,
        },
        1 => match seal_bytes(&signer, rest.to_vec()) {
            Ok(state) => LivePaymentRequest { state, ..base },
            Err(_) => return false,
        },
        _ => LivePaymentRequest {
            orchestrator: rest.to_vec(),
            ..base
        },
    };
    let Ok(first) = generate_live_payment(&signer, &request, NOW, [7; 32]) else {
        return false;
    };
    let last = check_answer(&first, &signer, 0);
    // The state it returned is taken back.
    let next = LivePaymentRequest {
        state: first.state,
        ..request
    };
    if let Ok(second) = generate_live_payment(&signer, &next, NOW + Duration::from_secs(5), [8; 32])
    {
        check_answer(&second, &signer, last);
    }
    true
}

/// Checks one answer and returns its last nonce.
fn check_answer(resp: &LivePaymentResponse, signer: &LocalSigner, after: u32) -> u32 {
    let payment = decode_payment_header(resp.payment.as_bytes());
    assert!(payment.is_ok(), "the payment header decodes");
    let Ok(payment) = payment else { return 0 };
    assert!(!payment.ticket_sender_params.is_empty());
    assert!(payment.ticket_sender_params.len() as u64 <= MAX_TICKETS);
    let nonces: Vec<u32> = payment
        .ticket_sender_params
        .iter()
        .map(|t| t.sender_nonce)
        .collect();
    assert!(
        nonces.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive nonces"
    );
    assert!(after == 0 || nonces[0] > 0);
    let received = payment_to_batch(&payment);
    assert!(received.is_ok(), "the payment maps to a batch");
    let seg = decode_segment_header(resp.seg_creds.as_bytes());
    assert!(
        seg.is_ok_and(|s| livepeer_interop::verify_seg_data(&s, &signer.address()).is_ok()),
        "the segment credentials verify"
    );
    let json = serde_json::to_vec(resp).unwrap_or_default();
    assert_eq!(
        serde_json::from_slice::<LivePaymentResponse>(&json)
            .ok()
            .as_ref(),
        Some(resp),
        "the answer round-trips through JSON"
    );
    nonces.last().copied().unwrap_or(0)
}

/// Splits route input: two length-prefixed (u16, big-endian) header values, then the body.
fn split_route_input(data: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let take = |d: &'_ [u8]| -> Option<(usize, usize)> {
        let len = usize::from(u16::from_be_bytes([*d.first()?, *d.get(1)?]));
        (d.len() >= 2 + len).then_some((2, 2 + len))
    };
    let (a0, a1) = take(data)?;
    let (payment, rest) = (&data[a0..a1], &data[a1..]);
    let (b0, b1) = take(rest)?;
    Some((payment, &rest[b0..b1], &rest[b1..]))
}

fn route_input(mode: u8, payment: &[u8], segment: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = vec![mode];
    for h in [payment, segment] {
        v.extend_from_slice(&(h.len() as u16).to_be_bytes());
        v.extend_from_slice(h);
    }
    v.extend_from_slice(body);
    v
}

/// Inputs the routes accept: a segment for `/segment` (mode 0), a payment for `/payment`
/// (mode 1).
pub fn route_seeds() -> Vec<Vec<u8>> {
    let (Some(signer), Some(info)) = (signer(), valid_info()) else {
        return Vec::new();
    };
    let (Some(price), Some(token)) = (info.price_info.as_ref(), info.auth_token.clone()) else {
        return Vec::new();
    };
    let payment = livepeer_interop::encode_payment_header(
        &livepeer_interop::payment_without_tickets(signer.address(), price),
    );
    let seg = |body: &[u8]| {
        livepeer_interop::build_seg_data(
            b"m",
            1,
            body,
            Vec::new(),
            Duration::from_secs(2),
            token.clone(),
            &signer,
        )
        .ok()
        .map(|s| livepeer_interop::encode_segment_header(&s))
    };
    let (Some(seg_body), Some(seg_empty)) = (seg(b"segment"), seg(b"")) else {
        return Vec::new();
    };
    vec![
        route_input(0, payment.as_bytes(), seg_body.as_bytes(), b"segment"),
        route_input(1, payment.as_bytes(), seg_empty.as_bytes(), b""),
    ]
}

struct AcceptAll(OrchestratorInfo);

impl crate::orchestrator::PaymentSink for AcceptAll {
    fn process_payment(
        &self,
        _sender: livepeer_core::Address,
        _payment: &livepeer_interop::messages::Payment,
        _seg: &livepeer_interop::messages::SegData,
    ) -> Result<OrchestratorInfo, String> {
        Ok(self.0.clone())
    }
}

/// The orchestrator's HTTP routes on outside headers and bodies. The first byte picks:
/// even, `/segment`'s checks; odd, `/payment`'s answer (with a sink that accepts). Then two
/// length-prefixed header values (`Livepeer-Payment`, `Livepeer-Segment`) and the body.
/// A refusal must carry go-livepeer's status for it; returns whether the request passed.
pub fn routes(data: &[u8]) -> bool {
    let Some(info) = valid_info() else {
        return false;
    };
    let (mode, rest) = data.split_first().map_or((0, data), |(m, r)| (*m, r));
    let Some((payment, segment, body)) = split_route_input(rest) else {
        return false;
    };
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        (livepeer_interop::PAYMENT_HEADER, payment),
        (livepeer_interop::SEGMENT_HEADER, segment),
    ] {
        match http::HeaderValue::from_bytes(value) {
            Ok(v) => {
                headers.insert(name, v);
            }
            Err(_) => return false,
        }
    }
    if mode % 2 == 0 {
        match crate::orchestrator::SegmentRoute::check(
            &headers,
            bytes::Bytes::copy_from_slice(body),
        ) {
            Ok(request) => {
                assert_eq!(request.body.as_ref(), body);
                assert!(request.seg.auth_token.is_some());
                true
            }
            Err((status, _)) => {
                assert!([400, 402, 403].contains(&status.as_u16()), "{status}");
                false
            }
        }
    } else {
        let route = crate::orchestrator::PaymentRoute::new(std::sync::Arc::new(AcceptAll(info)));
        let (status, answer) = route.answer(&headers);
        match status.as_u16() {
            200 => {
                let result = livepeer_interop::decode_payment_result(&answer);
                assert!(result.is_ok_and(|r| r.info.is_some_and(|i| i.auth_token.is_some())));
                true
            }
            s => {
                assert!([402, 403].contains(&s), "{s}");
                false
            }
        }
    }
}
