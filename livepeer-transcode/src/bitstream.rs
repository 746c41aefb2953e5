//! H.264 and AAC bitstream helpers: Annex-B NAL iteration, SPS dimensions, AVCC conversion
//! and ADTS headers. Pure functions over bytes; every read is bounds-checked.

use crate::error::{Result, invalid};

/// H.264 NAL unit types this crate looks at.
pub(crate) mod nal {
    /// A slice of a non-IDR picture.
    pub(crate) const SLICE: u8 = 1;
    /// A slice of an IDR picture: a key frame.
    pub(crate) const IDR: u8 = 5;
    /// Supplemental enhancement information.
    pub(crate) const SEI: u8 = 6;
    /// Sequence parameter set.
    pub(crate) const SPS: u8 = 7;
    /// Picture parameter set.
    pub(crate) const PPS: u8 = 8;
    /// Access unit delimiter.
    pub(crate) const AUD: u8 = 9;
}

/// Iterates the NAL units of an Annex-B byte stream (payloads without start codes).
pub(crate) fn nal_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut pos = find_start_code(data, 0).map(|(_, end)| end);
    std::iter::from_fn(move || {
        let start = pos?;
        match find_start_code(data, start) {
            Some((sc, end)) => {
                pos = Some(end);
                Some(trim_trailing_zeros(&data[start..sc]))
            }
            None => {
                pos = None;
                Some(&data[start..])
            }
        }
    })
    .filter(|n| !n.is_empty())
}

fn trim_trailing_zeros(n: &[u8]) -> &[u8] {
    let mut end = n.len();
    while end > 0 && n[end - 1] == 0 {
        end -= 1;
    }
    &n[..end]
}

/// Finds the next `00 00 01` at or after `from`: returns (start of the code, first byte after).
fn find_start_code(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i + 3 <= data.len() {
        if data[i + 2] > 1 {
            i += 3;
        } else if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            return Some((i, i + 3));
        } else {
            i += 1;
        }
    }
    None
}

/// The type of a NAL unit (its first byte's low five bits).
pub(crate) fn nal_type(n: &[u8]) -> u8 {
    n.first().map_or(0, |b| b & 0x1f)
}

/// Whether an Annex-B access unit holds an IDR slice.
pub(crate) fn is_keyframe(au: &[u8]) -> bool {
    nal_units(au).any(|n| nal_type(n) == nal::IDR)
}

/// Converts length-prefixed (AVCC) samples to Annex-B, appending to `out`.
pub(crate) fn avcc_to_annexb(sample: &[u8], len_size: usize, out: &mut Vec<u8>) -> Result<()> {
    let mut rest = sample;
    while !rest.is_empty() {
        if rest.len() < len_size {
            return Err(invalid("truncated AVCC length"));
        }
        let len = rest[..len_size]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        rest = &rest[len_size..];
        let nal = rest
            .get(..len)
            .ok_or_else(|| invalid("AVCC NAL longer than its sample"))?;
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
        rest = &rest[len..];
    }
    Ok(())
}

/// Converts an Annex-B access unit to 4-byte length-prefixed NAL units, dropping AUDs and
/// parameter sets when `keep_params` is false.
pub(crate) fn annexb_to_avcc(au: &[u8], keep_params: bool) -> Vec<u8> {
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

/// The first NAL of `kind` in an Annex-B stream.
pub(crate) fn find_nal(au: &[u8], kind: u8) -> Option<&[u8]> {
    nal_units(au).find(|n| nal_type(n) == kind)
}

/// Removes emulation-prevention bytes (`00 00 03` → `00 00`).
fn unescape(n: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(n.len());
    let mut zeros = 0;
    for &b in n {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// A bounds-checked MSB-first bit reader with Exp-Golomb codes.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32> {
        let byte = self
            .data
            .get(self.pos / 8)
            .ok_or_else(|| invalid("truncated SPS"))?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(u32::from(b))
    }
    fn bits(&mut self, n: u32) -> Result<u32> {
        (0..n).try_fold(0, |acc, _| Ok((acc << 1) | self.bit()?))
    }
    fn ue(&mut self) -> Result<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return Err(invalid("bad Exp-Golomb code in SPS"));
            }
        }
        Ok(((1u64 << zeros) - 1 + u64::from(self.bits(zeros)?)) as u32)
    }
    fn se(&mut self) -> Result<i32> {
        let v = self.ue()?;
        let m = v.div_ceil(2) as i32;
        Ok(if v % 2 == 1 { m } else { -m })
    }
}

