//! H.264 Annex-B byte streams and NAL units, sequence and picture parameter sets, and the
//! start of slice headers (ITU-T H.264 §7.3), parsed only as far as the transcoders and the
//! verifier need: resolution, profile, interlacing, sample aspect, timing, and where pictures
//! and IDRs start. Also the conversions to and from length-prefixed (AVCC) NAL units.

use crate::BitstreamError;
use crate::bits::{BitReader, unescape};

/// NAL unit types used here (Table 7-1).
pub mod nal {
    /// A slice of a non-IDR picture.
    pub const SLICE: u8 = 1;
    /// A slice of an IDR picture: a key frame.
    pub const IDR: u8 = 5;
    /// Supplemental enhancement information.
    pub const SEI: u8 = 6;
    /// Sequence parameter set.
    pub const SPS: u8 = 7;
    /// Picture parameter set.
    pub const PPS: u8 = 8;
    /// Access unit delimiter.
    pub const AUD: u8 = 9;
    /// Filler data (padding).
    pub const FILLER: u8 = 12;
}

/// Header bytes unescaped before parsing an SPS or PPS: far more than either needs, so a
/// huge NAL is never copied whole.
const HEADER_BYTES: usize = 512;

/// Iterates the NAL units of an Annex-B byte stream (payloads without start codes). Bytes
/// before the first start code are ignored, trailing zero bytes of each unit dropped, and
/// empty units skipped. Lazy: nothing is allocated.
pub fn nal_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut pos = find_start_code(data, 0).map(|(_, end)| end);
    std::iter::from_fn(move || {
        let start = pos?;
        let unit = match find_start_code(data, start) {
            Some((code, end)) => {
                pos = Some(end);
                data.get(start..code)
            }
            None => {
                pos = None;
                data.get(start..)
            }
        };
        Some(trim_trailing_zeros(unit.unwrap_or_default()))
    })
    .filter(|n| !n.is_empty())
}

fn trim_trailing_zeros(mut n: &[u8]) -> &[u8] {
    while let [rest @ .., 0] = n {
        n = rest;
    }
    n
}

/// Finds the next `00 00 01` at or after `from`: returns (start of the code, first byte after).
fn find_start_code(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while let Some(w) = data.get(i..i + 3) {
        if w[2] > 1 {
            i += 3;
        } else if w == [0, 0, 1] {
            return Some((i, i + 3));
        } else {
            i += 1;
        }
    }
    None
}

/// The type of a NAL unit (its first byte's low five bits); 0 for an empty unit.
pub fn nal_type(unit: &[u8]) -> u8 {
    unit.first().map_or(0, |b| b & 0x1f)
}

/// The type of a NAL unit, checking that there is one and that its forbidden zero bit is
/// clear.
pub fn nal_unit_type(unit: &[u8]) -> Result<u8, BitstreamError> {
    let h = *unit
        .first()
        .ok_or(BitstreamError::Truncated("empty NAL unit"))?;
    if h & 0x80 != 0 {
        return Err(BitstreamError::Invalid("NAL forbidden_zero_bit is set"));
    }
    Ok(h & 0x1f)
}

/// Whether an Annex-B access unit holds an IDR slice.
pub fn is_keyframe(au: &[u8]) -> bool {
    nal_units(au).any(|n| nal_type(n) == nal::IDR)
}

/// Splits an Annex-B stream into access units, as far as NAL headers tell (§7.4.1.2.3): a
/// new unit starts at an AUD, SPS, PPS or SEI after a slice, or at a slice whose
/// `first_mb_in_slice` is zero after a slice. Units are written back with 4-byte start
/// codes; NAL units after the last slice are dropped.
pub fn access_units(data: &[u8]) -> Vec<Vec<u8>> {
    let (mut aus, mut cur, mut has_slice) = (Vec::new(), Vec::new(), false);
    for unit in nal_units(data) {
        let t = nal_type(unit);
        let is_slice = t == nal::SLICE || t == nal::IDR;
        // first_mb_in_slice is ue(v) first in the slice header: a leading 1 bit means zero.
        let first_mb_zero = is_slice && unit.get(1).is_some_and(|b| b & 0x80 != 0);
        let starts_new = matches!(t, nal::AUD | nal::SPS | nal::PPS | nal::SEI) || first_mb_zero;
        if has_slice && starts_new {
            aus.push(std::mem::take(&mut cur));
            has_slice = false;
        }
        cur.extend_from_slice(&[0, 0, 0, 1]);
        cur.extend_from_slice(unit);
        has_slice |= is_slice;
    }
    if has_slice {
        aus.push(cur);
    }
    aus
}

