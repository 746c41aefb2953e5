//! Honest orchestrators may decode with OpenH264 or with libavcodec, whose pictures differ
//! on B slices: the re-encode check never calls either one's work a fault, and still
//! catches a tampered rendition.

use std::sync::Arc;

use livepeer_core::transcode::{TranscodeJob, Transcoder};
use livepeer_core::verify::FaultKind;
use livepeer_core::{Container, Ladder, Segment, StreamId, VideoCodec, VideoProfile};
use livepeer_transcode::{H264Decoding, SoftwareConfig, SoftwareTranscoder};
use livepeer_verify::openh264::{SoftwareDecoder, SoftwareScaler};
use livepeer_verify::{CheckJob, Checker, VerifyConfig};

use crate::media::{LIVE_X264, encode_lavfi, have_ffmpeg, request};

fn transcoder(decoder: H264Decoding) -> Arc<SoftwareTranscoder> {
    let mut c = SoftwareConfig::default();
    c.decoder = decoder;
    Arc::new(SoftwareTranscoder::new(c).unwrap())
}

fn renditions(t: &SoftwareTranscoder, src: &[u8], ladder: &Ladder) -> (Vec<Vec<u8>>, Vec<u64>) {
    let out = t
        .transcode_blocking(TranscodeJob {
            stream_id: StreamId::from_name("decoders"),
            segment: Segment {
                seq: 1,
                duration: std::time::Duration::from_secs(2),
                data: src.to_vec().into(),
                container: Container::MpegTs,
                codec: VideoCodec::H264,
            },
            ladder: ladder.clone(),
        })
        .unwrap();
    out.renditions
        .into_iter()
        .map(|r| (r.data.to_vec(), r.pixels.0))
        .unzip()
}

async fn finding(
    checker: &Checker,
    src: &[u8],
    ladder: &Ladder,
    data: &[Vec<u8>],
    pixels: &[u64],
) -> Option<livepeer_verify::Finding> {
    let req = request(src, ladder, data, pixels, 1);
    let job = Arc::new(CheckJob::from_request(&req));
    checker.run(job, true).await.unwrap().finding
}

fn checker(first: Arc<dyn Transcoder>, alternate: Option<Arc<dyn Transcoder>>) -> Checker {
    let c = Checker::new(VerifyConfig::default())
        .with_decoder(Arc::new(SoftwareDecoder::new()), Arc::new(SoftwareScaler))
        .with_reencoder(first);
    match alternate {
        Some(t) => c.with_alternate_reencoder(t),
        None => c,
    }
}

#[tokio::test]
async fn either_decoder_is_honest_and_tampering_is_still_caught() {
    if !have_ffmpeg() {
        return;
    }
    let openh264 = transcoder(H264Decoding::OpenH264);
    let libav = transcoder(H264Decoding::Libavcodec { threads: 2 });
    let ladder: Ladder = "360p,240p".parse().unwrap();

    // Live input with B-frames: the two decoders' pictures differ, so do the renditions.
    let src = encode_lavfi("testsrc2=size=854x480:rate=30", LIVE_X264);
    let (by_openh264, pixels) = renditions(&openh264, &src, &ladder);
    let (by_libav, _) = renditions(&libav, &src, &ladder);
    assert_ne!(by_openh264, by_libav, "B slices decode differently");
    let both = checker(libav.clone(), Some(openh264.clone()));
    let reversed = checker(openh264.clone(), Some(libav.clone()));
    for (who, data) in [("OpenH264", &by_openh264), ("libavcodec", &by_libav)] {
        for c in [&both, &reversed] {
            assert_eq!(
                finding(c, &src, &ladder, data, &pixels).await,
                None,
                "{who}"
            );
        }
    }
    // A verifier with one decoder cannot tell the other decoder's honest work from a
    // tamper on such a source: inconclusive, never a fault.
    let alone = checker(libav.clone(), None);
    assert_eq!(
        finding(&alone, &src, &ladder, &by_openh264, &pixels).await,
        None
    );

    // The 360p rung at 130% of its bitrate: only the re-encode tells it apart, and neither
    // decoder's re-encode matches it.
    let mut richer: VideoProfile = ladder.profiles()[0].clone();
    richer.bitrate_bps = richer.bitrate_bps * 13 / 10;
    let (other, _) = renditions(&libav, &src, &Ladder::new(vec![richer]).unwrap());
    let tampered = vec![other[0].clone(), by_libav[1].clone()];
    let f = finding(&both, &src, &ladder, &tampered, &pixels)
        .await
        .expect("tampered rendition passed");
    assert_eq!(
        (f.kind, f.rendition),
        (FaultKind::ReencodeMismatch, Some(0))
    );

    // Without B slices one re-encode settles it, with no alternate: honest work of either
    // decoder matches, the tamper is a fault.
    let plain = encode_lavfi(
        "testsrc2=size=854x480:rate=30",
        &["-profile:v", "high", "-bf", "0", "-g", "30", "-crf", "23"],
    );
    let (a, pixels) = renditions(&openh264, &plain, &ladder);
    let (b, _) = renditions(&libav, &plain, &ladder);
    assert_eq!(a, b, "no B slices: the same renditions");
    assert_eq!(finding(&alone, &plain, &ladder, &a, &pixels).await, None);
    let (other, _) = renditions(
        &libav,
        &plain,
        &Ladder::new(vec![{
            let mut p = ladder.profiles()[0].clone();
            p.bitrate_bps = p.bitrate_bps * 13 / 10;
            p
        }])
        .unwrap(),
    );
    let f = finding(
        &alone,
        &plain,
        &ladder,
        &[other[0].clone(), a[1].clone()],
        &pixels,
    )
    .await
    .expect("tampered rendition passed");
    assert_eq!(f.kind, FaultKind::ReencodeMismatch);
}
