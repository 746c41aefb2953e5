//! Replays the fuzz corpus of the core parsers (`fuzz/corpus/core_parsers`) through the same
//! entry point the fuzz target uses, so every input the fuzzer found interesting stays a
//! regression test.

use std::path::PathBuf;

#[test]
fn fuzz_corpus_replays_without_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/core_parsers");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory exists") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        livepeer_core::fuzz_entry::parse_all(&data);
        n += 1;
    }
    assert!(n >= 5, "corpus has only {n} inputs");
}
