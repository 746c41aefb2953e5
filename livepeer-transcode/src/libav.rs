//! Software decoding on FFmpeg's libavcodec (feature `libav`), for what OpenH264 cannot
//! decode: interlaced H.264 (PAFF and MBAFF) and AV1 (through libdav1d where FFmpeg has it).
//!
//! Same push/pull contract as every [`VideoDecoder`]. Pictures come out progressive and
//! tightly packed I420: an interlaced picture (two fields woven into one frame) is
//! deinterlaced by [`deinterlace`], a fixed vertical [1 2 1] blend, so a transcoder and a
//! verifier that both decode here see the very same pictures. FFmpeg's own log is set to
//! fatal errors only (process-wide, as the hardware backend does): failures come back as
//! typed errors.
//!
//! [`LibavDecoder::h264`] is the fast decoder of progressive H.264 (frame-threaded, which
//! libavcodec's H.264 decoder does without changing a pixel), strict the way OpenH264 is: a
//! picture libavcodec had to conceal is an error, not a guess; timestamps are handed out in
//! display order exactly as [`crate::H264Decoder`] does.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use ffmpeg_next::codec::{self, Id};
use ffmpeg_next::format::Pixel;
use ffmpeg_next::{Dictionary, Packet, ffi, frame};
use livepeer_bitstream::h264::{self, nal};
use livepeer_core::VideoCodec;

use crate::decode::{InputLimits, Output, VideoDecoder};
use crate::error::{Result, backend, invalid, unsupported};
use crate::frame::Frame;

/// A libavcodec decoder for H.264 (every coding, fields included) or AV1.
pub struct LibavDecoder {
    dec: ffmpeg_next::decoder::Video,
    codec: VideoCodec,
    limits: InputLimits,
    picture: frame::Video,
    ready: VecDeque<Frame>,
    flushed: bool,
    /// Progressive H.264 mode: the timestamps sent and not yet handed out (each picture
    /// takes the smallest), and whether an SPS was seen.
    strict: Option<Strict>,
    /// Pictures handed back for reuse.
    spare: Vec<Frame>,
}

/// What [`LibavDecoder::h264`] adds: OpenH264's timestamp rule and strictness.
#[derive(Default)]
struct Strict {
    pending_pts: BinaryHeap<Reverse<i64>>,
    sps_seen: bool,
}

impl std::fmt::Debug for LibavDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibavDecoder")
            .field("codec", &self.codec)
            .field("ready", &self.ready.len())
            .finish_non_exhaustive()
    }
}

impl LibavDecoder {
    /// A decoder of `codec` (H.264 or AV1) that refuses pictures outside `limits`: libavcodec
    /// is told the pixel ceiling, so an oversized stream fails before its pictures are
    /// allocated.
    pub fn new(codec: VideoCodec, limits: InputLimits) -> Result<Self> {
        Self::open(codec, limits, 1)
    }

    /// The fast decoder of progressive H.264, on `threads` frame threads (0: one per
    /// core): the same pictures as one thread, as OpenH264 gives for sources without B
    /// slices, and as the H.264 standard defines for every source (OpenH264 deviates in
    /// B-slice deblocking). Like [`crate::H264Decoder`] it wants an SPS before the first
    /// picture ([`crate::TranscodeError::NoKeyframe`]), checks every SPS against `limits`,
    /// fails on a picture it would have to conceal, and stamps pictures with the smallest
    /// timestamp sent and not yet handed out. Interlaced streams are refused: decode those
    /// with [`Self::new`], which deinterlaces.
    pub fn h264(limits: InputLimits, threads: usize) -> Result<Self> {
        let mut d = Self::open(VideoCodec::H264, limits, threads)?;
        d.strict = Some(Strict::default());
        Ok(d)
    }

