use std::time::Duration;

use livepeer_core::{Container, Ladder, StreamId};
use livepeer_transcode::conformance::media::ffmpeg_cached;
use livepeer_transcode::{InputLimits, Segmenter, SegmenterConfig, TranscodeJob, inspect};

fn cut(data: &[u8], container: Container, seed: u64) -> Vec<livepeer_core::Segment> {
    let mut cfg = SegmenterConfig::default();
    cfg.container = container;
    let mut s = Segmenter::new(cfg);
    let mut out = Vec::new();
    let mut rest = data;
    let mut x = seed;
    while !rest.is_empty() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let n = ((x >> 33) as usize % 5000 + 1).min(rest.len());
        s.push(&rest[..n]).unwrap();
        rest = &rest[n..];
        while let Some(seg) = s.poll_segment() {
            out.push(seg);
        }
    }
    s.finish().unwrap();
    while let Some(seg) = s.poll_segment() {
        out.push(seg);
    }
    out
}

#[test]
fn a_continuous_stream_is_cut_at_keyframes_and_transcodes() {
    if crate::no_ffmpeg() {
        return;
    }
    let dir = ffmpeg_cached(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "6",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-bf",
        "2",
        "-g",
        "30",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "live.ts",
        "-t",
        "6",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-bf",
        "2",
        "-g",
        "30",
        "-pix_fmt",
        "yuv420p",
        "-an",
        "live.mp4",
    ])
    .unwrap();
    for (file, container) in [("live.ts", Container::MpegTs), ("live.mp4", Container::Mp4)] {
        let data = std::fs::read(dir.join(file)).unwrap();
        let segs = cut(&data, container, 7);
        assert_eq!(segs.len(), 3, "{file}");
        let mut frames = 0;
        let mut next_pts = None;
        for (i, seg) in segs.iter().enumerate() {
            assert_eq!(seg.seq, i as u64);
            assert_eq!(seg.container, Container::MpegTs);
            assert!(
                seg.duration.abs_diff(Duration::from_secs(2)) < Duration::from_millis(50),
                "{file} {:?}",
                seg.duration
            );
            let info = inspect(seg, InputLimits::default()).unwrap();
            assert!(info.keyframes >= 1);
            if let Some(n) = next_pts {
                assert_eq!(info.first_pts, n, "{file}: segments join");
            }
            next_pts = Some(info.end_pts);
            frames += info.frames;
        }
        assert_eq!(frames, 180, "{file}");
        let job = TranscodeJob {
            stream_id: StreamId::from_name(file),
            segment: segs[1].clone(),
            ladder: Ladder::parse("144p").unwrap(),
        };
        let out = crate::software().transcode_blocking(job).unwrap();
        assert_eq!(out.renditions[0].frames, 60);
    }
}

#[test]
fn segmenter_rejects_garbage_without_panicking() {
    let mut s = Segmenter::new(SegmenterConfig::default());
    assert!(s.push(&[0x12; 188 * 3]).is_err());
    let mut s = Segmenter::new(SegmenterConfig::default());
    s.push(&[0x47; 100]).unwrap();
    s.finish().unwrap();
    assert!(s.poll_segment().is_none());
}
