//! Raw H.264 Annex-B input: split into access units. The stream carries no timestamps, so
//! pictures are timed later from the segment duration.

use bytes::Bytes;

use super::{Demuxed, VideoAu};
use crate::bitstream::{self, nal};
use crate::error::{Result, invalid};

/// Splits an Annex-B byte stream into access units (at AUDs, parameter sets or SEI after a
/// slice, and slices whose `first_mb_in_slice` is zero).
pub(crate) fn demux(data: &[u8]) -> Result<Demuxed> {
    let mut aus: Vec<Vec<u8>> = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut cur_has_slice = false;
    let mut any = false;
    for n in bitstream::nal_units(data) {
        any = true;
        let t = bitstream::nal_type(n);
        let is_slice = t == nal::SLICE || t == nal::IDR;
        // first_mb_in_slice is ue(v) at the start of the slice header: a leading 1 bit is 0.
        let first_mb_zero = is_slice && n.get(1).is_some_and(|b| b & 0x80 != 0);
        let starts_new = cur_has_slice
            && (matches!(t, nal::AUD | nal::SPS | nal::PPS | nal::SEI) || first_mb_zero);
        if starts_new {
            aus.push(std::mem::take(&mut cur));
            cur_has_slice = false;
        }
        cur.extend_from_slice(&[0, 0, 0, 1]);
        cur.extend_from_slice(n);
        cur_has_slice |= is_slice;
    }
    if !any {
        return Err(invalid("Annex-B: no start code found"));
    }
    if cur_has_slice {
        aus.push(cur);
    }
    let video = aus
        .into_iter()
        .enumerate()
        .map(|(i, au)| VideoAu {
            keyframe: bitstream::is_keyframe(&au),
            data: Bytes::from(au),
            pts: i as i64,
            dts: i as i64,
        })
        .collect();
    Ok(Demuxed {
        video,
        timing: super::Timing::None,
        ..Demuxed::default()
    })
}

/// Writes packets as one Annex-B stream (the parameter sets are already in-band).
pub(crate) fn mux(packets: &[crate::frame::Packet]) -> Vec<u8> {
    let mut out = Vec::with_capacity(packets.iter().map(|p| p.data.len() + 6).sum());
    for p in packets {
        out.extend_from_slice(&[0, 0, 0, 1, 0x09, 0xf0]);
        out.extend_from_slice(&p.data);
    }
    out
}