/// The first NAL unit of type `kind` in an Annex-B stream.
pub fn find_nal(au: &[u8], kind: u8) -> Option<&[u8]> {
    nal_units(au).find(|n| nal_type(n) == kind)
}

/// What a sequence parameter set says about the pictures that follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sps {
    /// `seq_parameter_set_id` (0 to 31).
    pub id: u32,
    /// `profile_idc`.
    pub profile_idc: u8,
    /// `constraint_set0..5` flags, most significant bit first.
    pub constraint_flags: u8,
    /// `level_idc`.
    pub level_idc: u8,
    /// `chroma_format_idc`: 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    pub chroma_format_idc: u32,
    /// `separate_colour_plane_flag`.
    pub separate_colour_plane: bool,
    /// Luma bit depth (8 to 14).
    pub bit_depth_luma: u32,
    /// `log2_max_frame_num_minus4 + 4`: the bits of `frame_num` in slice headers.
    pub log2_max_frame_num: u32,
    /// `frame_mbs_only_flag`: no picture is coded as fields.
    pub frame_mbs_only: bool,
    /// Display width after cropping.
    pub width: u32,
    /// Display height after cropping.
    pub height: u32,
    /// `(num_units_in_tick, time_scale)` from the VUI, when present and non-zero.
    pub timing: Option<(u32, u32)>,
    /// The sample aspect ratio the VUI declares, other than 1:1.
    pub sample_aspect: Option<(u32, u32)>,
}

impl Sps {
    /// Whether pictures may be coded as fields (PAFF or MBAFF): `frame_mbs_only_flag` is 0.
    pub fn interlaced(&self) -> bool {
        !self.frame_mbs_only
    }
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
///
/// Every field up to the frame cropping must parse and keep within the standard's bounds
/// (pictures up to 16368 pixels a side). The VUI is read leniently, as decoders read it: a
/// VUI that is cut short or declares a zero timing field leaves what it did not give unknown.
pub fn parse_sps(unit: &[u8]) -> Result<Sps, BitstreamError> {
    let payload = unit
        .get(1..)
        .ok_or(BitstreamError::Truncated("empty SPS"))?;
    let rbsp = unescape(payload, HEADER_BYTES);
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
        let cw = (u64::from(l) + u64::from(rt)) * cx;
        let ch = (u64::from(t) + u64::from(b)) * u64::from(cy);
        if cw >= u64::from(width) || ch >= u64::from(height) {
            return Err(BitstreamError::Invalid(
                "cropping removes the whole picture",
            ));
        }
        width -= cw as u32;
        height -= ch as u32;
    }
    let mut sps = Sps {
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
        timing: None,
        sample_aspect: None,
    };
    if r.bit().unwrap_or(false) {
        // A VUI cut short keeps what was read before the cut.
        let _ = parse_vui(&mut r, &mut sps);
    }
    Ok(sps)
}

/// Reads the VUI's sample aspect ratio (other than 1:1) and timing (`num_units_in_tick`,
/// `time_scale`) into `sps`, each as soon as it is read whole.
fn parse_vui(r: &mut BitReader<'_>, sps: &mut Sps) -> Result<(), BitstreamError> {
    if r.bit()? {
        let idc = r.bits(8)? as u8;
        let extended = if idc == 255 {
            Some((r.bits(16)? as u16, r.bits(16)? as u16))
        } else {
            None
        };
        sps.sample_aspect = livepeer_core::rung::sample_aspect(idc, extended);
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
        r.ue()?; // chroma_sample_loc_type_top_field
        r.ue()?; // chroma_sample_loc_type_bottom_field
    }
    if r.bit()? {
        let units = r.bits(32)?;
        let scale = r.bits(32)?;
        if units != 0 && scale != 0 {
            sps.timing = Some((units, scale));
        }
    }
    Ok(())
}

/// The fields of a picture parameter set a slice header needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pps {
    /// `pic_parameter_set_id` (0 to 255).
    pub id: u32,
    /// The `seq_parameter_set_id` it refers to.
    pub sps_id: u32,
}

/// Parses a picture parameter set NAL unit (header byte included).
pub fn parse_pps(unit: &[u8]) -> Result<Pps, BitstreamError> {
    let payload = unit
        .get(1..)
        .ok_or(BitstreamError::Truncated("empty PPS"))?;
    let rbsp = unescape(payload, HEADER_BYTES);
    let mut r = BitReader::new(&rbsp);
    let id = r.ue_max(255, "pic_parameter_set_id above 255")?;
    let sps_id = r.ue_max(31, "seq_parameter_set_id above 31")?;
    Ok(Pps { id, sps_id })
}