/// What the SPS says about the picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpsInfo {
    /// `profile_idc`.
    pub profile_idc: u8,
    /// Display width after cropping.
    pub width: u32,
    /// Display height after cropping.
    pub height: u32,
    /// Whether pictures may be coded as fields (PAFF or MBAFF): `frame_mbs_only_flag` is 0.
    pub interlaced: bool,
    /// The sample aspect ratio the VUI declares, other than 1:1.
    pub sample_aspect: Option<(u32, u32)>,
}

/// Parses the dimensions out of an SPS NAL unit (with its header byte).
pub(crate) fn parse_sps(sps: &[u8]) -> Result<SpsInfo> {
    let raw = unescape(sps);
    let mut r = Bits {
        data: raw.get(1..).ok_or_else(|| invalid("empty SPS"))?,
        pos: 0,
    };
    let profile_idc = r.bits(8)? as u8;
    r.bits(16)?; // constraint flags, level_idc
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            r.bit()?; // separate_colour_plane_flag
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.bit()?; // qpprime_y_zero_transform_bypass_flag
        if r.bit()? == 1 {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit()? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i32, 8i32);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()? + 256) % 256;
                        }
                        last = if next == 0 { last } else { next };
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    let poc_type = r.ue()?;
    if poc_type == 0 {
        r.ue()?;
    } else if poc_type == 1 {
        r.bit()?;
        r.se()?;
        r.se()?;
        let n = r.ue()?;
        if n > 255 {
            return Err(invalid("SPS: too many reference frames in POC cycle"));
        }
        for _ in 0..n {
            r.se()?;
        }
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?; // gaps_in_frame_num_value_allowed_flag
    let w_mbs = u64::from(r.ue()?) + 1;
    let h_map = u64::from(r.ue()?) + 1;
    let frame_mbs_only = u64::from(r.bit()?);
    if frame_mbs_only == 0 {
        r.bit()?; // mb_adaptive_frame_field_flag
    }
    r.bit()?; // direct_8x8_inference_flag
    let mut width = w_mbs * 16;
    let mut height = (2 - frame_mbs_only) * h_map * 16;
    if r.bit()? == 1 {
        let (l, rt, t, b) = (r.ue()?, r.ue()?, r.ue()?, r.ue()?);
        let (cx, cy) = match chroma_format_idc {
            0 => (1, 2 - frame_mbs_only),
            1 => (2, 2 * (2 - frame_mbs_only)),
            2 => (2, 2 - frame_mbs_only),
            _ => (1, 2 - frame_mbs_only),
        };
        let crop_w = cx * (u64::from(l) + u64::from(rt));
        let crop_h = cy * (u64::from(t) + u64::from(b));
        width = width
            .checked_sub(crop_w)
            .ok_or_else(|| invalid("SPS crop wider than the picture"))?;
        height = height
            .checked_sub(crop_h)
            .ok_or_else(|| invalid("SPS crop taller than the picture"))?;
    }
    // VUI: only the sample aspect ratio, its first field. A VUI cut short leaves it unknown.
    let mut sar = || -> Result<Option<(u32, u32)>> {
        if r.bit()? == 0 || r.bit()? == 0 {
            return Ok(None);
        }
        let idc = r.bits(8)? as u8;
        let extended = if idc == 255 {
            Some((r.bits(16)? as u16, r.bits(16)? as u16))
        } else {
            None
        };
        Ok(livepeer_core::rung::sample_aspect(idc, extended))
    };
    let sample_aspect = sar().ok().flatten();
    Ok(SpsInfo {
        profile_idc,
        width: u32::try_from(width).map_err(|_| invalid("SPS width overflows"))?,
        height: u32::try_from(height).map_err(|_| invalid("SPS height overflows"))?,
        interlaced: frame_mbs_only == 0,
        sample_aspect,
    })
}

