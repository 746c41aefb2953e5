//! One segment through the software pipeline: demux, decode once and scale each rendition
//! on the calling thread, encode each rendition on worker threads, mux.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use livepeer_bitstream::h264;
use livepeer_core::media::MAX_SEGMENT_DURATION;
use livepeer_core::rung::{FrameSelector, RungOutput, SourceShape};
use livepeer_core::transcode::{Rendition, TranscodeJob};
use livepeer_core::{Container, Framerate, Pixels, VideoCodec, VideoProfile};

use crate::container::{self, Demuxed, Timing};
use crate::decode::{Output, VideoDecoder};
use crate::encode::VideoEncoder;
use crate::error::{Result, TranscodeError, backend, invalid, unsupported};
use crate::frame::{Frame, Packet, TIMESCALE};
use crate::scale::Scaler;

/// Pictures in flight between the decoder and each worker: bounds memory.
const CHANNEL_DEPTH: usize = 4;

/// Makes the encoder of a rendition at a frame rate.
pub(crate) type EncoderFactory =
    dyn Fn(&VideoProfile, Framerate) -> Result<Box<dyn VideoEncoder>> + Send + Sync;

/// A demuxed segment with stream timestamps, ready to decode.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// Access units from the first key frame on, with stream timestamps.
    pub media: Demuxed,
    /// The source frame rate, from the timestamps.
    pub fps: Framerate,
    /// The source's picture size (from its first SPS) and frame rate: what every rung's
    /// output is computed from.
    pub shape: SourceShape,
    /// Access units dropped before the first key frame.
    pub leading_dropped: usize,
    /// Coded with fields (PAFF or MBAFF): decoded by libavcodec and deinterlaced.
    pub interlaced: bool,
}

impl Prepared {
    /// The decoder for this segment: `backend`'s own, except for interlaced sources, which
    /// every backend decodes with [`crate::decode::software_decoder`] so the pictures are
    /// the ones a verifier decodes.
    pub(crate) fn decoder(
        &self,
        backend: &crate::engine::DecoderFactory,
        limits: crate::decode::InputLimits,
    ) -> Result<Box<dyn VideoDecoder>> {
        if self.interlaced {
            let first = self.media.video.first().map_or(&[][..], |a| &a.data[..]);
            crate::decode::software_decoder(VideoCodec::H264, first, limits)
        } else {
            backend(limits)
        }
    }
}

/// Checks bounds, demuxes, puts timestamps on the stream's clock, finds the first key frame.
pub(crate) fn prepare(job: &TranscodeJob) -> Result<Prepared> {
    let seg = &job.segment;
    seg.check_bounds().map_err(|e| invalid(e.to_string()))?;
    if seg.codec != VideoCodec::H264 {
        return Err(unsupported(format!("decoding {}", seg.codec)));
    }
    let mut media = demux(seg)?;
    let dur90k = i64::try_from(seg.duration.as_micros() * 9 / 100).unwrap_or(i64::MAX);
    let origin = i64::try_from(seg.seq).unwrap_or(0).saturating_mul(dur90k);
    match media.timing {
        Timing::Absolute => {}
        Timing::Relative => {
            let first = media.video.iter().map(|a| a.pts).min().unwrap_or(0);
            let shift = origin - first;
            media.video.iter_mut().for_each(|a| {
                a.pts += shift;
                a.dts += shift;
            });
            media.audio.iter_mut().for_each(|a| a.pts += shift);
        }
        Timing::None => {
            let n = media.video.len().max(1) as i64;
            for (i, a) in media.video.iter_mut().enumerate() {
                a.pts = origin + i as i64 * dur90k / n;
                a.dts = a.pts;
            }
        }
    }
    let Some(first_key) = media.video.iter().position(|a| a.keyframe) else {
        return Err(TranscodeError::NoKeyframe);
    };
    media.video.drain(..first_key);
    let mut pts: Vec<i64> = media.video.iter().map(|a| a.pts).collect();
    pts.sort_unstable();
    let span = pts.last().copied().unwrap_or(0) - pts.first().copied().unwrap_or(0);
    if span > MAX_SEGMENT_DURATION.as_secs() as i64 * i64::from(TIMESCALE) {
        return Err(invalid("segment media is longer than 5 minutes"));
    }
    let fps = estimate_fps(&pts, dur90k);
    let sps = first_sps(&media);
    let interlaced = sps.is_some_and(|s| s.interlaced());
    #[cfg(not(feature = "libav"))]
    if interlaced {
        // OpenH264 decodes progressive pictures only; say so rather than fail mid-decode.
        return Err(unsupported(crate::decode::INTERLACED_NEEDS_LIBAV));
    }
    let (width, height) = sps.map_or((0, 0), |s| (s.width, s.height));
    let sample_aspect = sps.and_then(|s| s.sample_aspect);
    Ok(Prepared {
        media,
        fps,
        shape: SourceShape {
            width,
            height,
            frame_rate: Some(fps),
            sample_aspect,
        },
        leading_dropped: first_key,
        interlaced,
    })
}

