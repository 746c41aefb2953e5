//! What the checks accept: sampling rate, timing and bitrate tolerances, perceptual
//! thresholds.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A configuration value is out of range.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid verification config: {0}")]
pub struct InvalidConfig(pub String);

/// Perceptual thresholds: a sampled rendition fails when any compared frame falls below one.
///
/// The defaults are the values calibrated on the first half of the tamper corpus (honest
/// OpenH264, x264 and rav1e renditions at 240p and OpenH264 at 360p; minima over every
/// frame: SSIM 0.9613, tile SSIM 0.7946, PSNR 33.82 dB, 16×16 block PSNR 22.43 dB) less
/// margins of 0.05, 0.15, 4 dB and 3 dB, rounded. The corpus test recomputes them, checks these equal them, and measures them on
/// the other half (see the crate README).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PerceptualThresholds {
    /// Lowest luma SSIM of a whole frame.
    pub min_frame_ssim: f64,
    /// Lowest luma SSIM of any tile of the [`Self::grid`] × [`Self::grid`] tiling of a frame:
    /// what catches a local overlay the frame average would hide.
    pub min_tile_ssim: f64,
    /// Lowest PSNR of a frame, luma and chroma together, in dB.
    pub min_psnr_db: f64,
    /// Tiles per side for [`Self::min_tile_ssim`].
    pub grid: u32,
    /// Lowest PSNR of any 16×16 block, luma and chroma pooled, in dB: what catches an
    /// overlay too small to move a tile's SSIM.
    #[serde(default = "default_block_psnr")]
    pub min_block_psnr_db: f64,
    /// How far under an honest reference encode of the same segment a rendition that fails
    /// the thresholds above may score and still pass (with a reference encoder configured).
    #[serde(default)]
    pub reference: ReferenceMargins,
}

/// Margins under an honest reference encode's worst frame, per metric (see
/// `Checker::with_reference_encoder`). The defaults are the calibration margins of the
/// absolute thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReferenceMargins {
    /// Frame SSIM.
    pub ssim: f64,
    /// Tile SSIM.
    pub tile_ssim: f64,
    /// Frame PSNR, dB.
    pub psnr_db: f64,
    /// Block PSNR, dB.
    pub block_psnr_db: f64,
}

impl Default for ReferenceMargins {
    fn default() -> Self {
        ReferenceMargins {
            ssim: 0.05,
            tile_ssim: 0.15,
            psnr_db: 4.0,
            block_psnr_db: 3.0,
        }
    }
}

fn default_block_psnr() -> f64 {
    PerceptualThresholds::default().min_block_psnr_db
}

impl Default for PerceptualThresholds {
    fn default() -> Self {
        PerceptualThresholds {
            min_frame_ssim: 0.911,
            min_tile_ssim: 0.645,
            min_psnr_db: 29.8,
            grid: 6,
            min_block_psnr_db: 19.4,
            reference: ReferenceMargins::default(),
        }
    }
}

/// How the verifier decides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VerifyConfig {
    /// One segment in this many gets the deep checks (full decode, perceptual comparison,
    /// re-encode), chosen by a secret seed. `1` checks every segment; `0` never samples.
    pub verification_rate: u32,
    /// Lowest accepted video bitrate as a fraction of the profile's target.
    pub min_bitrate_ratio: f64,
    /// Highest accepted video bitrate as a fraction of the profile's target.
    pub max_bitrate_ratio: f64,
    /// Relative tolerance on the frame rate measured from timestamps.
    pub frame_rate_tolerance: f64,
    /// Tolerance on a rendition's duration beyond one frame interval.
    pub duration_tolerance: Duration,
    /// Perceptual thresholds.
    pub perceptual: PerceptualThresholds,
    /// Decode the first key frame of every rendition (and of the source) on every segment and
    /// compare them, when a decoder is configured.
    pub key_frame_check: bool,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            verification_rate: 10,
            min_bitrate_ratio: 0.10,
            max_bitrate_ratio: 1.60,
            frame_rate_tolerance: 0.01,
            duration_tolerance: Duration::from_millis(20),
            perceptual: PerceptualThresholds::default(),
            key_frame_check: true,
        }
    }
}

impl VerifyConfig {
    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let bad = |m: &str| Err(InvalidConfig(m.to_owned()));
        if !(self.min_bitrate_ratio >= 0.0 && self.min_bitrate_ratio <= 1.0) {
            return bad("min_bitrate_ratio must be within 0..=1");
        }
        if !(self.max_bitrate_ratio >= 1.0 && self.max_bitrate_ratio.is_finite()) {
            return bad("max_bitrate_ratio must be at least 1");
        }
        if !(self.frame_rate_tolerance >= 0.0 && self.frame_rate_tolerance < 0.5) {
            return bad("frame_rate_tolerance must be within 0..0.5");
        }
        if self.duration_tolerance > Duration::from_secs(10) {
            return bad("duration_tolerance above 10 s");
        }
        let p = &self.perceptual;
        for (name, v) in [
            ("min_frame_ssim", p.min_frame_ssim),
            ("min_tile_ssim", p.min_tile_ssim),
        ] {
            if !(-1.0..=1.0).contains(&v) {
                return bad(&format!("{name} must be within -1..=1"));
            }
        }
        if !(p.min_psnr_db >= 0.0 && p.min_psnr_db <= 100.0) {
            return bad("min_psnr_db must be within 0..=100");
        }
        if !(p.min_block_psnr_db >= 0.0 && p.min_block_psnr_db <= 100.0) {
            return bad("min_block_psnr_db must be within 0..=100");
        }
        let r = &p.reference;
        if ![r.ssim, r.tile_ssim, r.psnr_db, r.block_psnr_db]
            .iter()
            .all(|m| m.is_finite() && *m >= 0.0)
        {
            return bad("reference margins must be finite and not negative");
        }
        if !(1..=32).contains(&p.grid) {
            return bad("grid must be within 1..=32");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_bad_values_are_named() {
        VerifyConfig::default().validate().unwrap();
        let c = VerifyConfig {
            min_bitrate_ratio: f64::NAN,
            ..VerifyConfig::default()
        };
        assert!(c.validate().unwrap_err().0.contains("min_bitrate_ratio"));
        let mut c = VerifyConfig::default();
        c.perceptual.grid = 0;
        assert!(c.validate().is_err());
    }
}
