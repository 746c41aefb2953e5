//! Cuts a continuous MPEG-TS (or a whole MP4) byte stream at key frames into segments of a
//! target duration, so a broadcaster can feed a live stream. Sans-IO: push bytes, poll
//! segments.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use livepeer_core::media::MAX_SEGMENT_BYTES;
use livepeer_core::{Container, Segment, VideoCodec};

use livepeer_bitstream::h264;
use livepeer_bitstream::ts::{self, PACKET};

use crate::container::{self, ts_mux};
use crate::error::{Result, invalid, unsupported};
use crate::frame::{Packet, TIMESCALE};

/// How to cut.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SegmenterConfig {
    /// Cut at the first key frame at or after this much media since the last cut.
    pub target: Duration,
    /// The input format: MPEG-TS (cut as it streams) or MP4 (cut when finished).
    pub container: Container,
    /// Largest segment; a stream with no key frame for this long is an error.
    pub max_segment_bytes: usize,
}

impl Default for SegmenterConfig {
    /// 2 s segments from MPEG-TS.
    fn default() -> Self {
        SegmenterConfig {
            target: Duration::from_secs(2),
            container: Container::MpegTs,
            max_segment_bytes: MAX_SEGMENT_BYTES,
        }
    }
}

/// The segmenter. Output segments are MPEG-TS, each starting with PAT, PMT and a key frame.
///
/// Call [`push`](Self::push) with bytes as they arrive, then drain
/// [`poll_segment`](Self::poll_segment) until `None`; at the end of the stream call
/// [`finish`](Self::finish) and drain again.
#[derive(Debug)]
pub struct Segmenter {
    cfg: SegmenterConfig,
    partial: Vec<u8>,
    tables: Vec<u8>,
    pmt_pid: Option<u16>,
    video_pid: Option<u16>,
    current: Vec<u8>,
    pending: Vec<u8>,
    pending_video: Vec<u8>,
    start_pts: Option<i64>,
    last_pts: Option<i64>,
    step: i64,
    recent: Vec<i64>,
    seq: u64,
    ready: VecDeque<Segment>,
    finished: bool,
}

impl Segmenter {
    /// A segmenter starting at sequence number 0.
    pub fn new(cfg: SegmenterConfig) -> Self {
        Segmenter {
            cfg,
            partial: Vec::new(),
            tables: Vec::new(),
            pmt_pid: None,
            video_pid: None,
            current: Vec::new(),
            pending: Vec::new(),
            pending_video: Vec::new(),
            start_pts: None,
            last_pts: None,
            step: 3000,
            recent: Vec::with_capacity(32),
            seq: 0,
            ready: VecDeque::new(),
            finished: false,
        }
    }

    /// Feeds bytes of the stream.
    pub fn push(&mut self, data: &[u8]) -> Result<()> {
        if self.finished {
            return Err(invalid("segmenter already finished"));
        }
        match self.cfg.container {
            Container::MpegTs => {}
            Container::Mp4 => {
                if self.partial.len() + data.len() > self.cfg.max_segment_bytes {
                    return Err(invalid("MP4 input larger than the segmenter's bound"));
                }
                self.partial.extend_from_slice(data);
                return Ok(());
            }
            other => return Err(unsupported(format!("segmenting {other}"))),
        }
        self.partial.extend_from_slice(data);
        let whole = self.partial.len() / PACKET * PACKET;
        let bytes = std::mem::take(&mut self.partial);
        for p in bytes[..whole].chunks_exact(PACKET) {
            self.packet(p)?;
        }
        self.partial = bytes[whole..].to_vec();
        Ok(())
    }

    /// Ends the stream: the last segment becomes available.
    pub fn finish(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        if self.cfg.container == Container::Mp4 {
            let data = std::mem::take(&mut self.partial);
            return self.cut_mp4(&data);
        }
        self.close_pes()?;
        self.current.append(&mut self.pending);
        if let Some(start) = self.start_pts {
            let end = self.last_pts.map_or(start, |l| l + self.step);
            self.emit(end - start);
        }
        Ok(())
    }

    /// The next finished segment, if any.
    #[must_use]
    pub fn poll_segment(&mut self) -> Option<Segment> {
        self.ready.pop_front()
    }

    fn packet(&mut self, p: &[u8]) -> Result<()> {
        let pkt = ts::parse_packet(p)?;
        let payload = pkt.payload.unwrap_or_default();
        if pkt.pid == 0 {
            if pkt.start {
                self.pmt_pid = ts::parse_pat(payload)?.or(self.pmt_pid);
                self.tables.clear();
                self.tables.extend_from_slice(p);
            }
            return Ok(());
        }
        if Some(pkt.pid) == self.pmt_pid {
            if pkt.start {
                let streams = ts::parse_pmt(payload)?;
                if let Some(s) = streams
                    .iter()
                    .find(|s| s.stream_type == ts::stream_type::H264)
                {
                    self.video_pid = Some(s.pid);
                }
                self.tables.truncate(PACKET);
                self.tables.extend_from_slice(p);
            }
            return Ok(());
        }
        if Some(pkt.pid) == self.video_pid && pkt.start {
            self.close_pes()?;
        }
        if Some(pkt.pid) == self.video_pid {
            self.pending_video.extend_from_slice(payload);
        }
        self.pending.extend_from_slice(p);
        if self.current.len() + self.pending.len() > self.cfg.max_segment_bytes {
            return Err(invalid("no key frame within the segment size bound"));
        }
        Ok(())
    }

