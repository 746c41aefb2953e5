//! The OpenH264 decoder and scaler adapters against livepeer-transcode's software backend and
//! FFmpeg's decoder, and on bad input.

use std::sync::Arc;

use livepeer_core::{Container, Ladder};
use livepeer_transcode::{InputLimits, decode_segment, testsrc::synthetic_segment};
use livepeer_verify::openh264::{SoftwareDecoder, SoftwareScaler};
use livepeer_verify::{
    BilinearScaler, CheckJob, Checker, DecodeError, FrameDecoder, Picture, PictureScaler,
    VerifyConfig, metrics,
};
use proptest::prelude::*;

use crate::media::{FfmpegDecoder, have_ffmpeg, rav1e, request, transcode};

fn source() -> Vec<u8> {
    synthetic_segment(640, 360, 60, 1).unwrap().data.to_vec()
}

fn rendition() -> (Vec<u8>, u64) {
    transcode(&source(), &"240p".parse().unwrap()).swap_remove(0)
}

#[test]
fn decodes_the_source_as_the_transcoder_does() {
    let src = synthetic_segment(640, 360, 60, 1).unwrap();
    let ours = SoftwareDecoder::new()
        .decode(&src.data, Container::MpegTs, None)
        .unwrap();
    let theirs = decode_segment(&src, InputLimits::default()).unwrap();
    assert_eq!(ours.len(), 60);
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        assert!(a.y == b.y && a.u == b.u && a.v == b.v);
    }
    let first = SoftwareDecoder::new()
        .decode(&src.data, Container::MpegTs, Some(1))
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0], ours[0]);
}

#[test]
fn software_rendition_decodes_like_ffmpeg() {
    let (data, _) = rendition();
    let ours = SoftwareDecoder::new()
        .decode(&data, Container::MpegTs, None)
        .unwrap();
    assert_eq!(ours.len(), 60);
    assert_eq!((ours[0].width, ours[0].height), (426, 240));
    // The same stream as raw Annex-B decodes to the same pictures.
    let es = livepeer_verify::bitstream::elementary_stream(&data, Container::MpegTs).unwrap();
    let annexb = SoftwareDecoder::new()
        .decode(&es, Container::AnnexB, None)
        .unwrap();
    assert_eq!(annexb, ours);
    if !have_ffmpeg() {
        return;
    }
    // Constrained baseline without B-frames: every conforming decoder gives the same pictures.
    let ffmpeg = FfmpegDecoder
        .decode(&data, Container::MpegTs, None)
        .unwrap();
    assert_eq!(ffmpeg.len(), ours.len());
    for (i, (a, b)) in ours.iter().zip(&ffmpeg).enumerate() {
        assert_eq!(a, b, "picture {i} differs from FFmpeg's");
    }
}

/// AV1 decoding is exact by the standard: ours (libdav1d through libavcodec, one thread),
/// FFmpeg's command-line decoder and both rav1e encoders
/// (livepeer-transcode's and FFmpeg's) agree picture for picture.
#[test]
fn av1_renditions_decode_like_ffmpeg() {
    let ladder = Ladder::from_json(r#"[{"preset":"240p","codec":"av1"}]"#).unwrap();
    let (ours_ivf, _) = transcode(&source(), &ladder).swap_remove(0);
    let ours = SoftwareDecoder::new()
        .decode(&ours_ivf, Container::Ivf, None)
        .unwrap();
    assert_eq!(ours.len(), 60);
    assert_eq!((ours[0].width, ours[0].height), (426, 240));
    let first = SoftwareDecoder::new()
        .decode(&ours_ivf, Container::Ivf, Some(2))
        .unwrap();
    assert_eq!(first[..], ours[..2]);
    // Damaged AV1 is an error or fewer pictures, never a crash (a Rust port of dav1d, tried
    // first, aborted the process here: its panics cross a C ABI).
    let d = SoftwareDecoder::new();
    for cut in (33..ours_ivf.len()).step_by(ours_ivf.len() / 17) {
        let _ = d.decode(&ours_ivf[..cut], Container::Ivf, None);
    }
    for i in (32..ours_ivf.len()).step_by(211) {
        let mut bad = ours_ivf.clone();
        bad[i] ^= 0x5a;
        let _ = d.decode(&bad, Container::Ivf, None);
    }
    if !have_ffmpeg() {
        return;
    }
    let theirs_ivf = rav1e(&source(), 426, 240, 400);
    for data in [&ours_ivf, &theirs_ivf] {
        let a = SoftwareDecoder::new()
            .decode(data, Container::Ivf, None)
            .unwrap();
        let b = FfmpegDecoder.decode(data, Container::Ivf, None).unwrap();
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "picture {i} differs from FFmpeg's");
        }
    }
}

#[test]
fn software_scaler_is_close_to_the_plain_bilinear_one() {
    let src = SoftwareDecoder::new()
        .decode(&source(), Container::MpegTs, Some(1))
        .unwrap();
    let a = SoftwareScaler.scale(&src[0], 426, 240).unwrap();
    let b = BilinearScaler.scale(&src[0], 426, 240).unwrap();
    let s = metrics::score(&a, &b, 6).unwrap();
    assert!(s.psnr_y > 40.0 && s.ssim_y > 0.99, "{s:?}");
}

#[tokio::test]
async fn honest_software_rendition_passes_the_deep_check() {
    let src = source();
    let ladder: Ladder = "240p,360p".parse().unwrap();
    let out = transcode(&src, &ladder);
    let (data, pixels): (Vec<_>, Vec<_>) = out.into_iter().unzip();
    let req = request(&src, &ladder, &data, &pixels, 1);
    let checker = Checker::new(VerifyConfig::default())
        .with_decoder(Arc::new(SoftwareDecoder::new()), Arc::new(SoftwareScaler));
    let report = checker
        .run(Arc::new(CheckJob::from_request(&req)), true)
        .await
        .unwrap();
    assert_eq!(report.finding, None);
    let worst = report.worst[0].clone().unwrap();
    assert!(worst.psnr_yuv > 30.0, "{worst:?}");
}

#[test]
fn damaged_renditions_never_panic() {
    let (data, _) = rendition();
    let d = SoftwareDecoder::new();
    for cut in (0..data.len()).step_by(data.len() / 23) {
        let _ = d.decode(&data[..cut], Container::MpegTs, None);
    }
    for i in (0..data.len()).step_by(997) {
        let mut bad = data.clone();
        bad[i] ^= 0xa5;
        let _ = d.decode(&bad, Container::MpegTs, Some(3));
    }
    // Over the limits: refused from the SPS, before any picture is allocated.
    let mut limits = InputLimits::default();
    limits.max_pixels = 320 * 240;
    let small = SoftwareDecoder::with_limits(limits);
    assert!(matches!(
        small.decode(&data, Container::MpegTs, None),
        Err(DecodeError::Invalid(_))
    ));
    let bad = Picture::filled(64, 48, 0, 0, 0);
    assert!(SoftwareScaler.scale(&bad, 0, 48).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_are_typed_errors(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for c in [Container::MpegTs, Container::AnnexB, Container::Ivf] {
            let _ = SoftwareDecoder::new().decode(&data, c, None);
        }
        let mut es = vec![0, 0, 0, 1, 0x67];
        es.extend_from_slice(&data);
        let _ = SoftwareDecoder::new().decode(&es, Container::AnnexB, None);
    }
}