/// An ADTS header's fields that an MP4 audio track needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Adts {
    /// Audio object type minus one (1 = AAC-LC).
    pub profile: u8,
    /// Sampling frequency index.
    pub freq_index: u8,
    /// Channel configuration.
    pub channels: u8,
    /// Header length (7 or 9).
    pub header_len: usize,
    /// Frame length including the header.
    pub frame_len: usize,
}

/// AAC sampling frequencies by ADTS index.
pub(crate) const AAC_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// Parses the ADTS header at the start of `data`.
pub(crate) fn parse_adts(data: &[u8]) -> Option<Adts> {
    if data.len() < 7 || data[0] != 0xff || data[1] & 0xf0 != 0xf0 {
        return None;
    }
    let protection_absent = data[1] & 1 == 1;
    let frame_len =
        (usize::from(data[3] & 3) << 11) | (usize::from(data[4]) << 3) | usize::from(data[5] >> 5);
    let header_len = if protection_absent { 7 } else { 9 };
    let freq_index = (data[2] >> 2) & 0xf;
    if frame_len < header_len || usize::from(freq_index) >= AAC_RATES.len() {
        return None;
    }
    Some(Adts {
        profile: data[2] >> 6,
        freq_index,
        channels: ((data[2] & 1) << 2) | (data[3] >> 6),
        header_len,
        frame_len,
    })
}

/// Splits ADTS frames: yields (header, raw AAC payload) pairs until the data runs out.
pub(crate) fn adts_frames(mut data: &[u8]) -> impl Iterator<Item = (Adts, &[u8])> {
    std::iter::from_fn(move || {
        let h = parse_adts(data)?;
        let frame = data.get(..h.frame_len)?;
        data = &data[h.frame_len..];
        Some((h, &frame[h.header_len..]))
    })
}

/// Builds a 7-byte ADTS header for a raw AAC frame of `payload_len` bytes.
pub(crate) fn adts_header(
    profile: u8,
    freq_index: u8,
    channels: u8,
    payload_len: usize,
) -> [u8; 7] {
    let len = payload_len + 7;
    [
        0xff,
        0xf1,
        (profile << 6) | (freq_index << 2) | (channels >> 2),
        ((channels & 3) << 6) | ((len >> 11) as u8 & 3),
        (len >> 3) as u8,
        (((len & 7) as u8) << 5) | 0x1f,
        0xfc,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nal_iteration_handles_3_and_4_byte_codes() {
        let s = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4,
        ];
        let v: Vec<&[u8]> = nal_units(&s).collect();
        assert_eq!(v, vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4][..]]);
        assert!(is_keyframe(&s));
        assert_eq!(nal_units(&[1, 2, 3]).count(), 0);
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
    fn avcc_round_trip_and_adts() {
        let au = [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x65, 1, 2, 3];
        let avcc = annexb_to_avcc(&au, true);
        assert_eq!(avcc, [0, 0, 0, 4, 0x65, 1, 2, 3]);
        let mut back = Vec::new();
        avcc_to_annexb(&avcc, 4, &mut back).unwrap();
        assert_eq!(back, [0, 0, 0, 1, 0x65, 1, 2, 3]);
        assert!(avcc_to_annexb(&[0, 0, 0, 9, 1], 4, &mut back).is_err());
        let mut frame = adts_header(1, 4, 2, 3).to_vec();
        frame.extend_from_slice(&[7, 8, 9]);
        let (h, payload) = adts_frames(&frame).next().unwrap();
        assert_eq!(
            (h.profile, h.freq_index, h.channels, payload),
            (1, 4, 2, &[7, 8, 9][..])
        );
    }
}
