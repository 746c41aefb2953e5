//! Several segments of one stream in flight at once through the async API.

use livepeer_core::{Ladder, StreamId};
use livepeer_transcode::conformance::MediaSpec;
use livepeer_transcode::{SoftwareConfig, SoftwareTranscoder, TranscodeJob, Transcoder};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_segments_match_sequential_output() {
    if crate::no_ffmpeg() {
        return;
    }
    let segs = MediaSpec::default().segments().unwrap();
    let mut cfg = SoftwareConfig::default();
    cfg.parallel_segments = 2;
    cfg.workers_per_segment = 1;
    cfg.queue_depth = 8;
    let t = SoftwareTranscoder::new(cfg).unwrap();
    let job = |i: usize| TranscodeJob {
        stream_id: StreamId::from_name("parallel"),
        segment: segs[i].clone(),
        ladder: Ladder::parse("240p,144p").unwrap(),
    };
    let (a, b, c) = tokio::join!(
        t.transcode(job(0)),
        t.transcode(job(1)),
        t.transcode(job(2))
    );
    let sequential = crate::software();
    for (i, out) in [a, b, c].into_iter().enumerate() {
        let out = out.unwrap();
        let want = sequential.transcode_blocking(job(i)).unwrap();
        assert_eq!(out, want, "segment {i}");
    }
}
