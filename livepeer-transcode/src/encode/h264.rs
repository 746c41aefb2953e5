//! H.264 encoding with OpenH264 (Constrained Baseline), deterministic by construction.

use std::collections::VecDeque;

use bytes::Bytes;
use livepeer_core::{Framerate, Gop, H264Profile, VideoCodec, VideoProfile};
use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Profile,
    RateControlMode, SpsPpsStrategy, UsageType,
};
use openh264::formats::YUVSource;

use super::{Output, VideoEncoder};
use crate::error::{Result, backend, unsupported};
use crate::frame::{Frame, Packet};

/// OpenH264's largest picture, either orientation.
pub(crate) const MAX_LONG_SIDE: u32 = 3840;
/// OpenH264's largest picture, short side.
pub(crate) const MAX_SHORT_SIDE: u32 = 2160;

/// An OpenH264 encoder for one rendition.
///
/// Settings are fixed so the output is a function of the input pictures alone: bitrate rate
/// control, no frame skipping, one thread, one slice, constant SPS/PPS ids, medium
/// complexity, scene-change detection off when the profile wants one IDR per segment.
///
/// **What [`start_segment`](VideoEncoder::start_segment) resets**: the OpenH264 instance is
/// initialised anew with the same parameters (OpenH264 has no call that resets rate control
/// on a live instance: `SetOption` with unchanged parameters keeps it). So the next picture
/// is an IDR with `frame_num` and `idr_pic_id` 0, no reference picture survives, the rate
/// controller's buffer and QP estimates start from their initial values, and the internal
/// clock given to OpenH264 restarts at zero. What persists is this object's configuration,
/// its packet queue and the caller's scaling buffers.
pub struct H264Encoder {
    config: EncoderConfig,
    inner: Option<Encoder>,
    width: u32,
    height: u32,
    frame_ms: f64,
    index: u64,
    queue: VecDeque<Packet>,
    flushed: bool,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl H264Encoder {
    /// An encoder for `profile` at `fps`; fails for profiles OpenH264 cannot encode.
    pub fn new(profile: &VideoProfile, fps: Framerate) -> Result<Self> {
        if profile.codec != VideoCodec::H264 {
            return Err(unsupported(format!(
                "{} with the H.264 encoder",
                profile.codec
            )));
        }
        match profile.h264_profile {
            None | Some(H264Profile::ConstrainedBaseline | H264Profile::Baseline) => {}
            Some(p) => {
                return Err(unsupported(format!(
                    "H.264 {} (OpenH264 encodes Constrained Baseline only)",
                    p.as_str()
                )));
            }
        }
        let (w, h) = (profile.width, profile.height);
        if w.max(h) > MAX_LONG_SIDE || w.min(h) > MAX_SHORT_SIDE {
            return Err(unsupported(format!(
                "{w}x{h}: OpenH264 encodes up to 3840x2160"
            )));
        }
        let bitrate = u32::try_from(profile.bitrate_bps).unwrap_or(u32::MAX);
        let (intra, scene_cut) = match profile.gop {
            Gop::Segment => (0, false),
            Gop::Frames(n) => (n, false),
            Gop::IntraOnly => (1, false),
            _ => (0, false),
        };
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bitrate))
            .max_frame_rate(FrameRate::from_hz(fps.as_f64() as f32))
            .rate_control_mode(RateControlMode::Bitrate)
            .skip_frames(false)
            .usage_type(UsageType::CameraVideoRealTime)
            .sps_pps_strategy(SpsPpsStrategy::ConstantId)
            .profile(Profile::Baseline)
            .complexity(Complexity::Medium)
            .scene_change_detect(scene_cut)
            .intra_frame_period(IntraFramePeriod::from_num_frames(intra))
            .num_threads(1);
        Ok(H264Encoder {
            config,
            inner: None,
            width: w,
            height: h,
            frame_ms: 1000.0 / fps.as_f64(),
            index: 0,
            queue: VecDeque::new(),
            flushed: false,
        })
    }
}

struct Planes<'a>(&'a Frame);

impl YUVSource for Planes<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.0.width as usize, self.0.height as usize)
    }
    fn strides(&self) -> (usize, usize, usize) {
        let w = self.0.width as usize;
        (w, w / 2, w / 2)
    }
    fn y(&self) -> &[u8] {
        &self.0.y
    }
    fn u(&self) -> &[u8] {
        &self.0.u
    }
    fn v(&self) -> &[u8] {
        &self.0.v
    }
}

impl VideoEncoder for H264Encoder {
    fn codec(&self) -> VideoCodec {
        VideoCodec::H264
    }

    fn start_segment(&mut self) -> Result<()> {
        // Dropping the old instance and creating a new one is the reset (see the type docs).
        self.inner = None;
        let mut encoder =
            Encoder::with_api_config(OpenH264API::from_source(), self.config).map_err(backend)?;
        // Its messages go to `tracing`, from the parameter checks of its initialisation on.
        crate::openh264_log::route(&mut encoder);
        self.inner = Some(encoder);
        self.index = 0;
        self.queue.clear();
        self.flushed = false;
        Ok(())
    }

