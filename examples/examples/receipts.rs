//! A broadcaster and an orchestrator agree on a segment: the broadcaster signs a claim, the
//! orchestrator signs a receipt, both for one deployment (a chain id and its FaultVerifier),
//! both verify there and nowhere else, and the evidence is persisted crash-safely.
//!
//! Run with `cargo run -p livepeer-examples --example receipts`.

#![allow(clippy::print_stdout)]

use livepeer_core::store::RedbStore;
use livepeer_core::{
    AddressExt, Batch, Domain, H256, Ladder, LocalSigner, Receipt, SegmentClaim, Signer, Store,
    StreamId, keccak256,
};

fn main() -> anyhow::Result<()> {
    // The first two anvil development keys.
    let broadcaster = LocalSigner::from_hex(
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    )?;
    let orchestrator = LocalSigner::from_hex(
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    )?;
    let ladder: Ladder = "P720p30fps16x9,P360p30fps16x9".parse()?;
    let segment = b"an MPEG-TS segment would be here";
    // Anvil's chain id and the FaultVerifier address of the deployment the statements are
    // for (a node reads both from its chain configuration).
    let domain = Domain::new(
        31337,
        livepeer_core::parse_address("0xa513E6E4b8f2a923D98304ec87F64353C4D5C853")?,
    );

    let claim = SegmentClaim {
        broadcaster: broadcaster.address(),
        orchestrator: orchestrator.address(),
        stream_id: StreamId::from_name("demo"),
        seq: 0,
        input_hash: H256::from(keccak256(segment)),
        profile_ids: ladder.ids(),
        duration_ms: 2000,
    }
    .sign(&broadcaster, &domain)?;

    let receipt = Receipt {
        orchestrator: orchestrator.address(),
        broadcaster: broadcaster.address(),
        stream_id: claim.claim.stream_id,
        seq: claim.claim.seq,
        input_hash: claim.claim.input_hash,
        profile_ids: ladder.ids(),
        output_hashes: vec![
            H256::from(keccak256(b"720p")),
            H256::from(keccak256(b"360p")),
        ],
        pixels: ladder
            .profiles()
            .iter()
            .map(|p| p.pixels_per_frame() * 60)
            .collect(),
    }
    .sign(&orchestrator, &domain)?;

    claim.verify(&domain)?;
    receipt.verify(&domain)?;
    let mainnet = Domain::new(1, domain.verifying_contract);
    anyhow::ensure!(
        receipt.verify(&mainnet).is_err(),
        "a receipt for one chain must not verify on another"
    );
    anyhow::ensure!(
        claim.claim.matches(&receipt.receipt),
        "claim and receipt disagree"
    );

    let dir = tempfile::tempdir()?;
    let store = RedbStore::open(dir.path().join("evidence.redb"))?;
    let key = format!("evidence/{}", hex_of(&receipt.receipt.hash()));
    let mut batch = Batch::new();
    batch
        .expect(key.clone(), None)
        .put(key.clone(), serde_json::to_vec(&receipt)?);
    store.commit(batch)?;

    println!("broadcaster  {}", broadcaster.address().checksummed());
    println!("orchestrator {}", orchestrator.address().checksummed());
    println!("claim hash   0x{}", hex_of(&claim.claim.hash()));
    println!("receipt hash 0x{}", hex_of(&receipt.receipt.hash()));
    println!("domain       0x{}", hex_of(&domain.separator()));
    println!(
        "stored       {key} ({} bytes)",
        store.get(key.as_bytes())?.map_or(0, |v| v.len())
    );
    Ok(())
}

fn hex_of(h: &H256) -> String {
    hex::encode(h.as_bytes())
}
