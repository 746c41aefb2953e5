//! The wire form of a payment: one set of [`TicketParams`], the sender, and a list of
//! `(nonce, signature)` pairs, encoded with postcard and bounded on decode.
//!
//! Signatures travel as raw bytes and are checked ticket by ticket when the batch is
//! received, so a bad signature is a named error for that ticket (wrong length, wrong `v`,
//! high `s`, …) rather than a batch that fails to decode.

use livepeer_core::crypto::eip191_digest;
use livepeer_core::ticket::Ticket;
use livepeer_core::{Address, H256, U256, Wei};
use serde::{Deserialize, Serialize};
use tiny_keccak::{Hasher, Keccak};

use crate::error::DecodeError;
use crate::params::TicketParams;

/// The most tickets one batch may carry.
pub const MAX_TICKETS_PER_BATCH: usize = 1024;

/// The longest encoded batch accepted: the params (hex strings, at most a few hundred
/// bytes) plus [`MAX_TICKETS_PER_BATCH`] tickets of at most 72 bytes each.
pub const MAX_BATCH_ENCODED_LEN: usize = 1024 + MAX_TICKETS_PER_BATCH * 72;

/// One ticket of a batch: the sender's nonce and its signature over the ticket hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TicketSig {
    /// The sender's nonce for the batch's params, from 1.
    pub nonce: u32,
    /// The 65 signature bytes `r ‖ s ‖ v` as sent; validated on receipt.
    pub sig: Vec<u8>,
}

impl TicketSig {
    /// A ticket entry from a nonce and signature bytes.
    pub fn new(nonce: u32, sig: impl Into<Vec<u8>>) -> Self {
        TicketSig {
            nonce,
            sig: sig.into(),
        }
    }
}

/// Tickets for one set of params from one sender: what a broadcaster sends with a segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TicketBatch {
    /// The params every ticket of the batch uses (including the expiration params).
    pub params: TicketParams,
    /// Who signed the tickets.
    pub sender: Address,
    /// The tickets.
    pub tickets: Vec<TicketSig>,
}

impl TicketBatch {
    /// A batch from its parts.
    pub fn new(params: TicketParams, sender: Address, tickets: Vec<TicketSig>) -> Self {
        TicketBatch {
            params,
            sender,
            tickets,
        }
    }

    /// The postcard encoding.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain data into a Vec cannot fail.
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Decodes a batch, checking the size bounds and that the price is well formed. Never
    /// panics; every failure is a [`DecodeError`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_BATCH_ENCODED_LEN {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: MAX_BATCH_ENCODED_LEN,
            });
        }
        let (batch, rest): (TicketBatch, _) =
            postcard::take_from_bytes(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes(rest.len()));
        }
        batch.check_bounds()?;
        Ok(batch)
    }

    /// Checks what decoding checks: the ticket count and a non-zero price denominator.
    pub fn check_bounds(&self) -> Result<(), DecodeError> {
        if self.tickets.len() > MAX_TICKETS_PER_BATCH {
            return Err(DecodeError::TooManyTickets {
                count: self.tickets.len(),
                max: MAX_TICKETS_PER_BATCH,
            });
        }
        if self.params.price.pixels.is_zero() {
            return Err(DecodeError::InvalidPrice);
        }
        Ok(())
    }

    /// The ticket this batch's params give for `nonce`.
    pub fn ticket(&self, nonce: u32) -> Ticket {
        self.params.ticket(self.sender, nonce)
    }

    /// The expected value of the whole batch.
    pub fn ev(&self) -> Wei {
        let n = U256::from(self.tickets.len());
        Wei(self.params.ev().0.saturating_mul(n))
    }
}

/// Hashes the tickets of one set of params: the fields shared by every ticket are encoded
/// and absorbed once, and each ticket then costs only the keccak of its own nonce and the
/// shared suffix.
#[derive(Clone)]
pub struct TicketHasher {
    prefix: Keccak,
    suffix: Vec<u8>,
}

impl TicketHasher {
    /// A hasher for tickets from `sender` under `params`.
    pub fn new(params: &TicketParams, sender: Address) -> Self {
        let template = params.ticket(sender, 0);
        let mut prefix = Keccak::v256();
        prefix.update(&template.preimage_prefix());
        let mut suffix = Vec::with_capacity(96);
        suffix.extend_from_slice(template.recipient_rand_hash.as_bytes());
        suffix.extend_from_slice(&template.aux_data());
        TicketHasher { prefix, suffix }
    }

