//! Entry points shared by the fuzz targets and the corpus-replay tests. Not a stable API.

use livepeer_core::Container;

use crate::bitstream::{elementary_stream, inspect};
use crate::evidence::EvidenceManifest;

/// Runs every parser of outside bytes in this crate on `data`: the bitstream inspector under
/// each container, the elementary-stream extractor, the OpenH264 decoder adapter (feature
/// `openh264`, small pictures and a few frames only), and the evidence manifest. Each must
/// return, never panic; what parses must be self-consistent.
pub fn parse_bitstream(data: &[u8]) {
    for c in [
        Container::MpegTs,
        Container::AnnexB,
        Container::Ivf,
        Container::Mp4,
        Container::Fmp4,
    ] {
        if let Ok(info) = inspect(data, c) {
            assert!(info.frames > 0, "a parsed stream has pictures");
            assert!(info.key_frames.iter().all(|&k| k < info.frames));
            assert!(info.pts.windows(2).all(|w| w[0] <= w[1]));
            let _ = info.bitrate_bps();
        }
        let _ = elementary_stream(data, c);
        #[cfg(feature = "openh264")]
        {
            use crate::decode::FrameDecoder;
            let mut limits = livepeer_transcode::InputLimits::default();
            limits.max_pixels = 640 * 480;
            let decoder = crate::openh264::SoftwareDecoder::with_limits(limits);
            if let Ok(pictures) = decoder.decode(data, c, Some(4)) {
                assert!(pictures.len() <= 4 && pictures.iter().all(|p| p.is_consistent()));
            }
        }
    }
    let _ = EvidenceManifest::from_bytes(data);
}

/// The evidence protocol's parsers on `data`, as a request and as an answer. Never panics;
/// what parses re-encodes to the same bytes.
pub fn evidence_wire(data: &[u8]) {
    if let Ok(r) = crate::net::wire::Request::parse(data) {
        assert_eq!(crate::net::wire::Request::parse(&r.encode()), Ok(r));
    }
    if let Ok(r) = crate::net::wire::Response::parse(bytes::Bytes::copy_from_slice(data), 1 << 16) {
        // A parsed answer re-encodes to what was parsed (error text only up to its
        // lossless part).
        if !matches!(r, crate::net::wire::Response::Failed(_)) {
            assert_eq!(r.encode(), data);
        }
    }
}
