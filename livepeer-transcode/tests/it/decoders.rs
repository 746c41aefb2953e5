//! OpenH264 and libavcodec decode the same pictures wherever the source has no B slices, so
//! a transcoder may run either and its renditions stay exactly what a verifier re-encodes;
//! on B slices they differ (OpenH264's B-slice deblocking), which
//! `pictures_depend_on_decoder` says, so a verifier knows to try both.

use std::time::Duration;

use bytes::Bytes;
use livepeer_core::{Container, Ladder, Segment, StreamId, VideoCodec};
use livepeer_transcode::conformance::media::ffmpeg_cached;
use livepeer_transcode::{
    Frame, H264Decoding, InputLimits, SoftwareConfig, SoftwareTranscoder, TranscodeJob,
    decode_segment_with, pictures_depend_on_decoder,
};

/// Two seconds of `graph` through libx264 with `x264` settings, as one MPEG-TS segment.
fn source(graph: &str, x264: &[&str]) -> Segment {
    let mut args = vec!["-f", "lavfi", "-i", graph, "-t", "2", "-c:v", "libx264"];
    args.extend_from_slice(x264);
    args.extend_from_slice(&["-pix_fmt", "yuv420p", "-f", "mpegts", "src.ts"]);
    let dir = ffmpeg_cached(&args).unwrap();
    Segment {
        seq: 0,
        duration: Duration::from_secs(2),
        data: Bytes::from(std::fs::read(dir.join("src.ts")).unwrap()),
        container: Container::MpegTs,
        codec: VideoCodec::H264,
    }
}

fn decode(seg: &Segment, d: H264Decoding) -> Vec<Frame> {
    decode_segment_with(seg, InputLimits::default(), d).unwrap()
}

/// How many pictures of `a` and `b` differ; panics unless count, size and timestamps agree.
fn differing(a: &[Frame], b: &[Frame]) -> usize {
    assert_eq!(a.len(), b.len(), "picture count");
    a.iter()
        .zip(b)
        .filter(|(x, y)| {
            assert_eq!((x.width, x.height, x.pts), (y.width, y.height, y.pts));
            x.y != y.y || x.u != y.u || x.v != y.v
        })
        .count()
}

const LIBAV_1: H264Decoding = H264Decoding::Libavcodec { threads: 1 };
const LIBAV_3: H264Decoding = H264Decoding::Libavcodec { threads: 3 };

/// Sources without B slices, as live encoders make them: every one decodes to the same
/// pictures with OpenH264 and with libavcodec on one or three frame threads.
#[test]
fn decoders_agree_on_every_picture_without_b_slices() {
    if crate::no_ffmpeg() {
        return;
    }
    let cases: &[(&str, &[&str])] = &[
        (
            "testsrc2=size=640x360:rate=30",
            &["-profile:v", "baseline", "-g", "60", "-b:v", "1M"],
        ),
        (
            "testsrc2=size=480x270:rate=30",
            &[
                "-profile:v",
                "baseline",
                "-g",
                "15",
                "-x264-params",
                "open-gop=1",
            ],
        ),
        // zerolatency: no B-frames, four slices a picture, as OBS and WebRTC senders do.
        (
            "mandelbrot=size=640x360:rate=25",
            &[
                "-tune",
                "zerolatency",
                "-x264-params",
                "slices=4",
                "-b:v",
                "800k",
            ],
        ),
        // High profile, CABAC, 8x8 transform, weighted P prediction, four references.
        (
            "testsrc2=size=854x480:rate=60000/1001,noise=alls=30:allf=t",
            &[
                "-preset", "medium", "-bf", "0", "-refs", "4", "-weightp", "2", "-crf", "22",
            ],
        ),
        (
            "smptehdbars=size=360x640:rate=24,hue=H=2*PI*t",
            &[
                "-preset", "veryfast", "-bf", "0", "-g", "48", "-b:v", "600k",
            ],
        ),
        (
            "life=size=640x272:rate=24:mold=10:ratio=0.2",
            &["-preset", "slow", "-bf", "0", "-g", "1", "-crf", "30"],
        ),
    ];
    for (graph, x264) in cases {
        let seg = source(graph, x264);
        assert!(!pictures_depend_on_decoder(&seg), "{graph}: no B slices");
        let reference = decode(&seg, H264Decoding::OpenH264);
        assert!(
            reference.len() >= 48,
            "{graph}: {} pictures",
            reference.len()
        );
        for d in [LIBAV_1, LIBAV_3] {
            assert_eq!(
                differing(&reference, &decode(&seg, d)),
                0,
                "{graph} with {d:?}"
            );
        }
    }
}

