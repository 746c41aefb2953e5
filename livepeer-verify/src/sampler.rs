//! [`Sampler`]: which segments get the deep checks, decided by a keyed hash under a secret
//! seed, so an orchestrator cannot tell which of its segments will be checked.

use livepeer_core::entropy::{EntropyError, EntropySource, random_32};
use livepeer_core::{Address, StreamId};

/// Chooses 1 in `rate` segments from a secret seed.
///
/// The choice for a segment is `blake3_keyed(seed, orchestrator ‖ stream ‖ seq)` read as a
/// number, below `2^64 / rate`: deterministic for the broadcaster, uniform and unpredictable
/// for anyone without the seed, and independent between orchestrators, streams and segments.
/// The seed never leaves the process and is never logged.
#[derive(Clone)]
pub struct Sampler {
    key: [u8; 32],
    rate: u32,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler").field("rate", &self.rate).finish()
    }
}

impl Sampler {
    /// A sampler with a fresh secret seed from `entropy`, choosing 1 in `rate` segments
    /// (`1`: every segment; `0`: none).
    pub fn new(entropy: &dyn EntropySource, rate: u32) -> Result<Self, EntropyError> {
        Ok(Sampler {
            key: random_32(entropy)?,
            rate,
        })
    }

    /// A sampler with a given seed, to replay a decision (tests, audits).
    pub fn from_seed(seed: [u8; 32], rate: u32) -> Self {
        Sampler { key: seed, rate }
    }

    /// The rate: 1 in this many segments.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    fn draw(&self, orchestrator: &Address, stream: &StreamId, seq: u64, domain: u8) -> u64 {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        h.update(&[domain]);
        h.update(orchestrator.as_bytes());
        h.update(stream.0.as_bytes());
        h.update(&seq.to_be_bytes());
        let out = h.finalize();
        let mut n = [0u8; 8];
        n.copy_from_slice(&out.as_bytes()[..8]);
        u64::from_be_bytes(n)
    }

    /// Whether this segment from this orchestrator gets the deep checks.
    pub fn is_sampled(&self, orchestrator: &Address, stream: &StreamId, seq: u64) -> bool {
        match self.rate {
            0 => false,
            1 => true,
            r => self.draw(orchestrator, stream, seq, 0) < u64::MAX / u64::from(r),
        }
    }

    /// A secret index below `n` for this segment (for example, which rendition to hand to a
    /// second orchestrator); `0` when `n` is 0.
    pub fn pick(&self, orchestrator: &Address, stream: &StreamId, seq: u64, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.draw(orchestrator, stream, seq, 1) % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livepeer_core::test_utils::TestEntropy;
    use proptest::prelude::*;

    #[test]
    fn rate_is_met_and_seeds_differ() {
        let s = Sampler::new(&TestEntropy::new(1), 10).unwrap();
        let o = Address::repeat_byte(1);
        let st = StreamId::from_name("s");
        let hits = (0..20_000).filter(|&q| s.is_sampled(&o, &st, q)).count();
        assert!((1_700..2_300).contains(&hits), "{hits}");
        let other = Sampler::new(&TestEntropy::new(2), 10).unwrap();
        let same = (0..1_000)
            .filter(|&q| s.is_sampled(&o, &st, q) == other.is_sampled(&o, &st, q))
            .count();
        assert!(same < 950, "two seeds agree on {same} of 1000");
        assert!((0..100).all(|q| Sampler::from_seed([0; 32], 1).is_sampled(&o, &st, q)));
        assert!((0..100).all(|q| !Sampler::from_seed([0; 32], 0).is_sampled(&o, &st, q)));
    }

    proptest! {
        #[test]
        fn decisions_are_deterministic(seed in any::<[u8; 32]>(), seq in any::<u64>(), n in 1usize..20) {
            let a = Sampler::from_seed(seed, 7);
            let b = Sampler::from_seed(seed, 7);
            let o = Address::repeat_byte(9);
            let st = StreamId::from_name("x");
            prop_assert_eq!(a.is_sampled(&o, &st, seq), b.is_sampled(&o, &st, seq));
            prop_assert!(a.pick(&o, &st, seq, n) < n);
        }
    }
}
