//! Ticket parameters: what a recipient (orchestrator) issues and a sender (broadcaster) signs
//! tickets against, and the expected-value arithmetic both sides share.

use livepeer_core::ticket::Ticket;
use livepeer_core::{Address, H256, PixelPrice, U256, Wei};
use primitive_types::U512;
use serde::{Deserialize, Serialize};

/// The round a set of params was created in, and the block hash the RoundsManager recorded
/// for it. Together they form the ticket's 64-byte auxData, which the TicketBroker checks to
/// decide how long a winning ticket stays redeemable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExpirationParams {
    /// The round the params were created in.
    pub creation_round: u64,
    /// The block hash recorded for `creation_round`.
    pub creation_round_block_hash: H256,
}

impl ExpirationParams {
    /// Expiration params for `creation_round` and its recorded block hash.
    pub fn new(creation_round: u64, creation_round_block_hash: H256) -> Self {
        ExpirationParams {
            creation_round,
            creation_round_block_hash,
        }
    }

    /// The auxData these params put in a ticket: 64 bytes, or empty for round 0 with a zero
    /// hash (go-livepeer's form, which the contract cannot redeem).
    pub fn aux_data(&self) -> Vec<u8> {
        self.ticket_template().aux_data()
    }

    fn ticket_template(&self) -> Ticket {
        Ticket {
            recipient: Address::zero(),
            sender: Address::zero(),
            face_value: U256::zero(),
            win_prob: U256::zero(),
            sender_nonce: 0,
            recipient_rand_hash: H256::zero(),
            creation_round: self.creation_round,
            creation_round_block_hash: self.creation_round_block_hash,
        }
    }
}

/// The parameters a recipient issues for tickets from one sender (Livepeer's `TicketParams`).
///
/// Every field except `seed` is either hashed into the ticket or bound into the recipient's
/// random number by HMAC, so a sender that alters any of them produces tickets the recipient
/// rejects. The sender echoes the params back with every ticket batch.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TicketParams {
    /// Who may redeem the tickets.
    pub recipient: Address,
    /// Wei paid by a winning ticket.
    pub face_value: U256,
    /// Win probability as a fraction of 2^256 − 1.
    pub win_prob: U256,
    /// The recipient's commitment: keccak256 of its random number.
    pub recipient_rand_hash: H256,
    /// Random bytes from which the recipient re-derives its random number.
    pub seed: H256,
    /// The block at and after which the params no longer buy work.
    pub expiration_block: u64,
    /// The price per pixel the params were issued for.
    pub price: PixelPrice,
    /// Creation round and its block hash (the ticket's auxData).
    pub expiration: ExpirationParams,
}

impl TicketParams {
    /// Params from their parts, as decoded from another implementation's wire form (an
    /// orchestrator issues them with [`Recipient`](crate::Recipient)).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        recipient: Address,
        face_value: U256,
        win_prob: U256,
        recipient_rand_hash: H256,
        seed: H256,
        expiration_block: u64,
        price: PixelPrice,
        expiration: ExpirationParams,
    ) -> Self {
        TicketParams {
            recipient,
            face_value,
            win_prob,
            recipient_rand_hash,
            seed,
            expiration_block,
            price,
            expiration,
        }
    }

    /// The ticket these params give for `sender` and `nonce`.
    pub fn ticket(&self, sender: Address, nonce: u32) -> Ticket {
        Ticket {
            recipient: self.recipient,
            sender,
            face_value: self.face_value,
            win_prob: self.win_prob,
            sender_nonce: nonce,
            recipient_rand_hash: self.recipient_rand_hash,
            creation_round: self.expiration.creation_round,
            creation_round_block_hash: self.expiration.creation_round_block_hash,
        }
    }

    /// The expected value of one ticket, rounded down.
    pub fn ev(&self) -> Wei {
        ticket_ev(self.face_value, self.win_prob)
    }

    /// Whether the params no longer buy work at `block` (the recipient's rule: expired once
    /// the chain has reached `expiration_block`).
    pub fn is_expired_at(&self, block: u64) -> bool {
        self.expiration_block <= block
    }
}