    fn open(codec: VideoCodec, limits: InputLimits, threads: usize) -> Result<Self> {
        ffmpeg_next::init().map_err(|e| backend(format!("FFmpeg: {e}")))?;
        // FFmpeg writes its decoders' complaints to stderr; every failure that matters comes
        // back here as a typed error, so a library's host keeps a quiet terminal.
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
        let found = match codec {
            VideoCodec::H264 => ffmpeg_next::decoder::find(Id::H264),
            // libdav1d first: FFmpeg's native AV1 decoder needs a hardware device.
            VideoCodec::Av1 => ffmpeg_next::decoder::find_by_name("libdav1d")
                .or_else(|| ffmpeg_next::decoder::find_by_name("libaom-av1")),
            other => return Err(unsupported(format!("decoding {other} with libavcodec"))),
        }
        .ok_or_else(|| unsupported(format!("this FFmpeg has no software {codec} decoder")))?;
        let mut ctx = codec::context::Context::new_with_codec(found);
        ctx.set_threading(ffmpeg_next::threading::Config {
            kind: ffmpeg_next::threading::Type::Frame,
            count: threads,
            ..Default::default()
        });
        let mut options = Dictionary::new();
        options.set("threads", &threads.to_string());
        options.set("max_pixels", &limits.max_pixels.to_string());
        let dec = ctx
            .decoder()
            .open_as_with(found, options)
            .and_then(|o| o.video())
            .map_err(|e| backend(format!("opening the {codec} decoder: {e}")))?;
        Ok(LibavDecoder {
            dec,
            codec,
            limits,
            picture: frame::Video::empty(),
            ready: VecDeque::new(),
            flushed: false,
            strict: None,
            spare: Vec::new(),
        })
    }

    fn drain(&mut self) -> Result<()> {
        while received(self.dec.receive_frame(&mut self.picture), self.codec)? {
            let f = self.take()?;
            self.ready.push_back(f);
        }
        Ok(())
    }

    fn take(&mut self) -> Result<Frame> {
        if !matches!(self.picture.format(), Pixel::YUV420P | Pixel::YUVJ420P) {
            return Err(unsupported(format!(
                "{} pictures in {:?} (only 8-bit 4:2:0 is transcoded)",
                self.codec,
                self.picture.format()
            )));
        }
        let interlaced = self.picture.is_interlaced();
        let Some(strict) = self.strict.as_mut() else {
            return i420_from(&self.picture, &self.limits, interlaced, &mut self.spare);
        };
        if interlaced {
            return Err(unsupported(
                "an interlaced picture in the progressive H.264 decoder",
            ));
        }
        if self.picture.flags().contains(frame::Flags::CORRUPT)
            || decode_error_flags(&self.picture) != 0
        {
            return Err(invalid(
                "H.264 decode: a picture with missing or damaged data (concealed)",
            ));
        }
        let mut f = i420_from(&self.picture, &self.limits, false, &mut self.spare)?;
        f.pts = strict.pending_pts.pop().map_or(0, |Reverse(p)| p);
        Ok(f)
    }
}

/// `decode_error_flags` of a decoded picture: non-zero where libavcodec met damaged data or
/// a missing reference, or concealed part of the picture.
#[allow(unsafe_code)] // ffmpeg-next has no accessor for this field.
fn decode_error_flags(picture: &frame::Video) -> i32 {
    // SAFETY: `as_ptr` points at the AVFrame `picture` owns; the field is a plain integer
    // libavcodec sets on every picture it outputs.
    unsafe { (*picture.as_ptr()).decode_error_flags }
}

/// Sends one access or temporal unit, stamped `pts`, to an opened libavcodec decoder.
pub(crate) fn send(
    dec: &mut ffmpeg_next::decoder::Video,
    unit: &[u8],
    pts: i64,
    codec: VideoCodec,
) -> Result<()> {
    let mut p = Packet::copy(unit);
    p.set_pts(Some(pts));
    dec.send_packet(&p)
        .map_err(|e| invalid(format!("{codec} decode: {e}")))
}

/// What a libavcodec `receive_frame` said: `true` for a picture, `false` when it has no more
/// for now (or ever), the error otherwise.
pub(crate) fn received(
    r: std::result::Result<(), ffmpeg_next::Error>,
    codec: VideoCodec,
) -> Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(ffmpeg_next::Error::Other { errno }) if errno == ffi::EAGAIN => Ok(false),
        Err(ffmpeg_next::Error::Eof) => Ok(false),
        Err(e) => Err(invalid(format!("{codec} decode: {e}"))),
    }
}

