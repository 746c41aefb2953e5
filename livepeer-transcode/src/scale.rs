//! Scaling of I420 pictures, one plane at a time, with `fast_image_resize`'s bilinear
//! convolution (the same filter as ffmpeg's swscale bilinear, within 68 dB PSNR).
//!
//! The pictures are exactly `fast_image_resize`'s one-pass resize of each plane (a property
//! test holds every size and CPU path to that), computed faster: its resize of a one-byte
//! plane runs the vertical pass first, with SIMD across the row, then a horizontal pass that
//! is scalar for the few taps a bilinear filter has. Here the vertical pass is the same call,
//! and the horizontal pass runs on four rows at once, packed as the four channels of a
//! four-byte picture, whose horizontal convolution is SIMD per pixel. Both passes use the
//! same 16-bit coefficients, rounding and clamping per channel, so every byte is the same.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::error::{Result, backend};
use crate::frame::Frame;
use pack::{LANES, pack_rows, unpack_rows};

/// A reusable scaler; its internal buffers persist between pictures.
pub struct Scaler {
    resizer: Resizer,
    options: ResizeOptions,
    /// The vertical pass's output: source width, destination height.
    rows: Vec<u8>,
    /// `rows` packed four rows to a pixel.
    packed: Vec<u8>,
    /// The horizontal pass's output, packed the same way.
    packed_out: Vec<u8>,
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
            // Four rows packed as a pixel are not colour and alpha: no premultiplying.
            options: ResizeOptions::new()
                .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
                .use_alpha(false),
            rows: Vec::new(),
            packed: Vec::new(),
            packed_out: Vec::new(),
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
        self.plane(&src.y, (sw, sh), &mut dst.y, (dw, dh))?;
        self.plane(&src.u, (sw / 2, sh / 2), &mut dst.u, (dw / 2, dh / 2))?;
        self.plane(&src.v, (sw / 2, sh / 2), &mut dst.v, (dw / 2, dh / 2))?;
        Ok(())
    }

    /// Scales `src` to a new frame of `width × height`.
    pub fn scale(&mut self, src: &Frame, width: u32, height: u32) -> Result<Frame> {
        let mut dst = Frame::black(width, height, src.pts);
        self.scale_into(src, &mut dst)?;
        Ok(dst)
    }

    /// This scaler on `fast_image_resize`'s code path for `extensions`, where the CPU has
    /// them (`false` and unchanged otherwise).
    #[cfg(test)]
    pub(crate) fn use_cpu_extensions(
        &mut self,
        extensions: fast_image_resize::CpuExtensions,
    ) -> bool {
        if !extensions.is_supported() {
            return false;
        }
        // SAFETY: the CPU supports `extensions`, checked just above.
        #[allow(unsafe_code)]
        unsafe {
            self.resizer.set_cpu_extensions(extensions);
        }
        true
    }

    /// One plane: `fast_image_resize`'s resize of it, byte for byte.
    fn plane(
        &mut self,
        s: &[u8],
        (sw, sh): (u32, u32),
        d: &mut [u8],
        (dw, dh): (u32, u32),
    ) -> Result<()> {
        if sw == dw || dh == 0 {
            // No horizontal pass: the one-byte resize is already SIMD throughout.
            return resize(
                &mut self.resizer,
                &self.options,
                s,
                (sw, sh),
                d,
                (dw, dh),
                PixelType::U8,
            );
        }
        let rows = if sh == dh {
            s
        } else {
            let rows = scratch(&mut self.rows, sw as usize * dh as usize);
            resize(
                &mut self.resizer,
                &self.options,
                s,
                (sw, sh),
                rows,
                (sw, dh),
                PixelType::U8,
            )?;
            &*rows
        };
        let groups = (dh as usize).div_ceil(LANES);
        let group_rows = u32::try_from(groups).map_err(backend)?;
        let packed = scratch(&mut self.packed, sw as usize * groups * LANES);
        pack_rows(rows, sw as usize, packed);
        let packed_out = scratch(&mut self.packed_out, dw as usize * groups * LANES);
        resize(
            &mut self.resizer,
            &self.options,
            packed,
            (sw, group_rows),
            packed_out,
            (dw, group_rows),
            PixelType::U8x4,
        )?;
        unpack_rows(packed_out, dw as usize, d);
        Ok(())
    }
}

/// The first `len` bytes of `buf`, grown (never shrunk: the planes of a picture take turns)
/// to hold them.
fn scratch(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if buf.len() < len {
        buf.resize(len, 0);
    }
    &mut buf[..len]
}

/// `fast_image_resize`'s resize of `s` into `d` as pictures of `pixel` type.
fn resize(
    resizer: &mut Resizer,
    options: &ResizeOptions,
    s: &[u8],
    (sw, sh): (u32, u32),
    d: &mut [u8],
    (dw, dh): (u32, u32),
    pixel: PixelType,
) -> Result<()> {
    let src = ImageRef::new(sw, sh, s, pixel).map_err(backend)?;
    let mut dst = Image::from_slice_u8(dw, dh, d, pixel).map_err(backend)?;
    resizer.resize(&src, &mut dst, options).map_err(backend)
}

mod pack;
#[cfg(test)]
mod tests;
