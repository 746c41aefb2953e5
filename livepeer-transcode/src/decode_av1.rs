//! AV1 decoding with rav1d (the Rust port of dav1d), behind the same push/pull
//! [`VideoDecoder`] contract as the H.264 decoder: temporal units in, I420 pictures with
//! their presentation times out.
//!
//! rav1d is reached through its C-compatible API, so this module holds the crate's only
//! unsafe calls into it; each states what it relies on.
#![allow(unsafe_code)] // rav1d's API is `extern "C"`: its context, data and picture handles.

use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use rav1d::include::dav1d::data::Dav1dData;
use rav1d::include::dav1d::dav1d::{Dav1dContext, Dav1dSettings};
use rav1d::include::dav1d::headers::DAV1D_PIXEL_LAYOUT_I420;
use rav1d::include::dav1d::picture::Dav1dPicture;
use rav1d::src::lib::{
    dav1d_close, dav1d_data_create, dav1d_data_unref, dav1d_default_settings, dav1d_flush,
    dav1d_get_picture, dav1d_open, dav1d_picture_unref, dav1d_send_data,
};

use crate::decode::{InputLimits, Output, VideoDecoder};
use crate::error::{Result, backend, invalid, unsupported};
use crate::frame::Frame;

/// rav1d's "try again" answer: it wants pictures taken out (or more data) first.
const AGAIN: i32 = -libc::EAGAIN;

/// Largest temporal unit accepted (a 4K intra picture at a very high rate stays far below).
const MAX_UNIT: usize = 16 << 20;

/// A single-threaded AV1 decoder: the same bytes always give the same pictures, on any
/// machine, so a verifier and the transcoder it checks see the same source.
///
/// Only 8-bit 4:2:0 streams are accepted (what every rung here produces); anything else is
/// [`TranscodeError::Unsupported`](crate::TranscodeError::Unsupported). Pictures beyond
/// the [`InputLimits`] are refused before rav1d allocates them.
pub struct Av1Decoder {
    ctx: Option<Dav1dContext>,
    limits: InputLimits,
    ready: VecDeque<Frame>,
    flushed: bool,
}

impl std::fmt::Debug for Av1Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Av1Decoder")
            .field("limits", &self.limits)
            .field("ready", &self.ready.len())
            .field("flushed", &self.flushed)
            .finish()
    }
}

// SAFETY: the context is owned by this value alone (never shared or cloned out), rav1d runs
// single-threaded here (`n_threads = 1`), and every call on it takes `&mut self`.
unsafe impl Send for Av1Decoder {}

