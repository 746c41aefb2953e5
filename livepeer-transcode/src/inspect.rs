//! Reading a segment without transcoding it: what verifiers, tools and the fuzz target use.

use std::time::Duration;

use livepeer_core::transcode::TranscodeJob;
use livepeer_core::{Container, Framerate, Ladder, Segment, StreamId, VideoCodec};

use crate::decode::{H264Decoder, InputLimits, Output};
use crate::error::Result;
use crate::frame::{Frame, TIMESCALE};
use crate::pipeline::{self, Prepared};
use crate::software::H264Decoding;

/// What a segment holds, found by demuxing and decoding every picture.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SegmentInfo {
    /// Pictures decoded.
    pub frames: u32,
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// Presentation time of the first picture, 90 kHz, on the stream's clock.
    pub first_pts: i64,
    /// Presentation time just after the last picture, 90 kHz.
    pub end_pts: i64,
    /// Frame rate from the timestamps.
    pub fps: Framerate,
    /// Key frames among the access units.
    pub keyframes: u32,
    /// Audio packets carried.
    pub audio_packets: usize,
}

impl SegmentInfo {
    /// Media duration.
    pub fn duration(&self) -> Duration {
        let ticks = (self.end_pts - self.first_pts).max(0) as u64;
        Duration::from_nanos(ticks * 1_000_000_000 / u64::from(TIMESCALE))
    }
}

fn prepared(segment: &Segment) -> Result<Prepared> {
    let job = TranscodeJob {
        stream_id: StreamId::from_name("inspect"),
        segment: segment.clone(),
        ladder: Ladder::parse("144p").map_err(|e| crate::error::backend(e.to_string()))?,
    };
    pipeline::prepare(&job)
}

/// Whether the pictures a software transcoder decodes from `segment` depend on which
/// [`crate::software::H264Decoding`] it runs: true when the segment's H.264 holds B slices,
/// where OpenH264 and libavcodec differ slightly (OpenH264's B-slice deblocking deviates
/// from the standard). Without B slices both decode the same pictures, so any re-encode
/// compares exactly. Segments that do not parse are `false`: they fail the re-encode the
/// same way whatever decodes them.
pub fn pictures_depend_on_decoder(segment: &Segment) -> bool {
    prepared(segment).is_ok_and(|p| {
        !p.interlaced
            && p.media
                .video
                .iter()
                .any(|a| livepeer_bitstream::h264::has_b_slice(&a.data))
    })
}

/// Decodes every picture of an H.264 segment with the decoder the software transcoder uses
/// by default ([`crate::decode::software_decoder`]: OpenH264, or libavcodec for interlaced
/// sources). OpenH264 is not bit-exact with libavcodec on B slices
/// ([`pictures_depend_on_decoder`]).
pub fn decode_segment(segment: &Segment, limits: InputLimits) -> Result<Vec<Frame>> {
    decode_segment_with(segment, limits, H264Decoding::OpenH264)
}

/// Decodes every picture of an H.264 segment as a software transcoder configured with
/// `decoding` does (interlaced sources: libavcodec, deinterlaced, whatever `decoding` says).
pub fn decode_segment_with(
    segment: &Segment,
    limits: InputLimits,
    decoding: H264Decoding,
) -> Result<Vec<Frame>> {
    let prep = prepared(segment)?;
    let mut dec = prep.decoder(decoding.factory()?.as_ref(), limits)?;
    let mut out = Vec::new();
    for au in &prep.media.video {
        dec.send_packet(&au.data, au.pts)?;
        while let Output::Ready(f) = dec.receive_frame()? {
            out.push(f);
        }
    }
    dec.flush()?;
    while let Output::Ready(f) = dec.receive_frame()? {
        out.push(f);
    }
    Ok(out)
}

/// Demuxes and decodes a segment and says what it holds.
pub fn inspect(segment: &Segment, limits: InputLimits) -> Result<SegmentInfo> {
    let prep = prepared(segment)?;
    let mut dec = prep.decoder(&|l| Ok(Box::new(H264Decoder::new(l)?)), limits)?;
    let (mut frames, mut size, mut first, mut last) = (0u32, (0, 0), i64::MAX, i64::MIN);
    let mut take = |f: Frame| {
        frames += 1;
        size = (f.width, f.height);
        first = first.min(f.pts);
        last = last.max(f.pts);
    };
    for au in &prep.media.video {
        dec.send_packet(&au.data, au.pts)?;
        while let Output::Ready(f) = dec.receive_frame()? {
            take(f);
        }
    }
    dec.flush()?;
    while let Output::Ready(f) = dec.receive_frame()? {
        take(f);
    }
    if frames == 0 {
        return Err(crate::error::invalid("no picture could be decoded"));
    }
    let step = i64::from(TIMESCALE) * i64::from(prep.fps.den) / i64::from(prep.fps.num);
    Ok(SegmentInfo {
        frames,
        width: size.0,
        height: size.1,
        first_pts: first,
        end_pts: last + step,
        fps: prep.fps,
        keyframes: prep.media.video.iter().filter(|a| a.keyframe).count() as u32,
        audio_packets: prep.media.audio.len(),
    })
}

/// The fuzz target's entry: `data` as an MPEG-TS, MP4 and Annex-B segment in turn. Never
/// panics; errors are the expected outcome for most inputs.
pub fn fuzz_demux_decode(data: &[u8]) {
    for container in [Container::MpegTs, Container::Mp4, Container::AnnexB] {
        let seg = Segment {
            seq: 1,
            duration: Duration::from_secs(2),
            data: bytes::Bytes::copy_from_slice(data),
            container,
            codec: VideoCodec::H264,
        };
        let limits = InputLimits {
            max_pixels: 640 * 480,
            ..InputLimits::default()
        };
        let _ = inspect(&seg, limits);
    }
}
