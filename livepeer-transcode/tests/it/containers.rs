//! Every output container a profile can ask for, read back by ffprobe.

use livepeer_core::{Ladder, StreamId};
use livepeer_transcode::TranscodeJob;
use livepeer_transcode::conformance::{MediaSpec, ffprobe};

#[test]
fn every_output_container_is_readable() {
    if crate::no_ffmpeg() {
        return;
    }
    let seg = MediaSpec::default().segments().unwrap().remove(1);
    let ladder = Ladder::parse(
        r#"[{"name":"ts","preset":"144p"},
            {"name":"mp4","preset":"144p","container":"mp4"},
            {"name":"fmp4","preset":"144p","container":"fmp4"},
            {"name":"annexb","preset":"144p","container":"annexb"},
            {"name":"av1-ivf","width":128,"height":72,"bitrate":"100k","codec":"av1"},
            {"name":"av1-fmp4","width":128,"height":72,"bitrate":"100k","codec":"av1","container":"fmp4"},
            {"name":"av1-mp4","width":128,"height":72,"bitrate":"100k","codec":"av1","container":"mp4"}]"#,
    )
    .unwrap();
    let job = TranscodeJob {
        stream_id: StreamId::from_name("containers"),
        segment: seg,
        ladder,
    };
    let out = crate::software().transcode_blocking(job).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for r in &out.renditions {
        let path = dir.path().join(format!(
            "{}.{}",
            r.profile.name,
            r.profile.container.extension()
        ));
        std::fs::write(&path, &r.data).unwrap();
        match ffprobe(&path) {
            Ok(p) if p.frames == 60 && p.width == r.profile.width => {
                let wants_audio = !matches!(r.profile.name.as_str(), "annexb" | "av1-ivf");
                if wants_audio && !p.audio {
                    failures.push(format!("{}: no audio", r.profile.name));
                }
            }
            Ok(p) => failures.push(format!("{}: {p:?}", r.profile.name)),
            Err(e) => failures.push(format!("{}: {e}", r.profile.name)),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// An MBAFF clip (x264, top field first) and a 144p job of it.
fn interlaced_job() -> (livepeer_core::Segment, TranscodeJob) {
    let seg = livepeer_transcode::conformance::media::clip(&[
        "-c:v",
        "libx264",
        "-flags",
        "+ildct+ilme",
        "-x264-params",
        "interlaced=1:tff=1",
    ])
    .unwrap();
    let job = TranscodeJob {
        stream_id: StreamId::from_name("interlaced"),
        segment: seg.clone(),
        ladder: Ladder::parse("144p").unwrap(),
    };
    (seg, job)
}

/// Interlaced H.264 (MBAFF, as broadcast contribution feeds send it) without libavcodec is
/// refused with a typed error that says what to do, by the transcoder and by the input
/// reader before any work; never an undecodable mid-stream failure.
#[cfg(not(feature = "libav"))]
#[test]
fn interlaced_sources_are_a_clear_typed_refusal() {
    if crate::no_ffmpeg() {
        return;
    }
    let (seg, job) = interlaced_job();
    match crate::software().transcode_blocking(job) {
        Err(livepeer_core::transcode::TranscodeError::Unsupported(m)) => {
            assert!(m.contains("interlaced") && m.contains("libav"), "{m}");
        }
        other => panic!("interlaced source: {other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("interlaced.ts");
    std::fs::write(&path, &seg.data).unwrap();
    match livepeer_transcode::input::InputStream::open(&path, std::time::Duration::from_secs(2)) {
        Err(e @ livepeer_transcode::input::InputError::Unsupported { .. }) => {
            assert!(e.to_string().contains("deinterlace"), "{e}");
        }
        other => panic!("interlaced input: {other:?}"),
    }
}

/// With libavcodec, interlaced H.264 is decoded and deinterlaced: every picture comes out,
/// progressive (no combing left: neighbouring lines of the moving pattern agree about as
/// well as in the progressive encode of the same content), and the input reader takes it.
#[cfg(feature = "libav")]
#[test]
fn interlaced_sources_are_decoded_and_deinterlaced() {
    if crate::no_ffmpeg() {
        return;
    }
    let (seg, job) = interlaced_job();
    let out = crate::software().transcode_blocking(job).unwrap();
    assert_eq!(out.source_frames, 10);
    assert_eq!(out.renditions[0].frames, 10);
    let frames =
        livepeer_transcode::decode_segment(&seg, livepeer_transcode::InputLimits::default())
            .unwrap();
    let progressive = livepeer_transcode::conformance::media::clip(&["-c:v", "libx264"]).unwrap();
    let reference = livepeer_transcode::decode_segment(
        &progressive,
        livepeer_transcode::InputLimits::default(),
    )
    .unwrap();
    assert_eq!(frames.len(), reference.len());
    // Combing shows as odd lines unlike both neighbours: the mean of |2·y - above - below|.
    let comb = |f: &livepeer_transcode::Frame| {
        let w = f.width as usize;
        let rows = (1..f.height as usize - 1).step_by(2);
        let n = rows.len() * w;
        let sum: u64 = rows
            .flat_map(|y| (0..w).map(move |x| (y, x)))
            .map(|(y, x)| {
                let c = i64::from(f.y[y * w + x]);
                (2 * c - i64::from(f.y[(y - 1) * w + x]) - i64::from(f.y[(y + 1) * w + x]))
                    .unsigned_abs()
            })
            .sum();
        sum as f64 / n as f64
    };
    let (ours, theirs): (f64, f64) = (
        frames.iter().map(comb).sum::<f64>() / frames.len() as f64,
        reference.iter().map(comb).sum::<f64>() / reference.len() as f64,
    );
    assert!(
        ours <= theirs * 1.2,
        "combing {ours:.2} against {theirs:.2} progressive"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("interlaced.ts");
    std::fs::write(&path, &seg.data).unwrap();
    livepeer_transcode::input::InputStream::open(&path, std::time::Duration::from_secs(2)).unwrap();
}
