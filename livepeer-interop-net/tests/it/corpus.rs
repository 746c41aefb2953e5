//! The fuzz entry points: the committed corpora (`fuzz/corpus/interop_net_signer`,
//! `fuzz/corpus/interop_net_routes`) replay, their seeds get through, and random or mutated
//! inputs never panic.

use std::path::PathBuf;

use livepeer_interop_net::fuzz_entry;
use proptest::prelude::*;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Checks that `seeds` are committed in `target`'s corpus (or writes them with
/// `LIVEPEER_WRITE_CORPUS=1`) and replays every file of it through `entry`.
fn committed(target: &str, seeds: &[Vec<u8>], entry: fn(&[u8]) -> bool) {
    let dir = corpus_dir(target);
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
        entry(&std::fs::read(f).unwrap());
    }
}

#[test]
fn seeds_are_committed_and_replay() {
    let seeds = fuzz_entry::seeds();
    assert_eq!(seeds.len(), 3);
    committed("interop_net_signer", &seeds, fuzz_entry::remote_signer);
    let routes = fuzz_entry::route_seeds();
    assert_eq!(routes.len(), 2);
    committed("interop_net_routes", &routes, fuzz_entry::routes);
}

#[test]
fn route_seeds_pass_and_bad_headers_do_not() {
    for (i, seed) in fuzz_entry::route_seeds().iter().enumerate() {
        assert!(fuzz_entry::routes(seed), "route seed {i} passes");
    }
    // The segment seed with another body fails the hash check.
    let mut other = fuzz_entry::route_seeds()[0].clone();
    *other.last_mut().unwrap() ^= 1;
    assert!(!fuzz_entry::routes(&other));
    assert!(!fuzz_entry::routes(&[0, 0, 0, 0, 0]));
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
    fn random_route_inputs_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        fuzz_entry::routes(&data);
    }

    #[test]
    fn mutated_route_seeds_never_panic(
        which in 0usize..2,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut data = fuzz_entry::route_seeds()[which].clone();
        for (at, byte) in edits {
            let i = at.index(data.len());
            data[i] = byte;
        }
        fuzz_entry::routes(&data);
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
