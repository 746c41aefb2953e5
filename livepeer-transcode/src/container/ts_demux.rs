//! MPEG-TS demuxer: PAT, PMT, PES reassembly, PTS/DTS. Works on a whole segment in memory;
//! every length is checked, so garbage gives a typed error and never a panic.

use bytes::Bytes;
use livepeer_core::VideoCodec;

use super::{AudioPes, Demuxed, VideoAu, unwrap_ts};
use crate::bitstream;
use crate::error::{Result, TranscodeError, invalid};

/// Size of a transport packet.
pub(crate) const PACKET: usize = 188;

/// PMT stream types.
pub(crate) mod stream_type {
    /// H.264.
    pub(crate) const H264: u8 = 0x1b;
    /// H.265.
    pub(crate) const HEVC: u8 = 0x24;
    /// AAC in ADTS.
    pub(crate) const AAC: u8 = 0x0f;
}

/// The fields of one transport packet this crate uses.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TsPacket<'a> {
    /// Packet id.
    pub pid: u16,
    /// Payload unit start indicator.
    pub start: bool,
    /// The payload after any adaptation field.
    pub payload: &'a [u8],
}

/// Parses one 188-byte packet.
pub(crate) fn parse_packet(p: &[u8]) -> Result<TsPacket<'_>> {
    if p.len() != PACKET || p[0] != 0x47 {
        return Err(invalid("MPEG-TS: lost sync (no 0x47 sync byte)"));
    }
    let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
    let start = p[1] & 0x40 != 0;
    let afc = (p[3] >> 4) & 3;
    let mut off = 4;
    if afc & 2 != 0 {
        off += 1 + usize::from(p[4]);
        if off > PACKET {
            return Err(invalid("MPEG-TS: adaptation field longer than the packet"));
        }
    }
    let payload = if afc & 1 != 0 { &p[off..] } else { &[][..] };
    Ok(TsPacket {
        pid,
        start,
        payload,
    })
}

/// The elementary streams a PMT lists: (pid, stream type).
pub(crate) fn parse_pmt(payload: &[u8]) -> Result<Vec<(u16, u8)>> {
    let sec = section(payload, 2)?;
    let info_len = usize::from(u16::from_be_bytes([sec[10] & 0x0f, sec[11]]));
    let mut i = 12 + info_len;
    let end = sec.len() - 4;
    let mut out = Vec::new();
    while i + 5 <= end {
        let st = sec[i];
        let pid = u16::from_be_bytes([sec[i + 1] & 0x1f, sec[i + 2]]);
        let es_len = usize::from(u16::from_be_bytes([sec[i + 3] & 0x0f, sec[i + 4]]));
        out.push((pid, st));
        i += 5 + es_len;
    }
    Ok(out)
}

/// The PMT pid of the first program a PAT lists.
pub(crate) fn parse_pat(payload: &[u8]) -> Result<Option<u16>> {
    let sec = section(payload, 0)?;
    let end = sec.len() - 4;
    let mut i = 8;
    while i + 4 <= end {
        let program = u16::from_be_bytes([sec[i], sec[i + 1]]);
        if program != 0 {
            return Ok(Some(u16::from_be_bytes([sec[i + 2] & 0x1f, sec[i + 3]])));
        }
        i += 4;
    }
    Ok(None)
}

/// The section of `table_id` in a PSI payload, whole and within the packet.
fn section(payload: &[u8], table_id: u8) -> Result<&[u8]> {
    let ptr = usize::from(*payload.first().ok_or_else(|| invalid("empty PSI"))?);
    let sec = payload
        .get(1 + ptr..)
        .ok_or_else(|| invalid("PSI pointer past the packet"))?;
    if sec.len() < 3 || sec[0] != table_id {
        return Err(invalid(format!("PSI: expected table {table_id}")));
    }
    let len = usize::from(u16::from_be_bytes([sec[1] & 0x0f, sec[2]]));
    let min = if table_id == 2 { 13 } else { 9 };
    if len + 3 > sec.len() || len + 3 < min {
        return Err(invalid("PSI section does not fit one packet"));
    }
    Ok(&sec[..len + 3])
}

/// A parsed PES header: timestamps and where the payload starts.
pub(crate) struct PesHeader {
    /// PTS, 33 bits, when present.
    pub pts: Option<u64>,
    /// DTS, 33 bits, when present.
    pub dts: Option<u64>,
    /// Offset of the elementary stream bytes.
    pub payload_at: usize,
}

