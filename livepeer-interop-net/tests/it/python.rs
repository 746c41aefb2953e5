//! Livepeer's Python SDK against our servers: it discovers our orchestrator over gRPC and
//! TLS with the signature from our remote signer, takes a live payment from the signer,
//! and sends a second one to the orchestrator's `POST /payment`.
//!
//! Not optional by accident: without Python or the SDK the test fails and names the
//! install command. `LIVEPEER_INTEROP_SKIP_PYTHON=1` skips it on purpose; `PYTHON` picks
//! the interpreter (default `python3`).

use livepeer_interop_net::test_utils::{run_sdk, skip_python};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use livepeer_core::Signer;
use livepeer_interop::{decode_payment_header, verify_seg_data};
use livepeer_interop_net::{OrchestratorServer, PaymentRoute, RemoteSignerServer, SelfSignedCert};
use prost::Message;

use crate::discovery::recording;
use crate::payment::Sink;
use crate::signer::{check_payment, check_seg_creds};
use crate::util::{key, listener, signer, spawn_signer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_discovers_and_pays_through_our_servers() {
    if skip_python("the Python SDK transport test") {
        return;
    }
    let gateway = key(1);
    let orch = key(2).address();
    let (signer_handle, _) = spawn_signer(RemoteSignerServer::new(signer(1)).unwrap()).await;
    // The SDK overrides the authority with the certificate's DNS name and dials the IP;
    // the info names the orchestrator's own port, where the SDK posts its payment.
    let cert = SelfSignedCert::generate(&["localhost"]).unwrap();
    let l = listener().await;
    let source = recording(orch, &format!("https://{}", l.local_addr().unwrap()));
    let sink = Arc::new(Sink {
        info: source.info.clone(),
        got: Mutex::new(Vec::new()),
        refuse: None,
    });
    let orch_handle = OrchestratorServer::new(source.clone())
        .with_http_routes(Arc::new(PaymentRoute::new(sink.clone())))
        .spawn(l, cert.server_config().unwrap())
        .unwrap();

    let input = serde_json::json!({
        "orchestrator": format!("https://{}", orch_handle.local_addr()),
        "signer": format!("http://{}", signer_handle.local_addr()),
    });
    let out = tokio::task::spawn_blocking(move || run_sdk(input))
        .await
        .unwrap();

    // The SDK's GetOrchestrator carried our signer's address and a signature that the
    // orchestrator checked.
    assert_eq!(*source.seen.lock().unwrap(), vec![gateway.address()]);
    assert_eq!(
        out["signer"]["address"].as_str().unwrap().to_lowercase(),
        format!("{:?}", gateway.address())
    );
    // It decoded exactly what we served.
    let info_bytes = STANDARD.decode(out["info"].as_str().unwrap()).unwrap();
    let info = livepeer_interop::messages::OrchestratorInfo::decode(info_bytes.as_slice()).unwrap();
    assert_eq!(&info, source.info.info());
    // The payment it got: tickets signed by the gateway against the params, segment
    // credentials under the orchestrator's auth token.
    let payments = out["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 1);
    let p = &payments[0];
    let payment = decode_payment_header(p["payment"].as_str().unwrap().as_bytes()).unwrap();
    let first = check_payment(&payment, &info, gateway.address(), 1) as u32;
    check_seg_creds(
        p["segCreds"].as_str().unwrap(),
        &info,
        gateway.address(),
        "python-manifest",
    );
    // The payment it sent to /payment: the next nonces, the same session.
    let got = sink.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (sender, sent, seg) = &got[0];
    assert_eq!(*sender, gateway.address());
    check_payment(sent, &info, gateway.address(), 1 + first);
    verify_seg_data(seg, &gateway.address()).unwrap();
    assert_eq!(seg.manifest_id, b"python-manifest");
    assert_eq!(seg.auth_token, info.auth_token);
    orch_handle.shutdown().await;
    signer_handle.shutdown().await;
}
