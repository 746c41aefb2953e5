//! MPEG transport streams (ISO/IEC 13818-1) of a whole segment in memory: packets, the PAT
//! and PMT, PES reassembly per elementary stream, and PES timestamps.
//!
//! [`demux`] gathers the PES packets of every stream the first PMT lists; which stream is
//! the video, and what a missing timestamp means, is the caller's business. Every length is
//! checked, and what it keeps is never more than the input.

use crate::BitstreamError;

/// Size of a transport packet.
pub const PACKET: usize = 188;
/// The sync byte every packet starts with.
pub const SYNC: u8 = 0x47;

/// PMT stream types.
pub mod stream_type {
    /// H.264.
    pub const H264: u8 = 0x1b;
    /// H.265.
    pub const HEVC: u8 = 0x24;
    /// AAC in ADTS.
    pub const AAC: u8 = 0x0f;

    /// Whether a stream type is video (MPEG-1/2, MPEG-4 part 2, H.264, HEVC, AVS, VC-1).
    pub fn is_video(st: u8) -> bool {
        matches!(st, 0x01 | 0x02 | 0x10 | 0x1b | 0x24 | 0x42 | 0xea)
    }

    /// Whether a stream type is audio (MPEG audio, AAC, AC-3, E-AC-3).
    pub fn is_audio(st: u8) -> bool {
        matches!(st, 0x03 | 0x04 | 0x0f | 0x11 | 0x81 | 0x87)
    }
}

/// The fields of one transport packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Packet<'a> {
    /// Packet id.
    pub pid: u16,
    /// Payload unit start indicator: a PES packet or a PSI section starts here.
    pub start: bool,
    /// Transport error indicator: the packet is known to be damaged.
    pub transport_error: bool,
    /// The payload after any adaptation field; `None` when the packet carries none.
    pub payload: Option<&'a [u8]>,
}

/// Parses one 188-byte packet.
pub fn parse_packet(p: &[u8]) -> Result<Packet<'_>, BitstreamError> {
    if p.len() != PACKET || p[0] != SYNC {
        return Err(BitstreamError::Invalid(
            "transport packet without sync byte",
        ));
    }
    let pid = u16::from_be_bytes([p[1], p[2]]) & 0x1fff;
    let afc = (p[3] >> 4) & 3;
    let mut off = 4;
    if afc & 2 != 0 {
        off += 1 + usize::from(p[4]);
        if off > PACKET {
            return Err(BitstreamError::Invalid(
                "adaptation field overruns the packet",
            ));
        }
    }
    Ok(Packet {
        pid,
        start: p[1] & 0x40 != 0,
        transport_error: p[1] & 0x80 != 0,
        payload: (afc & 1 != 0).then(|| &p[off..]),
    })
}

/// The PSI section of `table_id` that starts in the payload of a unit-start packet, whole
/// (header to CRC). Sections spanning packets do not occur in the small tables of a segment
/// and are refused.
pub fn psi_section(payload: &[u8], table_id: u8) -> Result<&[u8], BitstreamError> {
    let ptr = usize::from(*payload.first().ok_or(BitstreamError::Truncated("PSI"))?);
    let sec = payload
        .get(1 + ptr..)
        .ok_or(BitstreamError::Truncated("PSI pointer past the packet"))?;
    if sec.len() < 3 {
        return Err(BitstreamError::Truncated("PSI header"));
    }
    if sec[0] != table_id {
        return Err(BitstreamError::Invalid("PSI section with a wrong table id"));
    }
    let len = usize::from(u16::from_be_bytes([sec[1], sec[2]]) & 0x0fff);
    // The fixed header (8 bytes for a PAT, 12 for a PMT) and the CRC must fit.
    let min = if table_id == 2 { 16 } else { 12 };
    if len + 3 < min {
        return Err(BitstreamError::Invalid(
            "PSI section shorter than its header",
        ));
    }
    sec.get(..3 + len)
        .ok_or(BitstreamError::Truncated("PSI section spans packets"))
}