/// The largest win probability, 2^256 − 1: a certain win.
pub const MAX_WIN_PROB: U256 = U256::MAX;

/// The expected value of a ticket, `faceValue × winProb / (2^256 − 1)`, rounded down.
pub fn ticket_ev(face_value: U256, win_prob: U256) -> Wei {
    let q = face_value.full_mul(win_prob) / U512::from(MAX_WIN_PROB);
    // q ≤ face_value since win_prob ≤ 2^256 − 1, so it always fits.
    Wei(U256::try_from(q).unwrap_or(U256::MAX))
}

/// The win probability that gives a ticket of `face_value` the expected value `ev`, as
/// go-livepeer computes it: `ev × ceil((2^256 − 1) / faceValue)`, capped at a certain win.
/// Zero for a zero face value.
pub fn win_prob_for(ev: Wei, face_value: U256) -> U256 {
    if face_value.is_zero() {
        return U256::zero();
    }
    let (q, r) = MAX_WIN_PROB.div_mod(face_value);
    let per_wei = if r.is_zero() { q } else { q + 1 };
    let p = ev.0.full_mul(per_wei);
    U256::try_from(p).unwrap_or(MAX_WIN_PROB)
}

#[cfg(test)]
mod tests {
    use super::*;
    use livepeer_core::parse_u256;

    /// Numbers of go-livepeer's `TestTicketParams` (EV 5 wei).
    #[test]
    fn win_prob_matches_go() {
        let ev = Wei::from_u128(5);
        let cases = [
            (
                100_000_000u64,
                "5789604461865809771178549250434395392663499233282028201972879200395660",
            ),
            (
                777_000_000,
                "745122839364969082519761808292714979750772102095499125093034646125570",
            ),
            (
                10_000,
                "57896044618658097711785492504343953926634992332820282019728792003956564820",
            ),
        ];
        for (fv, want) in cases {
            let wp = win_prob_for(ev, U256::from(fv));
            assert_eq!(wp, parse_u256(want).unwrap(), "face value {fv}");
            let back = ticket_ev(U256::from(fv), wp);
            assert!(back.0 >= U256::from(4) && back.0 <= U256::from(5));
        }
        assert_eq!(win_prob_for(ev, U256::from(5)), MAX_WIN_PROB);
        assert_eq!(win_prob_for(ev, U256::zero()), U256::zero());
        assert_eq!(win_prob_for(Wei(U256::MAX), U256::one()), MAX_WIN_PROB);
    }

    proptest::proptest! {
        /// Go's rounding gives back the EV exactly, for every EV up to the face value.
        #[test]
        fn win_prob_gives_back_the_ev(fv in 1u128.., ev_frac in 0u128..) {
            let ev = ev_frac % (fv + 1);
            let wp = win_prob_for(Wei::from_u128(ev), U256::from(fv));
            proptest::prop_assert_eq!(ticket_ev(U256::from(fv), wp), Wei::from_u128(ev));
        }
    }

    #[test]
    fn ev_bounds() {
        assert_eq!(
            ticket_ev(U256::from(100), MAX_WIN_PROB),
            Wei::from_u128(100)
        );
        assert_eq!(ticket_ev(U256::from(100), U256::zero()), Wei::ZERO);
        assert_eq!(ticket_ev(U256::MAX, MAX_WIN_PROB), Wei(U256::MAX));
    }

    #[test]
    fn aux_data_forms() {
        assert!(ExpirationParams::default().aux_data().is_empty());
        let e = ExpirationParams::new(10, H256::repeat_byte(1));
        let aux = e.aux_data();
        assert_eq!(aux.len(), 64);
        assert_eq!(aux[31], 10);
        assert_eq!(&aux[32..], H256::repeat_byte(1).as_bytes());
    }
}