/// The segment's access units, by its container.
fn demux(seg: &livepeer_core::Segment) -> Result<Demuxed> {
    match seg.container {
        Container::MpegTs => container::ts_demux::demux(&seg.data, seg.codec),
        Container::Mp4 => container::mp4::demux(&seg.data, seg.codec),
        Container::AnnexB => container::annexb::demux(&seg.data),
        other => Err(unsupported(format!("reading {other}"))),
    }
}

/// What the first SPS of the stream says, where one parses.
fn first_sps(media: &Demuxed) -> Option<h264::Sps> {
    media
        .video
        .iter()
        .find_map(|a| h264::find_nal(&a.data, h264::nal::SPS))
        .and_then(|sps| h264::parse_sps(sps).ok())
}

/// Whether the segment's H.264 is coded with fields (PAFF or MBAFF), per its first SPS.
#[cfg(not(feature = "libav"))]
pub(crate) fn is_interlaced(seg: &livepeer_core::Segment) -> bool {
    demux(seg)
        .ok()
        .and_then(|m| first_sps(&m))
        .is_some_and(|s| s.interlaced())
}

/// The frame rate from the timestamps (the shared definition,
/// [`Framerate::from_timestamps`]), or from the segment duration.
fn estimate_fps(sorted_pts: &[i64], dur90k: i64) -> Framerate {
    Framerate::from_timestamps(sorted_pts, TIMESCALE)
        .or_else(|| {
            let step =
                (dur90k / sorted_pts.len().max(1) as i64).clamp(375, i64::from(TIMESCALE) * 10);
            Framerate::from_step(step as u64, TIMESCALE)
        })
        .unwrap_or(Framerate { num: 30, den: 1 })
}

/// One rendition's persistent state: its frame selection and scaler, which run where the
/// source pictures are decoded (while each picture is still in that core's cache), and its
/// encoder, which runs on a worker thread.
pub(crate) struct RenditionWorker {
    profile: VideoProfile,
    out: RungOutput,
    fps: Framerate,
    scale: ScaleStage,
    encode: EncodeStage,
}

impl std::fmt::Debug for RenditionWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenditionWorker")
            .field("profile", &self.profile.name)
            .field("out", &self.out)
            .finish_non_exhaustive()
    }
}

/// Scaled pictures a rendition keeps for reuse: what can be in flight to its encoder.
const SPARE_SCALED: usize = CHANNEL_DEPTH + 2;

/// A rendition's frame selection and scaling.
struct ScaleStage {
    out: RungOutput,
    selector: FrameSelector,
    scaler: Scaler,
    /// Scaled pictures back from the encoder, reused for the next ones.
    spare: Vec<Frame>,
    time: Duration,
}

