//! The paper's convergence claim: over many tickets the amount won approaches the expected
//! value paid.

use livepeer_core::crypto::keccak256_concat;
use livepeer_core::ticket::is_winning;
use livepeer_core::{Signature, U256, Wei};
use livepeer_pm::{ticket_ev, win_prob_for};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 10^6 tickets at a win probability of 1/10, with random canonical signatures (the win
/// rule only reads their bytes): the amount won is within 1% of the EV paid.
#[test]
fn a_million_tickets_win_their_expected_value_within_one_percent() {
    const N: u64 = 1_000_000;
    let ev = Wei::from_u128(1_000_000_000);
    let face_value = U256::from(10_000_000_000u64);
    let win_prob = win_prob_for(ev, face_value);
    assert_eq!(ticket_ev(face_value, win_prob), ev);

    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let recipient_rand = U256::from(rng.next_u64());

    // Signature bytes from keccak in counter mode under the seeded key: as random as the win
    // rule needs, and fast in unoptimised test builds.
    let mut wins = 0u64;
    let mut sig = [0u8; 65];
    for i in 0..N {
        // r from the stream, s a rotation of it (low s, non-zero): distinct signatures are
        // all the draw needs.
        let r = keccak256_concat(&[&seed, &i.to_be_bytes()]);
        sig[..32].copy_from_slice(&r);
        sig[32..48].copy_from_slice(&r[16..]);
        sig[48..64].copy_from_slice(&r[..16]);
        sig[32] &= 0x7f;
        sig[63] |= 1;
        sig[64] = 27 + (r[0] & 1);
        let sig = Signature::from_bytes(sig).unwrap();
        if is_winning(&sig, &recipient_rand, &win_prob) {
            wins += 1;
        }
    }
    let won = face_value * U256::from(wins);
    let expected = ev.0 * U256::from(N);
    let diff = if won > expected {
        won - expected
    } else {
        expected - won
    };
    assert!(
        diff * U256::from(100) < expected,
        "won {won} against an expected {expected} ({wins} wins)"
    );
}
