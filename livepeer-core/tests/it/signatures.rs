//! Property tests of signing and recovery: every signature the signer makes recovers its
//! address, and every malformed one is rejected with a typed error.

use livepeer_core::crypto::SignatureError;
use livepeer_core::{H256, LocalSigner, Signature, Signer, keccak256};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn sign_recover_round_trip(key in any::<[u8; 32]>(), msg in any::<Vec<u8>>()) {
        prop_assume!(LocalSigner::from_bytes(&key).is_ok());
        let s = LocalSigner::from_bytes(&key).unwrap();
        let h = H256::from(keccak256(&msg));
        let sig = s.sign_message_hash(&h).unwrap();
        prop_assert_eq!(sig.recover_eip191(&h).unwrap(), s.address());
        prop_assert_eq!(Signature::from_slice(sig.as_bytes()).unwrap(), sig);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..140), digest in any::<[u8; 32]>()) {
        match Signature::from_slice(&bytes) {
            Ok(sig) => {
                prop_assert_eq!(bytes.len(), 65);
                prop_assert!(bytes[64] == 27 || bytes[64] == 28);
                let _ = sig.recover(&H256::from(digest));
            }
            Err(SignatureError::BadLength(n)) => prop_assert_eq!(n, bytes.len()),
            Err(SignatureError::BadV(v)) => prop_assert!(v != 27 && v != 28),
            Err(SignatureError::HighS) | Err(SignatureError::OutOfRange) => prop_assert_eq!(bytes.len(), 65),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    #[test]
    fn tampering_changes_the_signer(key in any::<[u8; 32]>(), flip in 0usize..64, bit in 0u8..8) {
        prop_assume!(LocalSigner::from_bytes(&key).is_ok());
        let s = LocalSigner::from_bytes(&key).unwrap();
        let h = H256::from(keccak256(b"segment"));
        let mut b = *s.sign_message_hash(&h).unwrap().as_bytes();
        b[flip] ^= 1 << bit;
        if let Ok(sig) = Signature::from_slice(&b)
            && let Ok(addr) = sig.recover_eip191(&h)
        {
            prop_assert_ne!(addr, s.address());
        }
    }
}
