//! Whether the orchestrator takes a transcoder into its pool: the address it proved at the
//! binding must be on the allow list, and its registration must carry the shared secret
//! (where one is set) and offer some capacity. Sans-IO: the driver binds the connection,
//! reads the [`Register`] and carries out the verdict.

use livepeer_core::Address;

use super::{ErrorCode, IdentityError, Register, WireError};

/// Why a transcoder is not taken.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TranscoderRefusal {
    /// Not allowed: answer `error` and close the connection.
    Unauthorized {
        /// The identity error to report.
        identity: IdentityError,
        /// The named error for the peer.
        error: WireError,
    },
    /// The registration is unusable: answer `error` and leave the connection to close.
    Malformed(WireError),
}

/// The orchestrator's rules for transcoders joining its pool.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TranscoderAdmission {
    allowed: Vec<Address>,
    secret: Option<String>,
}

impl TranscoderAdmission {
    /// Transcoders proving one of the `allowed` addresses, and sending `secret` where set.
    pub fn new(allowed: Vec<Address>, secret: Option<String>) -> Self {
        TranscoderAdmission { allowed, secret }
    }

    /// The address `peer` proved at the binding: refused unless allowed (close the
    /// connection).
    pub fn check_peer(&self, peer: Address) -> Result<(), IdentityError> {
        if self.allowed.contains(&peer) {
            return Ok(());
        }
        Err(IdentityError::NotAuthorized(peer))
    }

    /// The registration of the allowed `peer`: the secret, where one is set, and a capacity.
    pub fn check_register(&self, peer: Address, reg: &Register) -> Result<(), TranscoderRefusal> {
        if self.secret.is_some() && reg.secret != self.secret {
            return Err(TranscoderRefusal::Unauthorized {
                identity: IdentityError::NotAuthorized(peer),
                error: WireError::new(ErrorCode::Unauthorized, "bad secret"),
            });
        }
        if reg.capacity_pps == 0 {
            return Err(TranscoderRefusal::Malformed(WireError::new(
                ErrorCode::Malformed,
                "zero capacity",
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use livepeer_core::transcode::Capabilities;

    use super::*;

    fn caps() -> Capabilities {
        Capabilities {
            backend: "test".into(),
            decoders: vec![],
            encoders: vec![],
            containers: vec![],
            max_width: 0,
            max_height: 0,
            pixels_per_second: 0,
            hardware: false,
            deterministic: false,
        }
    }

    fn reg(capacity_pps: u64, secret: Option<&str>) -> Register {
        Register {
            capabilities: caps(),
            capacity_pps,
            max_tasks: 1,
            secret: secret.map(str::to_owned),
        }
    }

    #[test]
    fn only_allowed_peers_with_the_secret_and_some_capacity_join() {
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let rules = TranscoderAdmission::new(vec![a], Some("s".into()));
        assert_eq!(rules.check_peer(a), Ok(()));
        assert_eq!(rules.check_peer(b), Err(IdentityError::NotAuthorized(b)));
        assert_eq!(rules.check_register(a, &reg(10, Some("s"))), Ok(()));
        assert!(matches!(
            rules.check_register(a, &reg(10, Some("x"))),
            Err(TranscoderRefusal::Unauthorized { error, .. })
                if error.code == ErrorCode::Unauthorized
        ));
        assert!(matches!(
            rules.check_register(a, &reg(10, None)),
            Err(TranscoderRefusal::Unauthorized { .. })
        ));
        assert!(matches!(
            rules.check_register(a, &reg(0, Some("s"))),
            Err(TranscoderRefusal::Malformed(w)) if w.code == ErrorCode::Malformed
        ));
        // Without a secret, any registration with capacity does.
        let open = TranscoderAdmission::new(vec![a], None);
        assert_eq!(open.check_register(a, &reg(1, Some("anything"))), Ok(()));
    }
}
