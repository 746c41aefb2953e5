//! Discovery: `GetOrchestrator` over gRPC and TLS between our client and server, pinning,
//! bad signatures, malformed protobuf, and HTTP routes on the same port.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioExecutor;
use livepeer_core::{Address, Signer};
use livepeer_interop::messages::{OrchestratorInfo, OrchestratorRequest};
use livepeer_interop_net::orchestrator::HttpFuture;
use livepeer_interop_net::tls::Fingerprint;
use livepeer_interop_net::{
    CertPins, HttpRoutes, InfoRefusal, InfoSource, NetError, OrchestratorClient,
    OrchestratorServer, PinnedConnector, RemoteSignerServer, RequestSigner, SelfSignedCert,
    StaticInfo,
};
use tonic::body::Body;

use crate::util::{key, signer, spawn_orchestrator, spawn_signer, static_info};

/// Answers with a fixed info and records who asked.
pub(crate) struct Recording {
    pub(crate) info: StaticInfo,
    pub(crate) seen: Mutex<Vec<Address>>,
}

impl InfoSource for Recording {
    fn orchestrator_info(
        &self,
        gateway: Address,
        request: &OrchestratorRequest,
    ) -> Result<OrchestratorInfo, InfoRefusal> {
        self.seen.lock().unwrap().push(gateway);
        self.info.orchestrator_info(gateway, request)
    }
}

pub(crate) fn recording(orch: Address, uri: &str) -> Arc<Recording> {
    Arc::new(Recording {
        info: static_info(orch, uri, 1800),
        seen: Mutex::new(Vec::new()),
    })
}

#[tokio::test]
async fn discovers_and_pins() {
    let orch = key(2).address();
    let source = recording(orch, "https://127.0.0.1:1");
    let cert = SelfSignedCert::generate(&["localhost", "127.0.0.1"]).unwrap();
    let handle = spawn_orchestrator(&OrchestratorServer::new(source.clone()), &cert).await;
    let uri = format!("https://{}", handle.local_addr());

    let client = OrchestratorClient::default();
    let gw = RequestSigner::Local(signer(1));
    let info = client.discover(&uri, &gw, None, Some(orch)).await.unwrap();
    assert_eq!(&info, source.info.info());
    assert_eq!(*source.seen.lock().unwrap(), vec![key(1).address()]);
    let target = handle.local_addr().to_string();
    assert_eq!(client.pins().get(&target), Some(cert.fingerprint()));

    // The same certificate again is fine; the answer for another address is not.
    let err = client
        .discover(&uri, &gw, None, Some(key(9).address()))
        .await
        .unwrap_err();
    assert!(matches!(err, NetError::AddressMismatch { got, .. } if got == orch));
    handle.shutdown().await;
}

#[tokio::test]
async fn signs_through_the_remote_signer() {
    let (signer_handle, signer_client) =
        spawn_signer(RemoteSignerServer::new(signer(5)).unwrap()).await;
    let source = recording(key(2).address(), "https://127.0.0.1:1");
    let cert = SelfSignedCert::generate(&["localhost"]).unwrap();
    let handle = spawn_orchestrator(&OrchestratorServer::new(source.clone()), &cert).await;
    let client = OrchestratorClient::default();
    let gw = RequestSigner::Remote(Box::new(signer_client));
    client
        .discover(&handle.local_addr().to_string(), &gw, None, None)
        .await
        .unwrap();
    assert_eq!(*source.seen.lock().unwrap(), vec![key(5).address()]);
    handle.shutdown().await;
    signer_handle.shutdown().await;
}

