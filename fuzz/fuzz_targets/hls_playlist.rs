//! HLS: arbitrary bytes as an m3u8 playlist, and as a rendition the writer repackages.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    livepeer_transcode::hls::fuzz_playlist(data);
});
