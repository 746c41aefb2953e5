//! Decoder entries: arbitrary bytes as a segment through livepeer-transcode's demuxers and
//! decoder (MPEG-TS, MP4, Annex-B), and through livepeer-verify's decoder adapter under every
//! container.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    livepeer_transcode::inspect::fuzz_demux_decode(data);
    livepeer_verify::fuzz_entry::decode(data);
});
