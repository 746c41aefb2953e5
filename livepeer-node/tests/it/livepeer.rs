//! The orchestrator node serving a go-livepeer gateway on go-livepeer's protocol (feature
//! `livepeer`), on the embedded chain: discovery over TLS with the certificate pinned,
//! tickets in Livepeer's `Payment` form, a real MPEG-TS segment transcoded and signed, the
//! renditions downloaded at the asked size, a winner persisted and redeemed; bad payments
//! and segments refused with go-livepeer's errors and nothing paid.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use livepeer_core::chain::TicketFunding as _;
use livepeer_core::{LocalSigner, Signer, StreamId, U256, Wei};
use livepeer_interop::messages::{OrchestratorInfo, VideoProfile};
use livepeer_interop::{
    RemoteError, TranscodeOutcome, build_seg_data, encode_payment_header, encode_segment_header,
    payment_from_batch, payment_without_tickets, ticket_params_from_info, verify_transcode_result,
};
use livepeer_interop_net::{
    CertPins, NetError, OrchestratorClient, OrchestratorHttpClient, RequestSigner,
};
use livepeer_node::livepeer::LivepeerConfig;
use livepeer_pm::{TicketBatch, TicketHasher, TicketSig};
use livepeer_transcode::{InputLimits, inspect};

use crate::net::Net;

/// A 2 s 426x240 25 fps H.264 MPEG-TS segment starting with a key frame; `None` without
/// ffmpeg.
fn ts_segment() -> Option<Bytes> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("livepeer-node-media");
    let path = dir.join("seg-240p25.ts");
    if !path.exists() {
        std::fs::create_dir_all(&dir).ok()?;
        let tmp = dir.join(format!("seg-{}.ts", std::process::id()));
        let ok = std::process::Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
            .arg("testsrc2=size=426x240:rate=25")
            .args(["-t", "2", "-c:v", "libx264", "-g", "50", "-bf", "0"])
            .args(["-pix_fmt", "yuv420p", "-f", "mpegts"])
            .arg(&tmp)
            .status()
            .ok()?
            .success();
        if !ok {
            return None;
        }
        std::fs::rename(&tmp, &path).ok()?;
    }
    std::fs::read(&path).ok().map(Bytes::from)
}

fn profile() -> VideoProfile {
    VideoProfile {
        name: "P144p25fps16x9".into(),
        width: 256,
        height: 144,
        bitrate: 400_000,
        fps: 25,
        ..VideoProfile::default()
    }
}

/// `count` tickets from `gw` against `info`'s params, nonces from `first`, as the
/// `Livepeer-Payment` header.
fn pay(info: &OrchestratorInfo, gw: &LocalSigner, first: u32, count: u32) -> (String, TicketBatch) {
    let params = ticket_params_from_info(info).unwrap();
    let hasher = TicketHasher::new(&params, gw.address());
    let tickets = (first..first + count)
        .map(|n| {
            let sig = gw.sign_message_hash(&hasher.hash(n)).unwrap();
            TicketSig::new(n, sig.as_bytes().to_vec())
        })
        .collect();
    let batch = TicketBatch::new(params, gw.address(), tickets);
    let payment = payment_from_batch(&batch, info.price_info.as_ref().unwrap()).unwrap();
    (encode_payment_header(&payment), batch)
}

