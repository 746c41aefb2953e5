//! Replays every file of the fuzz corpora through the fuzz targets' entry points.

use std::path::Path;

fn replay(target: &str, entry: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        entry(&data);
        n += 1;
    }
    assert!(n >= 4, "corpus at {} has {n} files", dir.display());
}

#[test]
fn fuzz_corpus_replays_without_panic() {
    replay("decode", livepeer_transcode::inspect::fuzz_demux_decode);
}

#[test]
fn playlist_corpus_replays_without_panic() {
    replay("hls_playlist", livepeer_transcode::hls::fuzz_playlist);
}
