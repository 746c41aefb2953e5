//! AV1 encoding with rav1e: fast settings meant for the low rungs of a ladder.

use std::collections::VecDeque;

use bytes::Bytes;
use livepeer_core::{Framerate, Gop, VideoCodec, VideoProfile};
use rav1e::prelude::{
    ChromaSampling, Config, Context, EncoderConfig, EncoderStatus, FrameType, Rational,
    SceneDetectionSpeed, SpeedSettings,
};

use super::{Output, VideoEncoder};
use crate::error::{Result, backend, unsupported};
use crate::frame::{Frame, Packet};

/// rav1e settings shared by every AV1 rendition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Av1Settings {
    /// Speed preset, 0 (slowest) to 10 (fastest).
    pub speed: u8,
    /// Threads rav1e may use for one rendition (0: rav1e's own choice).
    pub threads: usize,
    /// Tile columns (more tiles encode faster in parallel, slightly larger output).
    pub tile_cols: usize,
    /// Low-latency mode (no frame reordering): about 1.7× faster at speed 10.
    pub low_latency: bool,
}

impl Default for Av1Settings {
    /// Speed 10, low latency, one thread, one tile: 44 fps at 640×360 on one core.
    fn default() -> Self {
        Av1Settings {
            speed: 10,
            threads: 1,
            tile_cols: 1,
            low_latency: true,
        }
    }
}

/// A rav1e encoder for one rendition.
///
/// **What [`start_segment`](VideoEncoder::start_segment) resets**: rav1e cannot restart a
/// context, so a new one is built from the kept configuration: the first picture is a key
/// frame with a sequence header, rate control and frame numbering start afresh.
pub struct Av1Encoder {
    config: Config,
    ctx: Option<Context<u8>>,
    width: u32,
    height: u32,
    pts: Vec<i64>,
    queue: VecDeque<Packet>,
    flushed: bool,
}

impl std::fmt::Debug for Av1Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Av1Encoder")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl Av1Encoder {
    /// An encoder for `profile` at `fps`.
    pub fn new(profile: &VideoProfile, fps: Framerate, s: Av1Settings) -> Result<Self> {
        if profile.codec != VideoCodec::Av1 {
            return Err(unsupported(format!(
                "{} with the AV1 encoder",
                profile.codec
            )));
        }
        let max_key = match profile.gop {
            Gop::Frames(n) => u64::from(n),
            Gop::IntraOnly => 1,
            _ => 1 << 20,
        };
        let mut enc = EncoderConfig::with_speed_preset(s.speed.min(10));
        enc.width = profile.width as usize;
        enc.height = profile.height as usize;
        enc.bit_depth = 8;
        enc.chroma_sampling = ChromaSampling::Cs420;
        enc.time_base = Rational::new(u64::from(fps.den), u64::from(fps.num));
        enc.min_key_frame_interval = 0;
        enc.max_key_frame_interval = max_key;
        enc.low_latency = s.low_latency;
        enc.bitrate = i32::try_from(profile.bitrate_bps).unwrap_or(i32::MAX);
        // rav1e caps the quantizer at `quantizer` even in bitrate mode, and its default (100
        // of 255) stops hard content from being held to the rate: grain came out at 5x the
        // rung's bitrate. The rate is the rung's promise, so the whole range is open.
        enc.quantizer = 255;
        // rav1e plans its rate over 1.5 key frame intervals or 240 frames, longer than a
        // segment (each starts a fresh encoder), so a segment could spend the reservoir's
        // first half and never pay it back. Two seconds of frames (a segment's usual length,
        // at least 12) keeps every segment near the rate. (One second drives rav1e 0.8's rate
        // model into an arithmetic overflow on near-static content.)
        enc.reservoir_frame_delay = Some(
            i32::try_from((2 * fps.num).div_ceil(fps.den.max(1)))
                .unwrap_or(i32::MAX)
                .max(12),
        );
        enc.tile_cols = s.tile_cols;
        enc.speed_settings = SpeedSettings::from_preset(s.speed.min(10));
        // A scene cut would put a key frame inside the segment.
        enc.speed_settings.scene_detection_mode = SceneDetectionSpeed::None;
        let config = Config::new()
            .with_encoder_config(enc)
            .with_threads(s.threads);
        config
            .validate()
            .map_err(|e| unsupported(format!("AV1 settings: {e}")))?;
        Ok(Av1Encoder {
            config,
            ctx: None,
            width: profile.width,
            height: profile.height,
            pts: Vec::new(),
            queue: VecDeque::new(),
            flushed: false,
        })
    }

    fn drain(&mut self) -> Result<()> {
        let Some(ctx) = self.ctx.as_mut() else {
            return Ok(());
        };
        loop {
            match ctx.receive_packet() {
                Ok(p) => {
                    let at = usize::try_from(p.input_frameno).unwrap_or(usize::MAX);
                    let pts = self.pts.get(at).copied().unwrap_or_default();
                    self.queue.push_back(Packet::new(
                        Bytes::from(p.data),
                        pts,
                        pts,
                        p.frame_type == FrameType::KEY,
                    ));
                }
                Err(EncoderStatus::Encoded) => continue,
                Err(EncoderStatus::NeedMoreData | EncoderStatus::LimitReached) => return Ok(()),
                Err(e) => return Err(backend(format!("rav1e: {e}"))),
            }
        }
    }
}

impl VideoEncoder for Av1Encoder {
    fn codec(&self) -> VideoCodec {
        VideoCodec::Av1
    }

    fn start_segment(&mut self) -> Result<()> {
        self.ctx = Some(
            self.config
                .new_context()
                .map_err(|e| backend(format!("rav1e: {e}")))?,
        );
        self.pts.clear();
        self.queue.clear();
        self.flushed = false;
        Ok(())
    }

    fn send_frame(&mut self, frame: &Frame) -> Result<()> {
        if (frame.width, frame.height) != (self.width, self.height) || !frame.is_consistent() {
            return Err(backend("picture size differs from the rendition's"));
        }
        if self.ctx.is_none() {
            self.start_segment()?;
        }
        let Some(ctx) = self.ctx.as_mut() else {
            return Err(backend("encoder not initialised"));
        };
        let mut f = ctx.new_frame();
        let w = frame.width as usize;
        f.planes[0].copy_from_raw_u8(&frame.y, w, 1);
        f.planes[1].copy_from_raw_u8(&frame.u, w / 2, 1);
        f.planes[2].copy_from_raw_u8(&frame.v, w / 2, 1);
        match ctx.send_frame(f) {
            Ok(()) | Err(EncoderStatus::EnoughData) => {}
            Err(e) => return Err(backend(format!("rav1e: {e}"))),
        }
        self.pts.push(frame.pts);
        self.drain()
    }

    fn flush(&mut self) -> Result<()> {
        if let Some(ctx) = self.ctx.as_mut() {
            ctx.flush();
        }
        self.drain()?;
        self.flushed = true;
        Ok(())
    }

    fn receive_packet(&mut self) -> Result<Output<Packet>> {
        Ok(match self.queue.pop_front() {
            Some(p) => Output::Ready(p),
            None if self.flushed => Output::Done,
            None => Output::NeedMoreData,
        })
    }
}