/// The PMT pid of the first program a PAT lists, from the payload of a unit-start packet.
pub fn parse_pat(payload: &[u8]) -> Result<Option<u16>, BitstreamError> {
    let sec = psi_section(payload, 0)?;
    let body = &sec[8..sec.len() - 4];
    Ok(body
        .chunks_exact(4)
        .find(|e| u16::from_be_bytes([e[0], e[1]]) != 0)
        .map(|e| u16::from_be_bytes([e[2], e[3]]) & 0x1fff))
}

/// One elementary stream a PMT lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EsInfo {
    /// Its packet id.
    pub pid: u16,
    /// Its stream type (see [`stream_type`]).
    pub stream_type: u8,
}

/// The elementary streams a PMT lists, in order, from the payload of a unit-start packet.
pub fn parse_pmt(payload: &[u8]) -> Result<Vec<EsInfo>, BitstreamError> {
    let sec = psi_section(payload, 2)?;
    let end = sec.len() - 4;
    let info_len = usize::from(u16::from_be_bytes([sec[10], sec[11]]) & 0x0fff);
    let mut i = 12 + info_len;
    let mut out = Vec::new();
    while let Some(e) = sec.get(i..i + 5).filter(|_| i + 5 <= end) {
        out.push(EsInfo {
            pid: u16::from_be_bytes([e[1], e[2]]) & 0x1fff,
            stream_type: e[0],
        });
        i += 5 + usize::from(u16::from_be_bytes([e[3], e[4]]) & 0x0fff);
    }
    Ok(out)
}

/// A 33-bit PES timestamp, checking its marker bits.
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

/// A parsed PES packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pes<'a> {
    /// Presentation time in 90 kHz ticks (33 bits, not unwrapped), when present.
    pub pts: Option<u64>,
    /// Decode time, when present (only beside a PTS).
    pub dts: Option<u64>,
    /// The elementary stream bytes.
    pub payload: &'a [u8],
}

/// Parses a whole PES packet: its header's timestamps and its payload.
pub fn parse_pes(pes: &[u8]) -> Result<Pes<'_>, BitstreamError> {
    if pes.len() < 9 || pes[..3] != [0, 0, 1] {
        return Err(BitstreamError::Invalid("PES without a start code"));
    }
    let flags = pes[7] >> 6;
    let header_len = usize::from(pes[8]);
    let header = pes
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
        payload: &pes[9 + header_len..],
    })
}

/// Undoes the 33-bit wrap of a timestamp: the value congruent to `ts` modulo 2^33 that is
/// closest to `reference`.
pub fn unwrap_timestamp(ts: u64, reference: i64) -> i64 {
    const WRAP: i64 = 1 << 33;
    let ts = (ts & (WRAP as u64 - 1)) as i64;
    let base = reference.div_euclid(WRAP).saturating_mul(WRAP);
    [base.saturating_sub(WRAP), base, base.saturating_add(WRAP)]
        .into_iter()
        .map(|b| b.saturating_add(ts))
        .min_by_key(|c| c.abs_diff(reference))
        .unwrap_or(ts)
}

/// What to do with a packet whose transport error indicator is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnTransportError {
    /// Drop the packet, as a player would.
    Skip,
    /// Refuse the stream: a rendition is expected to be clean.
    Reject,
}

/// One elementary stream of a demultiplexed transport stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stream {
    /// Its packet id and stream type.
    pub info: EsInfo,
    /// Its PES packets whole (headers included, see [`parse_pes`]), in stream order. Bytes
    /// before the first unit start belong to a PES of an earlier segment and are dropped.
    pub pes: Vec<Vec<u8>>,
}

/// A demultiplexed transport stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Demuxed {
    /// The streams of the first PMT found, in its order; empty without a PAT and PMT.
    pub streams: Vec<Stream>,
    /// Packets in the whole stream.
    pub packets: usize,
}

impl Demuxed {
    /// The first stream whose type satisfies `pred`.
    pub fn find(&self, pred: impl Fn(u8) -> bool) -> Option<&Stream> {
        self.streams.iter().find(|s| pred(s.info.stream_type))
    }
}

