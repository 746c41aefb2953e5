//! Ticket signing and validation, against bare secp256k1 recovery measured in the same run.
//!
//! `cargo bench -p livepeer-benches --bench pm`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use livepeer_core::{U256, eip191_digest};
use livepeer_pm::test_utils::{Fixture, fixture};
use livepeer_pm::{TicketBatch, TicketHasher, TicketVerifier};
use secp256k1::Message;
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};

const BATCH: usize = 100;

fn recipient_rand(fx: &Fixture) -> U256 {
    livepeer_pm::RecipientSecret::from_bytes([0x33; 32])
        .recipient_rand(&fx.params, &fx.sender.address())
}

fn bench(c: &mut Criterion) {
    let mut fx = fixture();
    let sender = fx.sender.address();
    let batch: TicketBatch = fx.sender.create_batch(&fx.session, BATCH as u64).unwrap();
    let one = &batch.tickets[0];
    let rand = recipient_rand(&fx);
    let key = livepeer_pm::test_utils::test_signer(0x11).public_key();

    // The baseline: libsecp256k1 recovery of a parsed signature over a ready digest.
    let digest = eip191_digest(&TicketHasher::new(&fx.params, sender).hash(one.nonce));
    let msg = Message::from_digest(digest.0);
    let recid = RecoveryId::try_from(i32::from(one.sig[64] - 27)).unwrap();
    let rsig = RecoverableSignature::from_compact(&one.sig[..64], recid).unwrap();
    let plain = rsig.to_standard();

    let mut g = c.benchmark_group("pm");
    g.bench_function("secp256k1 recover", |b| {
        b.iter(|| black_box(&rsig).recover_ecdsa(black_box(msg)).unwrap())
    });
    g.bench_function("secp256k1 verify (known key)", |b| {
        b.iter(|| black_box(&plain).verify(black_box(msg), &key).unwrap())
    });

    g.bench_function("sign one ticket", |b| {
        b.iter(|| fx.sender.create_batch(&fx.session, 1).unwrap())
    });

    let cached = TicketVerifier::new(&fx.params, sender, rand).with_sender_key(key);
    let uncached = TicketVerifier::new(&fx.params, sender, rand);
    g.bench_function("validate one ticket", |b| {
        b.iter(|| {
            cached
                .check(black_box(one.nonce), black_box(&one.sig))
                .unwrap()
        })
    });
    g.bench_function("validate one ticket (no cached key)", |b| {
        b.iter(|| {
            uncached
                .check(black_box(one.nonce), black_box(&one.sig))
                .unwrap()
        })
    });

    g.throughput(Throughput::Elements(BATCH as u64));
    // The same over the batch's 100 signatures (different inputs defeat the branch
    // predictor, which learns a single signature's path).
    let pairs: Vec<(RecoverableSignature, Message)> = batch
        .tickets
        .iter()
        .map(|t| {
            let d = eip191_digest(&TicketHasher::new(&fx.params, sender).hash(t.nonce));
            let id = RecoveryId::try_from(i32::from(t.sig[64] - 27)).unwrap();
            let rs = RecoverableSignature::from_compact(&t.sig[..64], id).unwrap();
            (rs, Message::from_digest(d.0))
        })
        .collect();
    g.bench_function("secp256k1 recover (100 signatures)", |b| {
        b.iter(|| {
            for (rs, m) in &pairs {
                black_box(rs.recover_ecdsa(black_box(*m)).unwrap());
            }
        })
    });
    // The batch path on the calling thread: the one-core rate it is compared with.
    g.bench_function("validate batch of 100 (one core)", |b| {
        b.iter(|| {
            let mut v = cached.clone();
            let r = v.check_all_sequential(black_box(&batch.tickets));
            assert!(r.iter().all(Result::is_ok));
        })
    });
    g.bench_function("validate batch of 100 (parallel)", |b| {
        b.iter(|| {
            let mut v = cached.clone();
            let r = v.check_all(black_box(&batch.tickets));
            assert!(r.iter().all(Result::is_ok));
        })
    });
    // The whole receive path (decode, commitment, nonce window, credit) of fresh batches.
    g.bench_function("receive batch of 100", |b| {
        b.iter_batched(
            || {
                let mut fx = fixture();
                let batch = fx.sender.create_batch(&fx.session, BATCH as u64).unwrap();
                (fx, batch.encode())
            },
            |(mut fx, bytes)| {
                let r =
                    fx.recipient
                        .receive_bytes(fx.now, fx.block, &bytes, fx.stream, &fx.monitor);
                assert_eq!(r.accepted, BATCH);
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
