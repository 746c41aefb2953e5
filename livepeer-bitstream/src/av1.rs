//! AV1 open bitstream units (AV1 §5.3): OBU headers and sizes, the sequence header's maximum
//! frame size, and whether a frame header starts a key frame.

use crate::BitstreamError;
use crate::bits::BitReader;

/// OBU types used here.
pub mod obu_type {
    /// Sequence header.
    pub const SEQUENCE_HEADER: u8 = 1;
    /// Temporal delimiter.
    pub const TEMPORAL_DELIMITER: u8 = 2;
    /// Frame header.
    pub const FRAME_HEADER: u8 = 3;
    /// Frame (header and tile groups).
    pub const FRAME: u8 = 6;
    /// Padding.
    pub const PADDING: u8 = 15;
}

/// One OBU of a temporal unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Obu<'a> {
    /// `obu_type`.
    pub kind: u8,
    /// `obu_has_size_field`: the low-overhead format. Without it the OBU runs to the end.
    pub has_size_field: bool,
    /// The payload after the header and size.
    pub payload: &'a [u8],
    /// The whole OBU: header, size and payload.
    pub bytes: &'a [u8],
}

/// Reads an unsigned LEB128 number at `*at` (at most 8 bytes), moving `*at` past it.
pub fn leb128(b: &[u8], at: &mut usize) -> Result<u64, BitstreamError> {
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

/// Iterates the OBUs of a temporal unit. Stops after the first error, which it yields.
pub fn obus(tu: &[u8]) -> impl Iterator<Item = Result<Obu<'_>, BitstreamError>> {
    let mut at = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || at >= tu.len() {
            return None;
        }
        let r = next_obu(tu, &mut at);
        failed = r.is_err();
        Some(r)
    })
}

fn next_obu<'a>(tu: &'a [u8], at: &mut usize) -> Result<Obu<'a>, BitstreamError> {
    let start = *at;
    let h = *tu.get(start).ok_or(BitstreamError::Truncated("OBU"))?;
    if h & 0x80 != 0 {
        return Err(BitstreamError::Invalid("OBU forbidden bit is set"));
    }
    let has_size_field = h & 0x02 != 0;
    let mut pos = start + 1 + usize::from(h & 0x04 != 0);
    let size = if has_size_field {
        usize::try_from(leb128(tu, &mut pos)?).unwrap_or(usize::MAX)
    } else {
        tu.len().saturating_sub(pos)
    };
    let end = pos.saturating_add(size);
    let payload = tu.get(pos..end).ok_or(BitstreamError::Truncated("OBU"))?;
    *at = end;
    Ok(Obu {
        kind: (h >> 3) & 0x0f,
        has_size_field,
        payload,
        bytes: &tu[start..end],
    })
}

/// The sequence header OBU (whole, header included) of a temporal unit in the low-overhead
/// format, if one comes before anything that does not parse or has no size field.
pub fn sequence_header_obu(tu: &[u8]) -> Option<&[u8]> {
    for obu in obus(tu) {
        let obu = obu.ok()?;
        if !obu.has_size_field {
            return None;
        }
        if obu.kind == obu_type::SEQUENCE_HEADER {
            return Some(obu.bytes);
        }
    }
    None
}

/// What a sequence header says that this crate uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SequenceHeader {
    /// `reduced_still_picture_header`: every frame is a key frame.
    pub reduced_still_picture: bool,
    /// `max_frame_width_minus_1 + 1`.
    pub max_width: u32,
    /// `max_frame_height_minus_1 + 1`.
    pub max_height: u32,
}

/// Parses a sequence header OBU's payload as far as the maximum frame size.
pub fn parse_sequence_header(payload: &[u8]) -> Result<SequenceHeader, BitstreamError> {
    let mut r = BitReader::new(payload);
    r.skip(4)?; // seq_profile, still_picture
    let reduced = r.bit()?;
    if reduced {
        r.skip(5)?; // seq_level_idx[0]
    } else {
        // decoder_model_info_present_flag is only coded after timing info.
        let mut decoder_model = false;
        let mut delay_len = 0;
        if r.bit()? {
            r.skip(64)?; // num_units_in_display_tick, time_scale
            if r.bit()? {
                // num_ticks_per_picture_minus_1: uvlc()
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
            r.skip(12)?; // operating_point_idc
            if r.bits(5)? > 7 {
                r.skip(1)?; // seq_tier
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

/// Whether a frame header (the payload of a frame or frame header OBU) under `seq` starts a
/// key frame: a key frame that is not a repeat of an earlier one (`show_existing_frame`).
pub fn is_key_frame(seq: &SequenceHeader, frame_header: &[u8]) -> Result<bool, BitstreamError> {
    if seq.reduced_still_picture {
        return Ok(true);
    }
    let mut r = BitReader::new(frame_header);
    Ok(!r.bit()? && r.bits(2)? == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_bounds() {
        let mut at = 0;
        assert_eq!(leb128(&[0x80, 0x01], &mut at).unwrap(), 128);
        assert_eq!(at, 2);
        assert!(leb128(&[0x80; 9], &mut 0).is_err());
        assert!(leb128(&[0x80], &mut 0).is_err());
    }

    #[test]
    fn obus_split_and_find_the_sequence_header() {
        // Temporal delimiter, then a sequence header of three bytes, then padding without a
        // size field.
        let tu = [0x12, 0x00, 0x0a, 0x03, 1, 2, 3, 0x78, 9, 9];
        let got: Vec<Obu<'_>> = obus(&tu).collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].kind, obu_type::SEQUENCE_HEADER);
        assert_eq!(got[1].payload, &[1, 2, 3]);
        assert_eq!(got[2].kind, obu_type::PADDING);
        assert!(!got[2].has_size_field);
        assert_eq!(sequence_header_obu(&tu), Some(&tu[2..7]));
        assert_eq!(sequence_header_obu(&tu[..6]), None);
        assert!(obus(&[0x80]).all(|o| o.is_err()));
    }

    #[test]
    fn reduced_still_pictures_are_key_frames() {
        // seq_profile 0, still, reduced, level 0; 4-bit size fields; 16x16.
        let seq = parse_sequence_header(&[0x18, 0x0c, 0xff, 0xc0]).unwrap();
        assert!(seq.reduced_still_picture);
        assert_eq!((seq.max_width, seq.max_height), (16, 16));
        assert!(parse_sequence_header(&[0x18, 0x0c]).is_err());
        assert!(is_key_frame(&seq, &[]).unwrap());
    }
}