impl ScaleStage {
    /// The rendition's picture for the source picture `frame`, where the rung's frame rate
    /// keeps it (even cadence, stamped on the slot, as the rung defines it).
    fn offer(&mut self, frame: &Frame) -> Result<Option<Frame>> {
        let Some(pts) = self.selector.offer(frame.pts) else {
            return Ok(None);
        };
        let t = Instant::now();
        let (w, h) = (self.out.width, self.out.height);
        let mut scaled = self.spare.pop().unwrap_or_else(|| Frame::black(w, h, pts));
        self.scaler.scale_into(frame, &mut scaled)?;
        scaled.pts = pts;
        self.time += t.elapsed();
        Ok(Some(scaled))
    }

    fn give_back(&mut self, frame: Frame) {
        if self.spare.len() < SPARE_SCALED {
            self.spare.push(frame);
        }
    }
}

/// A rendition's encoder and the packets of the segment being encoded.
struct EncodeStage {
    encoder: Box<dyn VideoEncoder>,
    packets: Vec<Packet>,
    time: Duration,
}

impl EncodeStage {
    fn push(&mut self, frame: &Frame) -> Result<()> {
        let t = Instant::now();
        self.encoder.send_frame(frame)?;
        while let Output::Ready(p) = self.encoder.receive_packet()? {
            self.packets.push(p);
        }
        self.time += t.elapsed();
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        let t = Instant::now();
        self.encoder.flush()?;
        loop {
            match self.encoder.receive_packet()? {
                Output::Ready(p) => self.packets.push(p),
                Output::Done => break,
                Output::NeedMoreData => return Err(backend("encoder stalled at flush")),
            }
        }
        self.time += t.elapsed();
        Ok(())
    }
}

impl RenditionWorker {
    /// A worker for `profile` from a source of `shape`, with an encoder from `make`: the
    /// encoder runs at the size and rate the rung promises for that source
    /// ([`RungOutput`]).
    pub(crate) fn new(
        profile: &VideoProfile,
        shape: &SourceShape,
        make: &EncoderFactory,
    ) -> Result<Self> {
        let out = RungOutput::for_source(profile, shape);
        let fps = out.frame_rate;
        let mut sized = profile.clone();
        sized.width = out.width;
        sized.height = out.height;
        let encoder = make(&sized, fps)?;
        Ok(RenditionWorker {
            profile: profile.clone(),
            out,
            fps,
            scale: ScaleStage {
                out,
                selector: out.selector(),
                scaler: Scaler::new(),
                spare: Vec::new(),
                time: Duration::ZERO,
            },
            encode: EncodeStage {
                encoder,
                packets: Vec::new(),
                time: Duration::ZERO,
            },
        })
    }

    /// Whether this worker can serve `profile` for a source of `shape` unchanged.
    pub(crate) fn fits(&self, profile: &VideoProfile, shape: &SourceShape) -> bool {
        self.profile == *profile && self.out == RungOutput::for_source(profile, shape)
    }

    fn start(&mut self) -> Result<()> {
        self.scale.selector = self.out.selector();
        self.scale.time = Duration::ZERO;
        self.encode.packets.clear();
        self.encode.time = Duration::ZERO;
        self.encode.encoder.start_segment()
    }

    /// Muxes the packets of the segment just encoded.
    fn rendition(&self, media: &Demuxed) -> Result<Rendition> {
        let p = &self.profile;
        let o = &self.out;
        let pk = &self.encode.packets;
        let data = match (p.container, p.codec) {
            (Container::MpegTs, VideoCodec::H264) => {
                container::ts_mux::mux_segment(pk, &media.audio, media.audio_stream_type)
            }
            (Container::AnnexB, VideoCodec::H264) => container::annexb::mux(pk),
            (Container::Ivf, VideoCodec::Av1) => container::ivf_mux(pk, o.width, o.height),
            (Container::Mp4, c) => {
                container::mp4::mux_mp4(c, pk, &media.audio, o.width, o.height, self.fps.as_f64())?
            }
            (Container::Fmp4, c) => {
                container::mp4::mux_fmp4(c, pk, &media.audio, o.width, o.height)?
            }
            (c, codec) => return Err(unsupported(format!("{codec} in {c}"))),
        };
        let frames = u32::try_from(pk.len()).unwrap_or(u32::MAX);
        let duration = Duration::from_secs_f64(f64::from(frames) / self.fps.as_f64());
        Ok(Rendition {
            profile: p.clone(),
            data: data.into(),
            frames,
            pixels: Pixels(o.pixels_per_frame() * u64::from(frames)),
            duration,
        })
    }
}

