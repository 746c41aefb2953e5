//! The evidence protocol over real QUIC on loopback: a broadcaster's server, a verifier's
//! client, identity refusal, bad requests, slow clients, and the parsers' properties.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use livepeer_core::chain::ChallengeId;
use livepeer_core::{H256, LocalSigner, MemStore, Signer};
use livepeer_negotiate::quinn::tls;
use livepeer_verify::net::wire::{ALPN, REQUEST_LEN, Request, Response};
use livepeer_verify::net::{EvidenceServer, RemoteEvidence, ServerLimits, parse_endpoint};
use livepeer_verify::{ContentKey, EvidenceError, EvidenceSource, EvidenceSources, EvidenceStore};
use proptest::prelude::*;

fn key(b: u8) -> LocalSigner {
    LocalSigner::from_bytes(&[b; 32]).unwrap()
}

fn serve(store: &EvidenceStore, signer: &LocalSigner, limits: ServerLimits) -> EvidenceServer {
    EvidenceServer::start(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(signer.clone()),
        Arc::new(store.clone()),
        limits,
    )
    .unwrap()
}

#[tokio::test]
async fn blobs_and_missing_keys_round_trip() {
    let store = EvidenceStore::new(Arc::new(MemStore::new()));
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let k_big = store.put(&big).unwrap();
    let k_small = store.put(b"rendition").unwrap();
    let b = key(3);
    let server = serve(&store, &b, ServerLimits::default());
    let remote = RemoteEvidence::new(server.local_addr().unwrap(), b.address()).unwrap();
    assert_eq!(remote.fetch(&k_big).await.unwrap().unwrap(), big);
    assert_eq!(
        &remote.fetch(&k_small).await.unwrap().unwrap()[..],
        b"rendition"
    );
    assert_eq!(remote.fetch(&ContentKey([9; 32])).await.unwrap(), None);
    let unknown = ChallengeId(H256::from([4; 32]));
    assert_eq!(remote.manifest_key(&unknown).await.unwrap(), None);
    // Several requests at once over the one connection.
    let (a, c) = tokio::join!(remote.fetch(&k_small), remote.fetch(&k_big));
    assert_eq!(a.unwrap().unwrap().len(), 9);
    assert_eq!(c.unwrap().unwrap().len(), big.len());

    // A source list falls through to the server that holds it.
    let other = EvidenceStore::new(Arc::new(MemStore::new()));
    let sources = EvidenceSources(vec![Arc::new(other), Arc::new(remote)]);
    assert_eq!(
        &sources.fetch(&k_small).await.unwrap().unwrap()[..],
        b"rendition"
    );
    assert_eq!(sources.fetch(&ContentKey([1; 32])).await.unwrap(), None);
}

#[tokio::test]
async fn a_server_proving_another_address_is_refused() {
    let store = EvidenceStore::new(Arc::new(MemStore::new()));
    let k = store.put(b"x").unwrap();
    let server = serve(&store, &key(3), ServerLimits::default());
    let remote = RemoteEvidence::new(server.local_addr().unwrap(), key(4).address()).unwrap();
    let e = remote.fetch(&k).await.unwrap_err();
    assert!(
        matches!(e, EvidenceError::Malformed(ref m) if m.contains("server identity")),
        "{e}"
    );
}

