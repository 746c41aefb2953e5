//! Fragmented MP4 for HLS (RFC 8216 §3.3): a rendition becomes an initialization section
//! (`ftyp` + `moov`, named by `EXT-X-MAP`) and a media segment (`moof` + `mdat`). AV1 rungs
//! in IVF are repackaged here, since HLS carries AV1 only in fMP4.

use bytes::Bytes;
use livepeer_core::VideoCodec;

use livepeer_bitstream::{av1, ivf};

use crate::container::mp4::mux_fmp4;
use crate::error::{Result, invalid};
use crate::frame::Packet;

/// The top-level boxes of an MP4: `(type, start, end)`. `None` when a size is inconsistent.
fn boxes(data: &[u8]) -> Option<Vec<([u8; 4], usize, usize)>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < data.len() {
        let head = data.get(at..at + 8)?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = [head[4], head[5], head[6], head[7]];
        let size = match size32 {
            0 => data.len() - at,
            1 => {
                let l = data.get(at + 8..at + 16)?;
                usize::try_from(u64::from_be_bytes(l.try_into().ok()?)).ok()?
            }
            n => n,
        };
        if size < 8 {
            return None;
        }
        let end = at.checked_add(size).filter(|&e| e <= data.len())?;
        out.push((kind, at, end));
        at = end;
    }
    Some(out)
}

/// Splits a fragmented MP4 into its initialization section (everything before the first
/// `moof` or `styp`) and its media segment (the rest).
pub(crate) fn split(data: &[u8]) -> Result<(&[u8], &[u8])> {
    let list = boxes(data).ok_or_else(|| invalid("fMP4 rendition: box sizes do not add up"))?;
    let first_media = list
        .iter()
        .find(|(k, _, _)| k == b"moof" || k == b"styp")
        .map(|(_, s, _)| *s)
        .ok_or_else(|| invalid("fMP4 rendition without a fragment"))?;
    if !list.iter().any(|(k, _, _)| k == b"moov") {
        return Err(invalid("fMP4 rendition without a movie box"));
    }
    Ok(data.split_at(first_media))
}

/// Repackages an AV1 IVF rendition (90 kHz timestamps, as livepeer-transcode writes it) as
/// fragmented MP4, keeping its timestamps in `tfdt` so consecutive segments join. A temporal
/// unit that carries a sequence header is a key frame (rav1e repeats it on each one).
pub(crate) fn from_ivf(data: &[u8]) -> Result<Vec<u8>> {
    let bad = |what: &dyn std::fmt::Display| invalid(format!("IVF rendition: {what}"));
    let file = ivf::parse(data, ivf::AV1).map_err(|e| bad(&e))?;
    let mut packets = Vec::with_capacity(file.frames.len());
    for f in &file.frames {
        let pts = file
            .header
            .ticks_90khz(f.pts)
            .ok_or_else(|| bad(&"timestamp out of range"))?;
        let keyframe = packets.is_empty() || av1::sequence_header_obu(f.data).is_some();
        packets.push(Packet::new(
            Bytes::copy_from_slice(f.data),
            pts,
            pts,
            keyframe,
        ));
    }
    if packets.is_empty() {
        return Err(bad(&"no pictures"));
    }
    let (width, height) = (file.header.width, file.header.height);
    mux_fmp4(
        VideoCodec::Av1,
        &packets,
        &[],
        u32::from(width),
        u32::from(height),
    )
}

