//! Seeded encode → mux → demux → decode round trips on synthetic pictures.

use livepeer_core::{Framerate, VideoProfile};
use livepeer_transcode::conformance::psnr_y;
use livepeer_transcode::testsrc::{synthetic_segment, test_frame};
use livepeer_transcode::{H264Encoder, InputLimits, Output, VideoEncoder, decode_segment, inspect};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, .. ProptestConfig::default() })]
    #[test]
    fn synthetic_segments_round_trip(w in 8u32..40, h in 8u32..24, frames in 1u32..8, seq in 0u64..1000) {
        let (w, h) = (w * 8, h * 8);
        let seg = synthetic_segment(w, h, frames, seq).unwrap();
        let info = inspect(&seg, InputLimits::default()).unwrap();
        prop_assert_eq!((info.frames, info.width, info.height), (frames, w, h));
        prop_assert_eq!(info.first_pts, 126_000 + (seq * u64::from(frames)) as i64 * 3000);
        let decoded = decode_segment(&seg, InputLimits::default()).unwrap();
        for (i, f) in decoded.iter().enumerate() {
            let src = test_frame(w, h, seq * u64::from(frames) + i as u64, 0);
            prop_assert!(psnr_y(&src.y, &f.y) > 30.0);
        }
    }
}

#[test]
fn encoder_statuses_follow_the_contract() {
    let p = VideoProfile::preset("144p").unwrap();
    let mut e = H264Encoder::new(&p, Framerate::new(30, 1).unwrap()).unwrap();
    e.start_segment().unwrap();
    assert!(matches!(e.receive_packet().unwrap(), Output::NeedMoreData));
    e.send_frame(&test_frame(256, 144, 0, 0)).unwrap();
    assert!(matches!(e.receive_packet().unwrap(), Output::Ready(p) if p.keyframe));
    assert!(
        e.send_frame(&test_frame(320, 144, 1, 1)).is_err(),
        "wrong size is refused"
    );
    e.flush().unwrap();
    assert!(matches!(e.receive_packet().unwrap(), Output::Done));
}
