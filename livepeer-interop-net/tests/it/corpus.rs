//! The remote signer's fuzz entry point: the committed corpus
//! (`fuzz/corpus/interop_net_signer`) replays, its seeds reach a payment, and random or
//! mutated inputs never panic.

use std::path::PathBuf;

use livepeer_interop_net::fuzz_entry;
use proptest::prelude::*;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/interop_net_signer")
}

#[test]
fn seeds_are_committed_and_replay() {
    let dir = corpus_dir();
    let seeds = fuzz_entry::seeds();
    assert_eq!(seeds.len(), 3);
    if std::env::var_os("LIVEPEER_WRITE_CORPUS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), s).unwrap();
        }
    }
    for (i, s) in seeds.iter().enumerate() {
        let committed = std::fs::read(dir.join(format!("seed-{i}"))).unwrap_or_else(|e| {
            panic!("seed-{i} is committed ({e}); LIVEPEER_WRITE_CORPUS=1 writes it")
        });
        assert_eq!(&committed, s, "seed-{i} is current");
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        fuzz_entry::remote_signer(&std::fs::read(f).unwrap());
    }
}

#[test]
fn seeds_reach_a_payment() {
    for (i, seed) in fuzz_entry::seeds().iter().enumerate() {
        assert!(
            fuzz_entry::remote_signer(seed),
            "seed-{i} reaches a payment"
        );
    }
    assert!(!fuzz_entry::remote_signer(b"\x00{}"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_inputs_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        fuzz_entry::remote_signer(&data);
    }

    #[test]
    fn mutated_seeds_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut data = fuzz_entry::seeds()[which].clone();
        for (at, byte) in edits {
            let i = at.index(data.len());
            if i > 0 {
                data[i] = byte;
            }
        }
        let keep = 1 + cut.index(data.len());
        data.truncate(keep);
        fuzz_entry::remote_signer(&data);
    }
}
