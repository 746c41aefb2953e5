//! `devnet --livepeer-contracts` (feature `livepeer`): our orchestrators staked and
//! registered in Livepeer's own contracts (production bytecode on anvil), a broadcaster that
//! finds them in Livepeer's registry and streams on go-livepeer's protocol; every segment
//! out, and every winning ticket persisted is redeemed on Livepeer's TicketBroker.

#![cfg(feature = "livepeer")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::Command;

mod common;
use common::{DEVNET, anvil_path, ok};

#[test]
fn the_devnet_runs_on_livepeers_contracts() {
    let Some(anvil) = anvil_path() else {
        eprintln!("SKIPPED: anvil not found (run `npm ci` in contracts/ or set ANVIL_BIN)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = Command::new(DEVNET)
        .args(["--livepeer-contracts", "--quiet", "--orchestrators", "2"])
        .args(["--profiles", "240p", "--pattern-size", "426x240"])
        .args(["--pattern-seconds", "6", "--block-ms", "200"])
        // Tickets worth 0.01 ETH each (face value twice that, far above the redemption's
        // gas: one in two wins) and a price that takes about 13 of them a segment: some
        // win, so the run redeems on Livepeer's TicketBroker (no winner in 39: 2^-39).
        .args(["--ticket-ev", "10000000000000000", "--price", "10000000000"])
        .arg("--out")
        .arg(&out)
        .env("ANVIL_BIN", anvil)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let text = ok(&o, "devnet --livepeer-contracts");
    assert!(text.contains("segments: 3 in, 3 out, 0 failed"), "{text}");
    assert!(out.join("index.m3u8").exists());
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("orchestrator "))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    let mut segments = 0;
    let mut total_redeemed = 0;
    for l in lines {
        let num = |before: &str| -> u64 {
            let head = l.split(before).next().unwrap();
            head.rsplit(' ').next().unwrap().parse().unwrap()
        };
        let (won, redeemed) = (num(" winners"), num(" redeemed"));
        assert_eq!(won, redeemed, "every winner redeemed: {l}");
        segments += num(" segments");
        total_redeemed += redeemed;
        if redeemed > 0 {
            assert!(!l.ends_with("fees 0 wei"), "redeemed but no fees: {l}");
        }
    }
    assert_eq!(segments, 3, "{text}");
    assert!(total_redeemed >= 1, "no winner redeemed: {text}");
}