impl Av1Decoder {
    /// A decoder refusing pictures outside `limits`.
    pub fn new(limits: InputLimits) -> Result<Self> {
        let mut s = MaybeUninit::<Dav1dSettings>::uninit();
        // SAFETY: `dav1d_default_settings` writes a whole `Dav1dSettings` to the pointer.
        let mut settings = unsafe {
            dav1d_default_settings(NonNull::new_unchecked(s.as_mut_ptr()));
            s.assume_init()
        };
        settings.n_threads = 1;
        settings.max_frame_delay = 1;
        settings.frame_size_limit = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX);
        let mut ctx: Option<Dav1dContext> = None;
        // SAFETY: both pointers are to live locals; `dav1d_open` reads the settings and
        // writes the context (or `None`).
        let r = unsafe {
            dav1d_open(
                Some(NonNull::from(&mut ctx)),
                Some(NonNull::from(&mut settings)),
            )
        };
        match ctx {
            Some(c) if r.0 == 0 => Ok(Av1Decoder {
                ctx: Some(c),
                limits,
                ready: VecDeque::new(),
                flushed: false,
            }),
            _ => Err(backend(format!("AV1 decoder failed to open ({})", r.0))),
        }
    }

    fn ctx(&self) -> Result<Dav1dContext> {
        self.ctx
            .ok_or_else(|| backend("AV1 decoder already closed"))
    }

    /// Takes out every picture rav1d has ready. `Ok(false)` when it has none.
    fn drain(&mut self) -> Result<bool> {
        let ctx = self.ctx()?;
        let mut any = false;
        loop {
            let mut pic = Dav1dPicture::default();
            // SAFETY: `ctx` is open (closed only in `drop`); `pic` is a live local rav1d
            // writes a picture (or nothing) into.
            let r = unsafe { dav1d_get_picture(Some(ctx), Some(NonNull::from(&mut pic))) };
            if r.0 == AGAIN {
                return Ok(any);
            }
            if r.0 != 0 {
                return Err(invalid(format!("AV1 decode: error {}", r.0)));
            }
            let frame = self.to_frame(&pic);
            // SAFETY: `pic` holds a reference rav1d handed out; released once, here.
            unsafe { dav1d_picture_unref(Some(NonNull::from(&mut pic))) };
            self.ready.push_back(frame?);
            any = true;
        }
    }

    fn to_frame(&self, pic: &Dav1dPicture) -> Result<Frame> {
        let p = &pic.p;
        if p.bpc != 8 || p.layout != DAV1D_PIXEL_LAYOUT_I420 {
            return Err(unsupported(format!(
                "AV1 at {} bits, layout {} (only 8-bit 4:2:0 is decoded)",
                p.bpc, p.layout
            )));
        }
        let (w, h) = (
            u32::try_from(p.w).map_err(|_| backend("negative AV1 width"))?,
            u32::try_from(p.h).map_err(|_| backend("negative AV1 height"))?,
        );
        // Odd sizes are legal AV1; the picture is cropped to even (4:2:0 needs it).
        let (w, h) = (w & !1, h & !1);
        self.limits.check(w, h)?;
        let (sy, sc) = (
            usize::try_from(pic.stride[0]).map_err(|_| backend("negative AV1 stride"))?,
            usize::try_from(pic.stride[1]).map_err(|_| backend("negative AV1 stride"))?,
        );
        let (wu, hu) = (w as usize, h as usize);
        let plane = |i: usize, stride: usize, rows: usize, width: usize| -> Result<&[u8]> {
            let ptr = pic.data[i].ok_or_else(|| backend("AV1 picture without a plane"))?;
            if stride < width {
                return Err(backend("AV1 stride shorter than the picture"));
            }
            let len = stride * (rows - 1) + width;
            // SAFETY: rav1d allocated this plane with `rows` rows of `stride` bytes for an
            // 8-bit picture of (at least) this size, and it stays alive until the picture is
            // unreferenced, after this borrow ends.
            Ok(unsafe { std::slice::from_raw_parts(ptr.as_ptr().cast::<u8>(), len) })
        };
        let planes = [
            plane(0, sy, hu, wu)?,
            plane(1, sc, hu / 2, wu / 2)?,
            plane(2, sc, hu / 2, wu / 2)?,
        ];
        Frame::from_strided(w, h, pic.m.timestamp, planes, [sy, sc, sc])
            .ok_or_else(|| backend("AV1 planes shorter than their strides say"))
    }
}

impl VideoDecoder for Av1Decoder {
    fn send_packet(&mut self, tu: &[u8], pts: i64) -> Result<()> {
        if self.flushed {
            return Err(backend("AV1 data sent after flush"));
        }
        if tu.is_empty() {
            return Ok(());
        }
        if tu.len() > MAX_UNIT {
            return Err(invalid(format!("AV1 temporal unit of {} bytes", tu.len())));
        }
        let ctx = self.ctx()?;
        let mut data = Dav1dData::default();
        // SAFETY: `data` is a live local; rav1d allocates `tu.len()` bytes for it and returns
        // them (null on failure).
        let buf = unsafe { dav1d_data_create(Some(NonNull::from(&mut data)), tu.len()) };
        if buf.is_null() {
            return Err(backend("AV1 decoder out of memory"));
        }
        // SAFETY: `buf` has room for `tu.len()` bytes and does not overlap `tu`.
        unsafe { std::ptr::copy_nonoverlapping(tu.as_ptr(), buf, tu.len()) };
        data.m.timestamp = pts;
        let result = loop {
            // SAFETY: `ctx` is open; `data` is rav1d's own buffer, consumed in part or whole.
            let r = unsafe { dav1d_send_data(Some(ctx), Some(NonNull::from(&mut data))) };
            if r.0 != 0 && r.0 != AGAIN {
                break Err(invalid(format!("AV1 decode: error {}", r.0)));
            }
            match self.drain() {
                Err(e) => break Err(e),
                Ok(false) if r.0 == AGAIN && data.sz > 0 => {
                    break Err(invalid("AV1 decoder made no progress"));
                }
                Ok(_) => {}
            }
            if data.sz == 0 {
                break Ok(());
            }
        };
        if data.sz > 0 {
            // SAFETY: what rav1d did not consume is still referenced by `data`; released once.
            unsafe { dav1d_data_unref(Some(NonNull::from(&mut data))) };
        }
        result
    }

