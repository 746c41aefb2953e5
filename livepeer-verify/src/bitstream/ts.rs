//! MPEG transport stream demultiplexing (ISO/IEC 13818-1): packets, the PAT and PMT, and the
//! PES packets of the first video stream, with their timestamps.

use super::BitstreamError;

const PACKET: usize = 188;
const SYNC: u8 = 0x47;

/// Video stream types of a PMT.
pub(crate) const STREAM_TYPE_H264: u8 = 0x1b;
pub(crate) const STREAM_TYPE_HEVC: u8 = 0x24;

/// One PES packet of the video stream: an access unit in practice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pes {
    /// Presentation time in 90 kHz ticks (33 bits, not unwrapped).
    pub(crate) pts: Option<u64>,
    /// Decode time, when it differs from `pts`.
    pub(crate) dts: Option<u64>,
    /// The elementary stream bytes.
    pub(crate) payload: Vec<u8>,
}

/// The video stream of a transport stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VideoStream {
    /// The PMT stream type.
    pub(crate) stream_type: u8,
    /// Its PES packets, in stream order.
    pub(crate) pes: Vec<Pes>,
    /// Packets in the whole stream.
    pub(crate) packets: usize,
}

fn section(payload: &[u8], pusi: bool) -> Result<&[u8], BitstreamError> {
    // A section starts after the pointer field when the unit starts here.
    let start = if pusi {
        1 + usize::from(*payload.first().ok_or(BitstreamError::Truncated("PSI"))?)
    } else {
        0
    };
    let s = payload
        .get(start..)
        .ok_or(BitstreamError::Truncated("PSI pointer"))?;
    if s.len() < 3 {
        return Err(BitstreamError::Truncated("PSI header"));
    }
    let len = usize::from(u16::from_be_bytes([s[1], s[2]]) & 0x0fff);
    // Sections spanning packets do not occur in the small tables of a segment.
    s.get(..3 + len)
        .ok_or(BitstreamError::Truncated("PSI section spans packets"))
}

fn parse_pat(sec: &[u8]) -> Result<Option<u16>, BitstreamError> {
    if sec[0] != 0x00 {
        return Err(BitstreamError::Invalid("PAT with a wrong table id"));
    }
    // 8 header bytes, then 4-byte entries, then CRC32.
    let body = sec
        .get(8..sec.len().saturating_sub(4))
        .ok_or(BitstreamError::Truncated("PAT"))?;
    Ok(body
        .chunks_exact(4)
        .find(|e| u16::from_be_bytes([e[0], e[1]]) != 0)
        .map(|e| u16::from_be_bytes([e[2], e[3]]) & 0x1fff))
}

fn parse_pmt(sec: &[u8]) -> Result<Option<(u16, u8)>, BitstreamError> {
    if sec[0] != 0x02 {
        return Err(BitstreamError::Invalid("PMT with a wrong table id"));
    }
    let end = sec.len().saturating_sub(4);
    let info_len = usize::from(
        u16::from_be_bytes([
            *sec.get(10).ok_or(BitstreamError::Truncated("PMT"))?,
            *sec.get(11).ok_or(BitstreamError::Truncated("PMT"))?,
        ]) & 0x0fff,
    );
    let mut i = 12 + info_len;
    while i + 5 <= end {
        let stream_type = sec[i];
        let pid = u16::from_be_bytes([sec[i + 1], sec[i + 2]]) & 0x1fff;
        let es_len = usize::from(u16::from_be_bytes([sec[i + 3], sec[i + 4]]) & 0x0fff);
        if matches!(stream_type, STREAM_TYPE_H264 | STREAM_TYPE_HEVC) {
            return Ok(Some((pid, stream_type)));
        }
        i += 5 + es_len;
    }
    Ok(None)
}

fn timestamp(b: &[u8]) -> Result<u64, BitstreamError> {
    if b.len() < 5 || b[0] & 1 == 0 || b[2] & 1 == 0 || b[4] & 1 == 0 {
        return Err(BitstreamError::Invalid("PES timestamp without marker bits"));
    }
    Ok((u64::from(b[0] >> 1) & 0x07) << 30
        | u64::from(b[1]) << 22
        | u64::from(b[2] >> 1) << 15
        | u64::from(b[3]) << 7
        | u64::from(b[4] >> 1))
}