/// The start of a slice header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SliceHeader {
    /// `first_mb_in_slice`: 0 for the first slice of a picture.
    pub first_mb: u32,
    /// `slice_type % 5`: 0 P, 1 B, 2 I, 3 SP, 4 SI.
    pub slice_type: u32,
    /// The `pic_parameter_set_id` it refers to.
    pub pps_id: u32,
    /// `field_pic_flag`: the slice codes one field.
    pub field_pic: bool,
}

/// The `slice_type % 5` of a slice NAL unit (header byte included): 0 P, 1 B, 2 I, 3 SP,
/// 4 SI. Needs no parameter set: the type is the header's second field.
pub fn slice_type(unit: &[u8]) -> Result<u32, BitstreamError> {
    let payload = unit
        .get(1..)
        .ok_or(BitstreamError::Truncated("empty slice"))?;
    let rbsp = unescape(payload, 16);
    let mut r = BitReader::new(&rbsp);
    r.ue()?; // first_mb_in_slice
    Ok(r.ue_max(9, "slice_type above 9")? % 5)
}

/// Whether an Annex-B access unit holds a B slice (`slice_type` 1 or 6).
pub fn has_b_slice(au: &[u8]) -> bool {
    nal_units(au)
        .filter(|n| matches!(nal_type(n), nal::SLICE | nal::IDR))
        .any(|n| slice_type(n) == Ok(1))
}

