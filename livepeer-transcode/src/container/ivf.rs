//! IVF output for AV1: a 32-byte file header and a 12-byte header per frame.

use crate::frame::{Packet, TIMESCALE};

/// Writes AV1 packets as IVF with a 90 kHz time base, keeping the source timestamps so
/// consecutive segments join.
pub(crate) fn mux(packets: &[Packet], width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + packets.iter().map(|p| p.data.len() + 12).sum::<usize>());
    out.extend_from_slice(b"DKIF");
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&32u16.to_le_bytes());
    out.extend_from_slice(b"AV01");
    out.extend_from_slice(&(width as u16).to_le_bytes());
    out.extend_from_slice(&(height as u16).to_le_bytes());
    out.extend_from_slice(&TIMESCALE.to_le_bytes()); // rate
    out.extend_from_slice(&1u32.to_le_bytes()); // scale
    out.extend_from_slice(&(packets.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    for p in packets {
        out.extend_from_slice(&(p.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(p.pts.max(0) as u64).to_le_bytes());
        out.extend_from_slice(&p.data);
    }
    out
}