    /// The ticket hash for `nonce` (equal to [`Ticket::hash`]).
    pub fn hash(&self, nonce: u32) -> H256 {
        let mut k = self.prefix.clone();
        let mut n = [0u8; 32];
        n[28..].copy_from_slice(&nonce.to_be_bytes());
        k.update(&n);
        k.update(&self.suffix);
        let mut out = [0u8; 32];
        k.finalize(&mut out);
        H256::from(out)
    }

    /// The EIP-191 digest the sender signs for `nonce`.
    pub fn digest(&self, nonce: u32) -> H256 {
        eip191_digest(&self.hash(nonce))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ExpirationParams;
    use livepeer_core::PixelPrice;
    use proptest::prelude::*;

    pub(crate) fn params(round: u64) -> TicketParams {
        TicketParams {
            recipient: Address::repeat_byte(1),
            face_value: U256::from(1_000_000u64),
            win_prob: U256::MAX / 10,
            recipient_rand_hash: H256::repeat_byte(2),
            seed: H256::repeat_byte(3),
            expiration_block: 100,
            price: PixelPrice::per_pixel(2),
            expiration: ExpirationParams::new(round, H256::repeat_byte(round as u8)),
        }
    }

    #[test]
    fn hasher_matches_ticket_hash_in_both_aux_forms() {
        for round in [0, 7] {
            let p = params(round);
            let h = TicketHasher::new(&p, Address::repeat_byte(9));
            for nonce in [0, 1, 2, 255, 256, u32::MAX] {
                assert_eq!(
                    h.hash(nonce),
                    p.ticket(Address::repeat_byte(9), nonce).hash()
                );
            }
        }
    }

    #[test]
    fn decode_rejects_bad_input() {
        let b = TicketBatch::new(params(1), Address::repeat_byte(4), vec![]);
        let mut enc = b.encode();
        assert_eq!(TicketBatch::decode(&enc).unwrap(), b);
        enc.push(0);
        assert_eq!(
            TicketBatch::decode(&enc),
            Err(DecodeError::TrailingBytes(1))
        );
        assert!(matches!(
            TicketBatch::decode(&enc[..enc.len() - 5]),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            TicketBatch::decode(&vec![0u8; MAX_BATCH_ENCODED_LEN + 1]),
            Err(DecodeError::TooLarge { .. })
        ));
        let mut zero_price = b.clone();
        zero_price.params.price.pixels = U256::zero();
        assert_eq!(
            TicketBatch::decode(&zero_price.encode()),
            Err(DecodeError::InvalidPrice)
        );
        let mut many = b;
        many.tickets = vec![TicketSig::new(1, vec![0u8; 65]); MAX_TICKETS_PER_BATCH + 1];
        assert!(matches!(
            TicketBatch::decode(&many.encode()),
            Err(DecodeError::TooLarge { .. } | DecodeError::TooManyTickets { .. })
        ));
        many.tickets.truncate(MAX_TICKETS_PER_BATCH);
        assert_eq!(TicketBatch::decode(&many.encode()).unwrap(), many);
    }

    proptest! {
        #[test]
        fn batch_round_trips(
            fv in any::<[u8; 32]>(),
            wp in any::<[u8; 32]>(),
            round in any::<u64>(),
            exp in any::<u64>(),
            tickets in proptest::collection::vec((any::<u32>(), proptest::collection::vec(any::<u8>(), 0..70)), 0..20),
        ) {
            let mut p = params(1);
            p.face_value = U256::from_big_endian(&fv);
            p.win_prob = U256::from_big_endian(&wp);
            p.expiration.creation_round = round;
            p.expiration_block = exp;
            let b = TicketBatch::new(
                p,
                Address::repeat_byte(5),
                tickets.into_iter().map(|(n, s)| TicketSig::new(n, s)).collect(),
            );
            prop_assert_eq!(TicketBatch::decode(&b.encode()).unwrap(), b);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = TicketBatch::decode(&bytes);
        }
    }
}
