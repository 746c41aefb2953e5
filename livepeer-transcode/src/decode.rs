//! H.264 decoding with OpenH264, as a push/pull API: [`H264Decoder::send_packet`] access units
//! in decode order, [`H264Decoder::receive_frame`] pictures in display order.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use openh264::OpenH264API;
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;

use crate::error::{Result, TranscodeError, backend, invalid};
use crate::frame::Frame;
use livepeer_bitstream::h264::{self, nal};

/// What a push/pull call has for the caller: a value, or why there is none yet.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output<T> {
    /// A value is ready.
    Ready(T),
    /// Nothing yet: send more input.
    NeedMoreData,
    /// Flushed and drained: nothing more will come.
    Done,
}

/// Bounds on the pictures a decoder accepts, checked from the SPS before any allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InputLimits {
    /// Smallest width and height.
    pub min_dimension: u32,
    /// Largest width.
    pub max_width: u32,
    /// Largest height.
    pub max_height: u32,
    /// Largest number of pixels in one picture (so portrait pictures are bounded too).
    pub max_pixels: u64,
}

impl Default for InputLimits {
    /// 16×16 up to 4096×2304 (OpenH264's level 5.2 ceiling), either orientation.
    fn default() -> Self {
        InputLimits {
            min_dimension: 16,
            max_width: 4096,
            max_height: 4096,
            max_pixels: 4096 * 2304,
        }
    }
}

impl InputLimits {
    /// Checks a picture size: in bounds, and even (4:2:0 chroma needs it).
    pub fn check(&self, width: u32, height: u32) -> Result<()> {
        let ok = width >= self.min_dimension
            && height >= self.min_dimension
            && width <= self.max_width
            && height <= self.max_height
            && u64::from(width) * u64::from(height) <= self.max_pixels
            && width.is_multiple_of(2)
            && height.is_multiple_of(2);
        if ok {
            Ok(())
        } else {
            Err(TranscodeError::BadResolution { width, height })
        }
    }
}

/// A video decoder as a push/pull state machine.
///
/// Contract: send access units (Annex-B) in decode order with their presentation times;
/// after each, drain [`receive_frame`](Self::receive_frame) until
/// [`Output::NeedMoreData`]; at the end [`flush`](Self::flush) and drain until
/// [`Output::Done`]. Pictures come out in display order, tightly packed I420.
pub trait VideoDecoder: Send {
    /// Decodes one access unit with its presentation time.
    fn send_packet(&mut self, au: &[u8], pts: i64) -> Result<()>;
    /// Signals the end of input: remaining pictures become available.
    fn flush(&mut self) -> Result<()>;
    /// The next picture in display order, if any.
    fn receive_frame(&mut self) -> Result<Output<Frame>>;
    /// Takes back a picture this decoder handed out, once its reader is done with it, so a
    /// later picture reuses its memory instead of allocating. The default drops it.
    fn recycle(&mut self, frame: Frame) {
        drop(frame);
    }
}

/// Pictures a decoder keeps for reuse at most: more than the pictures a decoder hands out
/// at once, so none is allocated while pictures flow.
pub(crate) const SPARE_FRAMES: usize = 8;

/// Keeps `frame` among `spare` (up to [`SPARE_FRAMES`]) for the next picture to reuse.
pub(crate) fn keep_spare(spare: &mut Vec<Frame>, frame: Frame) {
    if spare.len() < SPARE_FRAMES {
        spare.push(frame);
    }
}

/// Copies a decoded picture into a packed frame, reusing one of `spare` when there is one.
pub(crate) fn packed_frame(
    spare: &mut Vec<Frame>,
    (width, height, pts): (u32, u32, i64),
    planes: [&[u8]; 3],
    strides: [usize; 3],
) -> Result<Frame> {
    let mut f = spare.pop().unwrap_or_else(|| Frame::black(0, 0, pts));
    if f.refill_from_strided(width, height, pts, planes, strides) {
        Ok(f)
    } else {
        Err(backend("decoded planes shorter than their strides say"))
    }
}

/// The software decoder for a stream whose first access unit (or temporal unit) is `first`:
/// OpenH264 for progressive H.264; libavcodec (feature `libav`) for interlaced H.264, which
/// it deinterlaces ([`crate::libav::deinterlace`]), and for AV1. The transcoder and the
/// verifier both choose here, so they decode a source to the same pictures.
///
/// Without the `libav` feature, interlaced H.264 and AV1 are
/// [`TranscodeError::Unsupported`] with what to do about it.
pub fn software_decoder(
    codec: livepeer_core::VideoCodec,
    first: &[u8],
    limits: InputLimits,
) -> Result<Box<dyn VideoDecoder>> {
    use livepeer_core::VideoCodec;
    let interlaced = || {
        h264::nal_units(first)
            .filter(|n| h264::nal_type(n) == nal::SPS)
            .find_map(|sps| h264::parse_sps(sps).ok())
            .is_some_and(|s| s.interlaced())
    };
    match codec {
        VideoCodec::H264 if !interlaced() => Ok(Box::new(H264Decoder::new(limits)?)),
        #[cfg(feature = "libav")]
        VideoCodec::H264 | VideoCodec::Av1 => {
            Ok(Box::new(crate::libav::LibavDecoder::new(codec, limits)?))
        }
        #[cfg(not(feature = "libav"))]
        VideoCodec::H264 => Err(TranscodeError::Unsupported(INTERLACED_NEEDS_LIBAV.into())),
        other => Err(TranscodeError::Unsupported(format!(
            "decoding {other} needs the `libav` feature (FFmpeg's libavcodec)"
        ))),
    }
}