/// Parses the header of a PES packet.
pub(crate) fn parse_pes_header(pes: &[u8]) -> Result<PesHeader> {
    if pes.len() < 9 || pes[..3] != [0, 0, 1] {
        return Err(invalid("PES: missing start code"));
    }
    let flags = pes[7] >> 6;
    let payload_at = 9 + usize::from(pes[8]);
    if payload_at > pes.len() {
        return Err(invalid("PES header longer than the packet"));
    }
    let ts = |at: usize| -> Result<u64> {
        let b = pes
            .get(at..at + 5)
            .ok_or_else(|| invalid("PES: truncated timestamp"))?;
        Ok((u64::from(b[0] >> 1) & 7) << 30
            | u64::from(b[1]) << 22
            | u64::from(b[2] >> 1) << 15
            | u64::from(b[3]) << 7
            | u64::from(b[4] >> 1))
    };
    let pts = if flags & 2 != 0 { Some(ts(9)?) } else { None };
    let dts = if flags == 3 { Some(ts(14)?) } else { None };
    Ok(PesHeader {
        pts,
        dts,
        payload_at,
    })
}

fn codec_of(st: u8) -> Option<VideoCodec> {
    match st {
        stream_type::H264 => Some(VideoCodec::H264),
        stream_type::HEVC => Some(VideoCodec::Hevc),
        _ => None,
    }
}

fn is_video_type(st: u8) -> bool {
    matches!(st, 0x01 | 0x02 | 0x10 | 0x1b | 0x24 | 0x42 | 0xea)
}

fn is_audio_type(st: u8) -> bool {
    matches!(st, 0x03 | 0x04 | 0x0f | 0x11 | 0x81 | 0x87)
}

/// Demuxes a whole MPEG-TS segment whose video must be `codec`.
pub(crate) fn demux(data: &[u8], codec: VideoCodec) -> Result<Demuxed> {
    if !data.len().is_multiple_of(PACKET) {
        return Err(invalid(format!(
            "MPEG-TS truncated: {} bytes is not a whole number of 188-byte packets",
            data.len()
        )));
    }
    let mut pmt_pid = None;
    let mut streams: Option<Vec<(u16, u8)>> = None;
    let (mut video_pid, mut audio_pid) = (None, None);
    let mut audio_type = None;
    let mut pes_v: Vec<Vec<u8>> = Vec::new();
    let mut pes_a: Vec<Vec<u8>> = Vec::new();
    for p in data.chunks_exact(PACKET) {
        let pkt = parse_packet(p)?;
        if p[1] & 0x80 != 0 {
            continue; // transport error indicator: the packet is known bad
        }
        if pkt.pid == 0 && pkt.start && pmt_pid.is_none() {
            pmt_pid = parse_pat(pkt.payload)?;
        } else if Some(pkt.pid) == pmt_pid && pkt.start && streams.is_none() {
            let s = parse_pmt(pkt.payload)?;
            let video = s.iter().find(|(_, st)| is_video_type(*st)).copied();
            match video {
                Some((_, st)) if codec_of(st) != Some(codec) => {
                    return Err(TranscodeError::SegmentFormatDidntMatchJobInputParams(
                        format!("job says {codec}, segment carries stream type {st:#04x}"),
                    ));
                }
                Some((pid, _)) => video_pid = Some(pid),
                None => return Err(invalid("MPEG-TS: no video stream in the PMT")),
            }
            if let Some((pid, st)) = s.iter().find(|(_, st)| is_audio_type(*st)) {
                audio_pid = Some(*pid);
                audio_type = Some(*st);
            }
            streams = Some(s);
        } else if Some(pkt.pid) == video_pid || Some(pkt.pid) == audio_pid {
            let list = if Some(pkt.pid) == video_pid {
                &mut pes_v
            } else {
                &mut pes_a
            };
            if pkt.start {
                list.push(Vec::with_capacity(pkt.payload.len() * 8));
            }
            // Payload before the first unit start belongs to a PES of the previous segment.
            if let Some(cur) = list.last_mut() {
                cur.extend_from_slice(pkt.payload);
            }
        }
    }
    if streams.is_none() {
        return Err(invalid("MPEG-TS: no PAT/PMT found"));
    }
    let mut out = Demuxed {
        timing: super::Timing::Absolute,
        audio_stream_type: audio_type,
        ..Demuxed::default()
    };
    let mut reference: Option<i64> = None;
    for pes in &pes_v {
        let h = parse_pes_header(pes)?;
        let Some(pts) = h.pts else {
            return Err(invalid("MPEG-TS: video PES without PTS"));
        };
        let r = *reference.get_or_insert(pts as i64);
        let pts = unwrap_ts(pts, r);
        let dts = h.dts.map_or(pts, |d| unwrap_ts(d, r));
        let es = Bytes::copy_from_slice(&pes[h.payload_at..]);
        if es.is_empty() {
            continue;
        }
        out.video.push(VideoAu {
            keyframe: bitstream::is_keyframe(&es),
            data: es,
            pts,
            dts,
        });
    }
    for pes in &pes_a {
        let Ok(h) = parse_pes_header(pes) else {
            continue; // a damaged audio PES is dropped, not fatal
        };
        let (Some(pts), Some(r)) = (h.pts, reference) else {
            continue;
        };
        out.audio.push(AudioPes {
            pts: unwrap_ts(pts, r),
            data: Bytes::copy_from_slice(&pes[h.payload_at..]),
        });
    }
    Ok(out)
}
