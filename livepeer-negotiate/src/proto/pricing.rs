//! Pricing and capacity: fee estimates, per-broadcaster price overrides, and capacity
//! counted in output pixels per second.

use std::collections::HashMap;
use std::time::Duration;

use livepeer_core::{Address, Ladder, PixelPrice, Pixels, Wei};

/// Frame rate assumed for a profile that keeps the source's (as the reference's estimate).
pub const PASSTHROUGH_FPS: u64 = 60;

/// Output pixels a ladder produces over `duration`: Σ width × height × ⌈fps⌉ × seconds.
pub fn ladder_pixels(ladder: &Ladder, duration: Duration) -> Pixels {
    let ms = duration.as_millis().min(u128::from(u64::MAX)) as u64;
    ladder.profiles().iter().fold(Pixels::ZERO, |acc, p| {
        let fps = p.framerate.map_or(PASSTHROUGH_FPS, |f| u64::from(f.ceil()));
        let px = p.pixels_per_frame().saturating_mul(fps).saturating_mul(ms) / 1000;
        acc.saturating_add(Pixels(px))
    })
}

/// Output pixels per second a ladder needs in real time.
pub fn ladder_rate(ladder: &Ladder) -> u64 {
    ladder_pixels(ladder, Duration::from_secs(1)).0
}

/// The fee a broadcaster pays up front for a segment: the estimate with a 2 % margin (the
/// reference's), rounded up.
pub fn fee_estimate(price: &PixelPrice, ladder: &Ladder, duration: Duration) -> Wei {
    let px = ladder_pixels(ladder, duration).0;
    price.fee(Pixels(px.saturating_add(px / 50)))
}

/// The orchestrator's prices: a base price and overrides per broadcaster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceBook {
    base: PixelPrice,
    overrides: HashMap<Address, PixelPrice>,
}

impl PriceBook {
    /// A book charging `base` to everyone.
    pub fn new(base: PixelPrice) -> Self {
        PriceBook {
            base,
            overrides: HashMap::new(),
        }
    }

    /// Charges `broadcaster` `price` instead of the base price.
    pub fn with_override(mut self, broadcaster: Address, price: PixelPrice) -> Self {
        self.overrides.insert(broadcaster, price);
        self
    }

    /// Replaces the base price.
    pub fn set_base(&mut self, base: PixelPrice) {
        self.base = base;
    }

    /// The price for `broadcaster`.
    pub fn price_for(&self, broadcaster: &Address) -> PixelPrice {
        self.overrides
            .get(broadcaster)
            .copied()
            .unwrap_or(self.base)
    }
}

/// Capacity in output pixels per second: admits work while the sum of running rates fits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapacityMeter {
    capacity_pps: u64,
    in_use_pps: u64,
}

impl CapacityMeter {
    /// A meter of `capacity_pps`.
    pub fn new(capacity_pps: u64) -> Self {
        CapacityMeter {
            capacity_pps,
            in_use_pps: 0,
        }
    }

    /// Changes the capacity (e.g. when transcoders join or leave the pool).
    pub fn set_capacity(&mut self, capacity_pps: u64) {
        self.capacity_pps = capacity_pps;
    }

    /// The capacity.
    pub fn capacity(&self) -> u64 {
        self.capacity_pps
    }

    /// What is free now.
    pub fn free(&self) -> u64 {
        self.capacity_pps.saturating_sub(self.in_use_pps)
    }

    /// Reserves `rate` if it fits; an idle meter admits one job of any size, so a ladder
    /// larger than the whole capacity still runs (slower than real time) instead of never.
    pub fn try_reserve(&mut self, rate: u64) -> bool {
        if self.in_use_pps == 0 || self.in_use_pps.saturating_add(rate) <= self.capacity_pps {
            self.in_use_pps = self.in_use_pps.saturating_add(rate);
            true
        } else {
            false
        }
    }

    /// Releases a reservation.
    pub fn release(&mut self, rate: u64) {
        self.in_use_pps = self.in_use_pps.saturating_sub(rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_and_capacity() {
        let ladder: Ladder = "P360p30fps16x9".parse().unwrap();
        let px = ladder_pixels(&ladder, Duration::from_secs(2));
        assert_eq!(px, Pixels(640 * 360 * 30 * 2));
        let fee = fee_estimate(&PixelPrice::per_pixel(2), &ladder, Duration::from_secs(2));
        assert_eq!(fee, Wei::from_u128(u128::from(px.0 + px.0 / 50) * 2));
        let mut m = CapacityMeter::new(ladder_rate(&ladder) * 2);
        assert!(m.try_reserve(ladder_rate(&ladder)));
        assert!(m.try_reserve(ladder_rate(&ladder)));
        assert!(!m.try_reserve(1));
        m.release(ladder_rate(&ladder));
        assert!(m.try_reserve(1));
        let mut tiny = CapacityMeter::new(1);
        assert!(tiny.try_reserve(1000), "an idle meter admits one job");
        assert!(!tiny.try_reserve(1));
    }
}
