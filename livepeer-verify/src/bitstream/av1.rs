//! IVF files of AV1: the file and frame headers, AV1 OBU headers, the sequence header's
//! maximum frame size, and whether each temporal unit starts with a key frame (AV1 §5).

use std::time::Duration;

use livepeer_core::{Container, Framerate, VideoCodec};

use super::bits::BitReader;
use super::{BitstreamError, MAX_FRAMES, StreamInfo, timing_from_pts};

const OBU_SEQUENCE_HEADER: u8 = 1;
const OBU_FRAME_HEADER: u8 = 3;
const OBU_FRAME: u8 = 6;
const OBU_PADDING: u8 = 15;

struct IvfFrame<'a> {
    pts: u64,
    data: &'a [u8],
}

struct Ivf<'a> {
    width: u32,
    height: u32,
    /// Seconds per timestamp unit, as `num / den`.
    time_base: (u32, u32),
    frames: Vec<IvfFrame<'a>>,
}

fn le32(b: &[u8], at: usize) -> Result<u32, BitstreamError> {
    let s = b.get(at..at + 4).ok_or(BitstreamError::Truncated("IVF"))?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn parse_ivf(data: &[u8]) -> Result<Ivf<'_>, BitstreamError> {
    if data.len() < 32 || &data[..4] != b"DKIF" {
        return Err(BitstreamError::Invalid("not an IVF file"));
    }
    if &data[8..12] != b"AV01" {
        return Err(BitstreamError::Unsupported(
            "IVF of a codec other than AV1".into(),
        ));
    }
    let header_len = usize::from(u16::from_le_bytes([data[6], data[7]]));
    let width = u32::from(u16::from_le_bytes([data[12], data[13]]));
    let height = u32::from(u16::from_le_bytes([data[14], data[15]]));
    let (den, num) = (le32(data, 16)?, le32(data, 20)?);
    if den == 0 || num == 0 {
        return Err(BitstreamError::Invalid("IVF time base with a zero field"));
    }
    let mut frames = Vec::new();
    let mut at = header_len.max(32);
    while at < data.len() {
        let size = le32(data, at)? as usize;
        let pts_bytes = data
            .get(at + 4..at + 12)
            .ok_or(BitstreamError::Truncated("IVF frame header"))?;
        let mut p = [0u8; 8];
        p.copy_from_slice(pts_bytes);
        let body = data
            .get(at + 12..(at + 12).saturating_add(size))
            .ok_or(BitstreamError::Truncated("IVF frame"))?;
        if frames.len() >= MAX_FRAMES as usize {
            return Err(BitstreamError::Invalid("too many pictures"));
        }
        frames.push(IvfFrame {
            pts: u64::from_le_bytes(p),
            data: body,
        });
        at += 12 + size;
    }
    Ok(Ivf {
        width,
        height,
        time_base: (num, den),
        frames,
    })
}

fn leb128(b: &[u8], at: &mut usize) -> Result<u64, BitstreamError> {
    let mut v = 0u64;
    for i in 0..8 {
        let byte = *b.get(*at).ok_or(BitstreamError::Truncated("leb128"))?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(BitstreamError::Invalid("leb128 longer than 8 bytes"))
}

/// The OBUs of a temporal unit as `(type, payload)`.
fn obus(tu: &[u8]) -> Result<Vec<(u8, &[u8])>, BitstreamError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < tu.len() {
        let h = tu[at];
        if h & 0x80 != 0 {
            return Err(BitstreamError::Invalid("OBU forbidden bit is set"));
        }
        let kind = (h >> 3) & 0x0f;
        at += 1 + usize::from(h & 0x04 != 0);
        let size = if h & 0x02 != 0 {
            usize::try_from(leb128(tu, &mut at)?).unwrap_or(usize::MAX)
        } else {
            tu.len().saturating_sub(at)
        };
        let payload = tu
            .get(at..at.saturating_add(size))
            .ok_or(BitstreamError::Truncated("OBU"))?;
        out.push((kind, payload));
        at += size;
    }
    Ok(out)
}

