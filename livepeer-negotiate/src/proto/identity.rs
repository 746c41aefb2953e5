//! Binding a QUIC connection to an Ethereum address.
//!
//! Both ends export 32 bytes of keying material from the TLS session (RFC 5705/8446 exporter,
//! label [`EXPORTER_LABEL`]); each signs [`binding_digest`] of it (EIP-191) with its
//! on-chain key and sends a [`Hello`]. A man in the middle holds two TLS sessions with two
//! different exporters, so it cannot forward a signature that verifies on either side.

use livepeer_core::{Address, H256, Signer, SignerError, keccak256};
use thiserror::Error;

use super::messages::{Hello, Role};

/// The TLS exporter label.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-livepeer-negotiate-binding";
/// Bytes of keying material exported.
pub const EXPORTER_LEN: usize = 32;

/// Why a binding was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The peer claims another role than the one expected.
    #[error("peer claims role {got:?}, expected {expected:?}")]
    WrongRole {
        /// Claimed.
        got: Role,
        /// Expected.
        expected: Role,
    },
    /// The signature does not recover the claimed address.
    #[error("binding signature does not match the claimed address")]
    BadSignature,
    /// The peer is not the address the registry (or configuration) names.
    #[error("peer is {got:?}, expected {expected:?}")]
    WrongAddress {
        /// Proven address.
        got: Address,
        /// Expected address.
        expected: Address,
    },
    /// The peer is not allowed (e.g. a transcoder not on the orchestrator's list).
    #[error("peer {0:?} is not authorized")]
    NotAuthorized(Address),
    /// Our own signer failed.
    #[error("signing the binding failed: {0}")]
    Signer(#[from] SignerError),
}

impl IdentityError {
    /// Who is at fault.
    pub fn fault(&self) -> livepeer_core::Fault {
        match self {
            IdentityError::Signer(_) => livepeer_core::Fault::Backend,
            _ => livepeer_core::Fault::Peer,
        }
    }
}

/// What a party signs: keccak256 of a domain tag, its role and the exporter material.
pub fn binding_digest(role: Role, exporter: &[u8; EXPORTER_LEN]) -> H256 {
    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(b"livepeer-rs.negotiate.binding.v1");
    buf.push(role.tag());
    buf.extend_from_slice(exporter);
    H256::from(keccak256(&buf))
}

/// Our [`Hello`] for a connection with `exporter` material.
pub fn sign_binding(
    signer: &dyn Signer,
    role: Role,
    exporter: &[u8; EXPORTER_LEN],
) -> Result<Hello, IdentityError> {
    let signature = signer.sign_message_hash(&binding_digest(role, exporter))?;
    Ok(Hello {
        role,
        address: signer.address(),
        signature,
    })
}

/// Checks a peer's [`Hello`]: role, signature over our shared exporter, and, when given, the
/// address it must prove. Returns the proven address.
pub fn verify_binding(
    hello: &Hello,
    expected_role: Role,
    exporter: &[u8; EXPORTER_LEN],
    expected_address: Option<Address>,
) -> Result<Address, IdentityError> {
    if hello.role != expected_role {
        return Err(IdentityError::WrongRole {
            got: hello.role,
            expected: expected_role,
        });
    }
    hello
        .signature
        .verify_eip191(&binding_digest(hello.role, exporter), &hello.address)
        .map_err(|_| IdentityError::BadSignature)?;
    match expected_address {
        Some(e) if e != hello.address => Err(IdentityError::WrongAddress {
            got: hello.address,
            expected: e,
        }),
        _ => Ok(hello.address),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livepeer_core::LocalSigner;

    #[test]
    fn binding_checks_role_signature_and_address() {
        let key = LocalSigner::from_bytes(&[7; 32]).unwrap();
        let other = LocalSigner::from_bytes(&[8; 32]).unwrap();
        let ex = [1u8; 32];
        let h = sign_binding(&key, Role::Orchestrator, &ex).unwrap();
        assert_eq!(
            verify_binding(&h, Role::Orchestrator, &ex, Some(Signer::address(&key))).unwrap(),
            Signer::address(&key)
        );
        // Another session's exporter.
        assert_eq!(
            verify_binding(&h, Role::Orchestrator, &[2u8; 32], None),
            Err(IdentityError::BadSignature)
        );
        // Reflected as another role.
        assert!(matches!(
            verify_binding(&h, Role::Broadcaster, &ex, None),
            Err(IdentityError::WrongRole { .. })
        ));
        let mut forged = h.clone();
        forged.role = Role::Broadcaster;
        assert_eq!(
            verify_binding(&forged, Role::Broadcaster, &ex, None),
            Err(IdentityError::BadSignature)
        );
        // Not the registry's address.
        assert!(matches!(
            verify_binding(&h, Role::Orchestrator, &ex, Some(Signer::address(&other))),
            Err(IdentityError::WrongAddress { .. })
        ));
    }
}
