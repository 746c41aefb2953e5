//! The remote signer: Rust client against Rust server, the payment logic at fixed times,
//! and bad input answered with typed 4xx errors.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use livepeer_core::{Address, Signature, Signer};
use livepeer_interop::messages::{OrchestratorInfo, Payment};
use livepeer_interop::{
    decode_payment_header, decode_segment_header, payment_to_batch, verify_orchestrator_request,
    verify_seg_data,
};
use livepeer_interop_net::remote_signer::wire::{ErrorBody, MaxPrice};
use livepeer_interop_net::remote_signer::{
    LivePaymentRequest, LivePaymentResponse, generate_live_payment,
};
use livepeer_interop_net::{RemoteSignerServer, SignerServiceError};
use livepeer_pm::TicketHasher;
use prost::Message;

use crate::util::{info, key, signer, spawn_signer};

/// Checks a payment's tickets: signed by `sender` against the info's params, with nonces
/// `first..first+count`.
pub(crate) fn check_payment(
    payment: &Payment,
    info: &OrchestratorInfo,
    sender: Address,
    first: u32,
) -> usize {
    let received = payment_to_batch(payment).unwrap();
    assert_eq!(received.sender, sender);
    let batch = received.batch.expect("tickets");
    let expected = livepeer_interop::ticket_params_from_info(info).unwrap();
    assert_eq!(batch.params, expected);
    assert_eq!(payment.expected_price, info.price_info);
    let hasher = TicketHasher::new(&batch.params, sender);
    for (i, t) in batch.tickets.iter().enumerate() {
        assert_eq!(t.nonce, first + i as u32);
        Signature::from_slice(&t.sig)
            .unwrap()
            .verify_eip191(&hasher.hash(t.nonce), &sender)
            .unwrap();
    }
    batch.tickets.len()
}

/// Checks the segment credentials: signed by `sender`, with the orchestrator's token.
pub(crate) fn check_seg_creds(
    seg_creds: &str,
    info: &OrchestratorInfo,
    sender: Address,
    manifest: &str,
) {
    let seg = decode_segment_header(seg_creds.as_bytes()).unwrap();
    verify_seg_data(&seg, &sender).unwrap();
    assert_eq!(seg.auth_token, info.auth_token);
    assert_eq!(seg.manifest_id, manifest.as_bytes());
}

fn request(info: &OrchestratorInfo, job: &str) -> LivePaymentRequest {
    LivePaymentRequest {
        orchestrator: info.encode_to_vec(),
        manifest_id: "manifest".into(),
        job_type: job.into(),
        ..LivePaymentRequest::default()
    }
}

#[tokio::test]
async fn signs_orchestrator_info() {
    let (handle, client) = spawn_signer(RemoteSignerServer::new(signer(1)).unwrap()).await;
    let material = client.sign_orchestrator_info().await.unwrap();
    assert_eq!(material.address, key(1).address());
    let req = livepeer_interop::messages::OrchestratorRequest {
        address: material.address.as_bytes().to_vec(),
        sig: material.signature.as_bytes().to_vec(),
        ..Default::default()
    };
    assert_eq!(verify_orchestrator_request(&req).unwrap(), key(1).address());
    handle.shutdown().await;
}

#[tokio::test]
async fn live_payments_chain_their_state() {
    let (handle, client) = spawn_signer(RemoteSignerServer::new(signer(1)).unwrap()).await;
    let orch = key(2).address();
    let info = info(orch, 1800);
    let gateway = key(1).address();

    let first = client
        .generate_live_payment(&request(&info, "live"))
        .await
        .unwrap();
    let payment = decode_payment_header(first.payment.as_bytes()).unwrap();
    assert_eq!(check_payment(&payment, &info, gateway, 1), 1);
    check_seg_creds(&first.seg_creds, &info, gateway, "manifest");
    assert!(!first.state.is_empty());

    let mut next = request(&info, "live");
    next.state = first.state.clone();
    let second = client.generate_live_payment(&next).await.unwrap();
    let payment = decode_payment_header(second.payment.as_bytes()).unwrap();
    assert_eq!(check_payment(&payment, &info, gateway, 2), 1);

    // A state whose bytes were changed is refused.
    let mut tampered = next.clone();
    let last = tampered.state.state.len() - 2;
    tampered.state.state[last] ^= 1;
    let err = client.generate_live_payment(&tampered).await.unwrap_err();
    assert_eq!(
        err,
        SignerServiceError::Rejected {
            status: 400,
            message: "invalid sig".into()
        }
    );
    // A state for another orchestrator is refused.
    let mut other = request(&crate::util::info(key(3).address(), 1800), "live");
    other.state = second.state;
    let err = client.generate_live_payment(&other).await.unwrap_err();
    assert_eq!(err.status(), 400);
    handle.shutdown().await;
}

