//! The always-on checks on generated media: honest output passes, each kind of cheap-check
//! tamper is caught with its kind, and outside garbage gives typed results.

use std::sync::Arc;

use livepeer_core::test_utils::TestEntropy;
use livepeer_core::verify::{FaultKind, SegmentVerifier, Verdict};
use livepeer_core::{Container, Ladder, LocalSigner, Signer};
use livepeer_verify::openh264::{SoftwareDecoder, SoftwareScaler};
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
        .sign_hash(&req.receipt.receipt.digest(&req.domain))
        .unwrap();
    let v = verifier().verify(&req).await.unwrap();
    assert_eq!(fault_kind(&v), Some(FaultKind::BadReceiptSignature));
    let Verdict::Fault(rep) = v else {
        unreachable!()
    };
    assert!(!rep.provable);
    // Signed by the orchestrator it names, for another chain: checked under this one's
    // domain, it recovers to someone else.
    let mut req = request(&src, &ladder(), std::slice::from_ref(&r), &[PIX], 2);
    let elsewhere =
        livepeer_core::Domain::new(req.domain.chain_id + 1, req.domain.verifying_contract);
    let (o, _) = crate::media::keys();
    req.receipt = req.receipt.receipt.clone().sign(&o, &elsewhere).unwrap();
    let v = verifier().verify(&req).await.unwrap();
    assert_eq!(fault_kind(&v), Some(FaultKind::BadReceiptSignature));
    // Bytes that are not the signed ones.
    let mut req = request(&src, &ladder(), std::slice::from_ref(&r), &[PIX], 3);
    let mut bytes = r.clone();
    bytes[1000] ^= 1;
    req.renditions[0].data = bytes.into();
    let v = verifier().verify(&req).await.unwrap();
    assert_eq!(fault_kind(&v), Some(FaultKind::HashMismatch));
    // A garbage rendition, properly signed: provably undecodable.
    let (o, _) = crate::media::keys();
    let req = request_with(
        &src,
        &ladder(),
        &[vec![0x47; 188 * 3]],
        &[PIX],
        4,
        &o,
        &b,
        &livepeer_core::test_utils::test_domain(),
    );
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

/// MP4 and fragmented-MP4 renditions (H.264 and AV1, as livepeer-transcode writes them) are
/// read like MPEG-TS and IVF ones: the same pictures, size, key frames and timing, and every
/// check passes them. Before, their container was unreadable here and honest orchestrators
/// were judged to have sent undecodable output.
#[tokio::test]
async fn mp4_and_fmp4_renditions_are_inspected_and_pass() {
    if !have_ffmpeg() {
        return;
    }
    let src = source("testsrc2");
    let ladder = Ladder::from_json(
        r#"[{"name":"ts","preset":"240p"},
            {"name":"mp4","preset":"240p","container":"mp4"},
            {"name":"fmp4","preset":"240p","container":"fmp4"},
            {"name":"av1-ivf","preset":"240p","codec":"av1"},
            {"name":"av1-fmp4","preset":"240p","codec":"av1","container":"fmp4"},
            {"name":"av1-mp4","preset":"240p","codec":"av1","container":"mp4"}]"#,
    )
    .unwrap();
    let out = crate::media::transcode(&src, &ladder);
    let infos: Vec<_> = out
        .iter()
        .zip(ladder.profiles())
        .map(|((data, _), p)| inspect(data, p.container).unwrap())
        .collect();
    for (i, p) in infos.iter().zip(ladder.profiles()) {
        assert_eq!((i.width, i.height, i.frames), (426, 240, 60), "{}", p.name);
        assert_eq!(i.codec, p.codec, "{}", p.name);
        assert_eq!(i.key_frames, vec![0], "{}", p.name);
        assert_eq!(i.frame_rate.unwrap().as_f64(), 30.0, "{}", p.name);
        assert_eq!(i.duration.unwrap().as_millis(), 2000, "{}", p.name);
    }
    // The same H.264 pictures however they are carried: the fragment keeps the source
    // clock, the progressive file starts at zero.
    assert_eq!(infos[0].pts, infos[2].pts);
    assert_eq!(infos[0].h264, infos[1].h264);
    assert_eq!(infos[3].pts, infos[4].pts);
    let (renditions, pixels): (Vec<Vec<u8>>, Vec<u64>) = out.into_iter().unzip();
    let req = request(&src, &ladder, &renditions, &pixels, 1);
    let report = Checker::new(VerifyConfig::default())
        .with_decoder(Arc::new(SoftwareDecoder::new()), Arc::new(SoftwareScaler))
        .run(
            Arc::new(livepeer_verify::CheckJob::from_request(&req)),
            true,
        )
        .await
        .unwrap();
    assert_eq!(report.finding, None);
    // Every picture compared with the source, whatever the container (AV1 needs libavcodec).
    let decodes_av1 = cfg!(feature = "libav");
    for (i, p) in ladder.profiles().iter().enumerate() {
        let compared = report.worst[i].as_ref();
        if p.codec == livepeer_core::VideoCodec::H264 || decodes_av1 {
            let w = compared.unwrap_or_else(|| panic!("{} not compared", p.name));
            assert!(w.psnr_yuv > 30.0, "{}: {w:?}", p.name);
        }
    }
    // Cut short, an fMP4 rendition is undecodable: a proven fault, with its kind.
    let mut cut = renditions.clone();
    let half = cut[2].len() / 2;
    cut[2].truncate(half);
    let req = request(&src, &ladder, &cut, &pixels, 1);
    let report = Checker::new(VerifyConfig::default())
        .run(
            Arc::new(livepeer_verify::CheckJob::from_request(&req)),
            false,
        )
        .await
        .unwrap();
    assert_eq!(report.finding.map(|f| f.kind), Some(FaultKind::Undecodable));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// MP4 and fMP4 renditions damaged anywhere (a byte changed, the file cut) give a typed
    /// result from every reader of outside bytes, never a panic.
    #[test]
    fn damaged_mp4_and_fmp4_never_panic(at in 0.0f64..1.0, flip in 1u8..=255, cut in proptest::prelude::any::<bool>()) {
        if !have_ffmpeg() {
            return Ok(());
        }
        let src = source("testsrc2");
        let ladder = Ladder::from_json(
            r#"[{"name":"a","preset":"144p","container":"fmp4"},
                {"name":"b","preset":"144p","container":"mp4"},
                {"name":"c","preset":"144p","codec":"av1","container":"fmp4"}]"#,
        )
        .unwrap();
        for ((data, _), p) in crate::media::transcode(&src, &ladder).iter().zip(ladder.profiles()) {
            let mut bad = data.clone();
            let i = ((bad.len() - 1) as f64 * at) as usize;
            if cut {
                bad.truncate(i);
            } else {
                bad[i] ^= flip;
            }
            let _ = inspect(&bad, p.container);
            livepeer_verify::fuzz_entry::parse_bitstream(&bad);
        }
    }
}