    /// A video PES is complete: decide whether the segment is cut before it.
    fn close_pes(&mut self) -> Result<()> {
        if self.pending_video.is_empty() {
            self.current.append(&mut self.pending);
            return Ok(());
        }
        let pes = std::mem::take(&mut self.pending_video);
        let Ok(h) = ts::parse_pes(&pes) else {
            self.current.append(&mut self.pending);
            return Ok(());
        };
        let reference = self.last_pts.unwrap_or(0);
        let pts = h.pts.map(|p| ts::unwrap_timestamp(p, reference));
        let key = h264::is_keyframe(h.payload);
        if let Some(p) = pts {
            // The frame step is the smallest gap between recent presentation times (decode
            // order jumps ahead by several frames at each reference picture).
            if self.recent.len() == 32 {
                self.recent.remove(0);
            }
            self.recent.push(p);
            let mut sorted = self.recent.clone();
            sorted.sort_unstable();
            if let Some(gap) = sorted
                .windows(2)
                .map(|w| w[1] - w[0])
                .filter(|g| *g > 0)
                .min()
            {
                self.step = gap.clamp(1, i64::from(TIMESCALE));
            }
        }
        match (pts, self.start_pts) {
            (Some(pts), None) if key => {
                self.current.clear(); // nothing decodable came before the first key frame
                self.start_pts = Some(pts);
            }
            (Some(pts), Some(start)) if key && pts - start >= self.target_ticks() => {
                self.emit(pts - start);
                self.start_pts = Some(pts);
            }
            _ => {}
        }
        if let Some(p) = pts {
            self.last_pts = Some(self.last_pts.map_or(p, |l| l.max(p)));
        }
        if self.start_pts.is_some() {
            self.current.append(&mut self.pending);
        } else {
            self.pending.clear();
        }
        Ok(())
    }

    fn target_ticks(&self) -> i64 {
        i64::try_from(self.cfg.target.as_micros() * 9 / 100).unwrap_or(i64::MAX)
    }

    fn emit(&mut self, ticks: i64) {
        let body = std::mem::take(&mut self.current);
        if body.is_empty() {
            return;
        }
        let mut data = Vec::with_capacity(self.tables.len() + body.len());
        data.extend_from_slice(&self.tables);
        data.extend_from_slice(&body);
        self.push_segment(data, ticks);
    }

    fn push_segment(&mut self, data: Vec<u8>, ticks: i64) {
        let duration = Duration::from_micros((ticks.max(1) as u64) * 100 / 9);
        self.ready.push_back(Segment {
            seq: self.seq,
            duration,
            data: Bytes::from(data),
            container: Container::MpegTs,
            codec: VideoCodec::H264,
        });
        self.seq += 1;
    }

    fn cut_mp4(&mut self, data: &[u8]) -> Result<()> {
        let media = container::mp4::demux(data, VideoCodec::H264)?;
        let target = self.target_ticks();
        let step = media
            .video
            .windows(2)
            .map(|w| (w[1].dts - w[0].dts).max(1))
            .min()
            .unwrap_or(3000);
        // Shift so presentation starts at 1.4 s, as ffmpeg does, keeping DTS >= 0.
        let shift = 126_000
            - media
                .video
                .iter()
                .map(|a| a.pts.min(a.dts))
                .min()
                .unwrap_or(0);
        let mut starts: Vec<usize> = Vec::new();
        let mut start_pts = None;
        for (i, au) in media.video.iter().enumerate() {
            if au.keyframe && start_pts.is_none_or(|s| au.pts - s >= target) {
                starts.push(i);
                start_pts = Some(au.pts);
            }
        }
        for (k, &from) in starts.iter().enumerate() {
            let to = starts.get(k + 1).copied().unwrap_or(media.video.len());
            let aus = &media.video[from..to];
            let packets: Vec<Packet> = aus
                .iter()
                .map(|a| Packet::new(a.data.clone(), a.pts + shift, a.dts + shift, a.keyframe))
                .collect();
            let t0 = aus.iter().map(|a| a.pts).min().unwrap_or(0);
            let t1 = match media.video.get(to) {
                Some(next) => next.pts,
                None => aus.iter().map(|a| a.pts).max().unwrap_or(t0) + step,
            };
            let audio: Vec<_> = media
                .audio
                .iter()
                .filter(|a| a.pts >= t0 && (a.pts < t1 || to == media.video.len()))
                .map(|a| container::AudioPes {
                    pts: a.pts + shift,
                    data: a.data.clone(),
                })
                .collect();
            let ts = ts_mux::mux_segment(&packets, &audio, media.audio_stream_type);
            self.push_segment(ts, t1 - t0);
        }
        if starts.is_empty() {
            return Err(crate::error::TranscodeError::NoKeyframe);
        }
        Ok(())
    }
}
