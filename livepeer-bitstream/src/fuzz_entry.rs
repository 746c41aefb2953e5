//! Entry points shared by the fuzz targets and the corpus-replay tests, one per format. Not
//! a stable API. Each must return, never panic, on any input; what parses must be
//! self-consistent, and what converts must convert back.

use std::collections::BTreeMap;

use crate::{MAX_FRAMES, av1, h264, ivf, mp4, ts};

/// H.264 Annex-B: NAL splitting, every parameter set and slice header, and the AVCC
/// conversions both ways.
pub fn h264(data: &[u8]) {
    let (mut sps, mut pps) = (BTreeMap::new(), BTreeMap::new());
    for unit in h264::nal_units(data) {
        assert!(!unit.is_empty() && unit.last() != Some(&0));
        let Ok(t) = h264::nal_unit_type(unit) else {
            continue;
        };
        assert_eq!(t, h264::nal_type(unit));
        match t {
            h264::nal::SPS => {
                if let Ok(s) = h264::parse_sps(unit) {
                    assert!(s.width > 0 && s.width <= 16_368 && s.height > 0);
                    assert!(s.height <= 2 * 16_368);
                    sps.insert(s.id, s);
                }
            }
            h264::nal::PPS => {
                if let Ok(p) = h264::parse_pps(unit) {
                    pps.insert(p.id, p);
                }
            }
            h264::nal::SLICE | h264::nal::IDR => {
                let sps_of = |id| pps.get(&id).and_then(|p: &h264::Pps| sps.get(&p.sps_id));
                if let Ok(sh) = h264::parse_slice_header(unit, sps_of) {
                    assert!(sh.slice_type < 5);
                }
            }
            _ => {}
        }
    }
    // Annex-B → AVCC → Annex-B keeps every unit but the access unit delimiters.
    let avcc = h264::annexb_to_avcc(data, true);
    let mut back = Vec::new();
    assert!(h264::avcc_to_annexb(&avcc, 4, &mut back).is_ok());
    let kept = h264::nal_units(data).filter(|n| h264::nal_type(n) != h264::nal::AUD);
    assert!(kept.eq(h264::nal_units(&back)));
    // The input read as AVCC samples and as an `avcC`.
    for len in 1..=4 {
        let mut out = Vec::new();
        if h264::avcc_to_annexb(data, len, &mut out).is_ok() {
            assert!(out.len() <= data.len() * 5);
        }
    }
    let _ = h264::avcc_parameter_sets(data);
}

/// MPEG-TS: demultiplexing under both transport-error policies, and every PES.
pub fn ts(data: &[u8]) {
    for policy in [ts::OnTransportError::Skip, ts::OnTransportError::Reject] {
        let Ok(d) = ts::demux(data, policy) else {
            continue;
        };
        assert_eq!(d.packets * ts::PACKET, data.len());
        let kept: usize = d.streams.iter().flat_map(|s| &s.pes).map(Vec::len).sum();
        assert!(kept <= data.len());
        let mut reference = None;
        for pes in d.streams.iter().flat_map(|s| &s.pes) {
            if let Ok(p) = ts::parse_pes(pes) {
                assert!(p.payload.len() + 9 <= pes.len());
                if let Some(pts) = p.pts {
                    let r = *reference.get_or_insert(pts as i64);
                    let t = ts::unwrap_timestamp(pts, r);
                    assert!(t.abs_diff(r) <= 1 << 32);
                }
            }
        }
    }
    for p in data.chunks(ts::PACKET) {
        if let Ok(pkt) = ts::parse_packet(p) {
            let _ = ts::parse_pat(pkt.payload.unwrap_or_default());
            let _ = ts::parse_pmt(pkt.payload.unwrap_or_default());
        }
    }
}

/// IVF of AV1 and the OBUs inside: files read back as written, sequence headers, key
/// frames; the input as one temporal unit too.
pub fn ivf(data: &[u8]) {
    if let Ok(f) = ivf::parse(data, ivf::AV1) {
        assert!(f.frames.len() <= MAX_FRAMES as usize);
        let again = ivf::write(&f.header, f.frames.iter().map(|fr| (fr.pts, fr.data)));
        assert_eq!(ivf::parse(&again, ivf::AV1), Ok(f.clone()));
        let mut seq = None;
        for fr in &f.frames {
            temporal_unit(fr.data, &mut seq);
        }
    }
    temporal_unit(data, &mut None);
}

fn temporal_unit(tu: &[u8], seq: &mut Option<av1::SequenceHeader>) {
    let mut covered = 0;
    for obu in av1::obus(tu) {
        let Ok(obu) = obu else { return };
        covered += obu.bytes.len();
        match obu.kind {
            av1::obu_type::SEQUENCE_HEADER => {
                if let Ok(s) = av1::parse_sequence_header(obu.payload) {
                    assert!(s.max_width >= 1 && s.max_height >= 1);
                    *seq = Some(s);
                }
            }
            av1::obu_type::FRAME | av1::obu_type::FRAME_HEADER => {
                if let Some(s) = seq {
                    let _ = av1::is_key_frame(s, obu.payload);
                }
            }
            _ => {}
        }
    }
    assert_eq!(covered, tu.len());
    if let Some(s) = av1::sequence_header_obu(tu) {
        assert!(tu.windows(s.len()).any(|w| w == s));
    }
}

/// MP4 and fragmented MP4: the video track, its configuration and its samples as Annex-B.
pub fn mp4(data: &[u8]) {
    let Ok(v) = mp4::read_video(data) else {
        return;
    };
    assert!(v.samples.len() <= MAX_FRAMES as usize);
    assert!(v.timescale > 0);
    if let Ok((sets, len)) = h264::avcc_parameter_sets(v.config) {
        assert!(sets.len() <= v.config.len() * 3 + 8);
        for s in &v.samples {
            let mut au = Vec::new();
            let _ = h264::avcc_to_annexb(s.data, len, &mut au);
        }
    }
}
