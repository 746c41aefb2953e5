//! The video stream of an MPEG transport stream, demultiplexed by livepeer-bitstream: the
//! PES packets of the first H.264 or HEVC stream, with their timestamps. A rendition is
//! expected to be clean, so a damaged packet or PES is an error.

use livepeer_bitstream::ts::{self, OnTransportError, stream_type};

use super::BitstreamError;

/// One PES packet of the video stream: an access unit in practice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pes {
    /// Presentation time in 90 kHz ticks (33 bits, not unwrapped).
    pub(crate) pts: Option<u64>,
    /// The elementary stream bytes.
    pub(crate) payload: Vec<u8>,
}

/// The video stream of a transport stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VideoStream {
    /// The PMT stream type.
    pub(crate) stream_type: u8,
    /// Its PES packets, in stream order.
    pub(crate) pes: Vec<Pes>,
}

/// Demultiplexes the first H.264 or HEVC stream of a transport stream.
pub(crate) fn demux_video(data: &[u8]) -> Result<VideoStream, BitstreamError> {
    let d = ts::demux(data, OnTransportError::Reject)?;
    let video = d
        .find(|st| matches!(st, stream_type::H264 | stream_type::HEVC))
        .ok_or(BitstreamError::NoVideo)?;
    let pes = video
        .pes
        .iter()
        .map(|raw| {
            let p = ts::parse_pes(raw)?;
            Ok(Pes {
                pts: p.pts,
                payload: p.payload.to_vec(),
            })
        })
        .collect::<Result<_, BitstreamError>>()?;
    Ok(VideoStream {
        stream_type: video.info.stream_type,
        pes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_misaligned_and_unsynced_input() {
        assert!(demux_video(&[0x47; 100]).is_err());
        assert!(demux_video(&[0u8; 188]).is_err());
        assert!(demux_video(&[]).is_err());
    }

    #[test]
    fn a_stream_without_tables_has_no_video() {
        let mut pkt = [0xffu8; 188];
        pkt[0] = 0x47;
        pkt[1] = 0x1f;
        pkt[2] = 0xff;
        pkt[3] = 0x10;
        assert_eq!(demux_video(&pkt), Err(BitstreamError::NoVideo));
    }
}
