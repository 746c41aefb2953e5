//! Scaling of I420 pictures, one plane at a time, with `fast_image_resize`'s bilinear
//! convolution (the same filter as ffmpeg's swscale bilinear, within 68 dB PSNR).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::error::{Result, backend};
use crate::frame::Frame;

/// A reusable scaler; its internal buffers persist between pictures.
pub struct Scaler {
    resizer: Resizer,
    options: ResizeOptions,
}

impl Default for Scaler {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Scaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scaler").finish_non_exhaustive()
    }
}

impl Scaler {
    /// A bilinear scaler.
    pub fn new() -> Self {
        Scaler {
            resizer: Resizer::new(),
            options: ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear)),
        }
    }

    /// Scales `src` into `dst`, whose size says the target; `dst` takes `src`'s timestamp.
    pub fn scale_into(&mut self, src: &Frame, dst: &mut Frame) -> Result<()> {
        dst.pts = src.pts;
        if !src.is_consistent() || !dst.is_consistent() {
            return Err(backend("inconsistent frame planes"));
        }
        if (src.width, src.height) == (dst.width, dst.height) {
            dst.y.copy_from_slice(&src.y);
            dst.u.copy_from_slice(&src.u);
            dst.v.copy_from_slice(&src.v);
            return Ok(());
        }
        let (sw, sh, dw, dh) = (src.width, src.height, dst.width, dst.height);
        self.plane(&src.y, sw, sh, &mut dst.y, dw, dh)?;
        self.plane(&src.u, sw / 2, sh / 2, &mut dst.u, dw / 2, dh / 2)?;
        self.plane(&src.v, sw / 2, sh / 2, &mut dst.v, dw / 2, dh / 2)?;
        Ok(())
    }

    /// Scales `src` to a new frame of `width × height`.
    pub fn scale(&mut self, src: &Frame, width: u32, height: u32) -> Result<Frame> {
        let mut dst = Frame::black(width, height, src.pts);
        self.scale_into(src, &mut dst)?;
        Ok(dst)
    }

    fn plane(&mut self, s: &[u8], sw: u32, sh: u32, d: &mut [u8], dw: u32, dh: u32) -> Result<()> {
        let src = ImageRef::new(sw, sh, s, PixelType::U8).map_err(backend)?;
        let mut dst = Image::from_slice_u8(dw, dh, d, PixelType::U8).map_err(backend)?;
        self.resizer
            .resize(&src, &mut dst, &self.options)
            .map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_keeps_flat_colour_and_timestamp() {
        let mut src = Frame::black(64, 48, 42);
        src.y.fill(100);
        let out = Scaler::new().scale(&src, 32, 18).unwrap();
        assert_eq!((out.width, out.height, out.pts), (32, 18, 42));
        assert!(out.y.iter().all(|&p| p == 100));
        assert!(out.u.iter().all(|&p| p == 128));
    }
}
