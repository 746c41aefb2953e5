//! Raw H.264 Annex-B input: split into access units. The stream carries no timestamps, so
//! pictures are timed later from the segment duration.

use bytes::Bytes;

use super::{Demuxed, VideoAu};
use crate::error::{Result, invalid};
use livepeer_bitstream::h264;

/// Splits an Annex-B byte stream into access units ([`h264::access_units`]: at AUDs,
/// parameter sets or SEI after a slice, and slices whose `first_mb_in_slice` is zero).
pub(crate) fn demux(data: &[u8]) -> Result<Demuxed> {
    if h264::nal_units(data).next().is_none() {
        return Err(invalid("Annex-B: no start code found"));
    }
    let video = h264::access_units(data)
        .into_iter()
        .enumerate()
        .map(|(i, au)| VideoAu {
            keyframe: h264::is_keyframe(&au),
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
