//! Hashing and signatures as Ethereum does them: keccak256, the EIP-191 personal-sign digest,
//! and 65-byte `r ‖ s ‖ v` secp256k1 signatures with `v ∈ {27, 28}` and low `s`.
//!
//! The strict signature form matters beyond hygiene: in Livepeer's lottery the signature bytes
//! feed the win draw, so a second encoding of the same signature would be a second draw.
//! [`Signature`] therefore only ever holds the canonical form, and [`Signature::from_slice`]
//! rejects every other.

use std::fmt;

use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;
use tiny_keccak::{Hasher, Keccak};

use crate::error::Fault;
use crate::primitives::{Address, H256};

/// keccak256 of `data`.
pub fn keccak256(data: impl AsRef<[u8]>) -> [u8; 32] {
    let mut k = Keccak::v256();
    k.update(data.as_ref());
    let mut out = [0u8; 32];
    k.finalize(&mut out);
    out
}

/// keccak256 of several byte strings concatenated, without allocating the concatenation.
pub fn keccak256_concat(parts: &[&[u8]]) -> [u8; 32] {
    let mut k = Keccak::v256();
    for p in parts {
        k.update(p);
    }
    let mut out = [0u8; 32];
    k.finalize(&mut out);
    out
}

/// The EIP-191 personal-sign digest of a 32-byte hash:
/// `keccak256("\x19Ethereum Signed Message:\n32" ‖ hash)`.
pub fn eip191_digest(hash: &H256) -> H256 {
    H256::from(keccak256_concat(&[
        b"\x19Ethereum Signed Message:\n32",
        hash.as_bytes(),
    ]))
}

/// The address of a public key: the last 20 bytes of keccak256 of its uncompressed form.
pub fn address_of(pk: &PublicKey) -> Address {
    let uncompressed = pk.serialize_uncompressed();
    let h = keccak256(&uncompressed[1..]);
    Address::from_slice(&h[12..])
}

/// Half the order of secp256k1: a canonical signature has `s ≤ N/2`.
const HALF_N: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// Why a signature was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// Not exactly 65 bytes (compact EIP-2098 and DER forms are rejected on purpose).
    #[error("invalid signature length: expected 65 bytes, got {0}")]
    BadLength(usize),
    /// `v` is neither 27 nor 28.
    #[error("invalid signature v value {0}: expected 27 or 28")]
    BadV(u8),
    /// `s` is in the upper half of the curve order (a malleated signature).
    #[error("invalid signature: s is not in the lower half of the curve order")]
    HighS,
    /// `r` or `s` is zero or not below the curve order.
    #[error("invalid signature: r or s out of range")]
    OutOfRange,
    /// No public key recovers from this signature and digest.
    #[error("signature does not recover a public key")]
    Unrecoverable,
    /// The signature recovers, but to another address than the one expected.
    #[error("signature recovers {recovered:?}, expected {expected:?}")]
    WrongSigner {
        /// The address that was expected to have signed.
        expected: Address,
        /// The address the signature recovers to.
        recovered: Address,
    },
}

impl SignatureError {
    /// A bad signature is always the fault of whoever presented it.
    pub fn fault(&self) -> Fault {
        Fault::Peer
    }
}

/// A canonical 65-byte Ethereum signature `r ‖ s ‖ v`, with `v ∈ {27, 28}` and low `s`.
///
/// Every value of this type is canonical: constructors validate, so holding a `Signature`
/// means the length, `v` and `s` checks have passed. Recovery can still fail (see
/// [`Signature::recover`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; 65]);

impl Signature {
    /// Length in bytes.
    pub const LEN: usize = 65;