/// Time spent per stage on one segment (summed over threads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StageTimes {
    /// Pictures decoded.
    pub frames: u32,
    /// Demuxing and decoding.
    pub decode: Duration,
    /// Scaling, all renditions.
    pub scale: Duration,
    /// Encoding, all renditions.
    pub encode: Duration,
    /// Muxing, all renditions.
    pub mux: Duration,
}

/// Splits renditions (by index) into `groups` by pixel rate, largest first onto the
/// least-loaded group.
fn group(workers: &[RenditionWorker], groups: usize) -> Vec<Vec<usize>> {
    let mut bins: Vec<(u64, Vec<usize>)> = (0..groups.max(1)).map(|_| (0, Vec::new())).collect();
    let mut sorted: Vec<usize> = (0..workers.len()).collect();
    sorted.sort_by_key(|&i| std::cmp::Reverse(workers[i].out.pixels_per_frame()));
    for i in sorted {
        if let Some(bin) = bins.iter_mut().min_by_key(|(load, _)| *load) {
            bin.0 += workers[i].out.pixels_per_frame();
            bin.1.push(i);
        }
    }
    bins.into_iter()
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
        .collect()
}

/// Decodes `prep` once, scales every rendition's pictures on the calling thread and
/// encodes them on `threads` worker threads (0: all on the calling thread). Returns the
/// renditions in the workers' order.
pub(crate) fn run(
    prep: &Prepared,
    workers: &mut [RenditionWorker],
    threads: usize,
    decoder: &mut dyn VideoDecoder,
) -> Result<(Vec<Rendition>, StageTimes)> {
    let t0 = Instant::now();
    for w in workers.iter_mut() {
        w.start()?;
    }
    let mut times = StageTimes::default();
    let mut decode_time = t0.elapsed();
    let groups = group(workers, threads);
    let (mut scales, encodes): (Vec<&mut ScaleStage>, Vec<&mut EncodeStage>) = workers
        .iter_mut()
        .map(|w| (&mut w.scale, &mut w.encode))
        .unzip();
    if threads == 0 {
        let mut encodes = encodes;
        {
            let mut sink = |f: &Frame| -> Result<()> {
                for (s, e) in scales.iter_mut().zip(encodes.iter_mut()) {
                    if let Some(scaled) = s.offer(f)? {
                        e.push(&scaled)?;
                        s.give_back(scaled);
                    }
                }
                Ok(())
            };
            let (time, frames) = (&mut decode_time, &mut times.frames);
            decode_all(decoder, prep, &mut sink, time, frames)?;
        }
        for e in encodes.iter_mut() {
            e.finish()?;
        }
    } else {
        let (time, frames) = (&mut decode_time, &mut times.frames);
        encode_on_workers(decoder, prep, &mut scales, encodes, &groups, (time, frames))?;
    }
    if times.frames == 0 {
        return Err(invalid("no picture could be decoded"));
    }
    times.decode = decode_time;
    let t = Instant::now();
    let mut out = Vec::with_capacity(workers.len());
    for w in workers.iter() {
        times.scale += w.scale.time;
        times.encode += w.encode.time;
        out.push(w.rendition(&prep.media)?);
    }
    times.mux = t.elapsed();
    Ok((out, times))
}