fn seg_header(info: &OrchestratorInfo, gw: &LocalSigner, seq: i64, body: &[u8]) -> String {
    encode_segment_header(
        &build_seg_data(
            b"manifest",
            seq,
            body,
            vec![profile()],
            Duration::from_secs(2),
            info.auth_token.clone().unwrap(),
            gw,
        )
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_go_livepeer_gateway_discovers_pays_and_gets_signed_renditions() {
    let Some(body) = ts_segment() else {
        eprintln!("skipped: no ffmpeg to make the segment");
        return;
    };
    // Rounds of 100 blocks (20 s): the 25-block params, which outlast the steps below on a
    // loaded machine, leave their winners at least 15 s to be redeemed once they expire.
    let net = Net::start_long_rounds().await;
    let mut config = LivepeerConfig::new(([127, 0, 0, 1], 0).into());
    config.max_segment = 2 * body.len();
    let orch = net
        .orchestrator_with(4, super::software(false), |b| {
            b.livepeer(config).params_validity_blocks(25)
        })
        .await;
    let ops = orch.ops;
    let node = orch.node;
    let port = node.livepeer().expect("the go-livepeer port");
    let uri = port.uri().to_owned();
    assert!(uri.starts_with("https://127.0.0.1:"), "{uri}");

    let (gw, chain) = net.account(5).await;
    let pins = CertPins::new();
    let client = OrchestratorClient::new(pins.clone());
    // A gateway with nothing deposited gets no ticket params; once it has deposited, it
    // does (its funds are read again).
    let unfunded = client
        .discover(
            &uri,
            &RequestSigner::Local(Arc::new(gw.clone())),
            None,
            None,
        )
        .await
        .unwrap_err();
    assert!(
        unfunded.to_string().contains("insufficient sender reserve"),
        "{unfunded}"
    );
    let eth = Wei(U256::exp10(19));
    chain.fund_deposit_and_reserve(eth, eth).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;

    // Discovery: signed request, certificate pinned, the node's own info.
    let signer: Arc<dyn Signer> = Arc::new(gw.clone());
    let info = client
        .discover(
            &uri,
            &RequestSigner::Local(signer),
            None,
            Some(node.address()),
        )
        .await
        .unwrap();
    assert_eq!(info.transcoder, uri);
    assert_eq!(info.address, node.address().as_bytes());
    let target = uri.trim_start_matches("https://");
    assert_eq!(pins.get(target), Some(port.fingerprint()), "pinned");
    let params = ticket_params_from_info(&info).unwrap();
    assert_eq!(params.recipient, node.address());
    // Enough tickets that one wins but for a one-in-a-million draw.
    let p = (params.win_prob >> 192).low_u64() as f64 / 2f64.powi(64);
    let count = ((1e-6f64).ln() / (1.0 - p.min(0.999)).ln())
        .ceil()
        .clamp(1.0, 400.0) as u32;

    let http =
        OrchestratorHttpClient::new(pins.clone()).with_segment_timeout(Duration::from_secs(60));
    let (payment, batch) = pay(&info, &gw, 1, count);
    let resp = http
        .segment(
            &uri,
            &seg_header(&info, &gw, 0, &body),
            &payment,
            body.clone(),
            1,
        )
        .await
        .unwrap();
    assert_eq!(resp.seq, 0);
    let TranscodeOutcome::Transcoded(data) = resp.outcome else {
        panic!("transcoded: {:?}", resp.outcome);
    };
    let next = resp.info.expect("refreshed info");
    assert_eq!(next.transcoder, uri);
    assert_eq!(
        next.auth_token, info.auth_token,
        "the session's token is kept"
    );

    // The renditions: downloaded through the same pins, signed, at the asked size.
    let mut renditions = Vec::new();
    for s in &data.segments {
        assert!(s.url.starts_with(&uri), "{}", s.url);
        assert!(s.pixels > 0);
        renditions.push(http.download(&s.url, 16 << 20).await.unwrap());
    }
    verify_transcode_result(&data, &renditions, &node.address()).unwrap();
    let seg = livepeer_core::Segment {
        seq: 0,
        duration: Duration::from_secs(2),
        data: renditions[0].clone(),
        container: livepeer_core::Container::MpegTs,
        codec: livepeer_core::VideoCodec::H264,
    };
    let got = inspect(&seg, InputLimits::default()).unwrap();
    assert_eq!((got.width, got.height), (256, 144));
    assert!(got.frames >= 40, "{got:?}");
    let missing = http
        .download(&format!("{uri}/stream/nothing/P144p/0.ts"), 1024)
        .await
        .unwrap_err();
    assert!(
        matches!(missing, NetError::HttpRefused { status: 404, .. }),
        "{missing:?}"
    );

    // The next segment of the session, paid from the credit left, under the refreshed info.
    let from_credit = encode_payment_header(&payment_without_tickets(
        gw.address(),
        next.price_info.as_ref().unwrap(),
    ));
    let resp = http
        .segment(
            &uri,
            &seg_header(&next, &gw, 1, &body),
            &from_credit,
            body.clone(),
            1,
        )
        .await
        .unwrap();
    assert!(
        matches!(resp.outcome, TranscodeOutcome::Transcoded(_)),
        "{:?}",
        resp.outcome
    );

    // Paid: a winner persisted before the answer, and credit left for the session.
    let won = node.winners().winners().len();
    assert!(won >= 1, "{count} tickets at p={p}: none won");
    let session = info.auth_token.as_ref().unwrap().session_id.clone();
    let stream = StreamId::from_name(&session);
    let credit = node.payments().credit(gw.address(), stream);
    assert!(credit.0 > U256::zero());
    assert!(batch.ev().0 > credit.0, "the segment was debited");

    // Refusals: typed, go-livepeer's errors, nothing transcoded or paid.
    let kept = port.renditions().len();
    let unchanged = |what: &str| {
        assert_eq!(node.winners().winners().len(), won, "{what}: no new winner");
        assert_eq!(
            node.payments().credit(gw.address(), stream),
            credit,
            "{what}: nothing credited"
        );
        assert_eq!(port.renditions().len(), kept, "{what}: nothing transcoded");
    };
    let refused = |e: NetError| match e {
        NetError::HttpRefused { status, error } => (status, error),
        e => panic!("a refusal: {e:?}"),
    };
    let refusal = async |segment: &str, payment: &str, body: Bytes| {
        refused(
            http.segment(&uri, segment, payment, body, 1)
                .await
                .unwrap_err(),
        )
    };
    let seg2 = seg_header(&info, &gw, 2, &body);
    // A forged ticket signature.
    let (_, mut forged) = pay(&info, &gw, 1 + count, 1);
    forged.tickets[0].sig[5] ^= 1;
    let forged = encode_payment_header(
        &payment_from_batch(&forged, info.price_info.as_ref().unwrap()).unwrap(),
    );
    let (status, error) = refusal(&seg2, &forged, body.clone()).await;
    assert_eq!(status, 400);
    assert!(
        matches!(
            error,
            RemoteError::InvalidTicketSignature | RemoteError::InvalidTicketSender
        ),
        "{error:?}"
    );
    unchanged("forged signature");
    // Tickets against another recipient's params.
    let mut foreign = info.clone();
    foreign.ticket_params.as_mut().unwrap().recipient = vec![7u8; 20];
    let (wrong, _) = pay(&foreign, &gw, 1 + count, 1);
    let (status, _) = refusal(&seg2, &wrong, body.clone()).await;
    assert_eq!(status, 400);
    unchanged("wrong recipient");
    // No tickets for a session without credit: not enough expected value.
    let other = client
        .discover(
            &uri,
            &RequestSigner::Local(Arc::new(gw.clone())),
            None,
            None,
        )
        .await
        .unwrap();
    let free = encode_payment_header(&payment_without_tickets(
        gw.address(),
        other.price_info.as_ref().unwrap(),
    ));
    let (status, error) = refusal(&seg_header(&other, &gw, 0, &body), &free, body.clone()).await;
    assert_eq!((status, error), (400, RemoteError::InsufficientBalance));
    unchanged("no tickets");
    // Segment credentials that do not decode, and an auth token this node did not issue.
    let (status, _) = refusal("%%", &payment, body.clone()).await;
    assert_eq!(status, 403);
    let mut stranger = info.clone();
    stranger.auth_token.as_mut().unwrap().token[0] ^= 1;
    let (status, error) = refusal(
        &seg_header(&stranger, &gw, 2, &body),
        &payment,
        body.clone(),
    )
    .await;
    assert_eq!((status, error), (403, RemoteError::AuthToken));
    unchanged("bad credentials");
    // A malformed payment header.
    let (status, _) = refusal(&seg2, "%%", body.clone()).await;
    assert_eq!(status, 402);
    unchanged("malformed header");
    // A body over the bound.
    let big = Bytes::from(vec![0u8; 3 * body.len()]);
    let (status, _) = refusal(&seg_header(&info, &gw, 2, &big), &payment, big.clone()).await;
    assert_eq!(status, 413);
    unchanged("oversized body");
    // Expired params: the chain moves past their expiration block.
    let expiring = info.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while node.payments().block() <= params.expiration_block {
        assert!(tokio::time::Instant::now() < deadline, "the chain stalled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (late, _) = pay(&expiring, &gw, 1 + count, 1);
    let (status, error) = refusal(&seg2, &late, body.clone()).await;
    assert_eq!((status, error), (400, RemoteError::TicketParamsExpired));
    unchanged("expired params");

    // The segment counts in the node's metrics as a QUIC one does.
    let (code, metrics) = crate::net::http_get(ops, "/metrics").await;
    assert_eq!(code, 200);
    let addr = format!("{:?}", node.address()).to_lowercase();
    let out = metrics
        .lines()
        .find(|l| {
            l.starts_with("livepeer_segments_out_total")
                && l.contains("role=\"orchestrator\"")
                && l.to_lowercase().contains(&addr)
        })
        .unwrap_or_else(|| panic!("no orchestrator segment count:\n{metrics}"));
    assert_eq!(out.rsplit(' ').next().unwrap(), "2", "{out}");

    // Drain: no new sessions while it drains, the port stops with the node, and every
    // winner is redeemed.
    // (What drain sets first; here before the drain, which may end at once when the
    // follower has already redeemed every winner.)
    node.health().set_draining();
    let e = client
        .discover(
            &uri,
            &RequestSigner::Local(Arc::new(gw.clone())),
            None,
            None,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("OrchestratorCapped"), "{e}");
    let resp = http
        .segment(&uri, &seg2, &payment, body.clone(), 1)
        .await
        .unwrap();
    assert_eq!(
        resp.outcome,
        TranscodeOutcome::Refused(RemoteError::OrchestratorCapped)
    );
    unchanged("draining");
    node.drain().await.unwrap();
    assert!(node.pending().is_zero(), "winners left after the drain");
    let records = node.winners().records().unwrap();
    let redeemed = records
        .iter()
        .filter(|r| matches!(r.state, livepeer_pm::WinnerState::Redeemed { .. }))
        .count();
    assert_eq!(redeemed, won, "every winner redeemed: {records:#?}");
    let fresh =
        OrchestratorClient::new(CertPins::new()).with_connect_timeout(Duration::from_secs(2));
    assert!(
        fresh
            .discover(
                &uri,
                &RequestSigner::Local(Arc::new(gw.clone())),
                None,
                None
            )
            .await
            .is_err(),
        "closed with the node"
    );
    eprintln!("{count} tickets at win probability {p:.3}: {won} won and redeemed");
}
