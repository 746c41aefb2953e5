//! AV1 in IVF (and in MP4, through [`inspect_units`]): the temporal units of a segment read
//! with livepeer-bitstream's IVF and OBU parsers, and what they say about size, key frames
//! and timing.

use std::time::Duration;

use livepeer_bitstream::av1::{self, SequenceHeader, obu_type};
use livepeer_bitstream::ivf;
use livepeer_core::{Container, Framerate, VideoCodec};

use super::{BitstreamError, MAX_FRAMES, StreamInfo, timing_from_pts};

/// The OBUs of a temporal unit as `(type, payload)`.
fn obus(tu: &[u8]) -> Result<Vec<(u8, &[u8])>, BitstreamError> {
    av1::obus(tu)
        .map(|o| o.map(|o| (o.kind, o.payload)))
        .collect()
}

/// Inspects an IVF file of AV1.
pub(crate) fn inspect_ivf(data: &[u8]) -> Result<StreamInfo, BitstreamError> {
    let file = ivf::parse(data, ivf::AV1)?;
    let h = file.header;
    let units = file
        .frames
        .iter()
        .map(|f| (h.ticks_90khz(f.pts).unwrap_or(i64::MAX), f.data));
    let declared = Framerate::new(h.rate, h.scale).ok();
    inspect_units(
        Container::Ivf,
        (u32::from(h.width), u32::from(h.height)),
        None,
        units,
        declared,
    )
}

/// Inspects AV1 temporal units with their timestamps (90 kHz) of a `size` stream; `config`
/// holds OBUs carried beside the stream (an MP4's `av1C`) that may give the sequence header.
pub(crate) fn inspect_units<'a>(
    container: Container,
    size: (u32, u32),
    config: Option<&[u8]>,
    units: impl Iterator<Item = (i64, &'a [u8])>,
    declared: Option<Framerate>,
) -> Result<StreamInfo, BitstreamError> {
    let (width, height) = size;
    let mut seq: Option<SequenceHeader> = None;
    if let Some(c) = config {
        for (kind, payload) in obus(c)? {
            if kind == obu_type::SEQUENCE_HEADER && seq.is_none() {
                seq = Some(av1::parse_sequence_header(payload)?);
            }
        }
    }
    let (mut key_frames, mut pts, mut video_bytes) = (Vec::new(), Vec::new(), 0u64);
    let mut frames = 0u32;
    for (i, (t, data)) in units.enumerate() {
        if i >= MAX_FRAMES as usize {
            return Err(BitstreamError::Invalid("too many pictures"));
        }
        let mut key = false;
        for (kind, payload) in obus(data)? {
            match kind {
                obu_type::SEQUENCE_HEADER if seq.is_none() => {
                    seq = Some(av1::parse_sequence_header(payload)?);
                }
                obu_type::FRAME_HEADER | obu_type::FRAME => {
                    let s = seq.as_ref().ok_or(BitstreamError::MissingParameterSet)?;
                    key |= av1::is_key_frame(s, payload)?;
                }
                _ => {}
            }
            if kind != obu_type::PADDING {
                video_bytes += payload.len() as u64 + 2;
            }
        }
        if key {
            key_frames.push(i as u32);
        }
        pts.push(t);
        frames += 1;
    }
    let seq = seq.ok_or(BitstreamError::Invalid("no AV1 sequence header"))?;
    if width == 0 || height == 0 || width > seq.max_width || height > seq.max_height {
        return Err(BitstreamError::Invalid(
            "the container's size disagrees with the AV1 sequence header",
        ));
    }
    if frames == 0 {
        return Err(BitstreamError::Invalid("no pictures"));
    }
    pts.sort_unstable();
    let (frame_rate, duration): (Option<Framerate>, Option<Duration>) =
        timing_from_pts(&pts, frames, declared);
    Ok(StreamInfo {
        container,
        codec: VideoCodec::Av1,
        width,
        height,
        resolutions: vec![(width, height)],
        h264: None,
        frames,
        key_frames,
        pts,
        frame_rate,
        sample_aspect: None,
        duration,
        video_bytes,
    })
}

/// The temporal units of an IVF file with their timestamps in 90 kHz ticks (the time base
/// converted, saturating).
pub(crate) fn ivf_units(data: &[u8]) -> Result<Vec<(i64, &[u8])>, BitstreamError> {
    let file = ivf::parse(data, ivf::AV1)?;
    let h = file.header;
    Ok(file
        .frames
        .iter()
        .map(|f| (h.ticks_90khz(f.pts).unwrap_or(i64::MAX), f.data))
        .collect())
}

/// The concatenated temporal units of an IVF file.
pub(crate) fn ivf_payload(data: &[u8]) -> Result<Vec<u8>, BitstreamError> {
    Ok(ivf::parse(data, ivf::AV1)?
        .frames
        .iter()
        .flat_map(|f| f.data.iter().copied())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_headers() {
        assert!(inspect_ivf(b"DKIF").is_err());
        assert!(inspect_ivf(&[0u8; 64]).is_err());
        assert!(obus(&[0x80]).is_err());
    }
}
