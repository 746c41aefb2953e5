//! MPEG-TS muxer: PAT and PMT at the start, one PES per picture with PTS/DTS, a PCR in every
//! video PES, and audio PES interleaved by time. The output of one segment depends on that
//! segment alone (continuity counters start at zero), so a re-encode is byte-identical.

use super::AudioPes;
use crate::frame::Packet;
use livepeer_bitstream::ts::{PACKET, stream_type};

/// PID of the program map table.
pub(crate) const PMT_PID: u16 = 0x1000;
/// PID of the video stream.
pub(crate) const VIDEO_PID: u16 = 0x100;
/// PID of the audio stream.
pub(crate) const AUDIO_PID: u16 = 0x101;
/// How far the PCR runs ahead of the first decode time (ffmpeg's default mux delay, 0.7 s).
const PCR_DELAY: i64 = 63_000;
const WRAP: i64 = 1 << 33;

/// Writes MPEG-TS packets for one segment.
pub(crate) struct TsWriter {
    out: Vec<u8>,
    cc: [u8; 4],
}

impl TsWriter {
    /// A writer with its continuity counters at zero.
    pub(crate) fn new(capacity: usize) -> Self {
        TsWriter {
            out: Vec::with_capacity(capacity),
            cc: [0; 4],
        }
    }

    fn next_cc(&mut self, pid: u16) -> u8 {
        let slot = match pid {
            0 => 0,
            PMT_PID => 1,
            VIDEO_PID => 2,
            _ => 3,
        };
        let c = self.cc[slot];
        self.cc[slot] = (c + 1) & 0x0f;
        c
    }

    /// Writes PAT and PMT for H.264 video and, when given, an audio stream type.
    pub(crate) fn write_tables(&mut self, audio_type: Option<u8>) {
        let pat = [0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01];
        let pmt_pid = [0xe0 | (PMT_PID >> 8) as u8, PMT_PID as u8];
        let mut body = pat.to_vec();
        body.extend_from_slice(&pmt_pid);
        self.write_section(0, 0x00, &body);
        let mut pmt = vec![
            0x00,
            0x01,
            0xc1,
            0x00,
            0x00,
            0xe0 | (VIDEO_PID >> 8) as u8,
            VIDEO_PID as u8,
            0xf0,
            0x00,
        ];
        pmt.extend_from_slice(&es_entry(stream_type::H264, VIDEO_PID));
        if let Some(st) = audio_type {
            pmt.extend_from_slice(&es_entry(st, AUDIO_PID));
        }
        self.write_section(PMT_PID, 0x02, &pmt);
    }

    fn write_section(&mut self, pid: u16, table_id: u8, body: &[u8]) {
        // table_id, section_syntax=1, length; then body (from table id extension on), CRC.
        let len = body.len() + 4;
        let mut sec = vec![table_id, 0xb0 | ((len >> 8) as u8 & 0x0f), len as u8];
        sec.extend_from_slice(body);
        let crc = crc32_mpeg(&sec);
        sec.extend_from_slice(&crc.to_be_bytes());
        let mut p = [0xffu8; PACKET];
        let cc = self.next_cc(pid);
        p[..5].copy_from_slice(&[0x47, 0x40 | (pid >> 8) as u8, pid as u8, 0x10 | cc, 0x00]);
        let n = sec.len().min(PACKET - 5);
        p[5..5 + n].copy_from_slice(&sec[..n]);
        self.out.extend_from_slice(&p);
    }

    /// Writes one video picture as a PES, with an access unit delimiter in front and a PCR.
    pub(crate) fn write_video(&mut self, pkt: &Packet, pcr_base: i64) {
        let mut es = Vec::with_capacity(pkt.data.len() + 6);
        es.extend_from_slice(&[0, 0, 0, 1, 0x09, 0xf0]);
        es.extend_from_slice(&pkt.data);
        let header = pes_header(0xe0, Some(pkt.pts), Some(pkt.dts), 0);
        let pcr = (pkt.dts - pcr_base).rem_euclid(WRAP);
        self.write_pes(VIDEO_PID, &header, &es, Some(pcr), pkt.keyframe);
    }

    /// Writes one audio PES as the source carried it.
    pub(crate) fn write_audio(&mut self, a: &AudioPes) {
        let header = pes_header(0xc0, Some(a.pts), None, a.data.len());
        self.write_pes(AUDIO_PID, &header, &a.data, None, false);
    }

    fn write_pes(&mut self, pid: u16, header: &[u8], es: &[u8], pcr: Option<i64>, rai: bool) {
        let mut first = true;
        let mut hdr = header;
        let mut rest = es;
        while first || !rest.is_empty() {
            let mut af: Vec<u8> = Vec::new();
            if first && (pcr.is_some() || rai) {
                af.push(if rai { 0x40 } else { 0 } | if pcr.is_some() { 0x10 } else { 0 });
                if let Some(pcr) = pcr {
                    let b = pcr as u64;
                    af.extend_from_slice(&[
                        (b >> 25) as u8,
                        (b >> 17) as u8,
                        (b >> 9) as u8,
                        (b >> 1) as u8,
                        ((b & 1) << 7) as u8 | 0x7e,
                        0,
                    ]);
                }
            }
            let af_total = if af.is_empty() { 0 } else { 1 + af.len() };
            let room = PACKET - 4 - af_total;
            let avail = hdr.len() + rest.len();
            let (af, af_total) = if avail < room {
                // Stuff the adaptation field so the payload ends exactly at the packet end.
                let mut af = af;
                let need = PACKET - 4 - avail;
                if need == 1 {
                    (af, 1) // a zero-length adaptation field is one byte
                } else {
                    if af.is_empty() {
                        af.push(0);
                    }
                    af.resize(need - 1, 0xff);
                    (af, need)
                }
            } else {
                (af, af_total)
            };
            let cc = self.next_cc(pid);
            let afc = if af_total > 0 { 0x30 } else { 0x10 };
            let start = if first { 0x40 } else { 0 };
            self.out
                .extend_from_slice(&[0x47, start | (pid >> 8) as u8, pid as u8, afc | cc]);
            if af_total > 0 {
                self.out.push((af_total - 1) as u8);
                self.out.extend_from_slice(&af);
            }
            let mut room = PACKET - 4 - af_total;
            let h = hdr.len().min(room);
            self.out.extend_from_slice(&hdr[..h]);
            hdr = &hdr[h..];
            room -= h;
            let n = rest.len().min(room);
            self.out.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            first = false;
        }
    }

