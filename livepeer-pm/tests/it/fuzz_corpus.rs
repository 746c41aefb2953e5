//! Replays the committed fuzz corpus (`fuzz/corpus/ticket_batch`) through the fuzz harness:
//! every input gives a typed result and no panic.

use std::path::PathBuf;

use livepeer_pm::test_utils::fuzz_ticket_batch;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/ticket_batch")
}

#[test]
fn corpus_replays_without_panics() {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir())
        .expect("the fuzz corpus is committed")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 4, "corpus has {} files", files.len());
    let mut accepted = 0;
    let mut refused = 0;
    for f in files {
        let data = std::fs::read(&f).unwrap();
        let got = fuzz_ticket_batch(&data);
        match &got.error {
            None => accepted += 1,
            Some(e) => {
                // Every refusal is a named error with a message.
                assert!(!e.to_string().is_empty(), "{}", f.display());
                refused += 1;
            }
        }
    }
    assert!(
        accepted >= 1 && refused >= 1,
        "{accepted} accepted, {refused} refused"
    );
}

/// Writes the seed corpus: `cargo test -p livepeer-pm --all-features --test it -- --ignored
/// write_seed_corpus`. The fixture is deterministic, so the valid seeds stay valid.
#[test]
#[ignore = "writes the committed seed corpus"]
fn write_seed_corpus() {
    use livepeer_pm::test_utils::fixture;

    let mut fx = fixture();
    let batch = fx.sender.create_batch(&fx.session, 3).unwrap();
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, mode: u8, body: &[u8]| {
        let mut data = vec![mode];
        data.extend_from_slice(body);
        std::fs::write(dir.join(name), data).unwrap();
    };
    write("valid-batch", 0, &batch.encode());
    let mut bad_v = batch.clone();
    bad_v.tickets[1].sig[64] = 29;
    write("bad-v", 0, &bad_v.encode());
    let mut altered = batch.clone();
    altered.params.face_value += 1.into();
    write("altered-face-value", 0, &altered.encode());
    let mut dup = batch.clone();
    dup.tickets.push(dup.tickets[0].clone());
    write("duplicate-nonce", 0, &dup.encode());
    let enc = batch.encode();
    write("truncated", 0, &enc[..enc.len() / 2]);
    write("garbage", 0, b"\xff\xff\xff\xff\x0fnot a batch");
    let list = |tickets: &[livepeer_pm::TicketSig]| {
        let mut out = Vec::new();
        for t in tickets {
            out.extend_from_slice(&t.nonce.to_le_bytes());
            out.push(t.sig.len() as u8);
            out.extend_from_slice(&t.sig);
        }
        out
    };
    write("valid-list", 1, &list(&batch.tickets));
    let mut short = batch.tickets.clone();
    short[0].sig.truncate(64);
    write("short-signature", 1, &list(&short));
    write("empty", 0, b"");
}
