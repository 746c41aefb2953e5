//! AAC in ADTS: header parsing, frame splitting and header writing, for carrying MPEG-TS
//! audio into MP4 and back. Pure functions over bytes; every read is bounds-checked. (H.264
//! and container headers are parsed by livepeer-bitstream.)

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
    fn adts_round_trip() {
        let mut frame = adts_header(1, 4, 2, 3).to_vec();
        frame.extend_from_slice(&[7, 8, 9]);
        let (h, payload) = adts_frames(&frame).next().unwrap();
        assert_eq!(
            (h.profile, h.freq_index, h.channels, payload),
            (1, 4, 2, &[7, 8, 9][..])
        );
        assert!(parse_adts(&frame[..6]).is_none());
    }
}