    /// The bytes written.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.out
    }
}

fn es_entry(st: u8, pid: u16) -> [u8; 5] {
    [st, 0xe0 | (pid >> 8) as u8, pid as u8, 0xf0, 0x00]
}

fn pes_header(stream_id: u8, pts: Option<i64>, dts: Option<i64>, payload_len: usize) -> Vec<u8> {
    let dts = dts.filter(|d| Some(*d) != pts);
    let hlen = 5 * usize::from(pts.is_some()) + 5 * usize::from(dts.is_some());
    let pes_len = if stream_id == 0xe0 || payload_len + 3 + hlen > 0xffff {
        0
    } else {
        payload_len + 3 + hlen
    };
    let flags = match (pts, dts) {
        (Some(_), Some(_)) => 0xc0,
        (Some(_), None) => 0x80,
        _ => 0,
    };
    let mut h = vec![
        0,
        0,
        1,
        stream_id,
        (pes_len >> 8) as u8,
        pes_len as u8,
        0x80,
        flags,
        hlen as u8,
    ];
    if let Some(p) = pts {
        h.extend_from_slice(&ts_bytes(if dts.is_some() { 3 } else { 2 }, p));
    }
    if let Some(d) = dts {
        h.extend_from_slice(&ts_bytes(1, d));
    }
    h
}

fn ts_bytes(prefix: u8, ts: i64) -> [u8; 5] {
    let t = ts.rem_euclid(WRAP) as u64;
    [
        (prefix << 4) | ((t >> 29) as u8 & 0x0e) | 1,
        (t >> 22) as u8,
        ((t >> 14) as u8 & 0xfe) | 1,
        (t >> 7) as u8,
        ((t << 1) as u8 & 0xfe) | 1,
    ]
}

/// CRC-32/MPEG-2 of PSI sections.
pub(crate) fn crc32_mpeg(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Muxes one segment: tables, then video and audio interleaved by time.
pub(crate) fn mux_segment(video: &[Packet], audio: &[AudioPes], audio_type: Option<u8>) -> Vec<u8> {
    let bytes: usize = video.iter().map(|p| p.data.len()).sum::<usize>()
        + audio.iter().map(|a| a.data.len()).sum::<usize>();
    let mut w = TsWriter::new(bytes + bytes / 20 + 4 * PACKET);
    let audio_type = audio_type.filter(|_| !audio.is_empty());
    w.write_tables(audio_type);
    let first_dts = video.first().map_or(0, |p| p.dts);
    let pcr_base = PCR_DELAY.min(first_dts.max(0));
    let (mut vi, mut ai) = (0, 0);
    while vi < video.len() || ai < audio.len() {
        let take_video = match (video.get(vi), audio.get(ai)) {
            (Some(v), Some(a)) => v.dts <= a.pts,
            (Some(_), None) => true,
            _ => false,
        };
        if take_video {
            w.write_video(&video[vi], pcr_base);
            vi += 1;
        } else if audio_type.is_some() {
            w.write_audio(&audio[ai]);
            ai += 1;
        } else {
            ai += 1;
        }
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::ts_demux;
    use bytes::Bytes;
    use livepeer_core::VideoCodec;

    #[test]
    fn crc_matches_a_known_pat() {
        // PAT of ffmpeg's mpegts muxer: program 1 on PMT pid 0x1000.
        let sec = [
            0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00,
        ];
        assert_eq!(crc32_mpeg(&sec), 0x2ab1_04b2);
    }

    #[test]
    fn mux_then_demux_round_trips() {
        let idr = Bytes::from_static(&[0, 0, 0, 1, 0x65, 0x88, 0x80, 0x10]);
        let p = Bytes::from(vec![0x41u8; 700]);
        let mut video = vec![Packet::new(idr, 126_000, 126_000, true)];
        for i in 1..5 {
            let mut d = vec![0, 0, 0, 1];
            d.extend_from_slice(&p);
            video.push(Packet::new(
                Bytes::from(d),
                126_000 + i * 3000,
                126_000 + i * 3000,
                false,
            ));
        }
        let audio = vec![AudioPes {
            pts: 126_500,
            data: Bytes::from(vec![0xffu8; 300]),
        }];
        let ts = mux_segment(&video, &audio, Some(stream_type::AAC));
        assert_eq!(ts.len() % PACKET, 0);
        let d = ts_demux::demux(&ts, VideoCodec::H264).unwrap();
        assert_eq!(d.video.len(), 5);
        assert!(d.video[0].keyframe);
        assert_eq!(d.video[4].pts, 138_000);
        assert_eq!(&d.video[1].data[6..], &video[1].data[..]);
        assert_eq!(d.audio.len(), 1);
        assert_eq!(d.audio[0].data.len(), 300);
        assert!(matches!(
            ts_demux::demux(&ts, VideoCodec::Hevc),
            Err(crate::error::TranscodeError::SegmentFormatDidntMatchJobInputParams(_))
        ));
    }
}
