//! Replays the fuzz corpus of the codec (`fuzz/corpus/negotiate_codec`) through the entry
//! point the fuzz target uses, so every input the fuzzer found interesting stays a
//! regression test.

use std::path::PathBuf;

#[test]
fn fuzz_corpus_replays_without_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/negotiate_codec");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory exists") {
        let path = entry.expect("entry").path();
        let data = std::fs::read(&path).expect("readable");
        livepeer_negotiate::fuzz_entry::decode_all(&data);
        n += 1;
    }
    assert!(n >= 10, "corpus has only {n} inputs");
}
