//! Decoding and scaling as seams: the perceptual checks need the source decoded with the
//! same decoder the transcoder used, and scaled the way a transcoder scales.

use std::ops::Deref;

use livepeer_core::Container;
use thiserror::Error;

use crate::metrics::Picture;

/// A decoder or scaler failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes do not decode.
    #[error("does not decode: {0}")]
    Invalid(String),
    /// This decoder does not handle the codec or container.
    #[error("unsupported by this decoder: {0}")]
    Unsupported(String),
    /// The decoder or scaler itself failed.
    #[error("decoder backend: {0}")]
    Backend(String),
}

/// Decodes a segment's video to pictures.
///
/// Contract: deterministic (the same bytes always give the same pictures), blocking (call it
/// from a worker thread), pictures in display order. `max_frames` stops after that many
/// pictures, so decoding only the first key frame costs one picture.
pub trait FrameDecoder: Send + Sync {
    /// Decodes `data`, a `container` of video.
    fn decode(
        &self,
        data: &[u8],
        container: Container,
        max_frames: Option<usize>,
    ) -> Result<Vec<Picture>, DecodeError>;
}

impl<T> FrameDecoder for T
where
    T: Deref + Send + Sync,
    T::Target: FrameDecoder,
{
    fn decode(
        &self,
        data: &[u8],
        container: Container,
        max_frames: Option<usize>,
    ) -> Result<Vec<Picture>, DecodeError> {
        self.deref().decode(data, container, max_frames)
    }
}

/// Scales a picture.
///
/// Contract: deterministic and blocking, like [`FrameDecoder`]; should use the same filter as
/// the transcoders being verified (bilinear for livepeer-transcode and FFmpeg's defaults).
pub trait PictureScaler: Send + Sync {
    /// Scales `picture` to `width × height`.
    fn scale(&self, picture: &Picture, width: u32, height: u32) -> Result<Picture, DecodeError>;
}

impl<T> PictureScaler for T
where
    T: Deref + Send + Sync,
    T::Target: PictureScaler,
{
    fn scale(&self, picture: &Picture, width: u32, height: u32) -> Result<Picture, DecodeError> {
        self.deref().scale(picture, width, height)
    }
}

/// A plain bilinear scaler in Rust, plane by plane (centre-aligned samples, like FFmpeg's
/// and fast_image_resize's bilinear filters when upscaling; a box-weighted average when
/// downscaling by more than 2).
#[derive(Clone, Copy, Debug, Default)]
pub struct BilinearScaler;

fn scale_plane(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
    let mut out = vec![0u8; dw * dh];
    if sw == 0 || sh == 0 {
        return out;
    }
    // Triangle filter with support widened by the downscale factor.
    let weights = |s: usize, d: usize| -> Vec<(usize, Vec<f64>)> {
        let scale = s as f64 / d as f64;
        let support = scale.max(1.0);
        (0..d)
            .map(|i| {
                let centre = (i as f64 + 0.5) * scale - 0.5;
                let lo = (centre - support).floor().max(0.0) as usize;
                let hi = ((centre + support).ceil() as usize).min(s - 1);
                let mut w: Vec<f64> = (lo..=hi)
                    .map(|j| (1.0 - ((j as f64 - centre) / support).abs()).max(0.0))
                    .collect();
                let sum: f64 = w.iter().sum();
                if sum > 0.0 {
                    w.iter_mut().for_each(|x| *x /= sum);
                }
                (lo, w)
            })
            .collect()
    };
    let (wx, wy) = (weights(sw, dw), weights(sh, dh));
    let mut tmp = vec![0f64; dw * sh];
    for y in 0..sh {
        let row = &src[y * sw..(y + 1) * sw];
        for (x, (lo, w)) in wx.iter().enumerate() {
            tmp[y * dw + x] = w
                .iter()
                .enumerate()
                .map(|(k, c)| c * f64::from(row[lo + k]))
                .sum();
        }
    }
    for (y, (lo, w)) in wy.iter().enumerate() {
        for x in 0..dw {
            let v: f64 = w
                .iter()
                .enumerate()
                .map(|(k, c)| c * tmp[(lo + k) * dw + x])
                .sum();
            out[y * dw + x] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

impl PictureScaler for BilinearScaler {
    fn scale(&self, p: &Picture, width: u32, height: u32) -> Result<Picture, DecodeError> {
        if !p.is_consistent()
            || !width.is_multiple_of(2)
            || !height.is_multiple_of(2)
            || width == 0
            || height == 0
        {
            return Err(DecodeError::Invalid(
                "inconsistent picture or odd size".into(),
            ));
        }
        let (sw, sh, dw, dh) = (
            p.width as usize,
            p.height as usize,
            width as usize,
            height as usize,
        );
        Ok(Picture {
            width,
            height,
            y: scale_plane(&p.y, sw, sh, dw, dh),
            u: scale_plane(&p.u, sw / 2, sh / 2, dw / 2, dh / 2),
            v: scale_plane(&p.v, sw / 2, sh / 2, dw / 2, dh / 2),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_pictures_stay_flat_and_sizes_are_checked() {
        let p = Picture::filled(64, 48, 100, 50, 200);
        let s = BilinearScaler.scale(&p, 30, 20).unwrap();
        assert!(s.is_consistent());
        assert!(s.y.iter().all(|&v| v == 100) && s.v.iter().all(|&v| v == 200));
        assert!(BilinearScaler.scale(&p, 31, 20).is_err());
        let same = BilinearScaler.scale(&p, 64, 48).unwrap();
        assert_eq!(same, p);
    }
}
