//! Paired measurements of the ratios the PM floors are stated in, robust to a machine whose
//! speed drifts (shared cores): each round times the two sides back to back, in alternating
//! order, and the median of the per-round ratios is reported.
//!
//! `cargo bench -p livepeer-benches --bench pm_paired`

#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use livepeer_core::eip191_digest;
use livepeer_pm::test_utils::{fixture, test_signer};
use livepeer_pm::{RecipientSecret, TicketHasher, TicketVerifier};
use secp256k1::Message;
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};

const ROUNDS: usize = 300;
const SINGLES: usize = 20;

fn time(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mut fx = fixture();
    let sender = fx.sender.address();
    let batch = fx.sender.create_batch(&fx.session, 100).unwrap();
    let one = &batch.tickets[0];
    let rand = RecipientSecret::from_bytes([0x33; 32]).recipient_rand(&fx.params, &sender);
    let key = test_signer(0x11).public_key();
    let digest = eip191_digest(&TicketHasher::new(&fx.params, sender).hash(one.nonce));
    let msg = Message::from_digest(digest.0);
    let recid = RecoveryId::try_from(i32::from(one.sig[64] - 27)).unwrap();
    let rsig = RecoverableSignature::from_compact(&one.sig[..64], recid).unwrap();
    let verifier = TicketVerifier::new(&fx.params, sender, rand).with_sender_key(key);

    // What validation adds to the recovery: the ticket hash and EIP-191 digest (three keccak
    // permutations) and the win draw (one).
    let hasher = TicketHasher::new(&fx.params, sender);
    let sig = livepeer_core::Signature::from_slice(&one.sig).unwrap();
    let n = 20_000u32;
    let digest_cost = time(|| {
        for _ in 0..n {
            black_box(hasher.digest(black_box(one.nonce)));
        }
    }) / n;
    let win_cost = time(|| {
        for _ in 0..n {
            black_box(livepeer_core::ticket::is_winning(
                black_box(&sig),
                &rand,
                &fx.params.win_prob,
            ));
        }
    }) / n;

    let recover = || {
        for _ in 0..SINGLES {
            black_box(black_box(&rsig).recover_ecdsa(black_box(msg)).unwrap());
        }
    };
    let validate = || {
        for _ in 0..SINGLES {
            black_box(verifier.check(one.nonce, &one.sig).unwrap());
        }
    };
    let sequential = || {
        let mut v = verifier.clone();
        black_box(v.check_all_sequential(&batch.tickets));
    };
    let parallel = || {
        let mut v = verifier.clone();
        black_box(v.check_all(&batch.tickets));
    };

    // The same recovery over the batch's 100 signatures: different inputs defeat the branch
    // predictor, which learns a single signature's path.
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
    let recover_all = || {
        for (rs, m) in &pairs {
            black_box(rs.recover_ecdsa(*m).unwrap());
        }
    };

    // The machine's own ceiling: the same recoveries split over two threads, no checks.
    let recover_two = || {
        let (a, b) = pairs.split_at(pairs.len() / 2);
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                for (rs, m) in b {
                    black_box(rs.recover_ecdsa(*m).unwrap());
                }
            });
            for (rs, m) in a {
                black_box(rs.recover_ecdsa(*m).unwrap());
            }
            h.join().unwrap();
        });
    };

    let (mut r_one, mut r_par, mut r_seq) = (Vec::new(), Vec::new(), Vec::new());
    let mut r_ceiling = Vec::new();
    let mut t_rec100 = Vec::new();
    let (mut t_rec, mut t_val, mut t_seq, mut t_par) = (vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        let (a, b) = if round % 2 == 0 {
            let a = time(recover);
            (a, time(validate))
        } else {
            let b = time(validate);
            (time(recover), b)
        };
        let (c, d) = if round % 2 == 0 {
            let c = time(sequential);
            (c, time(parallel))
        } else {
            let d = time(parallel);
            (time(sequential), d)
        };
        let (e, c2) = if round % 2 == 0 {
            let e = time(recover_all);
            (e, time(sequential))
        } else {
            let c2 = time(sequential);
            (time(recover_all), c2)
        };
        let (f, g) = if round % 2 == 0 {
            let f = time(recover_all);
            (f, time(recover_two))
        } else {
            let g = time(recover_two);
            (time(recover_all), g)
        };
        r_ceiling.push(f.as_secs_f64() / g.as_secs_f64());
        r_seq.push(e.as_secs_f64() / c2.as_secs_f64());
        t_rec100.push(e.as_secs_f64() / 100.0);
        r_one.push(a.as_secs_f64() / b.as_secs_f64());
        r_par.push(c.as_secs_f64() / d.as_secs_f64());
        t_rec.push(a.as_secs_f64() / SINGLES as f64);
        t_val.push(b.as_secs_f64() / SINGLES as f64);
        t_seq.push(c.as_secs_f64() / 100.0);
        t_par.push(d.as_secs_f64() / 100.0);
    }
    let us = |v: Vec<f64>| median(v) * 1e6;
    println!("pm paired, {ROUNDS} rounds, medians per signature:");
    println!("  secp256k1 recover              {:8.2} µs", us(t_rec));
    println!("  validate one ticket            {:8.2} µs", us(t_val));
    println!("  secp256k1 recover, 100 sigs    {:8.2} µs", us(t_rec100));
    println!("  validate batch of 100, 1 core  {:8.2} µs", us(t_seq));
    println!("  validate batch of 100, parallel{:8.2} µs", us(t_par));
    println!("  of which ticket hash + digest  {digest_cost:8.2?}, win draw {win_cost:8.2?}");
    println!(
        "  validate-one rate / recover rate (median of paired ratios): {:.3}",
        median(r_one)
    );
    println!(
        "  one-core batch rate / recover rate over the same 100 signatures: {:.3}",
        median(r_seq)
    );
    println!(
        "  parallel batch rate / one-core batch rate (median of paired ratios): {:.3}",
        median(r_par)
    );
    println!(
        "  machine ceiling: bare recovery on 2 threads / 1 thread (median of paired ratios): {:.3}",
        median(r_ceiling)
    );
}
