//! The always-on checks on generated media: honest output passes, each kind of cheap-check
//! tamper is caught with its kind, and outside garbage gives typed results.

use std::sync::Arc;

use livepeer_core::test_utils::TestEntropy;
use livepeer_core::verify::{FaultKind, SegmentVerifier, Verdict};
use livepeer_core::{Container, Ladder, LocalSigner, Signer};
use livepeer_verify::{Checker, Sampler, Verifier, VerifyConfig, inspect};

use crate::media::{have_ffmpeg, request, request_with, source, x264};

fn ladder() -> Ladder {
    "240p".parse().unwrap()
}

fn verifier() -> Verifier {
    let sampler = Sampler::new(&TestEntropy::new(3), 0).unwrap();
    Verifier::builder(Checker::new(VerifyConfig::default()), sampler)
        .build()
        .unwrap()
}

async fn verdict(renditions: &[Vec<u8>], pixels: &[u64]) -> Verdict {
    let src = source("testsrc2");
    verifier()
        .verify(&request(&src, &ladder(), renditions, pixels, 1))
        .await
        .unwrap()
}

fn fault_kind(v: &Verdict) -> Option<FaultKind> {
    match v {
        Verdict::Fault(r) => Some(r.kind),
        _ => None,
    }
}

const PIX: u64 = 426 * 240 * 60;

#[test]
fn inspects_source_and_rendition_headers() {
    if !have_ffmpeg() {
        return;
    }
    let src = source("testsrc2");
    let s = inspect(&src, Container::MpegTs).unwrap();
    assert_eq!((s.width, s.height, s.frames), (640, 360, 60));
    assert_eq!(s.h264.unwrap().profile_idc, 100);
    assert_eq!(s.key_frames, vec![0]);
    assert_eq!(s.frame_rate.unwrap().as_f64(), 30.0);
    assert_eq!(s.duration.unwrap().as_millis(), 2000);
    let r = x264(&src, 426, 240, 400, None);
    let i = inspect(&r, Container::MpegTs).unwrap();
    assert_eq!((i.width, i.height, i.frames), (426, 240, 60));
    assert_eq!(i.pixels(), PIX);
    let br = i.bitrate_bps().unwrap();
    assert!((300_000..480_000).contains(&br), "{br}");
}

#[tokio::test]
async fn honest_x264_passes() {
    if !have_ffmpeg() {
        return;
    }
    let r = x264(&source("testsrc2"), 426, 240, 400, None);
    assert_eq!(
        verdict(&[r], &[PIX]).await,
        Verdict::Pass { sampled: false }
    );
}

#[tokio::test]
async fn cheap_tampers_are_caught_by_kind() {
    if !have_ffmpeg() {
        return;
    }
    let src = source("testsrc2");
    let cases: Vec<(&str, Vec<u8>, u64, FaultKind)> = vec![
        (
            "wrong resolution",
            x264(&src, 320, 240, 400, None),
            320 * 240 * 60,
            FaultKind::WrongResolution,
        ),
        (
            "a thirtieth of the bitrate",
            x264(&src, 426, 240, 12, None),
            PIX,
            FaultKind::BitrateOutOfBounds,
        ),
        (
            "every 10th frame dropped",
            x264(
                &src,
                426,
                240,
                400,
                Some("select='not(eq(mod(n\\,10)\\,5))'"),
            ),
            426 * 240 * 54,
            FaultKind::WrongTiming,
        ),
        (
            "pixels overcharged",
            x264(&src, 426, 240, 400, None),
            PIX + 426 * 240,
            FaultKind::PixelCountMismatch,
        ),
    ];
    for (name, data, pixels, want) in cases {
        let v = verdict(&[data], &[pixels]).await;
        assert_eq!(fault_kind(&v), Some(want), "{name}: {v:?}");
        let Verdict::Fault(r) = v else { unreachable!() };
        assert!(r.provable, "{name}");
    }
}

#[tokio::test]
async fn receipt_faults_are_not_provable() {
    if !have_ffmpeg() {
        return;
    }
    let src = source("testsrc2");
    let r = x264(&src, 426, 240, 400, None);
    // Signed by someone else than the orchestrator it names.
    let (_, b) = crate::media::keys();
    let mut req = request(&src, &ladder(), std::slice::from_ref(&r), &[PIX], 2);
    let other = LocalSigner::from_bytes(&[0x33; 32]).unwrap();
    req.receipt.signature = other
        .sign_message_hash(&req.receipt.receipt.hash())
        .unwrap();
    let v = verifier().verify(&req).await.unwrap();
    assert_eq!(fault_kind(&v), Some(FaultKind::BadReceiptSignature));
    let Verdict::Fault(rep) = v else {
        unreachable!()
    };
    assert!(!rep.provable);
    // Bytes that are not the signed ones.
    let mut req = request(&src, &ladder(), std::slice::from_ref(&r), &[PIX], 3);
    let mut bytes = r.clone();
    bytes[1000] ^= 1;
    req.renditions[0].data = bytes.into();
    let v = verifier().verify(&req).await.unwrap();
    assert_eq!(fault_kind(&v), Some(FaultKind::HashMismatch));
    // A garbage rendition, properly signed: provably undecodable.
    let (o, _) = crate::media::keys();
    let req = request_with(&src, &ladder(), &[vec![0x47; 188 * 3]], &[PIX], 4, &o, &b);
    let v = verifier().verify(&req).await.unwrap();
    assert_eq!(fault_kind(&v), Some(FaultKind::Undecodable));
}

#[tokio::test]
async fn inconsistent_requests_are_errors_not_verdicts() {
    if !have_ffmpeg() {
        return;
    }
    let src = source("testsrc2");
    let r = x264(&src, 426, 240, 400, None);
    let mut req = request(&src, &ladder(), &[r], &[PIX], 5);
    req.renditions.clear();
    assert!(verifier().verify(&req).await.is_err());
    let _ = Arc::new(0);
}