#[tokio::test]
async fn a_closed_server_is_a_transport_error_and_a_new_one_is_reached_again() {
    let store = EvidenceStore::new(Arc::new(MemStore::new()));
    let k = store.put(b"abc").unwrap();
    let b = key(5);
    let server = serve(&store, &b, ServerLimits::default());
    let addr = server.local_addr().unwrap();
    let remote = RemoteEvidence::new(addr, b.address())
        .unwrap()
        .with_timeout(Duration::from_secs(2));
    assert!(remote.fetch(&k).await.unwrap().is_some());
    server.close();
    drop(server);
    let e = remote.fetch(&k).await.unwrap_err();
    assert!(matches!(e, EvidenceError::Transport(_)), "{e}");
    // Served again on the same port: the client reconnects and proves the server again.
    // (The old socket is released once the closed endpoint's tasks have wound down.)
    let mut server = None;
    for _ in 0..100 {
        let started = EvidenceServer::start(
            addr,
            Arc::new(b.clone()),
            Arc::new(store.clone()),
            ServerLimits::default(),
        );
        if let Ok(s) = started {
            server = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let server = server.expect("the port is free again");
    assert!(remote.fetch(&k).await.unwrap().is_some());
    drop(server);
}

/// A raw client: one stream with `bytes` (finished unless `finish` is false), the answer.
async fn raw(
    addr: std::net::SocketAddr,
    bytes: &[u8],
    finish: bool,
) -> Result<Response, EvidenceError> {
    let ep = tls::endpoint("127.0.0.1:0".parse().unwrap(), None).unwrap();
    let conn = ep
        .connect_with(tls::client_config(ALPN, 8).unwrap(), addr, "x")
        .unwrap()
        .await
        .unwrap();
    let (mut s, mut r) = conn.open_bi().await.unwrap();
    s.write_all(bytes).await.unwrap();
    if finish {
        s.finish().unwrap();
    }
    let data = r.read_to_end(1 << 20).await.unwrap();
    Response::parse(Bytes::from(data), 1 << 20)
}

#[tokio::test]
async fn bad_requests_get_an_error_and_slow_clients_are_cut_off() {
    let store = EvidenceStore::new(Arc::new(MemStore::new()));
    let k = store.put(b"abc").unwrap();
    let mut limits = ServerLimits::default();
    limits.request_timeout = Duration::from_millis(300);
    let server = serve(&store, &key(6), limits);
    let addr = server.local_addr().unwrap();
    // Unknown operation, short, long.
    for bad in [
        vec![7u8; REQUEST_LEN],
        vec![2u8; 5],
        vec![2u8; REQUEST_LEN + 1],
    ] {
        let r = raw(addr, &bad, true).await.unwrap();
        assert!(
            matches!(r, Response::Failed(ref m) if m.contains("request")),
            "{r:?}"
        );
    }
    // A client that never finishes its request.
    let r = raw(addr, &Request::Blob(k).encode()[..10], false)
        .await
        .unwrap();
    assert_eq!(r, Response::Failed("request timed out".into()));
    // The server still answers well-formed requests.
    assert_eq!(
        raw(addr, &Request::Blob(k).encode(), true).await.unwrap(),
        Response::Found(Bytes::from_static(b"abc"))
    );
}

#[test]
fn endpoints_parse() {
    let a = key(1).address();
    let (got, at) = parse_endpoint(&format!("{a:?}@127.0.0.1:4000")).unwrap();
    assert_eq!((got, at.port()), (a, 4000));
    for bad in [
        "127.0.0.1:4000",
        "0x12@127.0.0.1:1",
        &format!("{a:?}@nowhere"),
    ] {
        assert!(
            matches!(parse_endpoint(bad), Err(EvidenceError::Malformed(_))),
            "{bad}"
        );
    }
}

proptest! {
    #[test]
    fn requests_round_trip(op in 0u8..3, id in any::<[u8; 32]>()) {
        let r = match op {
            0 => Request::Hello,
            1 => Request::Manifest(ChallengeId(H256::from(id))),
            _ => Request::Blob(ContentKey(id)),
        };
        prop_assert_eq!(Request::parse(&r.encode()).unwrap(), r);
    }

    #[test]
    fn answers_round_trip(body in proptest::collection::vec(any::<u8>(), 0..2048), kind in 0u8..3) {
        let r = match kind {
            0 => Response::Found(Bytes::from(body)),
            1 => Response::NotFound,
            _ => Response::Failed(String::from_utf8_lossy(&body).chars().take(200).collect()),
        };
        prop_assert_eq!(Response::parse(Bytes::from(r.encode()), 4096).unwrap(), r);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        livepeer_verify::fuzz_entry::evidence_wire(&data);
        if let Ok(Response::Found(b)) = Response::parse(Bytes::from(data.clone()), 50) {
            prop_assert!(b.len() <= 50);
        }
    }
}

#[test]
fn evidence_wire_corpus_replays() {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/evidence_wire");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        livepeer_verify::fuzz_entry::evidence_wire(&data);
        n += 1;
    }
    assert!(n >= 10);
    // The seeds parse as what they are named.
    let seed = |n: &str| {
        std::fs::read(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../fuzz/corpus/evidence_wire")
                .join(n),
        )
        .unwrap()
    };
    assert_eq!(Request::parse(&seed("hello")).unwrap(), Request::Hello);
    assert!(Request::parse(&seed("hello-with-id")).is_err());
    assert_eq!(
        Response::parse(Bytes::from(seed("not-found")), 8).unwrap(),
        Response::NotFound
    );
    assert!(Response::parse(Bytes::from(seed("not-found-body")), 8).is_err());
}
