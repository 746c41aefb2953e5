//! Containers: MPEG-TS in and out (hand-written, sans-IO), MP4 in and out, IVF and Annex-B
//! out, and the demuxed form every backend works from.

pub(crate) mod annexb;
pub(crate) mod ivf;
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

/// Undoes the 33-bit wrap of `ts` around `reference`: the value congruent to `ts` modulo
/// 2^33 that is closest to `reference`.
pub(crate) fn unwrap_ts(ts: u64, reference: i64) -> i64 {
    const WRAP: i64 = 1 << 33;
    let ts = (ts & (WRAP as u64 - 1)) as i64;
    let base = reference.div_euclid(WRAP) * WRAP;
    [base - WRAP + ts, base + ts, base + WRAP + ts]
        .into_iter()
        .min_by_key(|c| (c - reference).abs())
        .unwrap_or(ts)
}

#[cfg(test)]
mod tests {
    use super::unwrap_ts;

    #[test]
    fn timestamps_unwrap_across_33_bits() {
        let wrap = 1i64 << 33;
        assert_eq!(unwrap_ts(10, wrap - 5), wrap + 10);
        assert_eq!(unwrap_ts((wrap - 5) as u64, wrap + 10), wrap - 5);
        assert_eq!(unwrap_ts(3000, 0), 3000);
    }
}
