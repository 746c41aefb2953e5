//! Replays the seed corpora of the per-format fuzz targets (`fuzz/corpus/{h264,ts,ivf,mp4}`)
//! through the entry points the targets use, with every prefix and a bit flip in each of the
//! first 512 bytes, and checks the valid seeds parse as what they are.

use std::path::PathBuf;

use livepeer_bitstream::{av1, fuzz_entry, h264, ivf, mp4, ts};
use livepeer_core::VideoCodec;

fn corpus(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

fn read(target: &str, name: &str) -> Vec<u8> {
    std::fs::read(corpus(target).join(name)).unwrap()
}

fn replay(target: &str, entry: fn(&[u8]), at_least: usize) {
    let mut n = 0;
    for e in std::fs::read_dir(corpus(target)).expect("corpus directory exists") {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        entry(&data);
        for cut in 0..data.len() {
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
fn h264_corpus_replays() {
    replay("h264", fuzz_entry::h264, 3);
}

#[test]
fn ts_corpus_replays() {
    replay("ts", fuzz_entry::ts, 5);
}

#[test]
fn ivf_corpus_replays() {
    replay("ivf", fuzz_entry::ivf, 3);
}

#[test]
fn mp4_corpus_replays() {
    replay("mp4", fuzz_entry::mp4, 2);
}

#[test]
fn valid_seeds_parse() {
    let es = read("h264", "annexb_h264_1frame");
    let sps = h264::parse_sps(h264::find_nal(&es, h264::nal::SPS).unwrap()).unwrap();
    assert_eq!((sps.width, sps.height), (32, 32));
    assert!(h264::is_keyframe(&es));

    let d = ts::demux(&read("ts", "ts_h264_2frames"), ts::OnTransportError::Reject).unwrap();
    let video = d.find(|st| st == ts::stream_type::H264).unwrap();
    assert_eq!(video.pes.len(), 2);
    let first = ts::parse_pes(&video.pes[0]).unwrap();
    assert!(first.pts.is_some() && h264::is_keyframe(first.payload));
    let d = ts::demux(&read("ts", "ts_pat_only"), ts::OnTransportError::Reject).unwrap();
    assert!(d.streams.is_empty());

    let file = read("ivf", "ivf_av1_2frames");
    let f = ivf::parse(&file, ivf::AV1).unwrap();
    assert_eq!(
        (f.header.width, f.header.height, f.frames.len()),
        (64, 64, 2)
    );
    let seq = av1::sequence_header_obu(f.frames[0].data).unwrap();
    let seq = av1::obus(seq).next().unwrap().unwrap();
    let seq = av1::parse_sequence_header(seq.payload).unwrap();
    assert_eq!((seq.max_width, seq.max_height), (64, 64));
    assert!(
        ivf::parse(&read("ivf", "ivf_vp9_header"), ivf::AV1)
            .unwrap_err()
            .is_unsupported()
    );

    let file = read("mp4", "tiny.mp4");
    let v = mp4::read_video(&file).unwrap();
    assert_eq!(v.codec, VideoCodec::H264);
    assert!(!v.samples.is_empty());
    let (sets, len) = h264::avcc_parameter_sets(v.config).unwrap();
    let sps = h264::parse_sps(h264::find_nal(&sets, h264::nal::SPS).unwrap()).unwrap();
    assert_eq!((sps.width, sps.height), (v.width, v.height));
    let mut au = Vec::new();
    h264::avcc_to_annexb(v.samples[0].data, len, &mut au).unwrap();
    assert!(h264::is_keyframe(&au));
}
