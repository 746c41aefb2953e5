//! A sliding window of seen nonces, in place of go-livepeer's ever-growing set (capped at 600
//! entries there).
//!
//! The window remembers the highest nonce seen and, as a bitmap, which of the `size` nonces
//! at and below it were used. A nonce above the highest slides the window forward; one inside
//! it is accepted once; one below it is refused as too old. Memory is fixed (`size / 8`
//! bytes), tickets may arrive out of order by up to `size` nonces, and a replay is always
//! caught: a nonce is either inside the window (its bit says whether it was used) or below it
//! (refused).

use crate::error::NonceError;

/// The default window: 1024 nonces, 128 bytes.
pub const DEFAULT_NONCE_WINDOW: u32 = 1024;

/// Seen nonces of one set of params.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NonceWindow {
    highest: u32,
    bits: Vec<u64>,
}

impl NonceWindow {
    /// An empty window tracking `size` nonces, rounded up to a multiple of 64 (at least 64).
    pub fn new(size: u32) -> Self {
        let words = size.div_ceil(64).max(1) as usize;
        NonceWindow {
            highest: 0,
            bits: vec![0; words],
        }
    }

    /// How many nonces the window tracks.
    pub fn size(&self) -> u32 {
        // At most 2^26 words fit a u32 size; larger windows are clamped here only.
        u32::try_from(self.bits.len() * 64).unwrap_or(u32::MAX)
    }

    /// The highest nonce accepted so far (0 before the first).
    pub fn highest(&self) -> u32 {
        self.highest
    }

    fn slot(&self, nonce: u32) -> (usize, u64) {
        let i = (nonce % self.size()) as usize;
        (i / 64, 1u64 << (i % 64))
    }

    /// Whether `nonce` would be accepted, without recording it.
    pub fn check(&self, nonce: u32) -> Result<(), NonceError> {
        if nonce == 0 {
            return Err(NonceError::Zero);
        }
        if nonce > self.highest {
            return Ok(());
        }
        if self.highest - nonce >= self.size() {
            return Err(NonceError::TooOld {
                highest: self.highest,
            });
        }
        let (w, b) = self.slot(nonce);
        if self.bits[w] & b != 0 {
            return Err(NonceError::AlreadySeen);
        }
        Ok(())
    }

    /// Records `nonce`, or refuses it.
    pub fn insert(&mut self, nonce: u32) -> Result<(), NonceError> {
        self.check(nonce)?;
        if nonce > self.highest {
            let gap = nonce - self.highest;
            if gap >= self.size() {
                self.bits.iter_mut().for_each(|w| *w = 0);
            } else {
                // Slots of the nonces the window slides past now stand for new nonces.
                for m in self.highest + 1..nonce {
                    let (w, b) = self.slot(m);
                    self.bits[w] &= !b;
                }
            }
            self.highest = nonce;
        }
        let (w, b) = self.slot(nonce);
        self.bits[w] |= b;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn in_order_out_of_order_and_replays() {
        let mut w = NonceWindow::new(64);
        assert_eq!(w.insert(0), Err(NonceError::Zero));
        for n in 1..=10 {
            w.insert(n).unwrap();
        }
        assert_eq!(w.insert(5), Err(NonceError::AlreadySeen));
        w.insert(20).unwrap();
        w.insert(15).unwrap();
        assert_eq!(w.insert(15), Err(NonceError::AlreadySeen));
        w.insert(200).unwrap();
        assert_eq!(w.insert(136), Err(NonceError::TooOld { highest: 200 }));
        w.insert(137).unwrap();
        assert_eq!(w.insert(137), Err(NonceError::AlreadySeen));
        w.insert(u32::MAX).unwrap();
        assert_eq!(w.insert(u32::MAX), Err(NonceError::AlreadySeen));
        assert_eq!(w.highest(), u32::MAX);
        assert_eq!(NonceWindow::new(0).size(), 64);
        assert_eq!(NonceWindow::new(100).size(), 128);
    }

    proptest! {
        /// Against a model set: a nonce the window accepts was never accepted before, and
        /// every nonce within the window of the highest that was not seen is accepted.
        #[test]
        fn matches_a_set_within_the_window(ops in proptest::collection::vec(1u32..400, 1..300)) {
            let mut w = NonceWindow::new(64);
            let mut seen = BTreeSet::new();
            for n in ops {
                let highest = seen.iter().next_back().copied().unwrap_or(0);
                let r = w.insert(n);
                if seen.contains(&n) {
                    prop_assert!(r.is_err());
                } else if n + 64 > highest {
                    prop_assert!(r.is_ok());
                } else {
                    let too_old = matches!(r, Err(NonceError::TooOld { .. }));
                    prop_assert!(too_old);
                }
                if r.is_ok() {
                    seen.insert(n);
                }
            }
        }
    }
}