/// Parses the start of the slice header of a slice NAL unit (header byte included). `sps_of`
/// maps a PPS id to the SPS that PPS refers to.
pub fn parse_slice_header<'s>(
    unit: &[u8],
    sps_of: impl Fn(u32) -> Option<&'s Sps>,
) -> Result<SliceHeader, BitstreamError> {
    let payload = unit
        .get(1..)
        .ok_or(BitstreamError::Truncated("empty slice"))?;
    let rbsp = unescape(payload, 64);
    let mut r = BitReader::new(&rbsp);
    let first_mb = r.ue()?;
    let slice_type = r.ue_max(9, "slice_type above 9")? % 5;
    let pps_id = r.ue_max(255, "pic_parameter_set_id above 255")?;
    let sps = sps_of(pps_id).ok_or(BitstreamError::MissingParameterSet)?;
    if sps.separate_colour_plane {
        r.skip(2)?; // colour_plane_id
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

/// Converts a sample of length-prefixed (AVCC) NAL units, each length `len_size` bytes
/// (1 to 4), to Annex-B with 4-byte start codes, appending to `out`.
pub fn avcc_to_annexb(
    sample: &[u8],
    len_size: usize,
    out: &mut Vec<u8>,
) -> Result<(), BitstreamError> {
    if !(1..=4).contains(&len_size) {
        return Err(BitstreamError::Invalid("AVCC length size not 1 to 4 bytes"));
    }
    let mut rest = sample;
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_at_checked(len_size)
            .ok_or(BitstreamError::Truncated("AVCC length"))?;
        let len = len
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        let unit = tail
            .get(..len)
            .ok_or(BitstreamError::Truncated("AVCC NAL longer than its sample"))?;
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(unit);
        rest = &tail[len..];
    }
    Ok(())
}

/// Converts an Annex-B access unit to 4-byte length-prefixed NAL units, dropping access unit
/// delimiters, and parameter sets too when `keep_params` is false.
pub fn annexb_to_avcc(au: &[u8], keep_params: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(au.len() + 16);
    for n in nal_units(au) {
        let t = nal_type(n);
        if t == nal::AUD || (!keep_params && (t == nal::SPS || t == nal::PPS)) {
            continue;
        }
        let len = u32::try_from(n.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(n);
    }
    out
}

/// The SPSs and PPSs of an `avcC` (AVCDecoderConfigurationRecord) as Annex-B, and the size
/// of its samples' NAL lengths.
pub fn avcc_parameter_sets(config: &[u8]) -> Result<(Vec<u8>, usize), BitstreamError> {
    let bad = BitstreamError::Truncated("avcC");
    let len = usize::from(*config.get(4).ok_or(bad.clone())? & 3) + 1;
    let mut out = Vec::new();
    let mut at = 5;
    for mask in [0x1f, 0xff] {
        let n = usize::from(*config.get(at).ok_or(bad.clone())? & mask);
        at += 1;
        for _ in 0..n {
            let l = config.get(at..at + 2).ok_or(bad.clone())?;
            let l = usize::from(u16::from_be_bytes([l[0], l[1]]));
            let unit = config.get(at + 2..at + 2 + l).ok_or(bad.clone())?;
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(unit);
            at += 2 + l;
        }
    }
    Ok((out, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_types_need_no_parameter_set() {
        // first_mb_in_slice 0 ("1"), then slice_type 1 ("010"): a B slice.
        assert_eq!(slice_type(&[0x41, 0xA0]), Ok(1));
        // slice_type 7 ("0001000"): an I slice, all of the picture's slices I.
        assert_eq!(slice_type(&[0x65, 0x88]), Ok(2));
        assert!(slice_type(&[0x41]).is_err());
        assert!(has_b_slice(&[
            0, 0, 0, 1, 0x09, 0x10, 0, 0, 0, 1, 0x41, 0xA0
        ]));
        assert!(!has_b_slice(&[0, 0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x41]));
    }

    #[test]
    fn splits_at_three_and_four_byte_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4,
        ];
        let units: Vec<&[u8]> = nal_units(&data).collect();
        assert_eq!(units, vec![&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4]]);
        assert!(is_keyframe(&data));
        assert_eq!(find_nal(&data, nal::PPS), Some(&[0x68, 3][..]));
        assert_eq!(nal_units(&[1, 2, 3]).count(), 0);
        assert_eq!(nal_units(&[0, 0, 1]).count(), 0);
    }

    #[test]
    fn access_units_start_at_delimiters_and_first_slices() {
        // AUD SPS PPS IDR(first_mb 0) IDR(first_mb 1) | SEI SLICE(0) | SLICE(0) | SPS
        let data = [
            0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0, 1, 0x65, 0x88, 0, 0, 1,
            0x65, 0x40, 0, 0, 1, 0x06, 5, 0, 0, 1, 0x41, 0x9a, 0, 0, 1, 0x41, 0x9b, 0, 0, 1, 0x67,
            3,
        ];
        let aus = access_units(&data);
        let types: Vec<Vec<u8>> = aus
            .iter()
            .map(|au| nal_units(au).map(nal_type).collect())
            .collect();
        assert_eq!(types, vec![vec![9, 7, 8, 5, 5], vec![6, 1], vec![1]]);
        assert!(access_units(&[0, 0, 1, 0x67, 1]).is_empty());
    }

    #[test]
    fn parses_a_baseline_sps() {
        // x264 baseline 320x240, level 1.3, VUI timing 1/60.
        let sps = [
            0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
            0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80,
        ];
        let s = parse_sps(&sps).unwrap();
        assert_eq!((s.profile_idc, s.level_idc), (66, 13));
        assert_eq!((s.width, s.height), (320, 240));
        assert_eq!(s.timing, Some((1, 60)));
        assert!(!s.interlaced());
    }

    #[test]
    fn a_vui_cut_short_leaves_its_fields_unknown() {
        let sps = [
            0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
            0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80,
        ];
        let s = parse_sps(&sps[..12]).unwrap();
        assert_eq!((s.width, s.height, s.timing), (320, 240, None));
    }

    #[test]
    fn sps_parser_never_panics_on_truncation() {
        let sps = [
            0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x02, 0x27, 0xe5, 0xc0,
        ];
        for cut in 0..sps.len() {
            let _ = parse_sps(&sps[..cut]);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for data in [
            &[0x67][..],
            &[0x67, 0x64, 0, 0x1f, 0xff, 0xff, 0xff],
            &[0x80],
            &[],
        ] {
            let _ = parse_sps(data);
            let _ = parse_pps(data);
            let _ = nal_unit_type(data);
            let _ = parse_slice_header(data, |_| None);
        }
        assert!(nal_unit_type(&[0x80]).is_err());
        assert!(parse_sps(&[]).is_err());
    }

    #[test]
    fn avcc_round_trip() {
        let au = [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x65, 1, 2, 3];
        let avcc = annexb_to_avcc(&au, true);
        assert_eq!(avcc, [0, 0, 0, 4, 0x65, 1, 2, 3]);
        let mut back = Vec::new();
        avcc_to_annexb(&avcc, 4, &mut back).unwrap();
        assert_eq!(back, [0, 0, 0, 1, 0x65, 1, 2, 3]);
        assert!(avcc_to_annexb(&[0, 0, 0, 9, 1], 4, &mut back).is_err());
        assert!(avcc_to_annexb(&[0, 0], 4, &mut back).is_err());
        assert!(avcc_to_annexb(&[1, 1], 5, &mut back).is_err());
    }

    #[test]
    fn avcc_config_gives_parameter_sets() {
        let config = [1, 66, 0, 30, 0xff, 0xe1, 0, 2, 0x67, 0x42, 1, 0, 1, 0x68];
        let (sets, len) = avcc_parameter_sets(&config).unwrap();
        assert_eq!(len, 4);
        assert_eq!(sets, [0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68]);
        assert!(avcc_parameter_sets(&config[..9]).is_err());
    }
}
