//! Randomness as a seam: [`EntropySource`], and [`OsEntropy`], the operating system's CSPRNG.

use std::ops::Deref;

use thiserror::Error;

use crate::error::Fault;

/// The entropy source failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("entropy source failed: {0}")]
pub struct EntropyError(pub String);

impl EntropyError {
    /// Entropy failures are backend failures.
    pub fn fault(&self) -> Fault {
        Fault::Backend
    }
}

/// A source of cryptographically secure random bytes.
///
/// Contract: output must be unpredictable to any other party; it seeds keys, ticket secrets
/// and the verifier's secret sample. Calls may block briefly and may come from any thread.
pub trait EntropySource: Send + Sync {
    /// Fills `dest` with random bytes.
    fn fill_bytes(&self, dest: &mut [u8]) -> Result<(), EntropyError>;
}

impl<T> EntropySource for T
where
    T: Deref + Send + Sync,
    T::Target: EntropySource,
{
    fn fill_bytes(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        self.deref().fill_bytes(dest)
    }
}

/// The operating system's CSPRNG (`getrandom`).
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

impl EntropySource for OsEntropy {
    fn fill_bytes(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        getrandom::fill(dest).map_err(|e| EntropyError(e.to_string()))
    }
}

/// Draws 32 random bytes.
pub fn random_32(src: &dyn EntropySource) -> Result<[u8; 32], EntropyError> {
    let mut out = [0u8; 32];
    src.fill_bytes(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_entropy_differs_between_draws() {
        let a = random_32(&OsEntropy).unwrap();
        let b = random_32(&OsEntropy).unwrap();
        assert_ne!(a, b);
    }
}
