//! H.264 Annex-B NAL units, sequence and picture parameter sets, and slice headers (ITU-T
//! H.264 §7.3), parsed only as far as verification needs: resolution, profile, timing, and
//! where pictures and IDRs start.

use super::BitstreamError;
use super::bits::{BitReader, unescape};

/// NAL unit types used here.
pub(crate) mod nal_type {
    pub(crate) const SLICE: u8 = 1;
    pub(crate) const IDR: u8 = 5;
    pub(crate) const SPS: u8 = 7;
    pub(crate) const PPS: u8 = 8;
    pub(crate) const FILLER: u8 = 12;
}

/// Header bytes unescaped before parsing an SPS, PPS or slice header: far more than any of
/// them needs, so a huge NAL is never copied whole.
const HEADER_BYTES: usize = 512;

/// Splits an Annex-B byte stream at its start codes. Bytes before the first start code are
/// ignored; trailing zero bytes of each unit are dropped.
pub(crate) fn split_annexb(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 2 < data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .map(|&s| s - 3)
        .chain(std::iter::once(data.len()))
        .collect();
    starts.into_iter().zip(ends).filter_map(move |(s, e)| {
        let mut unit = data.get(s..e)?;
        while let [rest @ .., 0] = unit {
            unit = rest;
        }
        (!unit.is_empty()).then_some(unit)
    })
}

/// The NAL unit type of a unit (its first byte), checking the forbidden zero bit.
pub(crate) fn nal_unit_type(unit: &[u8]) -> Result<u8, BitstreamError> {
    let h = *unit
        .first()
        .ok_or(BitstreamError::Truncated("empty NAL unit"))?;
    if h & 0x80 != 0 {
        return Err(BitstreamError::Invalid("NAL forbidden_zero_bit is set"));
    }
    Ok(h & 0x1f)
}

/// What an SPS says about the pictures that follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sps {
    pub(crate) id: u32,
    pub(crate) profile_idc: u8,
    pub(crate) constraint_flags: u8,
    pub(crate) level_idc: u8,
    pub(crate) chroma_format_idc: u32,
    pub(crate) separate_colour_plane: bool,
    pub(crate) bit_depth_luma: u32,
    pub(crate) log2_max_frame_num: u32,
    pub(crate) frame_mbs_only: bool,
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// `(num_units_in_tick, time_scale)` from the VUI when present.
    pub(crate) timing: Option<(u32, u32)>,
    /// The sample aspect ratio from the VUI, other than 1:1.
    pub(crate) sample_aspect: Option<(u32, u32)>,
}

