//! Livepeer's Python SDK against the orchestrator node's go-livepeer port: it discovers the
//! node over gRPC and TLS (trusting its certificate on first use) with the signature of our
//! remote signer holding the gateway's key, takes a live payment from the signer and sends
//! the next one to the node's `POST /payment`, which credits the session.
//!
//! Drives `livepeer-interop-net/tests/python/sdk_net.py`. Without Python or the SDK the test
//! fails and names the install command; `LIVEPEER_INTEROP_SKIP_PYTHON=1` skips it on
//! purpose; `PYTHON` picks the interpreter (default `python3`).

use std::io::Write as _;
use std::process::{Command, Stdio};
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

const INSTALL: &str = "pip install --ignore-requires-python --only-binary=av livepeer-gateway";
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../livepeer-interop-net/tests/python/sdk_net.py"
);

fn run_sdk(input: serde_json::Value) -> serde_json::Value {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .arg(SCRIPT)
        // Outside the SDK's package folder, whose `token.py` would shadow the stdlib.
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{python}` ({e}): this test needs Python 3 with Livepeer's SDK: \
                 `{INSTALL}` (or set LIVEPEER_INTEROP_SKIP_PYTHON=1 to skip it)"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        panic!(
            "Livepeer's Python SDK is not installed for `{python}`: `{INSTALL}` \
             (or set LIVEPEER_INTEROP_SKIP_PYTHON=1 to skip this test)\n{stderr}"
        );
    }
    assert!(
        out.status.success(),
        "sdk_net.py failed ({}):\n{stderr}",
        out.status
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_discovers_and_pays_the_node() {
    if std::env::var_os("LIVEPEER_INTEROP_SKIP_PYTHON").is_some_and(|v| v == "1") {
        eprintln!("LIVEPEER_INTEROP_SKIP_PYTHON=1: skipping the Python SDK test");
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