/// The threaded half of [`run`]: one worker thread per group of encoders, fed the scaled
/// pictures through bounded channels; the pictures come back to be reused.
fn encode_on_workers(
    decoder: &mut dyn VideoDecoder,
    prep: &Prepared,
    scales: &mut [&mut ScaleStage],
    encodes: Vec<&mut EncodeStage>,
    groups: &[Vec<usize>],
    (decode_time, frames): (&mut Duration, &mut u32),
) -> Result<()> {
    let mut encodes: Vec<Option<&mut EncodeStage>> = encodes.into_iter().map(Some).collect();
    std::thread::scope(|s| -> Result<()> {
        let (back_tx, back_rx) = mpsc::channel::<(usize, Frame)>();
        let mut route = vec![0; scales.len()];
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for (gi, g) in groups.iter().enumerate() {
            let mut mine: Vec<(usize, &mut EncodeStage)> = g
                .iter()
                .filter_map(|&i| Some((i, encodes.get_mut(i)?.take()?)))
                .collect();
            g.iter().for_each(|&i| route[i] = gi);
            let (tx, rx) = mpsc::sync_channel::<(usize, Frame)>(CHANNEL_DEPTH * g.len());
            senders.push(tx);
            let back = back_tx.clone();
            handles.push(s.spawn(move || -> Result<()> {
                for (i, f) in rx {
                    if let Some((_, e)) = mine.iter_mut().find(|(j, _)| *j == i) {
                        e.push(&f)?;
                    }
                    // The decoding side may have finished; then the picture is just dropped.
                    let _ = back.send((i, f));
                }
                for (_, e) in mine.iter_mut() {
                    e.finish()?;
                }
                Ok(())
            }));
        }
        drop(back_tx);
        let decoded = {
            let mut sink = |f: &Frame| -> Result<()> {
                while let Ok((i, used)) = back_rx.try_recv() {
                    if let Some(s) = scales.get_mut(i) {
                        s.give_back(used);
                    }
                }
                for (i, s) in scales.iter_mut().enumerate() {
                    if let Some(scaled) = s.offer(f)? {
                        // A closed channel means the worker failed; its error is reported below.
                        if senders[route[i]].send((i, scaled)).is_err() {
                            return Err(backend("worker stopped"));
                        }
                    }
                }
                Ok(())
            };
            decode_all(decoder, prep, &mut sink, decode_time, frames)
        };
        drop(senders);
        let mut first_err = None;
        for h in handles {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(backend("worker thread panicked")));
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        match (decoded, first_err) {
            (Err(e), _) if e != backend("worker stopped") => Err(e),
            (_, Some(e)) => Err(e),
            (r, None) => r,
        }
    })
}

/// Feeds every access unit to `decoder` and each picture to `sink`, then gives the picture
/// back to the decoder for reuse.
fn decode_all(
    decoder: &mut dyn VideoDecoder,
    prep: &Prepared,
    sink: &mut dyn FnMut(&Frame) -> Result<()>,
    decode_time: &mut Duration,
    frames: &mut u32,
) -> Result<()> {
    let mut emit = |decoder: &mut dyn VideoDecoder, frames: &mut u32| -> Result<()> {
        while let Output::Ready(f) = decoder.receive_frame()? {
            *frames += 1;
            sink(&f)?;
            decoder.recycle(f);
        }
        Ok(())
    };
    for au in &prep.media.video {
        let t = Instant::now();
        decoder.send_packet(&au.data, au.pts)?;
        *decode_time += t.elapsed();
        emit(decoder, frames)?;
    }
    let t = Instant::now();
    decoder.flush()?;
    *decode_time += t.elapsed();
    emit(decoder, frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fps_from_timestamps() {
        let pts: Vec<i64> = (0..60).map(|i| 126_000 + i * 3000).collect();
        assert_eq!(estimate_fps(&pts, 180_000), Framerate { num: 30, den: 1 });
        let ntsc: Vec<i64> = (0..10).map(|i| i * 3003).collect();
        assert_eq!(
            estimate_fps(&ntsc, 30_030),
            Framerate {
                num: 30000,
                den: 1001
            }
        );
        assert_eq!(estimate_fps(&[5], 90_000), Framerate { num: 1, den: 1 });
    }
}