struct SequenceHeader {
    reduced_still_picture: bool,
    max_width: u32,
    max_height: u32,
}

fn parse_sequence_header(p: &[u8]) -> Result<SequenceHeader, BitstreamError> {
    let mut r = BitReader::new(p);
    r.skip(4)?; // seq_profile, still_picture
    let reduced = r.bit()?;
    if reduced {
        r.skip(5)?;
    } else {
        // decoder_model_info_present_flag is only coded after timing info.
        let mut decoder_model = false;
        let mut delay_len = 0;
        if r.bit()? {
            r.skip(64)?; // num_units_in_display_tick, time_scale
            if r.bit()? {
                let mut zeros = 0;
                while !r.bit()? {
                    zeros += 1;
                    if zeros >= 32 {
                        return Err(BitstreamError::Invalid("uvlc longer than 32 bits"));
                    }
                }
                r.skip(zeros)?;
            }
            decoder_model = r.bit()?;
            if decoder_model {
                delay_len = r.bits(5)? + 1;
                r.skip(32 + 5 + 5)?;
            }
        }
        let initial_display_delay = r.bit()?;
        let ops = r.bits(5)? + 1;
        for _ in 0..ops {
            r.skip(12)?;
            if r.bits(5)? > 7 {
                r.skip(1)?;
            }
            if decoder_model && r.bit()? {
                r.skip(2 * delay_len + 1)?;
            }
            if initial_display_delay && r.bit()? {
                r.skip(4)?;
            }
        }
    }
    let wbits = r.bits(4)? + 1;
    let hbits = r.bits(4)? + 1;
    let max_width = r.bits(wbits)? + 1;
    let max_height = r.bits(hbits)? + 1;
    Ok(SequenceHeader {
        reduced_still_picture: reduced,
        max_width,
        max_height,
    })
}

/// Inspects an IVF file of AV1.
pub(crate) fn inspect_ivf(data: &[u8]) -> Result<StreamInfo, BitstreamError> {
    let ivf = parse_ivf(data)?;
    let (num, den) = ivf.time_base;
    let units = ivf.frames.iter().map(|f| {
        let ticks = u128::from(f.pts) * u128::from(num) * 90_000 / u128::from(den);
        (i64::try_from(ticks).unwrap_or(i64::MAX), f.data)
    });
    let declared = Framerate::new(den, num).ok();
    inspect_units(
        Container::Ivf,
        (ivf.width, ivf.height),
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
            if kind == OBU_SEQUENCE_HEADER && seq.is_none() {
                seq = Some(parse_sequence_header(payload)?);
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
                OBU_SEQUENCE_HEADER if seq.is_none() => seq = Some(parse_sequence_header(payload)?),
                OBU_FRAME_HEADER | OBU_FRAME => {
                    let s = seq.as_ref().ok_or(BitstreamError::MissingParameterSet)?;
                    let mut r = BitReader::new(payload);
                    key |= s.reduced_still_picture || (!r.bit()? && r.bits(2)? == 0);
                }
                _ => {}
            }
            if kind != OBU_PADDING {
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
    let ivf = parse_ivf(data)?;
    let (num, den) = ivf.time_base;
    Ok(ivf
        .frames
        .iter()
        .map(|f| {
            let t = u128::from(f.pts) * 90_000 * u128::from(num) / u128::from(den);
            (i64::try_from(t).unwrap_or(i64::MAX), f.data)
        })
        .collect())
}

/// The concatenated temporal units of an IVF file.
pub(crate) fn ivf_payload(data: &[u8]) -> Result<Vec<u8>, BitstreamError> {
    Ok(parse_ivf(data)?
        .frames
        .iter()
        .flat_map(|f| f.data.iter().copied())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_and_bad_headers() {
        let mut at = 0;
        assert_eq!(leb128(&[0x80, 0x01], &mut at).unwrap(), 128);
        assert!(leb128(&[0x80; 9], &mut 0).is_err());
        assert!(parse_ivf(b"DKIF").is_err());
        assert!(inspect_ivf(&[0u8; 64]).is_err());
    }
}
