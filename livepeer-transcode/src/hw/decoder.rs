//! H.264 decoding on a hardware device, pictures copied back to memory as I420.
#![allow(unsafe_code)] // attaching a device and downloading frames go through FFmpeg's C API.

use std::collections::VecDeque;
use std::sync::Arc;

use ffmpeg_next::codec::{self, Id};
use ffmpeg_next::format::Pixel;
use ffmpeg_next::{ffi, frame};
use livepeer_core::VideoCodec;

use super::device::HwDevice;
use crate::decode::{InputLimits, Output, VideoDecoder};
use crate::error::{Result, TranscodeError, backend};
use crate::frame::Frame;
use livepeer_bitstream::h264::{self, nal};

/// A hardware H.264 decoder (FFmpeg's h264 decoder with a device attached: NVDEC, VAAPI or
/// QSV). Sizes are checked from the SPS before the device sees the stream.
pub struct HwDecoder {
    dec: ffmpeg_next::decoder::Video,
    _device: Arc<HwDevice>,
    limits: InputLimits,
    hw: frame::Video,
    sw: frame::Video,
    ready: VecDeque<Frame>,
    seen_sps: bool,
    flushed: bool,
}

impl std::fmt::Debug for HwDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HwDecoder")
            .field("device", &self._device)
            .finish_non_exhaustive()
    }
}

// SAFETY: the codec context and frames are owned by this value alone and only used through
// `&mut self`; FFmpeg contexts may move between threads when not used concurrently.
unsafe impl Send for HwDecoder {}

impl HwDecoder {
    /// A decoder on `device`.
    pub fn new(device: Arc<HwDevice>, limits: InputLimits) -> Result<Self> {
        let codec = ffmpeg_next::decoder::find(Id::H264)
            .ok_or_else(|| backend("FFmpeg has no H.264 decoder"))?;
        let mut ctx = codec::context::Context::new_with_codec(codec);
        // SAFETY: the context is not opened yet; it takes ownership of the new reference
        // and releases it when freed.
        unsafe { (*ctx.as_mut_ptr()).hw_device_ctx = device.new_ref() };
        let dec = ctx.decoder().video().map_err(backend)?;
        Ok(HwDecoder {
            dec,
            _device: device,
            limits,
            hw: frame::Video::empty(),
            sw: frame::Video::empty(),
            ready: VecDeque::new(),
            seen_sps: false,
            flushed: false,
        })
    }

    fn drain(&mut self) -> Result<()> {
        while crate::libav::received(self.dec.receive_frame(&mut self.hw), VideoCodec::H264)? {
            let f = self.download()?;
            self.ready.push_back(f);
        }
        Ok(())
    }

    fn download(&mut self) -> Result<Frame> {
        let pts = self.hw.timestamp().or(self.hw.pts()).unwrap_or(0);
        // SAFETY: both frames are valid; a frame with a hardware frames context is copied
        // to `sw` in the device's download format, as the FFmpeg API documents.
        let on_device = unsafe { !(*self.hw.as_ptr()).hw_frames_ctx.is_null() };
        let src = if on_device {
            // SAFETY: `sw` is ours; unreferencing it first lets FFmpeg allocate buffers of the
            // right size and format for this picture.
            let r = unsafe {
                ffi::av_frame_unref(self.sw.as_mut_ptr());
                ffi::av_hwframe_transfer_data(self.sw.as_mut_ptr(), self.hw.as_ptr(), 0)
            };
            if r < 0 {
                return Err(backend(format!(
                    "download from device: {}",
                    ffmpeg_next::Error::from(r)
                )));
            }
            &self.sw
        } else {
            &self.hw
        };
        if matches!(src.format(), Pixel::YUV420P | Pixel::YUVJ420P) {
            return crate::libav::i420_from(src, &self.limits, false, &mut Vec::new());
        }
        let (w, h) = (src.width(), src.height());
        self.limits.check(w, h)?;
        let (wu, hu) = (w as usize, h as usize);
        let mut out = Frame::black(w, h, pts);
        match src.format() {
            Pixel::NV12 => {
                let (luma, stride) = (src.data(0), src.stride(0));
                for row in 0..hu {
                    let line = luma
                        .get(row * stride..row * stride + wu)
                        .ok_or_else(|| backend("short plane"))?;
                    out.y[row * wu..(row + 1) * wu].copy_from_slice(line);
                }
                let (uv, stride) = (src.data(1), src.stride(1));
                for row in 0..hu / 2 {
                    let line = uv
                        .get(row * stride..row * stride + wu)
                        .ok_or_else(|| backend("short plane"))?;
                    for x in 0..wu / 2 {
                        out.u[row * (wu / 2) + x] = line[2 * x];
                        out.v[row * (wu / 2) + x] = line[2 * x + 1];
                    }
                }
            }
            other => return Err(backend(format!("device gave {other:?} pictures"))),
        }
        Ok(out)
    }
}

impl VideoDecoder for HwDecoder {
    fn send_packet(&mut self, au: &[u8], pts: i64) -> Result<()> {
        for sps in h264::nal_units(au).filter(|n| h264::nal_type(n) == nal::SPS) {
            let info = h264::parse_sps(sps)?;
            self.limits.check(info.width, info.height)?;
            self.seen_sps = true;
        }
        if !self.seen_sps {
            return Err(TranscodeError::NoKeyframe);
        }
        crate::libav::send(&mut self.dec, au, pts, VideoCodec::H264)?;
        self.drain()
    }

    fn flush(&mut self) -> Result<()> {
        if !self.flushed {
            self.flushed = true;
            self.dec.send_eof().map_err(backend)?;
            self.drain()?;
        }
        Ok(())
    }

    fn receive_frame(&mut self) -> Result<Output<Frame>> {
        Ok(crate::decode::next_ready(&mut self.ready, self.flushed))
    }
}
