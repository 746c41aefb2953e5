//! The recipient's side of the commit-reveal: its secret, and the random number it derives
//! for each set of params by HMAC-SHA256, exactly as go-livepeer does, so the recipient keeps
//! no per-params state and the sender can echo the params back.
//!
//! Message: `seed ‖ sender ‖ faceValue ‖ winProb ‖ expirationBlock ‖ price.num ‖ price.denom ‖
//! auxData`, integers in minimal big-endian form (zero is empty), the price reduced to lowest
//! terms as Go's `big.Rat` keeps it.

use std::fmt;

use hmac::digest::generic_array::GenericArray;
use hmac::{Hmac, Mac};
use livepeer_core::entropy::{EntropyError, EntropySource};
use livepeer_core::ticket::recipient_rand_hash;
use livepeer_core::{Address, H256, PixelPrice, U256};
use sha2::Sha256;
use zeroize::Zeroize;

use crate::params::TicketParams;

/// The recipient's 32-byte HMAC key. `Debug` never shows it, and it is erased on drop.
///
/// Draw a fresh one at every start ([`RecipientSecret::random`]) unless the nonce windows
/// are persisted too: with an old secret, params issued before a restart stay valid while
/// the record of which nonces were used is gone.
#[derive(Clone)]
pub struct RecipientSecret([u8; 32]);

impl RecipientSecret {
    /// A secret from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        RecipientSecret(bytes)
    }

    /// A fresh secret from a CSPRNG.
    pub fn random(entropy: &dyn EntropySource) -> Result<Self, EntropyError> {
        let mut b = [0u8; 32];
        entropy.fill_bytes(&mut b)?;
        Ok(RecipientSecret(b))
    }

    /// The recipient's random number for tickets from `sender` under `params`.
    pub fn recipient_rand(&self, params: &TicketParams, sender: &Address) -> U256 {
        // HMAC pads a key shorter than the block (64 bytes for SHA-256) with zeros, so this
        // fixed-size key gives the same MAC as the 32-byte key itself.
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&self.0);
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(GenericArray::from_slice(&key));
        key.zeroize();
        mac.update(&hmac_message(params, sender));
        U256::from_big_endian(&mac.finalize().into_bytes())
    }
}

impl fmt::Debug for RecipientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecipientSecret(..)")
    }
}

impl Drop for RecipientSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// The bytes the recipient's random number is the HMAC of.
pub(crate) fn hmac_message(params: &TicketParams, sender: &Address) -> Vec<u8> {
    let mut msg = Vec::with_capacity(32 * 6 + 20 + 64);
    push_minimal(&mut msg, &U256::from_big_endian(params.seed.as_bytes()));
    msg.extend_from_slice(sender.as_bytes());
    push_minimal(&mut msg, &params.face_value);
    push_minimal(&mut msg, &params.win_prob);
    push_minimal(&mut msg, &U256::from(params.expiration_block));
    let (num, den) = reduced(&params.price);
    push_minimal(&mut msg, &num);
    push_minimal(&mut msg, &den);
    msg.extend_from_slice(&params.expiration.aux_data());
    msg
}

/// Appends `v` in minimal big-endian form: no leading zero bytes, zero as nothing.
fn push_minimal(out: &mut Vec<u8>, v: &U256) {
    let mut b = [0u8; 32];
    v.to_big_endian(&mut b);
    let skip = b.iter().take_while(|&&x| x == 0).count();
    out.extend_from_slice(&b[skip..]);
}

/// The price in lowest terms, as Go's `big.Rat` normalises it (zero is `0/1`).
fn reduced(p: &PixelPrice) -> (U256, U256) {
    if p.wei.is_zero() || p.pixels.is_zero() {
        return (U256::zero(), U256::one());
    }
    let g = gcd(p.wei, p.pixels);
    (p.wei / g, p.pixels / g)
}

fn gcd(mut a: U256, mut b: U256) -> U256 {
    while !b.is_zero() {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

/// The commitment the params carry for `rand`.
pub(crate) fn commitment(rand: &U256) -> H256 {
    recipient_rand_hash(rand)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ExpirationParams;

    fn params() -> TicketParams {
        TicketParams {
            recipient: Address::repeat_byte(1),
            face_value: U256::from(100_000_000u64),
            win_prob: U256::from(0x0100u64),
            recipient_rand_hash: H256::zero(),
            seed: H256::from_low_u64_be(0x00ab),
            expiration_block: 0,
            price: PixelPrice::new(U256::from(6), U256::from(4)).unwrap(),
            expiration: ExpirationParams::new(10, H256::repeat_byte(7)),
        }
    }

    #[test]
    fn message_layout_matches_go() {
        let p = params();
        let sender = Address::repeat_byte(9);
        let msg = hmac_message(&p, &sender);
        let mut want = vec![0xab];
        want.extend_from_slice(sender.as_bytes());
        want.extend_from_slice(&[0x05, 0xf5, 0xe1, 0x00]); // 100_000_000
        want.extend_from_slice(&[0x01, 0x00]); // win prob 256
        // expiration block 0: empty; price 6/4 = 3/2.
        want.extend_from_slice(&[3, 2]);
        want.extend_from_slice(&p.expiration.aux_data());
        assert_eq!(msg, want);
        let mut zero_price = p;
        zero_price.price = PixelPrice::zero();
        zero_price.expiration = ExpirationParams::default();
        let msg = hmac_message(&zero_price, &sender);
        assert_eq!(&msg[msg.len() - 1..], &[1]);
    }

    #[test]
    fn padded_key_equals_plain_hmac() {
        let secret = [0x42u8; 32];
        let p = params();
        let sender = Address::repeat_byte(9);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret).unwrap();
        mac.update(&hmac_message(&p, &sender));
        let want = U256::from_big_endian(&mac.finalize().into_bytes());
        assert_eq!(
            RecipientSecret::from_bytes(secret).recipient_rand(&p, &sender),
            want
        );
        assert_eq!(
            format!("{:?}", RecipientSecret::from_bytes(secret)),
            "RecipientSecret(..)"
        );
    }

    /// A vector computed independently (Python hmac/hashlib) for secret = 32 × 0x03.
    #[test]
    fn known_vector() {
        let rand = RecipientSecret::from_bytes([3u8; 32])
            .recipient_rand(&params(), &Address::repeat_byte(9));
        let mut b = [0u8; 32];
        rand.to_big_endian(&mut b);
        assert_eq!(hex::encode(b), KNOWN_RAND);
    }

    const KNOWN_RAND: &str = "0d82794eaa179b6af8ffd3fa1ee7063ce82dd7b4d302986be06797e840c162b1";
}
