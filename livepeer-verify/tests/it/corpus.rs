//! Replays the seed corpora of the per-format fuzz targets (`fuzz/corpus/{h264,ts,ivf,mp4}`)
//! through this crate's inspector, and the `decode` corpus through every bitstream parser and
//! the decoder adapter, and checks the valid seeds parse as what they are.

use std::path::PathBuf;

use livepeer_core::{Container, VideoCodec};
use livepeer_verify::fuzz_entry;
use livepeer_verify::inspect;

fn corpus(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Runs `entry` on every seed of `target`, every 37th prefix and a bit flip in each of the
/// first 512 bytes.
fn replay(target: &str, at_least: usize, entry: impl Fn(&[u8])) {
    let mut n = 0;
    for e in std::fs::read_dir(corpus(target)).expect("corpus directory exists") {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        entry(&data);
        for cut in (0..data.len()).step_by(37) {
            entry(&data[..cut]);
        }
        for i in 0..data.len().min(512) {
            let mut d = data.clone();
            d[i] ^= 0x5a;
            entry(&d);
        }
        n += 1;
    }
    assert!(n >= at_least, "corpus {target} has only {n} inputs");
}

#[test]
fn format_corpora_replay_through_the_inspector() {
    for (target, containers) in [
        ("h264", &[Container::AnnexB][..]),
        ("ts", &[Container::MpegTs]),
        ("ivf", &[Container::Ivf]),
        ("mp4", &[Container::Mp4, Container::Fmp4]),
    ] {
        replay(target, 1, |d| {
            containers.iter().for_each(|&c| fuzz_entry::inspect(d, c));
        });
    }
}

#[test]
fn format_corpora_replay_through_the_decoder() {
    for target in ["h264", "ts", "ivf"] {
        replay(target, 1, fuzz_entry::parse_bitstream);
    }
}

#[test]
fn decode_corpus_replays_without_panic() {
    for e in std::fs::read_dir(corpus("decode")).expect("corpus directory exists") {
        fuzz_entry::parse_bitstream(&std::fs::read(e.unwrap().path()).unwrap());
    }
}

#[test]
fn valid_seeds_parse() {
    let read = |t: &str, n: &str| std::fs::read(corpus(t).join(n)).unwrap();
    let ts = inspect(&read("ts", "ts_h264_2frames"), Container::MpegTs).unwrap();
    assert_eq!(
        (ts.width, ts.height, ts.frames, ts.codec),
        (32, 32, 2, VideoCodec::H264)
    );
    assert_eq!(ts.key_frames, vec![0]);
    let es = inspect(&read("h264", "annexb_h264_1frame"), Container::AnnexB).unwrap();
    assert_eq!((es.frames, es.key_frames.len()), (1, 1));
    let av1 = inspect(&read("ivf", "ivf_av1_2frames"), Container::Ivf).unwrap();
    assert_eq!(
        (av1.width, av1.height, av1.frames, av1.codec),
        (64, 64, 2, VideoCodec::Av1)
    );
    assert!(av1.starts_with_key_frame());
    assert!(inspect(&read("ts", "ts_pat_only"), Container::MpegTs).is_err());
    let mp4 = inspect(&read("mp4", "tiny.mp4"), Container::Mp4).unwrap();
    assert_eq!(mp4.codec, VideoCodec::H264);
    assert!(mp4.frames > 0 && mp4.starts_with_key_frame());
}