fn finish_pes(buf: &[u8]) -> Result<Pes, BitstreamError> {
    if buf.len() < 9 || buf[..3] != [0, 0, 1] {
        return Err(BitstreamError::Invalid("PES without a start code"));
    }
    let flags = buf[7] >> 6;
    let header_len = usize::from(buf[8]);
    let header = buf
        .get(9..9 + header_len)
        .ok_or(BitstreamError::Truncated("PES header"))?;
    let (pts, dts) = match flags {
        0b10 => (Some(timestamp(header)?), None),
        0b11 => (
            Some(timestamp(header)?),
            Some(timestamp(header.get(5..).unwrap_or_default())?),
        ),
        0b00 => (None, None),
        _ => return Err(BitstreamError::Invalid("PES with DTS but no PTS")),
    };
    Ok(Pes {
        pts,
        dts,
        payload: buf[9 + header_len..].to_vec(),
    })
}

/// Demultiplexes the first H.264 or HEVC stream of a transport stream.
pub(crate) fn demux_video(data: &[u8]) -> Result<VideoStream, BitstreamError> {
    if data.is_empty() {
        return Err(BitstreamError::Truncated("empty transport stream"));
    }
    if !data.len().is_multiple_of(PACKET) {
        return Err(BitstreamError::Invalid(
            "transport stream length is not a multiple of 188",
        ));
    }
    let (mut pmt_pid, mut video): (Option<u16>, Option<(u16, u8)>) = (None, None);
    let mut pes = Vec::new();
    let mut buf: Option<Vec<u8>> = None;
    for pkt in data.chunks_exact(PACKET) {
        if pkt[0] != SYNC {
            return Err(BitstreamError::Invalid(
                "transport packet without sync byte",
            ));
        }
        if pkt[1] & 0x80 != 0 {
            return Err(BitstreamError::Invalid("transport error indicator set"));
        }
        let pusi = pkt[1] & 0x40 != 0;
        let pid = u16::from_be_bytes([pkt[1], pkt[2]]) & 0x1fff;
        let afc = (pkt[3] >> 4) & 0x3;
        let payload = match afc {
            0b01 => &pkt[4..],
            0b11 => {
                let af_len = usize::from(pkt[4]);
                pkt.get(5 + af_len..).ok_or(BitstreamError::Invalid(
                    "adaptation field overruns the packet",
                ))?
            }
            _ => continue,
        };
        if pid == 0 && pusi {
            pmt_pid = parse_pat(section(payload, pusi)?)?.or(pmt_pid);
        } else if Some(pid) == pmt_pid && pusi && video.is_none() {
            video = parse_pmt(section(payload, pusi)?)?;
        } else if let Some((vpid, _)) = video
            && pid == vpid
        {
            if pusi {
                if let Some(b) = buf.take() {
                    pes.push(finish_pes(&b)?);
                }
                buf = Some(payload.to_vec());
            } else if let Some(b) = buf.as_mut() {
                b.extend_from_slice(payload);
            }
        }
    }
    if let Some(b) = buf.take() {
        pes.push(finish_pes(&b)?);
    }
    let (_, stream_type) = video.ok_or(BitstreamError::NoVideo)?;
    Ok(VideoStream {
        stream_type,
        pes,
        packets: data.len() / PACKET,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_misaligned_and_unsynced_input() {
        assert!(demux_video(&[0x47; 100]).is_err());
        assert!(demux_video(&[0u8; 188]).is_err());
        assert!(demux_video(&[]).is_err());
    }

    #[test]
    fn timestamps_decode() {
        // PTS 0x1_0000_0001 style: marker bits set.
        let b = [0x21, 0x00, 0x01, 0x00, 0x01];
        assert_eq!(timestamp(&b).unwrap(), 0);
        let b = [0x23, 0x00, 0x01, 0x00, 0x03];
        assert_eq!(timestamp(&b).unwrap(), (1 << 30) | 1);
        assert!(timestamp(&[0u8; 5]).is_err());
    }

    #[test]
    fn a_stream_without_tables_has_no_video() {
        let mut pkt = [0xffu8; 188];
        pkt[0] = SYNC;
        pkt[1] = 0x1f;
        pkt[2] = 0xff;
        pkt[3] = 0x10;
        assert_eq!(demux_video(&pkt), Err(BitstreamError::NoVideo));
    }
}
