//! How much a go-livepeer gateway pays for a segment, and how many tickets it sends.
//!
//! The fee estimate is `Σ width·height·ceil(fps)·ceil(duration) × 1.02 × price` over the
//! requested renditions, with a pass-through frame rate (`fps = 0`) counted as 60. The
//! gateway then sends tickets until its credit reaches `max(fee, one ticket's EV)`.
//!
//! go-livepeer multiplies by the binary double nearest 1.02; this module uses exactly
//! 102/100 and rounds the fee up to a whole wei. The two differ by less than one part in
//! 10^16, so the ticket counts agree except on an exact ticket boundary.

use std::time::Duration;

use livepeer_core::{PixelPrice, U256, Wei};
use primitive_types::U512;

use crate::error::InteropError;
use crate::messages::VideoProfile;

/// The frame rate a pass-through rendition is assumed to have.
pub const PASSTHROUGH_FPS: u64 = 60;

/// The estimate's margin, as a fraction: 102/100.
pub const PIXEL_ESTIMATE_MARGIN: (u64, u64) = (102, 100);

/// The output pixels go-livepeer estimates for a segment of `duration` in `profiles`:
/// `Σ width·height·ceil(fps/fpsDen)·ceil(seconds)`.
pub fn estimated_pixels(
    profiles: &[VideoProfile],
    duration: Duration,
) -> Result<u128, InteropError> {
    let secs = u128::from(duration.as_secs()) + u128::from(duration.subsec_nanos() > 0);
    let mut total: u128 = 0;
    for p in profiles {
        let w = u128::try_from(p.width).map_err(|_| InteropError::OutOfRange {
            field: "VideoProfile.width",
        })?;
        let h = u128::try_from(p.height).map_err(|_| InteropError::OutOfRange {
            field: "VideoProfile.height",
        })?;
        let fps = if p.fps == 0 {
            u128::from(PASSTHROUGH_FPS)
        } else {
            let den = u128::from(p.fps_den.max(1));
            u128::from(p.fps).div_ceil(den)
        };
        // Each factor is below 2^32 and seconds below 2^64, so a product fits in u128 up to
        // 2^160 only in theory; saturate rather than wrap.
        let one = w.saturating_mul(h).saturating_mul(fps).saturating_mul(secs);
        total = total.saturating_add(one);
    }
    Ok(total)
}

/// The fee go-livepeer estimates for a segment: [`estimated_pixels`] × 1.02 × `price`,
/// rounded up to a whole wei.
pub fn estimate_fee(
    profiles: &[VideoProfile],
    duration: Duration,
    price: &PixelPrice,
) -> Result<Wei, InteropError> {
    let pixels = estimated_pixels(profiles, duration)?;
    let px = U512::from(U256::from(pixels));
    let num = px * U512::from(price.wei) * U512::from(PIXEL_ESTIMATE_MARGIN.0);
    let den = U512::from(price.pixels) * U512::from(PIXEL_ESTIMATE_MARGIN.1);
    if den.is_zero() {
        return Err(InteropError::OutOfRange {
            field: "PriceInfo.pixelsPerUnit",
        });
    }
    let q = (num + den - U512::one()) / den;
    Ok(Wei(U256::try_from(q).unwrap_or(U256::MAX)))
}

/// How many tickets of expected value `ev` a gateway holding `credit` sends for a segment
/// costing `fee`: none when the credit covers `max(fee, ev)`, else
/// `ceil((max(fee, ev) − credit) / ev)`. Like go-livepeer, a zero `ev` sends none (the
/// orchestrator will answer `Insufficient balance` if it charges).
pub fn tickets_needed(fee: Wei, ev: Wei, credit: Wei) -> U256 {
    let min_credit = fee.max(ev);
    if credit >= min_credit || ev.is_zero() {
        return U256::zero();
    }
    let gap = min_credit.0 - credit.0;
    let (q, r) = gap.div_mod(ev.0);
    if r.is_zero() { q } else { q + U256::one() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(w: i32, h: i32, fps: u32, den: u32) -> VideoProfile {
        VideoProfile {
            width: w,
            height: h,
            fps,
            fps_den: den,
            ..VideoProfile::default()
        }
    }

    #[test]
    fn pixels_take_ceilings_and_passthrough_is_sixty() {
        let d = Duration::from_millis(2_001);
        // 30000/1001 fps rounds up to 30; 2.001 s rounds up to 3.
        assert_eq!(
            estimated_pixels(&[profile(1280, 720, 30_000, 1001)], d).unwrap(),
            1280 * 720 * 30 * 3
        );
        assert_eq!(
            estimated_pixels(&[profile(640, 360, 0, 0)], Duration::from_secs(2)).unwrap(),
            640 * 360 * 60 * 2
        );
        assert!(estimated_pixels(&[profile(-1, 2, 30, 1)], d).is_err());
    }

    #[test]
    fn fee_is_pixels_times_margin_times_price() {
        let ps = [profile(1280, 720, 30, 1), profile(640, 360, 30, 1)];
        let px = (1280 * 720 + 640 * 360) * 30 * 2;
        let price = PixelPrice::new(U256::from(1_000_000u64), U256::from(100u64)).unwrap();
        let fee = estimate_fee(&ps, Duration::from_secs(2), &price).unwrap();
        // px × 1.02 × 10^4, exactly divisible here.
        assert_eq!(fee, Wei(U256::from(px as u64 * 102 * 100)));
        let free = estimate_fee(&ps, Duration::from_secs(2), &PixelPrice::zero()).unwrap();
        assert!(free.is_zero());
    }

    #[test]
    fn tickets_cover_the_larger_of_fee_and_ev() {
        let w = |v: u64| Wei(U256::from(v));
        // go-livepeer's accounting test cases: minCredit 5, EV 1, credit 0 → 5 tickets.
        assert_eq!(tickets_needed(w(5), w(1), w(0)), U256::from(5));
        assert_eq!(tickets_needed(w(5), w(2), w(0)), U256::from(3));
        assert_eq!(tickets_needed(w(5), w(2), w(1)), U256::from(2));
        assert_eq!(tickets_needed(w(5), w(2), w(5)), U256::zero());
        // The fee is below one ticket's EV: one ticket anyway.
        assert_eq!(tickets_needed(w(1), w(100), w(0)), U256::one());
        assert_eq!(tickets_needed(w(1), w(0), w(0)), U256::zero());
    }
}
