use livepeer_core::{Ladder, StreamId};
use livepeer_transcode::conformance::MediaSpec;
use livepeer_transcode::{SoftwareConfig, SoftwareTranscoder, TranscodeJob};

fn hashes(t: &SoftwareTranscoder, stream: &str, seg: &livepeer_core::Segment) -> Vec<[u8; 32]> {
    let job = TranscodeJob {
        stream_id: StreamId::from_name(stream),
        segment: seg.clone(),
        ladder: Ladder::parse("240p,144p").unwrap(),
    };
    t.transcode_blocking(job)
        .unwrap()
        .renditions
        .iter()
        .map(|r| r.blake3())
        .collect()
}

#[test]
fn output_is_identical_across_runs_thread_layouts_and_history() {
    if crate::no_ffmpeg() {
        return;
    }
    let segs = MediaSpec::default().segments().unwrap();
    let mut inline = SoftwareConfig::default();
    inline.workers_per_segment = 0;
    let inline = SoftwareTranscoder::new(inline).unwrap();
    let mut wide = SoftwareConfig::default();
    wide.workers_per_segment = 3;
    let wide = SoftwareTranscoder::new(wide).unwrap();
    // Segment 2 alone, on a fresh stream...
    let alone = hashes(&inline, "alone", &segs[2]);
    // ...equals segment 2 after segments 0 and 1 went through the same encoders.
    hashes(&wide, "sequence", &segs[0]);
    hashes(&wide, "sequence", &segs[1]);
    assert_eq!(hashes(&wide, "sequence", &segs[2]), alone);
    assert_eq!(hashes(crate::software().as_ref(), "third", &segs[2]), alone);
}
