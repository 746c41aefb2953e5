//! `POST /payment` on the orchestrator's port: a payment from our remote signer sent by our
//! client, checked by a sink; bad headers refused as go-livepeer refuses them.

use std::sync::{Arc, Mutex};

use livepeer_core::{Address, Signer};
use livepeer_interop::RemoteError;
use livepeer_interop::messages::{OrchestratorInfo, Payment, SegData};
use livepeer_interop_net::remote_signer::LivePaymentRequest;
use livepeer_interop_net::{
    CertPins, NetError, OrchestratorHttpClient, OrchestratorServer, PaymentRoute, PaymentSink,
    RemoteSignerServer, SelfSignedCert, StaticInfo,
};
use prost::Message;

use crate::util::{key, listener, signer, spawn_signer, static_info};

/// Records what it is sent; refuses when told to.
pub(crate) struct Sink {
    pub(crate) info: StaticInfo,
    pub(crate) got: Mutex<Vec<(Address, Payment, SegData)>>,
    pub(crate) refuse: Option<String>,
}

impl PaymentSink for Sink {
    fn process_payment(
        &self,
        sender: Address,
        payment: &Payment,
        seg: &SegData,
    ) -> Result<OrchestratorInfo, String> {
        if let Some(r) = &self.refuse {
            return Err(r.clone());
        }
        self.got
            .lock()
            .unwrap()
            .push((sender, payment.clone(), seg.clone()));
        Ok(self.info.info().clone())
    }
}

/// An orchestrator whose info names its own port, with a recording `/payment` sink.
pub(crate) async fn orchestrator_with_sink(
    refuse: Option<String>,
) -> (
    livepeer_interop_net::ServerHandle,
    Arc<Sink>,
    StaticInfo,
    SelfSignedCert,
) {
    let l = listener().await;
    let uri = format!("https://{}", l.local_addr().unwrap());
    let info = static_info(key(2).address(), &uri, 1800);
    let sink = Arc::new(Sink {
        info: info.clone(),
        got: Mutex::new(Vec::new()),
        refuse,
    });
    let cert = SelfSignedCert::generate(&["localhost"]).unwrap();
    let server = OrchestratorServer::new(Arc::new(info.clone()))
        .with_http_routes(Arc::new(PaymentRoute::new(sink.clone())));
    let handle = server.spawn(l, cert.server_config().unwrap()).unwrap();
    (handle, sink, info, cert)
}

#[tokio::test]
async fn a_signed_payment_reaches_the_sink() {
    let (orch, sink, info, cert) = orchestrator_with_sink(None).await;
    let (signer_handle, signer_client) =
        spawn_signer(RemoteSignerServer::new(signer(1)).unwrap()).await;
    let info = info.info().clone();
    let paid = signer_client
        .generate_live_payment(&LivePaymentRequest {
            orchestrator: info.encode_to_vec(),
            manifest_id: "m".into(),
            job_type: "live".into(),
            ..LivePaymentRequest::default()
        })
        .await
        .unwrap();

    let pins = CertPins::new();
    let client = OrchestratorHttpClient::new(pins.clone());
    let result = client
        .payment(&info.transcoder, &paid.payment, &paid.seg_creds)
        .await
        .unwrap();
    assert_eq!(result.info.as_ref(), Some(&info));
    assert_eq!(
        pins.get(&orch.local_addr().to_string()),
        Some(cert.fingerprint())
    );
    let got = sink.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (sender, payment, seg) = &got[0];
    assert_eq!(*sender, key(1).address());
    crate::signer::check_payment(payment, &info, key(1).address(), 1);
    assert_eq!(seg.manifest_id, b"m");

    // Bad headers: a payment that does not decode, credentials signed by someone else.
    let err = client
        .payment(&info.transcoder, "!!", &paid.seg_creds)
        .await
        .unwrap_err();
    assert!(
        matches!(err, NetError::HttpRefused { status: 402, .. }),
        "{err:?}"
    );
    let other = livepeer_interop::build_seg_data(
        b"m",
        0,
        b"",
        Vec::new(),
        std::time::Duration::ZERO,
        info.auth_token.clone().unwrap(),
        &key(7),
    )
    .unwrap();
    let forged = livepeer_interop::encode_segment_header(&other);
    let err = client
        .payment(&info.transcoder, &paid.payment, &forged)
        .await
        .unwrap_err();
    assert!(
        matches!(err, NetError::HttpRefused { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(sink.got.lock().unwrap().len(), 1);
    orch.shutdown().await;
    signer_handle.shutdown().await;
}

#[tokio::test]
async fn refusals_are_named() {
    let (orch, _, info, _) = orchestrator_with_sink(Some("Insufficient balance".into())).await;
    let gw = key(1);
    let info = info.info().clone();
    let seg = livepeer_interop::build_seg_data(
        b"m",
        0,
        b"",
        Vec::new(),
        std::time::Duration::ZERO,
        info.auth_token.clone().unwrap(),
        &gw,
    )
    .unwrap();
    let payment =
        livepeer_interop::payment_without_tickets(gw.address(), info.price_info.as_ref().unwrap());
    let err = OrchestratorHttpClient::new(CertPins::new())
        .payment(
            &info.transcoder,
            &livepeer_interop::encode_payment_header(&payment),
            &livepeer_interop::encode_segment_header(&seg),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        NetError::HttpRefused {
            status: 400,
            error: RemoteError::InsufficientBalance
        }
    );
    orch.shutdown().await;
}

#[tokio::test]
async fn a_restarted_orchestrator_is_reconnected() {
    let (orch, sink, info, cert) = orchestrator_with_sink(None).await;
    let addr = orch.local_addr();
    let gw = key(1);
    let info = info.info().clone();
    let seg = livepeer_interop::build_seg_data(
        b"m",
        0,
        b"",
        Vec::new(),
        std::time::Duration::ZERO,
        info.auth_token.clone().unwrap(),
        &gw,
    )
    .unwrap();
    let seg = livepeer_interop::encode_segment_header(&seg);
    let payment = livepeer_interop::encode_payment_header(
        &livepeer_interop::payment_without_tickets(gw.address(), info.price_info.as_ref().unwrap()),
    );
    let client = OrchestratorHttpClient::new(CertPins::new());
    client
        .payment(&info.transcoder, &payment, &seg)
        .await
        .unwrap();
    client
        .payment(&info.transcoder, &payment, &seg)
        .await
        .unwrap();
    orch.shutdown().await;
    // Same port, same certificate: the closed connection is replaced.
    let server = OrchestratorServer::new(Arc::new(StaticInfo::from_info(info.clone())))
        .with_http_routes(Arc::new(PaymentRoute::new(sink.clone())));
    let l = tokio::net::TcpListener::bind(addr).await.unwrap();
    let orch = server.spawn(l, cert.server_config().unwrap()).unwrap();
    client
        .payment(&info.transcoder, &payment, &seg)
        .await
        .unwrap();
    assert_eq!(sink.got.lock().unwrap().len(), 3);
    orch.shutdown().await;
}