/// What a build without libavcodec says of an interlaced source.
#[cfg(not(feature = "libav"))]
pub(crate) const INTERLACED_NEEDS_LIBAV: &str = "interlaced H.264 (field or MBAFF coding) \
    needs the `libav` feature (FFmpeg's libavcodec); or deinterlace the source first \
    (for example ffmpeg -vf yadif)";

/// An OpenH264 decoder that hands out packed I420 frames with display-order timestamps.
///
/// OpenH264 returns pictures in display order but without their timestamps, so each picture
/// takes the smallest presentation time sent and not yet handed out.
pub struct H264Decoder {
    inner: Decoder,
    limits: InputLimits,
    pending_pts: BinaryHeap<Reverse<i64>>,
    ready: VecDeque<Frame>,
    flushed: bool,
    size: Option<(u32, u32)>,
    spare: Vec<Frame>,
}

impl H264Decoder {
    /// A decoder with the given limits.
    pub fn new(limits: InputLimits) -> Result<Self> {
        let cfg = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
        let inner = Decoder::with_api_config(OpenH264API::from_source(), cfg).map_err(backend)?;
        Ok(H264Decoder {
            inner,
            limits,
            pending_pts: BinaryHeap::new(),
            ready: VecDeque::new(),
            flushed: false,
            size: None,
            spare: Vec::new(),
        })
    }

    /// The picture size of the last SPS seen.
    pub fn size(&self) -> Option<(u32, u32)> {
        self.size
    }

    fn to_frame(
        yuv: &DecodedYUV<'_>,
        pending: &mut BinaryHeap<Reverse<i64>>,
        limits: &InputLimits,
        spare: &mut Vec<Frame>,
    ) -> Result<Frame> {
        let (w, h) = yuv.dimensions();
        let (w32, h32) = (
            u32::try_from(w).map_err(|_| backend("decoded width overflows"))?,
            u32::try_from(h).map_err(|_| backend("decoded height overflows"))?,
        );
        limits.check(w32, h32)?;
        let pts = pending.pop().map_or(0, |Reverse(p)| p);
        let (sy, su, sv) = yuv.strides();
        packed_frame(
            spare,
            (w32, h32, pts),
            [yuv.y(), yuv.u(), yuv.v()],
            [sy, su, sv],
        )
    }
}

impl VideoDecoder for H264Decoder {
    fn send_packet(&mut self, au: &[u8], pts: i64) -> Result<()> {
        for sps in h264::nal_units(au).filter(|n| h264::nal_type(n) == nal::SPS) {
            let info = h264::parse_sps(sps)?;
            self.limits.check(info.width, info.height)?;
            self.size = Some((info.width, info.height));
        }
        if self.size.is_none() {
            return Err(TranscodeError::NoKeyframe);
        }
        self.pending_pts.push(Reverse(pts));
        let decoded = self
            .inner
            .decode(au)
            .map_err(|e| invalid(format!("H.264 decode: {e}")))?;
        if let Some(yuv) = decoded {
            let f = Self::to_frame(&yuv, &mut self.pending_pts, &self.limits, &mut self.spare)?;
            self.ready.push_back(f);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.flushed {
            return Ok(());
        }
        self.flushed = true;
        let frames = self
            .inner
            .flush_remaining()
            .map_err(|e| invalid(format!("H.264 decode at flush: {e}")))?;
        for yuv in &frames {
            let f = Self::to_frame(yuv, &mut self.pending_pts, &self.limits, &mut self.spare)?;
            self.ready.push_back(f);
        }
        Ok(())
    }

    fn receive_frame(&mut self) -> Result<Output<Frame>> {
        Ok(next_ready(&mut self.ready, self.flushed))
    }

    fn recycle(&mut self, frame: Frame) {
        keep_spare(&mut self.spare, frame);
    }
}

/// The next decoded picture of a decoder that queues them: a picture, or `Done` once
/// flushed and empty, or `NeedMoreData`.
pub(crate) fn next_ready(ready: &mut VecDeque<Frame>, flushed: bool) -> Output<Frame> {
    match ready.pop_front() {
        Some(f) => Output::Ready(f),
        None if flushed => Output::Done,
        None => Output::NeedMoreData,
    }
}
