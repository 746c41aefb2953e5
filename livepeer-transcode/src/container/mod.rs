//! Containers: MPEG-TS in (livepeer-bitstream's demuxer) and out (hand-written, sans-IO),
//! MP4 in and out, Annex-B in and out (IVF out is livepeer-bitstream's writer), and the
//! demuxed form every backend works from.

pub(crate) mod annexb;
pub(crate) mod mp4;
pub(crate) mod ts_demux;
pub(crate) mod ts_mux;

use bytes::Bytes;

/// One H.264 access unit in decode order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VideoAu {
    /// Annex-B bytes.
    pub data: Bytes,
    /// Presentation time, 90 kHz, unwrapped.
    pub pts: i64,
    /// Decode time, 90 kHz, unwrapped.
    pub dts: i64,
    /// Whether it holds an IDR slice.
    pub keyframe: bool,
}

/// One audio PES payload (ADTS AAC frames), carried to every rendition unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AudioPes {
    /// Presentation time of the first frame, 90 kHz, unwrapped.
    pub pts: i64,
    /// The payload as the source carried it.
    pub data: Bytes,
}

/// What a container's timestamps mean.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Timing {
    /// Stream time, continuous across segments (MPEG-TS).
    #[default]
    Absolute,
    /// Time from the start of this file (MP4).
    Relative,
    /// No timestamps: decode order only (Annex-B).
    None,
}

/// A demuxed input segment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Demuxed {
    /// Video access units in decode order.
    pub video: Vec<VideoAu>,
    /// Audio PES payloads in order, with the PMT stream type they came with.
    pub audio: Vec<AudioPes>,
    /// The PMT stream type of the audio (0x0f for ADTS AAC), when there is audio.
    pub audio_stream_type: Option<u8>,
    /// What the timestamps mean.
    pub timing: Timing,
}

/// Writes AV1 packets as IVF with a 90 kHz time base, keeping the source timestamps so
/// consecutive segments join.
pub(crate) fn ivf_mux(packets: &[crate::frame::Packet], width: u32, height: u32) -> Vec<u8> {
    use livepeer_bitstream::ivf;
    let side = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    let header = ivf::Header::new(
        ivf::AV1,
        side(width),
        side(height),
        crate::frame::TIMESCALE,
        1,
    );
    ivf::write(
        &header,
        packets.iter().map(|p| (p.pts.max(0) as u64, &p.data[..])),
    )
}