#[test]
fn fixed_payments_stop_when_credit_covers_them() {
    let gw = key(1);
    let info = info(key(2).address(), 1800);
    let t0 = Duration::from_secs(crate::util::now_secs() as u64);
    let mut req = request(&info, "fixed");
    let a = generate_live_payment(&gw, &req, t0, [1; 32]).unwrap();
    req.state = a.state;
    let b = generate_live_payment(&gw, &req, t0 + Duration::from_secs(1), [2; 32]).unwrap();
    let payment = decode_payment_header(b.payment.as_bytes()).unwrap();
    assert_eq!(check_payment(&payment, &info, gw.address(), 2), 1);
    req.state = b.state;
    // Two tickets' EV less two fixed fees is more than one ticket's EV: nothing to pay.
    let err = generate_live_payment(&gw, &req, t0 + Duration::from_secs(2), [3; 32]).unwrap_err();
    assert!(err.is_no_tickets());
    assert_eq!(err.status(), 482);
}

#[test]
fn refusals_are_typed() {
    let gw = key(1);
    let now = Duration::from_secs(crate::util::now_secs() as u64);
    let info = info(key(2).address(), 1800);
    // Expiring auth token: refresh, naming the orchestrator.
    let expiring = crate::util::info(key(2).address(), 60);
    let err = generate_live_payment(&gw, &request(&expiring, "live"), now, [0; 32]).unwrap_err();
    assert_eq!(
        err,
        SignerServiceError::RefreshSession {
            orchestrator_url: Some("https://127.0.0.1:8935".into())
        }
    );
    // Price above the request's ceiling: 100 wei per second against 50.
    let mut capped = request(&info, "live");
    capped.max_price = Some(MaxPrice {
        price: "50".into(),
        currency: "WEI".into(),
        unit: "seconds".into(),
    });
    let err = generate_live_payment(&gw, &capped, now, [0; 32]).unwrap_err();
    assert_eq!(err.status(), 481);
    capped.max_price.as_mut().unwrap().price = "100.5".into();
    assert!(generate_live_payment(&gw, &capped, now, [0; 32]).is_ok());
    capped.max_price.as_mut().unwrap().unit = "fixed".into();
    assert_eq!(
        generate_live_payment(&gw, &capped, now, [0; 32])
            .unwrap_err()
            .status(),
        400
    );
    // Too many tickets for one payment.
    let mut big = request(&info, "");
    big.in_pixels = 10_000_000;
    assert!(matches!(
        generate_live_payment(&gw, &big, now, [0; 32]).unwrap_err(),
        SignerServiceError::TooManyTickets { max: 100, .. }
    ));
    // Unknown job type, nothing to bill, no price, no orchestrator.
    let err = generate_live_payment(&gw, &request(&info, "vod"), now, [0; 32]).unwrap_err();
    assert_eq!(err, SignerServiceError::InvalidJobType);
    let err = generate_live_payment(&gw, &request(&info, ""), now, [0; 32]).unwrap_err();
    assert_eq!(err, SignerServiceError::NoBillableUnits);
    let mut no_price = info.clone();
    no_price.price_info = None;
    let err = generate_live_payment(&gw, &request(&no_price, "live"), now, [0; 32]).unwrap_err();
    assert_eq!(
        err,
        SignerServiceError::Missing("missing or zero priceInfo")
    );
    let err = generate_live_payment(&gw, &LivePaymentRequest::default(), now, [0; 32]).unwrap_err();
    assert_eq!(err, SignerServiceError::Missing("missing orchestrator"));
    // A state without a manifest id.
    let first = generate_live_payment(&gw, &request(&info, "live"), now, [0; 32]).unwrap();
    let mut again = request(&info, "live");
    again.state = first.state;
    again.manifest_id.clear();
    let err = generate_live_payment(&gw, &again, now, [0; 32]).unwrap_err();
    assert_eq!(err, SignerServiceError::Missing("missing manifestID"));
}

