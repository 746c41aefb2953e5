//! `POST /segment` on the orchestrator's port, beside `/payment` and gRPC: a signed segment
//! from our client, checked by the route, transcoded by a handler, the signed result read
//! back; bad segments refused as go-livepeer refuses them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use livepeer_core::{LocalSigner, Signer};
use livepeer_interop::messages::{
    TranscodeData, TranscodeResult, TranscodedSegmentData, VideoProfile, transcode_result,
};
use livepeer_interop::{
    RemoteError, TranscodeOutcome, build_seg_data, encode_payment_header, encode_segment_header,
    payment_without_tickets, sign_transcode_result, verify_transcode_result,
};
use livepeer_interop_net::orchestrator::segment_route::SegmentFuture;
use livepeer_interop_net::orchestrator::{SegmentRefusal, SegmentRequest};
use livepeer_interop_net::{
    CertPins, NetError, OrchestratorHttpClient, OrchestratorServer, PaymentRoute, SegmentHandler,
    SegmentRoute, SelfSignedCert,
};

use crate::payment::Sink;
use crate::util::{key, listener, static_info};

const RENDITION: &[u8] = b"a rendition";

/// Answers by the segment's manifest id: `busy` fails transcoding, `broke` is refused,
/// anything else is transcoded into one rendition signed by the orchestrator.
struct Transcoder {
    orchestrator: LocalSigner,
    seen: Mutex<Vec<SegmentRequest>>,
}

impl SegmentHandler for Transcoder {
    fn handle_segment(&self, request: SegmentRequest) -> SegmentFuture {
        let seq = request.seg.seq;
        let manifest = request.seg.manifest_id.clone();
        let sig = sign_transcode_result(&[RENDITION], &self.orchestrator)
            .unwrap()
            .as_bytes()
            .to_vec();
        self.seen.lock().unwrap().push(request);
        Box::pin(async move {
            match manifest.as_slice() {
                b"broke" => Err(SegmentRefusal {
                    status: 400,
                    message: "Insufficient balance".into(),
                }),
                b"busy" => Ok(TranscodeResult {
                    seq,
                    result: Some(transcode_result::Result::Error("OrchestratorBusy".into())),
                    info: None,
                }),
                _ => Ok(TranscodeResult {
                    seq,
                    result: Some(transcode_result::Result::Data(TranscodeData {
                        segments: vec![TranscodedSegmentData {
                            url: "https://o/stream/s/P360p/1.ts".into(),
                            pixels: 640 * 360 * 60,
                            perceptual_hash_url: String::new(),
                        }],
                        sig,
                    })),
                    info: None,
                }),
            }
        })
    }
}

fn profile() -> VideoProfile {
    VideoProfile {
        name: "P360p30fps16x9".into(),
        width: 640,
        height: 360,
        bitrate: 1_000_000,
        fps: 30,
        ..VideoProfile::default()
    }
}

#[tokio::test]
async fn segments_are_checked_transcoded_and_signed() {
    let orch = key(2);
    let l = listener().await;
    let uri = format!("https://{}", l.local_addr().unwrap());
    let info = static_info(orch.address(), &uri, 1800);
    let transcoder = Arc::new(Transcoder {
        orchestrator: orch.clone(),
        seen: Mutex::new(Vec::new()),
    });
    let sink = Arc::new(Sink {
        info: info.clone(),
        got: Mutex::new(Vec::new()),
        refuse: None,
    });
    let routes = PaymentRoute::new(sink).with_next(Arc::new(
        SegmentRoute::new(transcoder.clone()).with_max_body(64 * 1024),
    ));
    let cert = SelfSignedCert::generate(&["localhost"]).unwrap();
    let handle = OrchestratorServer::new(Arc::new(info.clone()))
        .with_http_routes(Arc::new(routes))
        .spawn(l, cert.server_config().unwrap())
        .unwrap();

    let gw = key(1);
    let info = info.info().clone();
    let token = info.auth_token.clone().unwrap();
    let payment = encode_payment_header(&payment_without_tickets(
        gw.address(),
        info.price_info.as_ref().unwrap(),
    ));
    let body = Bytes::from_static(b"an MPEG-TS segment");
    let seg = |manifest: &[u8], body: &[u8]| {
        encode_segment_header(
            &build_seg_data(
                manifest,
                7,
                body,
                vec![profile()],
                Duration::from_secs(2),
                token.clone(),
                &gw,
            )
            .unwrap(),
        )
    };
    let client = OrchestratorHttpClient::new(CertPins::new());

    let resp = client
        .segment(&uri, &seg(b"stream", &body), &payment, body.clone(), 1)
        .await
        .unwrap();
    assert_eq!(resp.seq, 7);
    let TranscodeOutcome::Transcoded(data) = resp.outcome else {
        panic!("transcoded");
    };
    verify_transcode_result(&data, &[RENDITION], &orch.address()).unwrap();
    {
        let seen = transcoder.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].sender, gw.address());
        assert_eq!(seen[0].body, body);
        assert_eq!(seen[0].content_type, "video/MP2T");
        assert_eq!(seen[0].duration, Duration::from_secs(2));
    }

    // Transcoding failed: a result naming the error.
    let resp = client
        .segment(&uri, &seg(b"busy", &body), &payment, body.clone(), 1)
        .await
        .unwrap();
    assert_eq!(
        resp.outcome,
        TranscodeOutcome::Refused(RemoteError::OrchestratorBusy)
    );
    // Refused before transcoding.
    let err = client
        .segment(&uri, &seg(b"broke", &body), &payment, body.clone(), 1)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        NetError::HttpRefused {
            status: 400,
            error: RemoteError::InsufficientBalance
        }
    );
    // The body is not the one signed for: 403, the handler never sees it.
    let err = client
        .segment(
            &uri,
            &seg(b"stream", b"other bytes"),
            &payment,
            body.clone(),
            1,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, NetError::HttpRefused { status: 403, .. }),
        "{err:?}"
    );
    // Credentials another key signed.
    let forged = encode_segment_header(
        &build_seg_data(
            b"stream",
            7,
            &body,
            vec![profile()],
            Duration::from_secs(2),
            token.clone(),
            &key(9),
        )
        .unwrap(),
    );
    let err = client
        .segment(&uri, &forged, &payment, body.clone(), 1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, NetError::HttpRefused { status: 403, .. }),
        "{err:?}"
    );
    // A payment header that does not decode.
    let err = client
        .segment(&uri, &seg(b"stream", &body), "%%", body.clone(), 1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, NetError::HttpRefused { status: 402, .. }),
        "{err:?}"
    );
    // Over the bound: 413 unread.
    let big = Bytes::from(vec![0u8; 100 * 1024]);
    let err = client
        .segment(&uri, &seg(b"stream", &big), &payment, big.clone(), 1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, NetError::HttpRefused { status: 413, .. }),
        "{err:?}"
    );
    assert_eq!(transcoder.seen.lock().unwrap().len(), 3);

    // /payment still answers beside /segment.
    let seg_creds = encode_segment_header(
        &build_seg_data(b"stream", 0, b"", Vec::new(), Duration::ZERO, token, &gw).unwrap(),
    );
    let result = client.payment(&uri, &payment, &seg_creds).await.unwrap();
    assert_eq!(result.info.as_ref(), Some(&info));
    handle.shutdown().await;
}