/// Demultiplexes a whole transport stream: the PAT (the first program), its PMT (the first
/// one read), and the PES packets of every stream that PMT lists.
pub fn demux(data: &[u8], on_error: OnTransportError) -> Result<Demuxed, BitstreamError> {
    if data.is_empty() {
        return Err(BitstreamError::Truncated("empty transport stream"));
    }
    if !data.len().is_multiple_of(PACKET) {
        return Err(BitstreamError::Invalid(
            "transport stream length is not a multiple of 188",
        ));
    }
    let mut pmt_pid = None;
    let mut pmt_read = false;
    let mut streams: Vec<Stream> = Vec::new();
    for p in data.chunks_exact(PACKET) {
        let pkt = parse_packet(p)?;
        if pkt.transport_error {
            match on_error {
                OnTransportError::Skip => continue,
                OnTransportError::Reject => {
                    return Err(BitstreamError::Invalid("transport error indicator set"));
                }
            }
        }
        let Some(payload) = pkt.payload else {
            continue;
        };
        if pkt.pid == 0 {
            if pkt.start {
                pmt_pid = parse_pat(payload)?.or(pmt_pid);
            }
        } else if Some(pkt.pid) == pmt_pid && !pmt_read {
            if pkt.start {
                streams = parse_pmt(payload)?
                    .into_iter()
                    .map(|info| Stream {
                        info,
                        pes: Vec::new(),
                    })
                    .collect();
                pmt_read = true;
            }
        } else if let Some(s) = streams.iter_mut().find(|s| s.info.pid == pkt.pid) {
            if pkt.start {
                s.pes.push(Vec::new());
            }
            if let Some(cur) = s.pes.last_mut() {
                cur.extend_from_slice(payload);
            }
        }
    }
    Ok(Demuxed {
        streams,
        packets: data.len() / PACKET,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_misaligned_and_unsynced_input() {
        assert!(demux(&[0x47; 100], OnTransportError::Reject).is_err());
        assert!(demux(&[0u8; 188], OnTransportError::Reject).is_err());
        assert!(demux(&[], OnTransportError::Skip).is_err());
    }

    #[test]
    fn timestamps_decode() {
        let b = [0x21, 0x00, 0x01, 0x00, 0x01];
        assert_eq!(timestamp(&b).unwrap(), 0);
        let b = [0x23, 0x00, 0x01, 0x00, 0x03];
        assert_eq!(timestamp(&b).unwrap(), (1 << 30) | 1);
        assert!(timestamp(&[0u8; 5]).is_err());
    }

    #[test]
    fn a_stream_without_tables_has_no_streams() {
        let mut pkt = [0xffu8; 188];
        pkt[0] = SYNC;
        pkt[1] = 0x1f;
        pkt[2] = 0xff;
        pkt[3] = 0x10;
        let d = demux(&pkt, OnTransportError::Reject).unwrap();
        assert!(d.streams.is_empty());
        assert_eq!(d.packets, 1);
    }

    #[test]
    fn damaged_packets_are_skipped_or_refused() {
        let mut pkt = [0xffu8; 188];
        pkt[..4].copy_from_slice(&[SYNC, 0x9f, 0xff, 0x10]);
        assert!(demux(&pkt, OnTransportError::Reject).is_err());
        assert!(demux(&pkt, OnTransportError::Skip).is_ok());
    }

    #[test]
    fn timestamps_unwrap_across_33_bits() {
        let wrap = 1i64 << 33;
        assert_eq!(unwrap_timestamp(10, wrap - 5), wrap + 10);
        assert_eq!(unwrap_timestamp((wrap - 5) as u64, wrap + 10), wrap - 5);
        assert_eq!(unwrap_timestamp(3000, 0), 3000);
        let near_end = (1u64 << 33) - 1000;
        let a = near_end as i64;
        let b = unwrap_timestamp(2000, a);
        assert_eq!(b - a, 3000);
        assert_eq!(unwrap_timestamp(near_end, b), a);
    }
}