    fn send_frame(&mut self, frame: &Frame) -> Result<()> {
        if (frame.width, frame.height) != (self.width, self.height) || !frame.is_consistent() {
            return Err(backend("picture size differs from the rendition's"));
        }
        if self.inner.is_none() {
            self.start_segment()?;
        }
        let Some(enc) = self.inner.as_mut() else {
            return Err(backend("encoder not initialised"));
        };
        let ts = openh264::Timestamp::from_millis((self.index as f64 * self.frame_ms) as u64);
        self.index += 1;
        let bs = enc.encode_at(&Planes(frame), ts).map_err(backend)?;
        let kind = bs.frame_type();
        let data = bs.to_vec();
        if self.index == 1 {
            // The first picture initialised OpenH264, after which the `openh264` crate set its
            // configured (quiet) level: route the messages of the encoding itself too.
            crate::openh264_log::route(enc);
        }
        if matches!(kind, FrameType::Skip | FrameType::Invalid) {
            return Ok(());
        }
        self.queue.push_back(Packet::new(
            Bytes::from(data),
            frame.pts,
            frame.pts,
            matches!(kind, FrameType::IDR),
        ));
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use livepeer_bitstream::h264::{self as bitstream, nal};

    fn gradient(w: u32, h: u32, t: i64) -> Frame {
        let mut f = Frame::black(w, h, t * 3000);
        for (i, p) in f.y.iter_mut().enumerate() {
            *p = ((i as i64 % w as i64 + t * 4) % 220 + 16) as u8;
        }
        f
    }

    #[test]
    fn every_segment_starts_with_an_idr_and_sps_matches() {
        let profile = VideoProfile::preset("240p").unwrap();
        let fps = Framerate::new(30, 1).unwrap();
        let mut enc = H264Encoder::new(&profile, fps).unwrap();
        let mut outputs = Vec::new();
        for _segment in 0..2 {
            enc.start_segment().unwrap();
            let pkts = six_frames(&mut enc);
            assert_eq!(pkts.len(), 6);
            assert!(pkts[0].keyframe && !pkts[1].keyframe);
            let sps = bitstream::find_nal(&pkts[0].data, nal::SPS).unwrap();
            let info = bitstream::parse_sps(sps).unwrap();
            assert_eq!((info.profile_idc, info.width, info.height), (66, 426, 240));
            outputs.push(pkts);
        }
        assert_eq!(outputs[0], outputs[1], "a reset encoder repeats itself");
    }

    /// Six 240p frames through `enc`, flushed: the packets out.
    fn six_frames(enc: &mut H264Encoder) -> Vec<Packet> {
        for t in 0..6 {
            enc.send_frame(&gradient(426, 240, t)).unwrap();
        }
        enc.flush().unwrap();
        let mut pkts = Vec::new();
        while let Output::Ready(p) = enc.receive_packet().unwrap() {
            pkts.push(p);
        }
        pkts
    }

    /// A few frames of one segment at 240p.
    fn encode_segment() -> Vec<Packet> {
        let profile = VideoProfile::preset("240p").unwrap();
        let mut enc = H264Encoder::new(&profile, Framerate::new(30, 1).unwrap()).unwrap();
        six_frames(&mut enc)
    }

    /// What `f` logs on this thread with `tracing` recording up to `max`, as text.
    fn logged<T>(max: tracing::Level, f: impl FnOnce() -> T) -> (T, String) {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(max)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let out = tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
        (out, text)
    }

    #[test]
    fn openh264_messages_go_to_tracing_and_its_expected_warning_is_debug() {
        let (_, debug) = logged(tracing::Level::DEBUG, encode_segment);
        let skip = debug
            .lines()
            .find(|l| l.contains("bEnableFrameSkip = 0"))
            .unwrap_or_else(|| panic!("no frame-skip message in {debug:?}"));
        assert!(
            skip.contains("DEBUG") && skip.contains("openh264:"),
            "{skip}"
        );
        assert!(!skip.contains("[OpenH264] this ="), "{skip}");
        // At the binaries' default level nothing from OpenH264 shows.
        let (_, warn) = logged(tracing::Level::WARN, encode_segment);
        assert!(!warn.contains("openh264"), "{warn}");
    }

    #[test]
    fn logging_does_not_change_the_bitstream() {
        let quiet = encode_segment();
        let (traced, text) = logged(tracing::Level::TRACE, encode_segment);
        assert!(
            text.contains("openh264"),
            "OpenH264 logged nothing at trace level"
        );
        assert_eq!(quiet, traced);
    }

    #[test]
    fn high_profile_is_refused() {
        let mut p = VideoProfile::preset("240p").unwrap();
        p.h264_profile = Some(H264Profile::High);
        assert!(H264Encoder::new(&p, Framerate::new(30, 1).unwrap()).is_err());
    }
}