    fn flush(&mut self) -> Result<()> {
        if self.flushed {
            return Ok(());
        }
        self.flushed = true;
        // With one frame thread and a delay of one, every picture comes out of the send
        // that completes it; drain what may be left all the same.
        self.drain().map(|_| ())
    }

    fn receive_frame(&mut self) -> Result<Output<Frame>> {
        Ok(match self.ready.pop_front() {
            Some(f) => Output::Ready(f),
            None if self.flushed => Output::Done,
            None => Output::NeedMoreData,
        })
    }
}

impl Drop for Av1Decoder {
    fn drop(&mut self) {
        if let Some(c) = self.ctx {
            // SAFETY: the context is open; flushed and closed once, after which `ctx` is
            // `None` so nothing uses it again.
            unsafe {
                dav1d_flush(c);
                dav1d_close(Some(NonNull::from(&mut self.ctx)));
            }
            self.ctx = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{Av1Encoder, Av1Settings, VideoEncoder};
    use livepeer_core::VideoProfile;

    fn encode(frames: &[Frame], width: u32, height: u32) -> Vec<crate::frame::Packet> {
        let mut p = VideoProfile::preset("240p").unwrap();
        p.width = width;
        p.height = height;
        p.codec = livepeer_core::VideoCodec::Av1;
        let fps = livepeer_core::Framerate::new(30, 1).unwrap();
        let mut e = Av1Encoder::new(&p, fps, Av1Settings::default()).unwrap();
        let mut out = Vec::new();
        for f in frames {
            e.send_frame(f).unwrap();
            while let Output::Ready(p) = e.receive_packet().unwrap() {
                out.push(p);
            }
        }
        e.flush().unwrap();
        while let Output::Ready(p) = e.receive_packet().unwrap() {
            out.push(p);
        }
        out
    }

    fn gradient(w: u32, h: u32, pts: i64, shift: u32) -> Frame {
        let mut f = Frame::black(w, h, pts);
        for y in 0..h {
            for x in 0..w {
                f.y[(y * w + x) as usize] = (16 + (x + y + shift) % 200) as u8;
            }
        }
        f
    }

    #[test]
    fn round_trip_keeps_count_size_order_and_picture() {
        let (w, h) = (128, 72);
        let src: Vec<Frame> = (0..8)
            .map(|i| gradient(w, h, i * 3000, i as u32 * 4))
            .collect();
        let packets = encode(&src, w, h);
        let mut d = Av1Decoder::new(InputLimits::default()).unwrap();
        let mut out = Vec::new();
        for p in &packets {
            d.send_packet(&p.data, p.pts).unwrap();
            while let Output::Ready(f) = d.receive_frame().unwrap() {
                out.push(f);
            }
        }
        d.flush().unwrap();
        while let Output::Ready(f) = d.receive_frame().unwrap() {
            out.push(f);
        }
        assert_eq!(d.receive_frame().unwrap(), Output::Done);
        assert_eq!(out.len(), src.len());
        for (a, b) in out.iter().zip(&src) {
            assert_eq!((a.width, a.height, a.pts), (b.width, b.height, b.pts));
            let err: f64 =
                a.y.iter()
                    .zip(&b.y)
                    .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
                    .sum::<f64>()
                    / a.y.len() as f64;
            assert!(err < 6.0, "mean luma error {err}");
        }
    }

    #[test]
    fn garbage_and_oversized_pictures_are_typed_errors() {
        let mut d = Av1Decoder::new(InputLimits::default()).unwrap();
        let bad = [
            0x12u8, 0x00, 0x0a, 0x0b, 0xff, 0xff, 0xff, 0xff, 0x00, 0x11, 0x22,
        ];
        let r = d.send_packet(&bad, 0).and_then(|()| d.flush());
        assert!(r.is_err() || d.receive_frame().unwrap() == Output::Done);

        let packets = encode(&[gradient(128, 72, 0, 0)], 128, 72);
        let tiny = InputLimits {
            max_pixels: 64 * 64,
            ..InputLimits::default()
        };
        let mut d = Av1Decoder::new(tiny).unwrap();
        let r = d.send_packet(&packets[0].data, 0).and_then(|()| d.flush());
        assert!(r.is_err(), "a picture over the limits decoded");
    }
}
