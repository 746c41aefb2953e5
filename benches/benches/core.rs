//! Hashing and signatures in livepeer-core: the per-ticket and per-receipt costs every other
//! hot path builds on.

#![allow(clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use livepeer_core::{
    H256, Ladder, LocalSigner, Receipt, Signer, StreamId, Ticket, U256, keccak256,
};
use std::hint::black_box;

fn bench_core(c: &mut Criterion) {
    let signer = LocalSigner::from_bytes(&[7u8; 32]).expect("valid key");
    let ticket = Ticket {
        recipient: H256::repeat_byte(1).into(),
        sender: signer.address(),
        face_value: U256::from(10u64).pow(U256::from(16)),
        win_prob: U256::MAX / 1000,
        sender_nonce: 1,
        recipient_rand_hash: H256::repeat_byte(2),
        creation_round: 100,
        creation_round_block_hash: H256::repeat_byte(3),
    };
    let hash = ticket.hash();
    let sig = signer.sign_message_hash(&hash).expect("signs");

    let mut g = c.benchmark_group("core");
    g.bench_function("keccak256 232 B", |b| {
        b.iter(|| keccak256(black_box(&[0u8; 232])))
    });
    g.bench_function("ticket hash", |b| b.iter(|| black_box(&ticket).hash()));
    g.bench_function("sign eip191", |b| {
        b.iter(|| signer.sign_message_hash(black_box(&hash)))
    });
    g.bench_function("recover eip191", |b| {
        b.iter(|| black_box(&sig).recover_eip191(black_box(&hash)))
    });
    let ladder: Ladder = "P720p30fps16x9,P360p30fps16x9,P240p30fps16x9"
        .parse()
        .expect("ladder");
    let receipt = Receipt {
        orchestrator: signer.address(),
        broadcaster: signer.address(),
        stream_id: StreamId::from_name("bench"),
        seq: 1,
        input_hash: H256::repeat_byte(4),
        profile_ids: ladder.ids(),
        output_hashes: vec![H256::repeat_byte(5); 3],
        pixels: vec![1; 3],
    };
    g.bench_function("receipt hash (3 renditions)", |b| {
        b.iter(|| black_box(&receipt).hash())
    });
    g.finish();
}

criterion_group!(benches, bench_core);
criterion_main!(benches);