/// Posts raw bytes and returns the status and the JSON error message (or body).
async fn post_raw(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let msg = serde_json::from_slice::<ErrorBody>(&body)
        .map(|e| e.error.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
    (status, msg)
}

#[tokio::test]
async fn bad_input_gets_4xx() {
    let server = RemoteSignerServer::new(signer(1))
        .unwrap()
        .with_max_body(4096);
    let (handle, _) = spawn_signer(server).await;
    let addr = handle.local_addr();
    let p = "/generate-live-payment";

    let (s, m) = post_raw(addr, "POST", p, b"{not json".to_vec()).await;
    assert_eq!(s, 400);
    assert!(m.starts_with("malformed request"), "{m}");
    let (s, _) = post_raw(addr, "POST", p, br#"{"orchestrator": 5}"#.to_vec()).await;
    assert_eq!(s, 400);
    let (s, _) = post_raw(addr, "POST", p, br#"{"orchestrator": "!!"}"#.to_vec()).await;
    assert_eq!(s, 400);
    let (s, _) = post_raw(
        addr,
        "POST",
        p,
        br#"{"orchestrator": "AQ==", "inPixels": "x"}"#.to_vec(),
    )
    .await;
    assert_eq!(s, 400);
    // Malformed protobuf in the orchestrator field.
    let garbage = format!(
        r#"{{"orchestrator": "{}", "type": "live"}}"#,
        STANDARD.encode([0xff; 7])
    );
    let (s, m) = post_raw(addr, "POST", p, garbage.into_bytes()).await;
    assert_eq!(s, 400);
    assert!(m.contains("malformed protobuf"), "{m}");
    // An oversized body is refused unread.
    let (s, _) = post_raw(addr, "POST", p, vec![b' '; 10_000]).await;
    assert_eq!(s, 413);
    let (s, _) = post_raw(addr, "POST", "/sign-orchestrator-info", vec![b' '; 10_000]).await;
    assert_eq!(s, 413);
    let (s, _) = post_raw(addr, "GET", p, Vec::new()).await;
    assert_eq!(s, 405);
    let (s, _) = post_raw(addr, "POST", "/nowhere", Vec::new()).await;
    assert_eq!(s, 404);
    // The server still answers.
    let (s, _) = post_raw(addr, "POST", "/sign-orchestrator-info", b"{}".to_vec()).await;
    assert_eq!(s, 200);
    handle.shutdown().await;
}

#[tokio::test]
async fn client_reads_refusals_and_credentials() {
    let server = RemoteSignerServer::new(signer(1))
        .unwrap()
        .with_bearer_token("s3cret");
    let (handle, client) = spawn_signer(server).await;
    let err = client.sign_orchestrator_info().await.unwrap_err();
    assert_eq!(err.status(), 401);
    let client = client
        .with_header("Authorization", "Bearer s3cret")
        .unwrap();
    assert!(!format!("{client:?}").contains("s3cret"));
    client.sign_orchestrator_info().await.unwrap();
    // 480 comes back typed, with the orchestrator to refresh.
    let expiring = crate::util::info(key(2).address(), 60);
    let err = client
        .generate_live_payment(&request(&expiring, "live"))
        .await
        .unwrap_err();
    assert!(err.is_refresh());
    assert_eq!(
        err,
        SignerServiceError::RefreshSession {
            orchestrator_url: Some("https://127.0.0.1:8935".into())
        }
    );
    // 60 s of 720p30 at 100 wei per pixel needs far more than 100 tickets of 1e6 wei.
    let err = client
        .generate_live_payment(&request(&info(key(2).address(), 1800), "lv2v"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SignerServiceError::Rejected { status: 400, message } if message.starts_with("numTickets")),
        "{err:?}"
    );
    let ok: LivePaymentResponse = client
        .generate_live_payment(&request(&info(key(2).address(), 1800), "fixed"))
        .await
        .unwrap();
    assert!(!ok.payment.is_empty());
    handle.shutdown().await;
    // A signer that is gone is a transport error.
    let err = client.sign_orchestrator_info().await.unwrap_err();
    assert!(matches!(err, SignerServiceError::Transport(_)), "{err:?}");
}