/// Copies a planar 4:2:0 picture into a packed [`Frame`] (cropped to even sizes, checked
/// against `limits`; reusing one of `spare`), deinterlacing each plane when asked.
pub(crate) fn i420_from(
    src: &frame::Video,
    limits: &InputLimits,
    interlaced: bool,
    spare: &mut Vec<Frame>,
) -> Result<Frame> {
    // Odd sizes are legal in both codecs; the picture is cropped to even (4:2:0).
    let (w, h) = (src.width() & !1, src.height() & !1);
    limits.check(w, h)?;
    let pts = src.timestamp().or(src.pts()).unwrap_or(0);
    // Copied row by row straight into packed planes (no zero fill first).
    let mut out = crate::decode::packed_frame(
        spare,
        (w, h, pts),
        [src.data(0), src.data(1), src.data(2)],
        [src.stride(0), src.stride(1), src.stride(2)],
    )?;
    if interlaced {
        let (wu, hu) = (w as usize, h as usize);
        deinterlace(&mut out.y, wu, hu);
        deinterlace(&mut out.u, wu / 2, hu / 2);
        deinterlace(&mut out.v, wu / 2, hu / 2);
    }
    Ok(out)
}

/// Deinterlaces one plane of a woven frame in place: each line becomes the [1 2 1] / 4
/// blend of itself and its neighbours (the edges repeat), which removes the combing of
/// moving objects while keeping still detail. Deterministic and codec-independent.
pub fn deinterlace(plane: &mut [u8], width: usize, height: usize) {
    if height < 3 || width == 0 || plane.len() < width * height {
        return;
    }
    let mut above = plane[..width].to_vec();
    let mut current = Vec::with_capacity(width);
    for y in 0..height {
        current.clear();
        current.extend_from_slice(&plane[y * width..(y + 1) * width]);
        let below_row = (y + 1).min(height - 1);
        for x in 0..width {
            let below = u16::from(plane[below_row * width + x]);
            let sum = u16::from(above[x]) + 2 * u16::from(current[x]) + below + 2;
            plane[y * width + x] = (sum / 4) as u8;
        }
        std::mem::swap(&mut above, &mut current);
    }
}

impl VideoDecoder for LibavDecoder {
    fn send_packet(&mut self, unit: &[u8], pts: i64) -> Result<()> {
        if self.flushed {
            return Err(backend("data sent to a decoder after flush"));
        }
        if unit.is_empty() {
            return Ok(());
        }
        if let Some(strict) = self.strict.as_mut() {
            for sps in h264::nal_units(unit).filter(|n| h264::nal_type(n) == nal::SPS) {
                let info = h264::parse_sps(sps)?;
                self.limits.check(info.width, info.height)?;
                if info.interlaced() {
                    return Err(unsupported(
                        "interlaced H.264 in the progressive decoder (decode it with \
                         LibavDecoder::new, which deinterlaces)",
                    ));
                }
                strict.sps_seen = true;
            }
            if !strict.sps_seen {
                return Err(crate::error::TranscodeError::NoKeyframe);
            }
            strict.pending_pts.push(Reverse(pts));
        }
        send(&mut self.dec, unit, pts, self.codec)?;
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

    fn recycle(&mut self, frame: Frame) {
        crate::decode::keep_spare(&mut self.spare, frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deinterlace_blends_lines_and_keeps_flat_planes() {
        // Combing: alternate lines of 0 and 200 become an even grey.
        let (w, h) = (4, 6);
        let mut p: Vec<u8> = (0..h)
            .flat_map(|y| vec![if y % 2 == 0 { 0 } else { 200 }; w])
            .collect();
        deinterlace(&mut p, w, h);
        for y in 1..h - 1 {
            assert!(p[y * w].abs_diff(100) <= 1, "line {y}: {}", p[y * w]);
        }
        let mut flat = vec![77u8; w * h];
        deinterlace(&mut flat, w, h);
        assert!(flat.iter().all(|&v| v == 77));
        let mut short = vec![1u8; 3];
        deinterlace(&mut short, w, h);
        assert_eq!(short, [1, 1, 1]);
    }

    #[test]
    fn garbage_is_a_typed_error_or_nothing() {
        for codec in [VideoCodec::H264, VideoCodec::Av1] {
            let mut d = LibavDecoder::new(codec, InputLimits::default()).unwrap();
            let r = d
                .send_packet(&[0, 0, 0, 1, 0x65, 0xff, 0x12, 0x00, 0x0a], 0)
                .and_then(|()| d.flush());
            match r {
                Ok(()) => assert_eq!(d.receive_frame().unwrap(), Output::Done),
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
        assert!(LibavDecoder::new(VideoCodec::Vp9, InputLimits::default()).is_err());
    }
}