    /// Parses and validates a signature from its 65 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SignatureError> {
        let arr: [u8; 65] = bytes
            .try_into()
            .map_err(|_| SignatureError::BadLength(bytes.len()))?;
        Self::from_bytes(arr)
    }

    /// Validates a signature given as an array.
    pub fn from_bytes(bytes: [u8; 65]) -> Result<Self, SignatureError> {
        let v = bytes[64];
        if v != 27 && v != 28 {
            return Err(SignatureError::BadV(v));
        }
        let r = &bytes[..32];
        let s = &bytes[32..64];
        if r.iter().all(|&b| b == 0) || s.iter().all(|&b| b == 0) {
            return Err(SignatureError::OutOfRange);
        }
        if s > &HALF_N[..] {
            return Err(SignatureError::HighS);
        }
        Ok(Signature(bytes))
    }

    /// The 65 bytes `r ‖ s ‖ v`.
    pub fn as_bytes(&self) -> &[u8; 65] {
        &self.0
    }

    /// `r`, the first 32 bytes.
    pub fn r(&self) -> H256 {
        H256::from_slice(&self.0[..32])
    }

    /// `s`, the second 32 bytes.
    pub fn s(&self) -> H256 {
        H256::from_slice(&self.0[32..64])
    }

    /// `v`, 27 or 28.
    pub fn v(&self) -> u8 {
        self.0[64]
    }

    fn to_recoverable(self) -> Result<RecoverableSignature, SignatureError> {
        let recid = RecoveryId::try_from(i32::from(self.0[64] - 27))
            .map_err(|_| SignatureError::BadV(self.0[64]))?;
        RecoverableSignature::from_compact(&self.0[..64], recid)
            .map_err(|_| SignatureError::OutOfRange)
    }

    /// Recovers the public key that signed the 32-byte `digest` (already hashed, e.g. an
    /// [`eip191_digest`]).
    pub fn recover_public_key(&self, digest: &H256) -> Result<PublicKey, SignatureError> {
        let sig = self.to_recoverable()?;
        sig.recover_ecdsa(Message::from_digest(digest.0))
            .map_err(|_| SignatureError::Unrecoverable)
    }

    /// Recovers the address that signed the 32-byte `digest`.
    pub fn recover(&self, digest: &H256) -> Result<Address, SignatureError> {
        self.recover_public_key(digest).map(|pk| address_of(&pk))
    }

    /// Recovers the address that personal-signed (EIP-191) the 32-byte `hash`.
    pub fn recover_eip191(&self, hash: &H256) -> Result<Address, SignatureError> {
        self.recover(&eip191_digest(hash))
    }

    /// Checks that `expected` signed the 32-byte `digest` (already hashed, e.g. an EIP-712
    /// typed-data digest).
    pub fn verify(&self, digest: &H256, expected: &Address) -> Result<(), SignatureError> {
        let recovered = self.recover(digest)?;
        if recovered != *expected {
            return Err(SignatureError::WrongSigner {
                expected: *expected,
                recovered,
            });
        }
        Ok(())
    }

    /// Checks that `expected` personal-signed (EIP-191) `hash`.
    pub fn verify_eip191(&self, hash: &H256, expected: &Address) -> Result<(), SignatureError> {
        let recovered = self.recover_eip191(hash)?;
        if recovered != *expected {
            return Err(SignatureError::WrongSigner {
                expected: *expected,
                recovered,
            });
        }
        Ok(())
    }

    /// Builds the canonical form from a libsecp256k1 recoverable signature (which signs
    /// with low `s` already).
    pub(crate) fn from_recoverable(sig: &RecoverableSignature) -> Result<Self, SignatureError> {
        let (recid, compact) = sig.serialize_compact();
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&compact);
        out[64] = 27 + recid.to_u8();
        Self::from_bytes(out)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(0x{})", hex::encode(self.0))
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl std::str::FromStr for Signature {
    type Err = crate::error::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes: [u8; 65] = crate::primitives::parse_hex_array("signature", s)?;
        Signature::from_bytes(bytes)
            .map_err(|e| crate::error::ParseError::invalid("signature", e.to_string()))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_string())
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        if d.is_human_readable() {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            s.parse().map_err(D::Error::custom)
        } else {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Signature;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("65 signature bytes")
                }
                fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Signature, E> {
                    Signature::from_slice(v).map_err(E::custom)
                }
            }
            d.deserialize_bytes(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::{LocalSigner, Signer};

    fn signer() -> LocalSigner {
        LocalSigner::from_hex("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
            .unwrap()
    }

    #[test]
    fn keccak_of_empty_matches_known_value() {
        assert_eq!(
            hex::encode(keccak256([])),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn eip191_digest_matches_known_value() {
        // keccak256("\x19Ethereum Signed Message:\n32" ‖ 0x00..00), computed independently with pycryptodome.
        let d = eip191_digest(&H256::zero());
        assert_eq!(
            hex::encode(d.as_bytes()),
            "5e4106618209740b9f773a94c5667b9659a7a4e2691c7c8a78336e9889a6be07"
        );
    }

    #[test]
    fn sign_then_recover_round_trips() {
        let s = signer();
        let h = H256::from(keccak256(b"segment"));
        let sig = s.sign_message_hash(&h).unwrap();
        assert!(sig.v() == 27 || sig.v() == 28);
        assert_eq!(sig.recover_eip191(&h).unwrap(), s.address());
        sig.verify_eip191(&h, &s.address()).unwrap();
        let other = H256::from(keccak256(b"other"));
        assert!(matches!(
            sig.verify_eip191(&other, &s.address()),
            Err(SignatureError::WrongSigner { .. })
        ));
    }

    #[test]
    fn rejects_wrong_length() {
        let s = signer();
        let sig = s.sign_message_hash(&H256::zero()).unwrap();
        for len in [0, 64, 66, 130] {
            let mut v = sig.as_bytes().to_vec();
            v.resize(len, 0);
            assert_eq!(
                Signature::from_slice(&v),
                Err(SignatureError::BadLength(len))
            );
        }
    }

    #[test]
    fn rejects_other_v() {
        let s = signer();
        let sig = s.sign_message_hash(&H256::zero()).unwrap();
        for v in [0u8, 1, 2, 26, 29, 35, 255] {
            let mut b = *sig.as_bytes();
            b[64] = v;
            assert_eq!(Signature::from_bytes(b), Err(SignatureError::BadV(v)));
        }
    }

    #[test]
    fn rejects_high_s_malleated_form() {
        // The malleated twin (r, n - s, v ^ 1) recovers the same key; it must be refused.
        let s = signer();
        let h = H256::from(keccak256(b"x"));
        let sig = s.sign_message_hash(&h).unwrap();
        let n = primitive_types::U256::from_big_endian(&[
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c,
            0xd0, 0x36, 0x41, 0x41,
        ]);
        let s_val = primitive_types::U256::from_big_endian(&sig.as_bytes()[32..64]);
        let high = n - s_val;
        let mut b = *sig.as_bytes();
        high.to_big_endian(&mut b[32..64]);
        b[64] = if b[64] == 27 { 28 } else { 27 };
        assert_eq!(Signature::from_bytes(b), Err(SignatureError::HighS));
    }

    #[test]
    fn rejects_zero_r_or_s() {
        let mut b = [0u8; 65];
        b[64] = 27;
        assert_eq!(Signature::from_bytes(b), Err(SignatureError::OutOfRange));
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let sig = signer().sign_message_hash(&H256::zero()).unwrap();
        let json = serde_json::to_string(&sig).unwrap();
        assert_eq!(serde_json::from_str::<Signature>(&json).unwrap(), sig);
        let bad = json.replace("1b\"", "1d\"").replace("1c\"", "1d\"");
        assert!(serde_json::from_str::<Signature>(&bad).is_err());
    }
}
