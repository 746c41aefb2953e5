//! H.264 encoding with NVENC through FFmpeg's `h264_nvenc`.
#![allow(unsafe_code)] // only for `Send`: see below.

use std::collections::VecDeque;

use bytes::Bytes;
use ffmpeg_next::format::Pixel;
use ffmpeg_next::{Dictionary, Packet, Rational, codec, frame};
use livepeer_core::{Framerate, Gop, H264Profile, VideoCodec, VideoProfile};

use crate::encode::{Output, VideoEncoder};
use crate::error::{Result, backend, unsupported};
use crate::frame::{Frame, TIMESCALE};

/// An NVENC H.264 encoder for one rendition (no B-frames, so decode order is display order).
///
/// **What [`start_segment`](VideoEncoder::start_segment) resets**: the FFmpeg encoder is
/// closed and opened again with the same settings, so the first picture is an IDR and rate
/// control starts afresh.
pub struct NvencEncoder {
    profile: VideoProfile,
    fps: Framerate,
    enc: Option<ffmpeg_next::encoder::Video>,
    queue: VecDeque<crate::frame::Packet>,
    flushed: bool,
}

// SAFETY: the FFmpeg context is owned by this value alone and only used through `&mut self`.
unsafe impl Send for NvencEncoder {}

impl std::fmt::Debug for NvencEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NvencEncoder")
            .field("profile", &self.profile.name)
            .finish_non_exhaustive()
    }
}

impl NvencEncoder {
    /// An encoder for `profile` at `fps`; fails where no NVENC is present.
    pub fn new(profile: &VideoProfile, fps: Framerate) -> Result<Self> {
        if profile.codec != VideoCodec::H264 {
            return Err(unsupported(format!("{} with NVENC H.264", profile.codec)));
        }
        let mut e = NvencEncoder {
            profile: profile.clone(),
            fps,
            enc: None,
            queue: VecDeque::new(),
            flushed: false,
        };
        e.start_segment()?;
        Ok(e)
    }

    fn open(&self) -> Result<ffmpeg_next::encoder::Video> {
        let codec = ffmpeg_next::encoder::find_by_name("h264_nvenc")
            .ok_or_else(|| unsupported("FFmpeg has no h264_nvenc"))?;
        let mut v = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(backend)?;
        let p = &self.profile;
        v.set_width(p.width);
        v.set_height(p.height);
        v.set_format(Pixel::YUV420P);
        v.set_time_base(Rational::new(1, TIMESCALE as i32));
        v.set_frame_rate(Some(Rational::new(
            self.fps.num as i32,
            self.fps.den as i32,
        )));
        let rate = usize::try_from(p.bitrate_bps).unwrap_or(usize::MAX);
        v.set_bit_rate(rate);
        v.set_max_bit_rate(rate);
        v.set_max_b_frames(0);
        v.set_gop(match p.gop {
            Gop::Frames(n) => n,
            Gop::IntraOnly => 1,
            _ => 1 << 20,
        });
        let mut opts = Dictionary::new();
        opts.set("preset", "p4");
        opts.set("tune", "ll");
        opts.set("rc", "cbr");
        opts.set("forced-idr", "1");
        opts.set(
            "profile",
            match p.h264_profile {
                Some(H264Profile::High) => "high",
                Some(H264Profile::Main) => "main",
                _ => "baseline",
            },
        );
        v.open_as_with(codec, opts)
            .map_err(|e| unsupported(format!("opening h264_nvenc: {e}")))
    }

    fn drain(&mut self) -> Result<()> {
        let Some(enc) = self.enc.as_mut() else {
            return Ok(());
        };
        let mut pkt = Packet::empty();
        loop {
            match enc.receive_packet(&mut pkt) {
                Ok(()) => {
                    let data = pkt.data().map(Bytes::copy_from_slice).unwrap_or_default();
                    let pts = pkt.pts().unwrap_or(0);
                    let dts = pkt.dts().unwrap_or(pts);
                    self.queue
                        .push_back(crate::frame::Packet::new(data, pts, dts, pkt.is_key()));
                }
                Err(ffmpeg_next::Error::Other { errno }) if errno == ffmpeg_next::ffi::EAGAIN => {
                    return Ok(());
                }
                Err(ffmpeg_next::Error::Eof) => return Ok(()),
                Err(e) => return Err(backend(format!("NVENC: {e}"))),
            }
        }
    }
}

impl VideoEncoder for NvencEncoder {
    fn codec(&self) -> VideoCodec {
        VideoCodec::H264
    }

    fn start_segment(&mut self) -> Result<()> {
        self.enc = None;
        self.enc = Some(self.open()?);
        self.queue.clear();
        self.flushed = false;
        Ok(())
    }

    fn send_frame(&mut self, f: &Frame) -> Result<()> {
        if (f.width, f.height) != (self.profile.width, self.profile.height) || !f.is_consistent() {
            return Err(backend("picture size differs from the rendition's"));
        }
        let mut v = frame::Video::new(Pixel::YUV420P, f.width, f.height);
        let (w, h) = (f.width as usize, f.height as usize);
        for (i, (plane, pw, ph)) in [(&f.y, w, h), (&f.u, w / 2, h / 2), (&f.v, w / 2, h / 2)]
            .into_iter()
            .enumerate()
        {
            let stride = v.stride(i);
            let dst = v.data_mut(i);
            for row in 0..ph {
                let d = dst
                    .get_mut(row * stride..row * stride + pw)
                    .ok_or_else(|| backend("short frame plane"))?;
                d.copy_from_slice(&plane[row * pw..(row + 1) * pw]);
            }
        }
        v.set_pts(Some(f.pts));
        let enc = self
            .enc
            .as_mut()
            .ok_or_else(|| backend("encoder not open"))?;
        enc.send_frame(&v)
            .map_err(|e| backend(format!("NVENC: {e}")))?;
        self.drain()
    }

    fn flush(&mut self) -> Result<()> {
        if let Some(enc) = self.enc.as_mut() {
            enc.send_eof().map_err(|e| backend(format!("NVENC: {e}")))?;
        }
        self.drain()?;
        self.flushed = true;
        Ok(())
    }

    fn receive_packet(&mut self) -> Result<Output<crate::frame::Packet>> {
        Ok(match self.queue.pop_front() {
            Some(p) => Output::Ready(p),
            None if self.flushed => Output::Done,
            None => Output::NeedMoreData,
        })
    }
}

/// Opens NVENC and encodes four small pictures.
pub(crate) fn self_test() -> Result<()> {
    let profile = VideoProfile::preset("144p").map_err(backend)?;
    let mut e = NvencEncoder::new(&profile, Framerate { num: 30, den: 1 })?;
    for i in 0..4u64 {
        e.send_frame(&crate::testsrc::test_frame(256, 144, i, i as i64 * 3000))?;
    }
    e.flush()?;
    let mut n = 0;
    while let Output::Ready(_) = e.receive_packet()? {
        n += 1;
    }
    if n == 4 {
        Ok(())
    } else {
        Err(backend(format!("NVENC gave {n} of 4 packets")))
    }
}
