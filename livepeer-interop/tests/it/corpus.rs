//! Replays the committed fuzz corpora (`fuzz/corpus/interop_*`) through the fuzz entry
//! points: every input returns without a panic, and the seeds decode as intended.

use std::path::PathBuf;

use livepeer_interop::fuzz_entry;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {} is committed: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{target}: {} files", files.len());
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

#[test]
fn headers_corpus_replays() {
    let mut decoded = 0;
    for data in corpus("interop_headers") {
        fuzz_entry::headers(&data);
        let (mode, rest) = data.split_first().unwrap();
        let ok = if mode % 2 == 0 {
            livepeer_interop::decode_segment_header(rest).is_ok()
        } else {
            livepeer_interop::decode_payment_header(rest).is_ok()
        };
        decoded += usize::from(ok);
    }
    assert!(decoded >= 3, "{decoded} seeds decode");
}

#[test]
fn transcode_result_corpus_replays() {
    let mut decoded = 0;
    for data in corpus("interop_transcode_result") {
        fuzz_entry::transcode_result(&data);
        decoded += usize::from(livepeer_interop::decode_transcode_result(&data).is_ok());
    }
    assert!(decoded >= 2, "{decoded} seeds decode");
}

#[test]
fn orchestrator_info_corpus_replays() {
    let mut decoded = 0;
    for data in corpus("interop_orchestrator_info") {
        fuzz_entry::orchestrator_info(&data);
        decoded += usize::from(livepeer_interop::decode_orchestrator_info(&data).is_ok());
    }
    assert!(decoded >= 1, "{decoded} seeds decode");
}
