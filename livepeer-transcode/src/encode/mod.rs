//! Encoders as push/pull state machines: [`VideoEncoder::send_frame`] pictures,
//! [`VideoEncoder::flush`] at the end of a segment, [`VideoEncoder::receive_packet`] until
//! [`Output::Done`]. No I/O and no threads of their own.

mod av1;
pub(crate) mod h264;

pub use av1::{Av1Encoder, Av1Settings};
pub use h264::H264Encoder;

use livepeer_core::{Framerate, VideoCodec, VideoProfile};

pub use crate::decode::Output;
use crate::error::{Result, unsupported};
use crate::frame::{Frame, Packet};

/// A video encoder for one rendition.
///
/// Contract: call [`start_segment`](Self::start_segment) before the first picture of every
/// segment; send pictures in display order with increasing timestamps; after
/// [`flush`](Self::flush), drain [`receive_packet`](Self::receive_packet) until it returns
/// [`Output::Done`]. An encoder is reused across segments of the same stream and rendition,
/// but no coding state crosses a segment start (see each implementation for what is reset).
pub trait VideoEncoder: Send {
    /// The codec produced.
    fn codec(&self) -> VideoCodec;
    /// Resets the encoder for a new segment: the next picture is a key frame and rate control
    /// starts afresh.
    fn start_segment(&mut self) -> Result<()>;
    /// Encodes one picture of the profile's size.
    fn send_frame(&mut self, frame: &Frame) -> Result<()>;
    /// Ends the segment: every picture sent becomes a packet.
    fn flush(&mut self) -> Result<()>;
    /// The next packet, in decode order.
    fn receive_packet(&mut self) -> Result<Output<Packet>>;
}

/// Builds the software encoder for `profile`.
pub fn software_encoder(
    profile: &VideoProfile,
    fps: Framerate,
    av1: &Av1Settings,
) -> Result<Box<dyn VideoEncoder>> {
    match profile.codec {
        VideoCodec::H264 => Ok(Box::new(H264Encoder::new(profile, fps)?)),
        VideoCodec::Av1 => Ok(Box::new(Av1Encoder::new(profile, fps, *av1)?)),
        other => Err(unsupported(format!("encoding {other}"))),
    }
}