/// The RFC 6381 codecs string and the coded picture size an initialization section
/// declares: `av01.P.LLT.DD` or `avc1.PPCCLL`, with `mp4a.40.2` when it has AAC audio.
pub(crate) fn codecs(init: &[u8]) -> (Option<String>, Option<(u32, u32)>) {
    // Sample entries and their configuration come after `stsd` (a brand in `ftyp` may
    // spell `av01` too).
    let from = init
        .windows(4)
        .position(|w| w == b"stsd")
        .unwrap_or(init.len());
    let find = |tag: &[u8; 4]| {
        init.get(from..)?
            .windows(4)
            .position(|w| w == tag)
            .map(|p| p + from)
    };
    let be16 = |at: usize| {
        init.get(at..at + 2)
            .map(|b| u32::from(u16::from_be_bytes([b[0], b[1]])))
    };
    // A visual sample entry: 8 bytes of box header, 24 of fields, then width and height.
    let size_at = |entry: usize| {
        let start = entry.checked_sub(4)?;
        Some((be16(start + 32)?, be16(start + 34)?))
    };
    let audio = if find(b"mp4a").is_some() {
        ",mp4a.40.2"
    } else {
        ""
    };
    if let (Some(entry), Some(c)) = (find(b"av01"), find(b"av1C")) {
        let size = size_at(entry);
        let Some(&[_, b1, b2]) = init
            .get(c + 4..c + 7)
            .and_then(|s| <&[u8; 3]>::try_from(s).ok())
        else {
            return (None, size);
        };
        let (profile, level) = (b1 >> 5, b1 & 0x1f);
        let tier = if b2 & 0x80 != 0 { 'H' } else { 'M' };
        let depth = match (b2 & 0x40 != 0, b2 & 0x20 != 0) {
            (true, true) => 12,
            (true, false) => 10,
            _ => 8,
        };
        return (
            Some(format!("av01.{profile}.{level:02}{tier}.{depth:02}{audio}")),
            size,
        );
    }
    if let (Some(entry), Some(c)) = (find(b"avc1"), find(b"avcC")) {
        let size = size_at(entry);
        let Some(&[_, p, k, l]) = init
            .get(c + 4..c + 8)
            .and_then(|s| <&[u8; 4]>::try_from(s).ok())
        else {
            return (None, size);
        };
        return (Some(format!("avc1.{p:02x}{k:02x}{l:02x}{audio}")), size);
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_needs_a_movie_and_a_fragment_and_sane_sizes() {
        let b = |kind: &[u8; 4], body: usize| {
            let mut v = ((8 + body) as u32).to_be_bytes().to_vec();
            v.extend_from_slice(kind);
            v.resize(8 + body, 0);
            v
        };
        let file = [b(b"ftyp", 8), b(b"moov", 16), b(b"moof", 4), b(b"mdat", 10)].concat();
        let (init, media) = split(&file).unwrap();
        assert_eq!((init.len(), media.len()), (40, 30));
        assert!(split(&[b(b"ftyp", 8), b(b"moof", 4)].concat()).is_err());
        assert!(split(&[b(b"ftyp", 8), b(b"moov", 4)].concat()).is_err());
        let mut bad = file.clone();
        bad[3] = 200;
        assert!(split(&bad).is_err());
        assert!(split(&[0, 0, 0, 1, b'f', b't']).is_err());
    }

    #[test]
    fn codecs_read_the_sample_entry_not_a_brand() {
        // ftyp naming the av01 brand, then stsd with an av01 entry of 320x180 and its av1C.
        let mut init = b"\0\0\0\x14ftypiso6\0\0\0\0av01".to_vec();
        init.extend_from_slice(b"\0\0\0\0stsd\0\0\0\0\0\0\0\x01");
        let mut entry = vec![0u8; 86];
        entry[4..8].copy_from_slice(b"av01");
        entry[32..34].copy_from_slice(&320u16.to_be_bytes());
        entry[34..36].copy_from_slice(&180u16.to_be_bytes());
        entry.extend_from_slice(b"\0\0\0\x0cav1C\x81\x08\x0c\0");
        init.extend_from_slice(&entry);
        let (codecs, size) = codecs(&init);
        assert_eq!(codecs.as_deref(), Some("av01.0.08M.08"));
        assert_eq!(size, Some((320, 180)));
    }

    #[test]
    fn ivf_garbage_is_an_error() {
        assert!(from_ivf(b"").is_err());
        assert!(from_ivf(&[0u8; 64]).is_err());
        let mut head = vec![0u8; 32];
        head[..4].copy_from_slice(b"DKIF");
        head[8..12].copy_from_slice(b"AV01");
        head[16] = 1;
        head[20] = 1;
        assert!(from_ivf(&head).is_err(), "no pictures");
        head.extend_from_slice(&[0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert!(from_ivf(&head).is_err(), "truncated");
    }
}
