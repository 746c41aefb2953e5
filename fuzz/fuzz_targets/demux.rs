//! Demuxer and decoder entry: arbitrary bytes as an MPEG-TS, MP4 and Annex-B segment.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    livepeer_transcode::inspect::fuzz_demux_decode(data);
});
