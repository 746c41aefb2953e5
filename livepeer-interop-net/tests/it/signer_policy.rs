//! The remote signer's limits on ticket params, its chain and clock seams, and its
//! protections: no unauthenticated public address, bounded time to send a body.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use livepeer_core::chain::{ChainError, RoundInfo};
use livepeer_core::test_utils::TestClock;
use livepeer_core::{H256, Signer, U256, Wei};
use livepeer_interop::payment::ticket_params_to_wire;
use livepeer_interop_net::remote_signer::{
    LivePaymentRequest, PaymentPolicy, generate_live_payment, generate_live_payment_with,
};
use livepeer_interop_net::{NetError, RemoteSignerServer, SignerServiceError};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::{info, key, now_secs, params, signer, spawn_signer};

fn live(info: &livepeer_interop::messages::OrchestratorInfo) -> LivePaymentRequest {
    LivePaymentRequest {
        orchestrator: info.encode_to_vec(),
        manifest_id: "m".into(),
        job_type: "live".into(),
        ..LivePaymentRequest::default()
    }
}

fn with_params(p: &livepeer_pm::TicketParams) -> livepeer_interop::messages::OrchestratorInfo {
    let mut i = info(key(2).address(), 1800);
    i.ticket_params = Some(ticket_params_to_wire(p, true).unwrap());
    i
}

#[test]
fn ticket_params_are_held_to_the_policy() {
    let gw = key(1);
    let now = Duration::from_secs(now_secs() as u64);
    let base = params(key(2).address(), 0x33);

    let mut zero = base.clone();
    zero.expiration_block = 0;
    let err = generate_live_payment(&gw, &live(&with_params(&zero)), now, [0; 32]).unwrap_err();
    assert_eq!(
        err,
        SignerServiceError::BadTicketParams("ticketParams expiration block is 0".into())
    );
    assert_eq!(err.status(), 400);

    let mut certain = base.clone();
    certain.win_prob = U256::MAX;
    let err = generate_live_payment(&gw, &live(&with_params(&certain)), now, [0; 32]).unwrap_err();
    assert!(
        matches!(err, SignerServiceError::BadTicketParams(ref m) if m.starts_with("ticket faceValue too low"))
    );

    let mut policy = PaymentPolicy::default();
    policy.max_ev = Wei::from_u128(1000);
    let req = live(&with_params(&base));
    let err = generate_live_payment_with(&gw, &req, now, [0; 32], &policy).unwrap_err();
    assert!(
        matches!(err, SignerServiceError::BadTicketParams(ref m) if m.starts_with("ticket EV"))
    );

    // Ten seconds at 100 wei each is 1000 wei: with an EV of 99 wei (1e9 × 1e-7, rounded
    // down), 11 tickets, over a total of 500.
    let mut small = base.clone();
    small.win_prob = U256::MAX / U256::from(10_000_000u64);
    let mut policy = PaymentPolicy::default();
    policy.max_total_ev = Wei::from_u128(500);
    let req = live(&with_params(&small));
    let err = generate_live_payment_with(&gw, &req, now, [0; 32], &policy).unwrap_err();
    assert!(
        matches!(err, SignerServiceError::BadTicketParams(ref m) if m.starts_with("total ticket EV"))
    );
    policy.max_total_ev = Wei::from_u128(5000);
    let ok = generate_live_payment_with(&gw, &req, now, [0; 32], &policy).unwrap();
    let payment = livepeer_interop::decode_payment_header(ok.payment.as_bytes()).unwrap();
    assert_eq!(payment.ticket_sender_params.len(), 11);

    // Params expiring at the next block ask for a refresh; earlier blocks are fine.
    let mut policy = PaymentPolicy::default();
    policy.l1_block = Some(base.expiration_block - 1);
    let req = live(&with_params(&base));
    assert!(
        generate_live_payment_with(&gw, &req, now, [0; 32], &policy)
            .unwrap_err()
            .is_refresh()
    );
    policy.l1_block = Some(base.expiration_block - 2);
    assert!(generate_live_payment_with(&gw, &req, now, [0; 32], &policy).is_ok());
    let _ = H256::zero();
}

struct Blocks(Option<u64>);

#[async_trait]
impl RoundInfo for Blocks {
    async fn current_block(&self) -> Result<u64, ChainError> {
        self.0
            .ok_or_else(|| ChainError::Transport("node down".into()))
    }
    async fn current_round(&self) -> Result<u64, ChainError> {
        Ok(1)
    }
    async fn last_initialized_round(&self) -> Result<u64, ChainError> {
        Ok(1)
    }
    async fn block_hash_for_round(&self, _round: u64) -> Result<H256, ChainError> {
        Ok(H256::zero())
    }
    async fn round_length(&self) -> Result<u64, ChainError> {
        Ok(5760)
    }
}

#[tokio::test]
async fn the_server_reads_the_chain_and_its_clock() {
    let info = info(key(2).address(), 1800);
    let expiry = params(key(2).address(), 0x33).expiration_block;
    for (blocks, expect) in [(Some(expiry - 10), 200), (Some(expiry), 480), (None, 503)] {
        let server = RemoteSignerServer::new(signer(1))
            .unwrap()
            .with_round_info(Arc::new(Blocks(blocks)));
        let (handle, client) = spawn_signer(server).await;
        let status = match client.generate_live_payment(&live(&info)).await {
            Ok(_) => 200,
            Err(e) => e.status(),
        };
        assert_eq!(status, expect, "{blocks:?}");
        handle.shutdown().await;
    }
    // A clock 29 minutes ahead puts the auth token in its last tenth.
    let clock = TestClock::new(Duration::from_secs(now_secs() as u64 + 29 * 60));
    let server = RemoteSignerServer::new(signer(1))
        .unwrap()
        .with_clock(Arc::new(clock));
    let (handle, client) = spawn_signer(server).await;
    let err = client
        .generate_live_payment(&live(&info))
        .await
        .unwrap_err();
    assert!(err.is_refresh());
    handle.shutdown().await;
}

#[tokio::test]
async fn public_addresses_need_a_token() {
    let listener = || async { tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap() };
    let open = RemoteSignerServer::new(signer(1)).unwrap();
    let err = open.spawn(listener().await).unwrap_err();
    assert!(
        matches!(err, NetError::Setup(ref m) if m.contains("bearer token")),
        "{err:?}"
    );
    let with_token = open.clone().with_bearer_token("t");
    with_token.spawn(listener().await).unwrap().shutdown().await;
    let mut lax = open;
    lax.dangerous().allow_unauthenticated_public();
    lax.spawn(listener().await).unwrap().shutdown().await;
}

#[tokio::test]
async fn a_body_that_never_comes_times_out() {
    let server = RemoteSignerServer::new(signer(1))
        .unwrap()
        .with_body_timeout(Duration::from_millis(200));
    let (handle, _) = spawn_signer(server).await;
    let mut tcp = tokio::net::TcpStream::connect(handle.local_addr())
        .await
        .unwrap();
    tcp.write_all(
        b"POST /generate-live-payment HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    handle.shutdown().await;
}