/// Our own renditions (OpenH264's Constrained Baseline) decode the same with both, and a
/// source without B slices transcodes to the very same bytes whichever decoder runs.
#[test]
fn renditions_are_identical_whichever_decoder_runs_without_b_slices() {
    if crate::no_ffmpeg() {
        return;
    }
    let seg = source(
        "testsrc2=size=854x480:rate=30",
        &["-preset", "veryfast", "-bf", "0", "-g", "60", "-b:v", "2M"],
    );
    let job = || TranscodeJob {
        stream_id: StreamId::from_name("decoders"),
        segment: seg.clone(),
        ladder: Ladder::parse("360p,240p").unwrap(),
    };
    let mut out = Vec::new();
    for d in [H264Decoding::OpenH264, LIBAV_1, LIBAV_3] {
        let mut c = SoftwareConfig::default();
        c.decoder = d;
        c.enable_av1 = false;
        let t = SoftwareTranscoder::new(c).unwrap();
        let o = t.transcode_blocking(job()).unwrap();
        out.push(o.renditions.iter().map(|r| r.blake3()).collect::<Vec<_>>());
        for r in &o.renditions {
            let rendition = Segment {
                data: r.data.clone(),
                ..seg.clone()
            };
            assert!(!pictures_depend_on_decoder(&rendition));
            let a = decode(&rendition, H264Decoding::OpenH264);
            assert_eq!(differing(&a, &decode(&rendition, LIBAV_1)), 0);
        }
    }
    assert_eq!(out[0], out[1], "OpenH264 and libavcodec renditions");
    assert_eq!(out[1], out[2], "one and three frame threads");
}

/// With B slices the decoders may differ (OpenH264's B-slice deblocking), and the segment
/// says so; libavcodec agrees with itself on any thread count, and the count, sizes and
/// timestamps of the pictures agree between the two.
#[test]
fn b_slices_are_flagged_and_thread_counts_never_change_libavcodec() {
    if crate::no_ffmpeg() {
        return;
    }
    let seg = source(
        "testsrc2=size=640x360:rate=30",
        &[
            "-preset",
            "medium",
            "-bf",
            "3",
            "-x264-params",
            "b-pyramid=normal",
            "-g",
            "60",
            "-b:v",
            "1M",
        ],
    );
    assert!(pictures_depend_on_decoder(&seg));
    let one = decode(&seg, LIBAV_1);
    assert_eq!(differing(&one, &decode(&seg, LIBAV_3)), 0);
    let differ = differing(&decode(&seg, H264Decoding::OpenH264), &one);
    eprintln!(
        "B-slice source: {differ} of {} pictures differ between decoders",
        one.len()
    );
}

/// Damaged input is a typed error from the strict libavcodec decoder, never a guess: a
/// segment whose slices lost their middle, and one that starts without parameter sets.
#[test]
fn damaged_sources_are_typed_errors_with_libavcodec() {
    if crate::no_ffmpeg() {
        return;
    }
    let seg = source(
        "testsrc2=size=320x240:rate=30",
        &[
            "-preset", "veryfast", "-bf", "0", "-g", "30", "-b:v", "500k",
        ],
    );
    let mut cut = seg.data.to_vec();
    let n = cut.len();
    // Zero a run of TS payload in the middle: pictures lose data mid-slice.
    for b in &mut cut[n / 3..n / 3 + 4000] {
        *b = 0;
    }
    let damaged = Segment {
        data: Bytes::from(cut),
        ..seg.clone()
    };
    match decode_segment_with(&damaged, InputLimits::default(), LIBAV_1) {
        Err(e) => assert!(!e.to_string().is_empty()),
        // Where the zeroed run hit only padding, the pictures are OpenH264's exactly.
        Ok(p) => assert_eq!(differing(&p, &decode(&damaged, H264Decoding::OpenH264)), 0),
    }
    let mut d = livepeer_transcode::LibavDecoder::h264(InputLimits::default(), 1).unwrap();
    use livepeer_transcode::VideoDecoder;
    assert!(matches!(
        d.send_packet(&[0, 0, 0, 1, 0x41, 0x9a, 0x00], 0),
        Err(livepeer_transcode::TranscodeError::NoKeyframe)
    ));
}