fn skip_scaling_list(r: &mut BitReader<'_>, size: u32) -> Result<(), BitstreamError> {
    let (mut last, mut next) = (8i32, 8i32);
    for _ in 0..size {
        if next != 0 {
            let delta = r.se()?;
            if !(-128..=127).contains(&delta) {
                return Err(BitstreamError::Invalid("scaling list delta out of range"));
            }
            next = (last + delta + 256) % 256;
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

/// Parses a sequence parameter set NAL unit (header byte included).
pub(crate) fn parse_sps(unit: &[u8]) -> Result<Sps, BitstreamError> {
    let rbsp = unescape(unit.get(1..).unwrap_or_default(), HEADER_BYTES);
    let mut r = BitReader::new(&rbsp);
    let profile_idc = r.bits(8)? as u8;
    let constraint_flags = r.bits(8)? as u8;
    let level_idc = r.bits(8)? as u8;
    let id = r.ue_max(31, "seq_parameter_set_id above 31")?;
    let (mut chroma_format_idc, mut separate_colour_plane, mut bit_depth_luma) = (1, false, 8);
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue_max(3, "chroma_format_idc above 3")?;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.bit()?;
        }
        bit_depth_luma = 8 + r.ue_max(6, "bit depth above 14")?;
        r.ue_max(6, "bit depth above 14")?;
        r.skip(1)?; // qpprime_y_zero_transform_bypass_flag
        if r.bit()? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit()? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    let log2_max_frame_num = 4 + r.ue_max(12, "log2_max_frame_num above 16")?;
    match r.ue_max(2, "pic_order_cnt_type above 2")? {
        0 => {
            r.ue_max(12, "log2_max_pic_order_cnt_lsb above 16")?;
        }
        1 => {
            r.skip(1)?;
            r.se()?;
            r.se()?;
            let n = r.ue_max(255, "too many reference frames in POC cycle")?;
            for _ in 0..n {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue_max(32, "max_num_ref_frames above 32")?;
    r.skip(1)?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = r.ue_max(1023, "picture wider than 16368")? + 1;
    let height_units = r.ue_max(1023, "picture taller than 16368")? + 1;
    let frame_mbs_only = r.bit()?;
    if !frame_mbs_only {
        r.skip(1)?; // mb_adaptive_frame_field_flag
    }
    r.skip(1)?; // direct_8x8_inference_flag
    let field_factor = if frame_mbs_only { 1 } else { 2 };
    let mut width = width_mbs * 16;
    let mut height = height_units * 16 * field_factor;
    if r.bit()? {
        let (l, rt, t, b) = (r.ue()?, r.ue()?, r.ue()?, r.ue()?);
        let chroma_array_type = if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        };
        let (cx, cy) = match chroma_array_type {
            0 => (1, field_factor),
            1 => (2, 2 * field_factor),
            2 => (2, field_factor),
            _ => (1, field_factor),
        };
        let crop_w = u64::from(l) + u64::from(rt);
        let crop_h = u64::from(t) + u64::from(b);
        let cw = crop_w * cx;
        let ch = crop_h * u64::from(cy);
        if cw >= u64::from(width) || ch >= u64::from(height) {
            return Err(BitstreamError::Invalid(
                "cropping removes the whole picture",
            ));
        }
        width -= cw as u32;
        height -= ch as u32;
    }
    let (sample_aspect, timing) = if r.bit()? {
        parse_vui_timing(&mut r)?
    } else {
        (None, None)
    };
    Ok(Sps {
        id,
        profile_idc,
        constraint_flags,
        level_idc,
        chroma_format_idc,
        separate_colour_plane,
        bit_depth_luma,
        log2_max_frame_num,
        frame_mbs_only,
        width,
        height,
        timing,
        sample_aspect,
    })
}

/// The VUI's sample aspect ratio (other than 1:1) and timing (`num_units_in_tick`,
/// `time_scale`).
#[allow(clippy::type_complexity)]
fn parse_vui_timing(
    r: &mut BitReader<'_>,
) -> Result<(Option<(u32, u32)>, Option<(u32, u32)>), BitstreamError> {
    let mut sar = None;
    if r.bit()? {
        let idc = r.bits(8)? as u8;
        let extended = if idc == 255 {
            Some((r.bits(16)? as u16, r.bits(16)? as u16))
        } else {
            None
        };
        sar = livepeer_core::rung::sample_aspect(idc, extended);
    }
    if r.bit()? {
        r.skip(1)?; // overscan_appropriate_flag
    }
    if r.bit()? {
        r.skip(4)?; // video_format, video_full_range_flag
        if r.bit()? {
            r.skip(24)?; // colour primaries, transfer, matrix
        }
    }
    if r.bit()? {
        r.ue()?;
        r.ue()?;
    }
    if r.bit()? {
        let units = r.bits(32)?;
        let scale = r.bits(32)?;
        if units == 0 || scale == 0 {
            return Err(BitstreamError::Invalid("VUI timing with a zero field"));
        }
        return Ok((sar, Some((units, scale))));
    }
    Ok((sar, None))
}

/// The fields of a picture parameter set a slice header needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pps {
    pub(crate) id: u32,
    pub(crate) sps_id: u32,
}

/// Parses a picture parameter set NAL unit (header byte included).
pub(crate) fn parse_pps(unit: &[u8]) -> Result<Pps, BitstreamError> {
    let rbsp = unescape(unit.get(1..).unwrap_or_default(), HEADER_BYTES);
    let mut r = BitReader::new(&rbsp);
    let id = r.ue_max(255, "pic_parameter_set_id above 255")?;
    let sps_id = r.ue_max(31, "seq_parameter_set_id above 31")?;
    Ok(Pps { id, sps_id })
}

/// The start of a slice header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SliceHeader {
    pub(crate) first_mb: u32,
    /// `slice_type % 5`: 0 P, 1 B, 2 I, 3 SP, 4 SI.
    pub(crate) slice_type: u32,
    pub(crate) pps_id: u32,
    pub(crate) field_pic: bool,
}

/// Parses the slice header start of a slice NAL unit. `sps_of` maps a PPS id to the SPS it
/// refers to.
pub(crate) fn parse_slice_header<'s>(
    unit: &[u8],
    sps_of: impl Fn(u32) -> Option<&'s Sps>,
) -> Result<SliceHeader, BitstreamError> {
    let rbsp = unescape(unit.get(1..).unwrap_or_default(), 64);
    let mut r = BitReader::new(&rbsp);
    let first_mb = r.ue()?;
    let slice_type = r.ue_max(9, "slice_type above 9")? % 5;
    let pps_id = r.ue_max(255, "pic_parameter_set_id above 255")?;
    let sps = sps_of(pps_id).ok_or(BitstreamError::MissingParameterSet)?;
    if sps.separate_colour_plane {
        r.skip(2)?;
    }
    r.skip(sps.log2_max_frame_num)?; // frame_num
    let field_pic = !sps.frame_mbs_only && r.bit()?;
    Ok(SliceHeader {
        first_mb,
        slice_type,
        pps_id,
        field_pic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_three_and_four_byte_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4,
        ];
        let units: Vec<&[u8]> = split_annexb(&data).collect();
        assert_eq!(units, vec![&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4]]);
        assert_eq!(split_annexb(&[1, 2, 3]).count(), 0);
    }

    #[test]
    fn parses_a_baseline_sps() {
        // x264 baseline 320x240, level 1.3, no VUI timing.
        let sps = [
            0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
            0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80,
        ];
        let s = parse_sps(&sps).unwrap();
        assert_eq!((s.profile_idc, s.level_idc), (66, 13));
        assert_eq!((s.width, s.height), (320, 240));
        assert_eq!(s.timing, Some((1, 60)));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for data in [
            &[0x67][..],
            &[0x67, 0x64, 0, 0x1f, 0xff, 0xff, 0xff],
            &[0x80],
        ] {
            let _ = parse_sps(data);
            let _ = parse_pps(data);
            let _ = nal_unit_type(data);
        }
        assert!(nal_unit_type(&[0x80]).is_err());
    }
}