#[tokio::test]
async fn refuses_bad_signatures_unless_told_otherwise() {
    let source = recording(key(2).address(), "https://127.0.0.1:1");
    let cert = SelfSignedCert::generate(&["localhost"]).unwrap();
    let strict = OrchestratorServer::new(source.clone());
    let handle = spawn_orchestrator(&strict, &cert).await;
    let uri = handle.local_addr().to_string();
    let client = OrchestratorClient::default();

    // Address of one key, signature of another.
    let mut forged = livepeer_interop::orchestrator_request(&key(1), None).unwrap();
    forged.address = key(3).address().as_bytes().to_vec();
    let err = client
        .get_orchestrator(&uri, forged.clone(), None)
        .await
        .unwrap_err();
    assert_eq!(err.refused_code(), Some(tonic::Code::Unknown));
    assert!(
        err.to_string().contains("Invalid orchestrator request"),
        "{err}"
    );
    let unsigned = OrchestratorRequest::default();
    assert!(
        client
            .get_orchestrator(&uri, unsigned.clone(), None)
            .await
            .is_err()
    );
    assert!(source.seen.lock().unwrap().is_empty());
    handle.shutdown().await;

    let mut lax = OrchestratorServer::new(source.clone());
    lax.dangerous().accept_unsigned();
    let handle = spawn_orchestrator(&lax, &cert).await;
    let uri = handle.local_addr().to_string();
    client.get_orchestrator(&uri, unsigned, None).await.unwrap();
    client.get_orchestrator(&uri, forged, None).await.unwrap();
    assert_eq!(
        *source.seen.lock().unwrap(),
        vec![Address::zero(), key(3).address()]
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn a_changed_certificate_is_refused() {
    let source = recording(key(2).address(), "https://127.0.0.1:1");
    let server = OrchestratorServer::new(source);
    let first = SelfSignedCert::generate(&["localhost"]).unwrap();
    let handle = spawn_orchestrator(&server, &first).await;
    let addr = handle.local_addr();
    let uri = addr.to_string();
    let client = OrchestratorClient::default();
    let gw = RequestSigner::Local(signer(1));
    client.discover(&uri, &gw, None, None).await.unwrap();
    handle.shutdown().await;

    // The orchestrator restarts on the same port with a fresh certificate.
    let second = SelfSignedCert::generate(&["localhost"]).unwrap();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let handle = server
        .spawn(listener, second.server_config().unwrap())
        .unwrap();
    let err = client.discover(&uri, &gw, None, None).await.unwrap_err();
    assert_eq!(
        err,
        NetError::CertificateChanged {
            target: uri.clone(),
            pinned: first.fingerprint().to_hex(),
            presented: second.fingerprint().to_hex(),
        }
    );
    assert!(err.is_certificate_changed());
    // Only forgetting the pin deliberately lets the new certificate in.
    client.pins().forget(&uri);
    client.discover(&uri, &gw, None, None).await.unwrap();
    assert_eq!(client.pins().get(&uri), Some(second.fingerprint()));

    // A pin learnt out of band is enforced from the first connection.
    let pins = CertPins::new();
    pins.insert(&uri, Fingerprint::of(b"another certificate"));
    let err = OrchestratorClient::new(pins)
        .discover(&uri, &gw, None, None)
        .await
        .unwrap_err();
    assert!(err.is_certificate_changed(), "{err:?}");
    handle.shutdown().await;
}

/// A raw HTTP/2 exchange over the pinned connector.
async fn h2_request(
    addr: std::net::SocketAddr,
    request: http::Request<Full<Bytes>>,
) -> (http::response::Parts, Bytes, Option<http::HeaderMap>) {
    let io = PinnedConnector::new(CertPins::new())
        .connect("127.0.0.1", addr.port())
        .await
        .unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(io),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let resp = send.send_request(request).await.unwrap();
    let (parts, body) = resp.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    (parts, collected.to_bytes(), trailers)
}

fn grpc_status(parts: &http::response::Parts, trailers: &Option<http::HeaderMap>) -> String {
    let from = |h: &http::HeaderMap| h.get("grpc-status").map(|v| v.to_str().unwrap().to_owned());
    from(&parts.headers)
        .or_else(|| trailers.as_ref().and_then(from))
        .expect("a grpc-status")
}

#[tokio::test]
async fn malformed_protobuf_is_a_grpc_error() {
    let source = recording(key(2).address(), "https://127.0.0.1:1");
    let cert = SelfSignedCert::generate(&["localhost"]).unwrap();
    let handle = spawn_orchestrator(&OrchestratorServer::new(source.clone()), &cert).await;
    let addr = handle.local_addr();
    let grpc = |path: &str, payload: &[u8]| {
        let mut framed = vec![0u8];
        framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        framed.extend_from_slice(payload);
        http::Request::builder()
            .method("POST")
            .uri(format!("https://localhost:{}{path}", addr.port()))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(Full::new(Bytes::from(framed)))
            .unwrap()
    };
    // Field 1 declared 200 bytes long, 3 given.
    let (parts, _, trailers) = h2_request(
        addr,
        grpc(
            "/net.Orchestrator/GetOrchestrator",
            &[0x0a, 0xc8, 0x01, 1, 2, 3],
        ),
    )
    .await;
    assert_eq!(grpc_status(&parts, &trailers), "13"); // INTERNAL: decode failure
    // A message over the bound is refused before decoding.
    let big = vec![0u8; 100 * 1024];
    let (parts, _, trailers) =
        h2_request(addr, grpc("/net.Orchestrator/GetOrchestrator", &big)).await;
    assert_eq!(grpc_status(&parts, &trailers), "11"); // OUT_OF_RANGE: over the bound
    let (parts, _, trailers) = h2_request(addr, grpc("/net.Orchestrator/Nope", &[])).await;
    assert_eq!(grpc_status(&parts, &trailers), "12"); // UNIMPLEMENTED
    assert!(source.seen.lock().unwrap().is_empty());
    handle.shutdown().await;
}

struct Ping;

impl HttpRoutes for Ping {
    fn handle(&self, request: http::Request<Incoming>) -> HttpFuture {
        Box::pin(async move {
            let (status, body) = if request.uri().path() == "/ping" {
                (200, "pong")
            } else {
                (404, "no")
            };
            let mut resp =
                http::Response::new(Body::new(Full::new(Bytes::from_static(body.as_bytes()))));
            *resp.status_mut() = http::StatusCode::from_u16(status).unwrap();
            resp
        })
    }
}

#[tokio::test]
async fn http_routes_share_the_port() {
    let orch = key(2).address();
    let source = recording(orch, "https://127.0.0.1:1");
    let cert = SelfSignedCert::generate(&["localhost"]).unwrap();
    let server = OrchestratorServer::new(source.clone()).with_http_routes(Arc::new(Ping));
    let handle = spawn_orchestrator(&server, &cert).await;
    let addr = handle.local_addr();
    let get = |path: &str| {
        http::Request::builder()
            .uri(format!("https://localhost:{}{path}", addr.port()))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let (parts, body, _) = h2_request(addr, get("/ping")).await;
    assert_eq!((parts.status.as_u16(), &body[..]), (200, &b"pong"[..]));
    let (parts, _, _) = h2_request(addr, get("/segment")).await;
    assert_eq!(parts.status.as_u16(), 404);
    // gRPC on the same port still answers.
    let info = OrchestratorClient::default()
        .discover(
            &addr.to_string(),
            &RequestSigner::Local(signer(1)),
            None,
            Some(orch),
        )
        .await
        .unwrap();
    assert_eq!(&info, source.info.info());
    handle.shutdown().await;

    // Without routes, anything but gRPC is 404.
    let handle = spawn_orchestrator(&OrchestratorServer::new(source), &cert).await;
    let (parts, _, _) = h2_request(handle.local_addr(), get("/ping")).await;
    assert_eq!(parts.status.as_u16(), 404);
    handle.shutdown().await;
}

#[tokio::test]
async fn unreachable_and_bad_uris_are_typed() {
    let client = OrchestratorClient::default();
    let gw = RequestSigner::Local(signer(1));
    let err = client
        .discover("http://h:1", &gw, None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, NetError::InvalidUri { .. }));
    // A port nobody listens on.
    let l = crate::util::listener().await;
    let addr = l.local_addr().unwrap();
    drop(l);
    let err = client
        .discover(&addr.to_string(), &gw, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, NetError::Connect { .. } | NetError::Timeout { .. }),
        "{err:?}"
    );
    let _ = key(1).address();
}

#[tokio::test]
async fn connections_beyond_the_bound_wait() {
    let source = recording(key(2).address(), "https://127.0.0.1:1");
    let cert = SelfSignedCert::generate(&["localhost"]).unwrap();
    let server = OrchestratorServer::new(source).with_max_connections(1);
    let handle = spawn_orchestrator(&server, &cert).await;
    let uri = handle.local_addr().to_string();
    // One idle connection holds the only slot.
    let idle = tokio::net::TcpStream::connect(handle.local_addr())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let client =
        OrchestratorClient::default().with_connect_timeout(std::time::Duration::from_millis(300));
    let gw = RequestSigner::Local(signer(1));
    let err = client.discover(&uri, &gw, None, None).await.unwrap_err();
    assert!(matches!(err, NetError::Timeout { .. }), "{err:?}");
    drop(idle);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    client.discover(&uri, &gw, None, None).await.unwrap();
    handle.shutdown().await;
}
