//! Who signs: the [`Signer`] and [`AsyncSigner`] traits, and [`LocalSigner`], an in-memory
//! secp256k1 key.
//!
//! Parsing a key lives here; loading one from a file, a keystore or the environment belongs to
//! the binaries.

use std::fmt;
use std::ops::Deref;

use async_trait::async_trait;
use secp256k1::ecdsa::RecoverableSignature;
use secp256k1::{Message, PublicKey, SecretKey};
use thiserror::Error;

use crate::crypto::{Signature, address_of, eip191_digest};
use crate::entropy::EntropySource;
use crate::error::{Fault, ParseError};
use crate::primitives::{Address, H256, parse_hex_array};

/// Why signing failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The signing backend (a hardware wallet, a remote signer) failed.
    #[error("signer backend failed: {0}")]
    Backend(String),
    /// The signer refused to sign this digest.
    #[error("signer refused: {0}")]
    Refused(String),
    /// The signer produced a signature that is not canonical.
    #[error("signer produced an invalid signature: {0}")]
    Invalid(#[from] crate::crypto::SignatureError),
}

impl SignerError {
    /// Signing failures are backend failures.
    pub fn fault(&self) -> Fault {
        Fault::Backend
    }
}

/// Signs 32-byte digests with one Ethereum key.
///
/// Contract: `sign_hash` is called with a digest that is already hashed; it must return the
/// canonical 65-byte form (low `s`, `v ∈ {27, 28}`). Implementations must be cheap to call
/// concurrently; a slow or remote signer should implement [`AsyncSigner`] instead.
pub trait Signer: Send + Sync {
    /// The address whose key signs.
    fn address(&self) -> Address;

    /// Signs a raw 32-byte digest.
    fn sign_hash(&self, digest: &H256) -> Result<Signature, SignerError>;

    /// Personal-signs (EIP-191) a 32-byte hash: signs [`eip191_digest`] of it.
    fn sign_message_hash(&self, hash: &H256) -> Result<Signature, SignerError> {
        self.sign_hash(&eip191_digest(hash))
    }
}

impl<T> Signer for T
where
    T: Deref + Send + Sync,
    T::Target: Signer,
{
    fn address(&self) -> Address {
        Signer::address(self.deref())
    }
    fn sign_hash(&self, digest: &H256) -> Result<Signature, SignerError> {
        Signer::sign_hash(self.deref(), digest)
    }
    fn sign_message_hash(&self, hash: &H256) -> Result<Signature, SignerError> {
        Signer::sign_message_hash(self.deref(), hash)
    }
}

/// The asynchronous form of [`Signer`], for keys held elsewhere (a remote signer, a hardware
/// wallet). Every [`Signer`] is an `AsyncSigner`. The method names differ from [`Signer`]'s
/// so both traits can be in scope without ambiguity.
#[async_trait]
pub trait AsyncSigner: Send + Sync {
    /// The address whose key signs.
    fn signer_address(&self) -> Address;
    /// Signs a raw 32-byte digest.
    async fn sign_hash_async(&self, digest: &H256) -> Result<Signature, SignerError>;
    /// Personal-signs (EIP-191) a 32-byte hash.
    async fn sign_message_hash_async(&self, hash: &H256) -> Result<Signature, SignerError> {
        self.sign_hash_async(&eip191_digest(hash)).await
    }
}

#[async_trait]
impl<S: Signer + ?Sized> AsyncSigner for S {
    fn signer_address(&self) -> Address {
        Signer::address(self)
    }
    async fn sign_hash_async(&self, digest: &H256) -> Result<Signature, SignerError> {
        Signer::sign_hash(self, digest)
    }
}

/// A secp256k1 private key held in memory.
///
/// `Debug` shows the address only; the key never reaches logs. The key bytes are erased when
/// the signer is dropped.
#[derive(Clone)]
pub struct LocalSigner {
    key: SecretKey,
    address: Address,
}

impl LocalSigner {
    /// A signer from 32 key bytes; fails for zero or a value not below the curve order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, ParseError> {
        let key = SecretKey::from_secret_bytes(*bytes)
            .map_err(|_| ParseError::invalid("private key", "not a valid secp256k1 scalar"))?;
        let address = address_of(&PublicKey::from_secret_key(&key));
        Ok(LocalSigner { key, address })
    }

    /// A signer from a hex private key (`0x` optional). Error messages never echo the key.
    pub fn from_hex(s: &str) -> Result<Self, ParseError> {
        let mut bytes: [u8; 32] = parse_hex_array("private key", s).map_err(|e| match e {
            ParseError::BadHex { what, .. } => ParseError::BadHex {
                what,
                reason: "not hexadecimal".into(),
            },
            other => other,
        })?;
        let r = Self::from_bytes(&bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        r
    }

    /// A fresh random key drawn from `entropy`.
    pub fn random(entropy: &dyn EntropySource) -> Result<Self, crate::entropy::EntropyError> {
        loop {
            let mut bytes = [0u8; 32];
            entropy.fill_bytes(&mut bytes)?;
            let r = Self::from_bytes(&bytes);
            zeroize::Zeroize::zeroize(&mut bytes);
            if let Ok(s) = r {
                return Ok(s);
            }
        }
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_secret_key(&self.key)
    }

    /// The 32 private key bytes, for writing a keystore. Handle with care.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.key.to_secret_bytes()
    }
}

impl Drop for LocalSigner {
    fn drop(&mut self) {
        self.key.non_secure_erase();
    }
}

impl fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSigner")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Signer for LocalSigner {
    fn address(&self) -> Address {
        self.address
    }

    fn sign_hash(&self, digest: &H256) -> Result<Signature, SignerError> {
        let sig =
            RecoverableSignature::sign_ecdsa_recoverable(Message::from_digest(digest.0), &self.key);
        Ok(Signature::from_recoverable(&sig)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::parse_address;
    use std::sync::Arc;

    #[test]
    fn known_key_has_known_address() {
        // The first anvil/hardhat development account.
        let s = LocalSigner::from_hex(
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        )
        .unwrap();
        assert_eq!(
            s.address(),
            parse_address("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266").unwrap()
        );
        assert!(!format!("{s:?}").contains("ac0974"));
    }

    #[test]
    fn rejects_bad_keys_without_echoing_them() {
        assert!(LocalSigner::from_bytes(&[0u8; 32]).is_err());
        assert!(LocalSigner::from_bytes(&[0xff; 32]).is_err());
        let e = LocalSigner::from_hex(
            "0xzz0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        )
        .unwrap_err();
        assert!(!e.to_string().contains("0974bec"));
        assert!(LocalSigner::from_hex("0x1234").is_err());
    }

    #[test]
    fn arc_dyn_signer_is_a_signer() {
        fn addr(s: impl Signer) -> Address {
            s.address()
        }
        let s: Arc<dyn Signer> = Arc::new(LocalSigner::from_bytes(&[7u8; 32]).unwrap());
        assert_eq!(addr(s.clone()), s.address());
    }

    #[test]
    fn async_signer_matches_sync() {
        let s = LocalSigner::from_bytes(&[9u8; 32]).unwrap();
        let h = H256::repeat_byte(3);
        let a = futures_executor::block_on(s.sign_message_hash_async(&h)).unwrap();
        assert_eq!(a, s.sign_message_hash(&h).unwrap());
        assert_eq!(s.signer_address(), s.address());
    }
}
