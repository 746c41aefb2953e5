//! Replays every file of the fuzz corpus through the fuzz target's entry point.

use std::path::Path;

#[test]
fn fuzz_corpus_replays_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/demux");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        livepeer_transcode::inspect::fuzz_demux_decode(&data);
        n += 1;
    }
    assert!(n >= 4, "corpus at {} has {n} files", dir.display());
}
