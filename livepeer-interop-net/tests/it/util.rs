//! Shared fixtures: keys, ticket params, an orchestrator's info, running servers.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use livepeer_core::{Address, H256, LocalSigner, PixelPrice, Signer, U256};
use livepeer_interop::messages::{AuthToken, OrchestratorInfo};
use livepeer_interop_net::{
    OrchestratorServer, RemoteSignerClient, RemoteSignerServer, SelfSignedCert, ServerHandle,
    StaticInfo,
};
use livepeer_pm::{ExpirationParams, TicketParams};
use tokio::net::TcpListener;

pub(crate) fn key(b: u8) -> LocalSigner {
    LocalSigner::from_bytes(&[b; 32]).unwrap()
}

pub(crate) fn signer(b: u8) -> Arc<dyn Signer> {
    Arc::new(key(b))
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// 1000 wei per 10 pixels.
pub(crate) fn price() -> PixelPrice {
    PixelPrice::new(U256::from(1000u64), U256::from(10u64)).unwrap()
}

/// Params with an EV of 1e6 wei: face value 1e9, win probability 1/1000 of 2^256 − 1.
pub(crate) fn params(recipient: Address, rand: u8) -> TicketParams {
    TicketParams::new(
        recipient,
        U256::from(1_000_000_000u64),
        U256::MAX / U256::from(1000u64),
        H256::repeat_byte(rand),
        H256::repeat_byte(0x55),
        1_000_000,
        price(),
        ExpirationParams::new(4000, H256::repeat_byte(0x77)),
    )
}

/// An orchestrator's answer whose auth token expires `expires_in` seconds from now.
pub(crate) fn static_info(orchestrator: Address, transcoder: &str, expires_in: i64) -> StaticInfo {
    StaticInfo::new(
        transcoder,
        orchestrator,
        &price(),
        Some(&params(orchestrator, 0x33)),
        AuthToken {
            token: vec![9; 32],
            session_id: "session-1".into(),
            expiration: now_secs() + expires_in,
        },
    )
    .unwrap()
}

pub(crate) fn info(orchestrator: Address, expires_in: i64) -> OrchestratorInfo {
    static_info(orchestrator, "https://127.0.0.1:8935", expires_in)
        .info()
        .clone()
}

pub(crate) async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

pub(crate) async fn spawn_signer(server: RemoteSignerServer) -> (ServerHandle, RemoteSignerClient) {
    let handle = server.spawn(listener().await).unwrap();
    let client = RemoteSignerClient::new(&format!("http://{}", handle.local_addr())).unwrap();
    (handle, client)
}

pub(crate) async fn spawn_orchestrator(
    server: &OrchestratorServer,
    cert: &SelfSignedCert,
) -> ServerHandle {
    server
        .spawn(listener().await, cert.server_config().unwrap())
        .unwrap()
}
