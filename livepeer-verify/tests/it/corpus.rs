//! Replays the fuzz corpus of the bitstream parsers (`fuzz/corpus/verify_bitstream`) through
//! the entry point the fuzz target uses, and checks the valid seeds parse as what they are.

use std::path::PathBuf;

use livepeer_core::{Container, VideoCodec};
use livepeer_verify::inspect;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/verify_bitstream")
}

#[test]
fn fuzz_corpus_replays_without_panic() {
    let mut n = 0;
    for entry in std::fs::read_dir(corpus()).expect("corpus directory exists") {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        livepeer_verify::fuzz_entry::parse_bitstream(&data);
        // Every prefix and a bit flip in every byte of the first 512 stay panic-free.
        for cut in (0..data.len()).step_by(37) {
            livepeer_verify::fuzz_entry::parse_bitstream(&data[..cut]);
        }
        for i in 0..data.len().min(512) {
            let mut d = data.clone();
            d[i] ^= 0x5a;
            livepeer_verify::fuzz_entry::parse_bitstream(&d);
        }
        n += 1;
    }
    assert!(n >= 5, "corpus has only {n} inputs");
}

#[test]
fn valid_seeds_parse() {
    let read = |n: &str| std::fs::read(corpus().join(n)).unwrap();
    let ts = inspect(&read("ts_h264_2frames"), Container::MpegTs).unwrap();
    assert_eq!(
        (ts.width, ts.height, ts.frames, ts.codec),
        (32, 32, 2, VideoCodec::H264)
    );
    assert_eq!(ts.key_frames, vec![0]);
    let es = inspect(&read("annexb_h264_1frame"), Container::AnnexB).unwrap();
    assert_eq!((es.frames, es.key_frames.len()), (1, 1));
    let av1 = inspect(&read("ivf_av1_2frames"), Container::Ivf).unwrap();
    assert_eq!(
        (av1.width, av1.height, av1.frames, av1.codec),
        (64, 64, 2, VideoCodec::Av1)
    );
    assert!(av1.starts_with_key_frame());
    assert!(inspect(&read("ts_pat_only"), Container::MpegTs).is_err());
}
