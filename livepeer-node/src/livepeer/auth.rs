//! Auth tokens as go-livepeer issues them (`core/orchestrator.go` `AuthToken`): a random
//! session id, an expiry 30 minutes on, and an HMAC-SHA256 of both under the node's secret,
//! so a token is checked without keeping sessions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use livepeer_core::entropy::{EntropySource, OsEntropy};
use livepeer_interop::messages::AuthToken;
use sha2::Sha256;

/// How long a token is valid (go-livepeer's `authTokenValidPeriod`).
pub(crate) const VALIDITY: Duration = Duration::from_secs(30 * 60);

/// Issues and checks tokens under a secret drawn at start (tokens of a previous run are
/// refused, as go-livepeer's are).
pub(crate) struct Tokens {
    secret: [u8; 32],
}

impl Tokens {
    pub(crate) fn new() -> Result<Self, String> {
        let mut secret = [0u8; 32];
        OsEntropy
            .fill_bytes(&mut secret)
            .map_err(|e| format!("auth token secret: {e}"))?;
        Ok(Tokens { secret })
    }

    fn keyed(&self, session_id: &str, expiration: i64) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        m.update(session_id.as_bytes());
        m.update(&expiration.to_be_bytes());
        m
    }

    fn mac(&self, session_id: &str, expiration: i64) -> Vec<u8> {
        self.keyed(session_id, expiration)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    fn now() -> i64 {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        i64::try_from(secs).unwrap_or(i64::MAX)
    }

    /// A token for a new session.
    pub(crate) fn issue(&self) -> Result<AuthToken, String> {
        let mut id = [0u8; 16];
        OsEntropy
            .fill_bytes(&mut id)
            .map_err(|e| format!("session id: {e}"))?;
        let session_id = hex::encode(id);
        let expiration = Self::now().saturating_add(VALIDITY.as_secs() as i64);
        Ok(AuthToken {
            token: self.mac(&session_id, expiration),
            session_id,
            expiration,
        })
    }

    /// Checks a token came from this node and has not expired; the error is go-livepeer's.
    pub(crate) fn check(&self, token: &AuthToken) -> Result<(), &'static str> {
        // Compared in constant time.
        self.keyed(&token.session_id, token.expiration)
            .verify_slice(&token.token)
            .map_err(|_| "invalid auth token")?;
        if token.expiration < Self::now() {
            return Err("expired auth token");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_check_their_mac_and_expiry() {
        let t = Tokens::new().unwrap();
        let tok = t.issue().unwrap();
        t.check(&tok).unwrap();
        let mut forged = tok.clone();
        forged.session_id.push('x');
        assert_eq!(t.check(&forged), Err("invalid auth token"));
        assert_eq!(
            Tokens::new().unwrap().check(&tok),
            Err("invalid auth token")
        );
        let mut old = tok;
        old.expiration = 1;
        old.token = t.mac(&old.session_id, 1);
        assert_eq!(t.check(&old), Err("expired auth token"));
    }
}
