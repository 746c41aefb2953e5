//! Entry points shared by the fuzz targets and the corpus-replay tests. Not a stable API.
//!
//! The per-format targets (`h264`, `ts`, `ivf`, `mp4`) run livepeer-bitstream's parsers and
//! then [`inspect`] for their container; the `decode` target runs [`decode`]; the
//! `evidence_wire` target runs [`evidence_wire`].

use livepeer_core::Container;

use crate::bitstream::elementary_stream;
use crate::evidence::EvidenceManifest;

/// Every container the inspector reads.
const CONTAINERS: [Container; 5] = [
    Container::MpegTs,
    Container::AnnexB,
    Container::Ivf,
    Container::Mp4,
    Container::Fmp4,
];

/// The bitstream inspector and the elementary-stream extractor on `data` as `container`.
/// Each must return, never panic; what parses must be self-consistent.
pub fn inspect(data: &[u8], container: Container) {
    if let Ok(info) = crate::bitstream::inspect(data, container) {
        assert!(info.frames > 0, "a parsed stream has pictures");
        assert!(info.key_frames.iter().all(|&k| k < info.frames));
        assert!(info.pts.windows(2).all(|w| w[0] <= w[1]));
        let _ = info.bitrate_bps();
    }
    let _ = elementary_stream(data, container);
}

/// The OpenH264 decoder adapter (feature `openh264`; small pictures and a few frames only)
/// on `data` under every container. Never panics; what decodes is consistent.
pub fn decode(data: &[u8]) {
    #[cfg(feature = "openh264")]
    {
        use crate::decode::FrameDecoder;
        let mut limits = livepeer_transcode::InputLimits::default();
        limits.max_pixels = 640 * 480;
        let decoder = crate::openh264::SoftwareDecoder::with_limits(limits);
        for c in CONTAINERS {
            if let Ok(pictures) = decoder.decode(data, c, Some(4)) {
                assert!(pictures.len() <= 4 && pictures.iter().all(|p| p.is_consistent()));
            }
        }
    }
    #[cfg(not(feature = "openh264"))]
    let _ = data;
}

/// Every bitstream parser of this crate on `data`: the inspector under each container and
/// the decoder adapter.
pub fn parse_bitstream(data: &[u8]) {
    for c in CONTAINERS {
        inspect(data, c);
    }
    decode(data);
}

/// The evidence protocol's parsers on `data`, as a request, as an answer and as an evidence
/// manifest. Never panics; what parses re-encodes to the same bytes.
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
    let _ = EvidenceManifest::from_bytes(data);
}
