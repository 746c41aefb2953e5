//! MPEG-TS input: a whole segment in memory, demultiplexed by livepeer-bitstream, with the
//! video and audio this crate carries picked out. Garbage gives a typed error, never a panic.

use bytes::Bytes;
use livepeer_bitstream::ts::{self, OnTransportError, stream_type};
use livepeer_bitstream::{BitstreamError, h264};
use livepeer_core::VideoCodec;

use super::{AudioPes, Demuxed, VideoAu};
use crate::error::{Result, TranscodeError, invalid};

fn codec_of(st: u8) -> Option<VideoCodec> {
    match st {
        stream_type::H264 => Some(VideoCodec::H264),
        stream_type::HEVC => Some(VideoCodec::Hevc),
        _ => None,
    }
}

fn bad(e: BitstreamError) -> TranscodeError {
    invalid(format!("MPEG-TS: {e}"))
}

/// Demuxes a whole MPEG-TS segment whose video must be `codec`. Damaged packets (transport
/// error indicator) are dropped; so is a damaged audio PES.
pub(crate) fn demux(data: &[u8], codec: VideoCodec) -> Result<Demuxed> {
    if !data.len().is_multiple_of(ts::PACKET) {
        return Err(invalid(format!(
            "MPEG-TS truncated: {} bytes is not a whole number of 188-byte packets",
            data.len()
        )));
    }
    let d = ts::demux(data, OnTransportError::Skip).map_err(bad)?;
    if d.streams.is_empty() {
        return Err(invalid("MPEG-TS: no PAT/PMT found"));
    }
    let video = d
        .find(stream_type::is_video)
        .ok_or_else(|| invalid("MPEG-TS: no video stream in the PMT"))?;
    let st = video.info.stream_type;
    if codec_of(st) != Some(codec) {
        return Err(TranscodeError::SegmentFormatDidntMatchJobInputParams(
            format!("job says {codec}, segment carries stream type {st:#04x}"),
        ));
    }
    let audio = d.find(stream_type::is_audio);
    let mut out = Demuxed {
        timing: super::Timing::Absolute,
        audio_stream_type: audio.map(|a| a.info.stream_type),
        ..Demuxed::default()
    };
    let mut reference: Option<i64> = None;
    for pes in &video.pes {
        let h = ts::parse_pes(pes).map_err(bad)?;
        let Some(pts) = h.pts else {
            return Err(invalid("MPEG-TS: video PES without PTS"));
        };
        let r = *reference.get_or_insert(pts as i64);
        let pts = ts::unwrap_timestamp(pts, r);
        let dts = h.dts.map_or(pts, |d| ts::unwrap_timestamp(d, r));
        if h.payload.is_empty() {
            continue;
        }
        out.video.push(VideoAu {
            keyframe: h264::is_keyframe(h.payload),
            data: Bytes::copy_from_slice(h.payload),
            pts,
            dts,
        });
    }
    for pes in audio.iter().flat_map(|a| &a.pes) {
        let Ok(h) = ts::parse_pes(pes) else {
            continue; // a damaged audio PES is dropped, not fatal
        };
        let (Some(pts), Some(r)) = (h.pts, reference) else {
            continue;
        };
        out.audio.push(AudioPes {
            pts: ts::unwrap_timestamp(pts, r),
            data: Bytes::copy_from_slice(h.payload),
        });
    }
    Ok(out)
}
