//! Livepeer's Python SDK against the orchestrator node's go-livepeer port: it discovers the
//! node over gRPC and TLS (trusting its certificate on first use) with the signature of our
//! remote signer holding the gateway's key, takes a live payment from the signer and sends
//! the next one to the node's `POST /payment`, which credits the session.
//!
//! Drives `livepeer-interop-net/tests/python/sdk_net.py`. Without Python or the SDK the test
//! fails and names the install command; `LIVEPEER_INTEROP_SKIP_PYTHON=1` skips it on
//! purpose; `PYTHON` picks the interpreter (default `python3`).

use livepeer_interop_net::test_utils::{run_sdk, skip_python};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use livepeer_core::chain::TicketFunding as _;
use livepeer_core::{Signer as _, StreamId, U256, Wei};
use livepeer_interop::messages::OrchestratorInfo;
use livepeer_interop::{decode_payment_header, payment_to_batch, ticket_params_from_info};
use livepeer_interop_net::RemoteSignerServer;
use livepeer_interop_net::remote_signer::PaymentPolicy;
use prost::Message as _;

use crate::net::Net;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_discovers_and_pays_the_node() {
    if skip_python("the Python SDK test") {
        return;
    }
    let net = Net::start().await;
    let orch = net
        .orchestrator_with(6, super::software(false), |b| {
            b.livepeer_listen(([127, 0, 0, 1], 0).into())
        })
        .await;
    let node = orch.node;
    let uri = node.livepeer().unwrap().uri().to_owned();
    let (gw, chain) = net.account(7).await;
    let eth = Wei(U256::exp10(19));
    chain.fund_deposit_and_reserve(eth, eth).await.unwrap();

    // The gateway's key in our remote signer; this node's ticket EV is above go-livepeer's
    // default cap, so the signer is told to accept it.
    let mut policy = PaymentPolicy::default();
    policy.max_ev = Wei(U256::exp10(16));
    policy.max_total_ev = Wei(U256::exp10(17));
    let signer = RemoteSignerServer::new(Arc::new(gw.clone()))
        .unwrap()
        .with_policy(policy);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let signer_handle = signer.spawn(l).unwrap();

    let input = serde_json::json!({
        "orchestrator": uri,
        "signer": format!("http://{}", signer_handle.local_addr()),
    });
    let out = tokio::task::spawn_blocking(move || run_sdk(input))
        .await
        .unwrap();

    // The SDK decoded the node's info.
    let info_bytes = STANDARD.decode(out["info"].as_str().unwrap()).unwrap();
    let info = OrchestratorInfo::decode(info_bytes.as_slice()).unwrap();
    assert_eq!(info.transcoder, uri);
    assert_eq!(info.address, node.address().as_bytes());
    let params = ticket_params_from_info(&info).unwrap();
    assert_eq!(params.recipient, node.address());
    // The signer paid with the gateway's tickets against the node's params.
    let payment =
        decode_payment_header(out["payments"][0]["payment"].as_str().unwrap().as_bytes()).unwrap();
    let received = payment_to_batch(&payment).unwrap();
    assert_eq!(received.sender, gw.address());
    assert!(!received.batch.unwrap().tickets.is_empty());
    // The SDK's next payment reached the node's /payment and credited the session.
    let session = &info.auth_token.as_ref().unwrap().session_id;
    let credit = node
        .payments()
        .credit(gw.address(), StreamId::from_name(session));
    assert!(
        credit.0 > U256::zero(),
        "the session has credit: {credit:?}"
    );
    eprintln!(
        "the SDK discovered {uri} and paid; the session holds {} wei, {} winners",
        credit.0,
        node.winners().winners().len()
    );
    signer_handle.shutdown().await;
    node.close();
}
