//! MP4 input (the `mp4` crate) and MP4 / fragmented MP4 output (`muxide`).

use std::io::Cursor;

use bytes::Bytes;
use livepeer_core::VideoCodec;
use muxide::api::{AacProfile, AudioCodec, MuxerBuilder};
use muxide::fragmented::{FragmentAudioConfig, FragmentConfig, FragmentedMuxer};

use super::{AudioPes, Demuxed, VideoAu};
use livepeer_bitstream::h264::{self, nal};

use crate::adts::{self, AAC_RATES};
use crate::error::{Result, TranscodeError, backend, invalid};
use crate::frame::{Packet, TIMESCALE};

/// Most samples read from one MP4 track (5 minutes at 240 fps).
const MAX_SAMPLES: u32 = 72_000;

/// Demuxes an MP4 whose video must be `codec`: AVCC samples become Annex-B access units,
/// AAC samples become ADTS frames so they can be carried in MPEG-TS.
pub(crate) fn demux(data: &[u8], codec: VideoCodec) -> Result<Demuxed> {
    // The `mp4` crate is not hardened against hostile files; a panic in it is bad input,
    // not a crash of the transcoder. `data` is only read, so unwinding leaves nothing torn.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| demux_inner(data, codec)))
        .unwrap_or_else(|_| Err(invalid("MP4: malformed file")))
}

fn demux_inner(data: &[u8], codec: VideoCodec) -> Result<Demuxed> {
    let size = data.len() as u64;
    let mut r = mp4::Mp4Reader::read_header(Cursor::new(data), size)
        .map_err(|e| invalid(format!("MP4: {e}")))?;
    let mut video_track = None;
    let mut audio_track = None;
    let mut ids: Vec<u32> = r.tracks().keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let Some(t) = r.tracks().get(&id) else {
            continue;
        };
        match t.track_type() {
            Ok(mp4::TrackType::Video) if video_track.is_none() => {
                let found = match t.media_type() {
                    Ok(mp4::MediaType::H264) => VideoCodec::H264,
                    Ok(mp4::MediaType::H265) => VideoCodec::Hevc,
                    Ok(mp4::MediaType::VP9) => VideoCodec::Vp9,
                    _ => {
                        return Err(TranscodeError::SegmentFormatDidntMatchJobInputParams(
                            format!("job says {codec}, MP4 video is {:?}", t.box_type()),
                        ));
                    }
                };
                if found != codec {
                    return Err(TranscodeError::SegmentFormatDidntMatchJobInputParams(
                        format!("job says {codec}, MP4 video is {found}"),
                    ));
                }
                let mut params = Vec::new();
                for ps in [t.sequence_parameter_set(), t.picture_parameter_set()] {
                    let ps = ps.map_err(|e| invalid(format!("MP4 avcC: {e}")))?;
                    params.extend_from_slice(&[0, 0, 0, 1]);
                    params.extend_from_slice(ps);
                }
                video_track = Some((id, t.timescale().max(1), params));
            }
            Ok(mp4::TrackType::Audio) if audio_track.is_none() => {
                if let (Ok(mp4::MediaType::AAC), Ok(p), Ok(f), Ok(c)) = (
                    t.media_type(),
                    t.audio_profile(),
                    t.sample_freq_index(),
                    t.channel_config(),
                ) {
                    let profile = (p as u8).saturating_sub(1) & 3;
                    audio_track = Some((id, t.timescale().max(1), profile, f as u8, c as u8));
                }
            }
            _ => {}
        }
    }
    let Some((vid, vscale, params)) = video_track else {
        return Err(invalid("MP4: no video track"));
    };
    let mut out = Demuxed {
        timing: super::Timing::Relative,
        ..Demuxed::default()
    };
    let count = r
        .sample_count(vid)
        .map_err(|e| invalid(format!("MP4: {e}")))?;
    if count > MAX_SAMPLES {
        return Err(invalid(format!("MP4: {count} video samples is too many")));
    }
    let to90k = |t: i64, scale: u32| t * i64::from(TIMESCALE) / i64::from(scale);
    for i in 1..=count {
        let Some(s) = r
            .read_sample(vid, i)
            .map_err(|e| invalid(format!("MP4 sample {i}: {e}")))?
        else {
            continue;
        };
        let mut au = Vec::with_capacity(s.bytes.len() + params.len() + 16);
        let keyframe = s.is_sync;
        if keyframe {
            au.extend_from_slice(&params);
        }
        h264::avcc_to_annexb(&s.bytes, 4, &mut au)?;
        let dts = to90k(s.start_time as i64, vscale);
        let pts = to90k(s.start_time as i64 + i64::from(s.rendering_offset), vscale);
        out.video.push(VideoAu {
            keyframe: keyframe || h264::is_keyframe(&au),
            data: Bytes::from(au),
            pts,
            dts,
        });
    }
    if let Some((aid, ascale, profile, freq, ch)) = audio_track {
        let n = r.sample_count(aid).unwrap_or(0).min(MAX_SAMPLES * 4);
        out.audio_stream_type = Some(livepeer_bitstream::ts::stream_type::AAC);
        for i in 1..=n {
            let Ok(Some(s)) = r.read_sample(aid, i) else {
                continue;
            };
            let mut frame = adts::adts_header(profile, freq, ch, s.bytes.len()).to_vec();
            frame.extend_from_slice(&s.bytes);
            out.audio.push(AudioPes {
                pts: to90k(s.start_time as i64, ascale),
                data: Bytes::from(frame),
            });
        }
    }
    Ok(out)
}

/// The audio configuration of ADTS payloads: (profile, frequency index, channels).
fn audio_config(audio: &[AudioPes]) -> Option<(u8, u8, u8)> {
    let h = adts::parse_adts(&audio.first()?.data)?;
    Some((h.profile, h.freq_index, h.channels))
}

fn aac_profile(p: u8) -> AacProfile {
    match p {
        0 => AacProfile::Main,
        2 => AacProfile::Ssr,
        3 => AacProfile::Ltp,
        _ => AacProfile::Lc,
    }
}

/// ADTS frames with their own 90 kHz timestamps (a PES may hold several frames).
fn adts_frames(audio: &[AudioPes], rate: u32) -> impl Iterator<Item = (i64, &[u8], &[u8])> {
    audio.iter().flat_map(move |pes| {
        let mut at = 0usize;
        adts::adts_frames(&pes.data)
            .enumerate()
            .map(move |(i, (h, payload))| {
                let whole = &pes.data[at..at + h.frame_len];
                at += h.frame_len;
                let pts = pes.pts + (i as i64) * 1024 * i64::from(TIMESCALE) / i64::from(rate);
                (pts, whole, payload)
            })
    })
}

fn mux_codec(codec: VideoCodec) -> Result<muxide::api::VideoCodec> {
    match codec {
        VideoCodec::H264 => Ok(muxide::api::VideoCodec::H264),
        VideoCodec::Av1 => Ok(muxide::api::VideoCodec::Av1),
        other => Err(crate::error::unsupported(format!("{other} in MP4"))),
    }
}

/// Writes a progressive MP4 (timestamps start at zero; audio before the first picture is
/// dropped).
pub(crate) fn mux_mp4(
    codec: VideoCodec,
    video: &[Packet],
    audio: &[AudioPes],
    width: u32,
    height: u32,
    fps: f64,
) -> Result<Vec<u8>> {
    let mut b = MuxerBuilder::new(Vec::new()).video(mux_codec(codec)?, width, height, fps);
    let acfg = audio_config(audio);
    if let Some((p, f, c)) = acfg {
        b = b.audio(
            AudioCodec::Aac(aac_profile(p)),
            AAC_RATES[usize::from(f)],
            u16::from(c),
        );
    }
    let mut m = b.build().map_err(backend)?;
    let base = video.first().map_or(0, |p| p.pts);
    let secs = |t: i64| (t - base) as f64 / f64::from(TIMESCALE);
    let mut frames: Vec<(i64, &[u8])> = Vec::new();
    if let Some((_, f, _)) = acfg {
        frames = adts_frames(audio, AAC_RATES[usize::from(f)])
            .filter(|(pts, _, _)| *pts >= base)
            .map(|(pts, whole, _)| (pts, whole))
            .collect();
    }
    let mut ai = 0;
    for p in video {
        while let Some((apts, data)) = frames.get(ai).filter(|(t, _)| *t <= p.pts) {
            m.write_audio(secs(*apts), data).map_err(backend)?;
            ai += 1;
        }
        m.write_video(secs(p.pts), &p.data, p.keyframe)
            .map_err(backend)?;
    }
    for (apts, data) in &frames[ai..] {
        m.write_audio(secs(*apts), data).map_err(backend)?;
    }
    m.finish_in_place().map_err(backend)?;
    Ok(m.into_writer())
}

/// Writes a fragmented MP4: the init segment followed by one fragment, with the source
/// timestamps in `tfdt` so consecutive segments join.
pub(crate) fn mux_fmp4(
    codec: VideoCodec,
    video: &[Packet],
    audio: &[AudioPes],
    width: u32,
    height: u32,
) -> Result<Vec<u8>> {
    let mut cfg = FragmentConfig::new(width, height, TIMESCALE).with_fragment_duration_ms(u32::MAX);
    let first = video.first().ok_or_else(|| backend("no pictures to mux"))?;
    match codec {
        VideoCodec::H264 => {
            cfg.sps = h264::find_nal(&first.data, nal::SPS)
                .ok_or_else(|| backend("encoder gave no SPS"))?
                .to_vec();
            cfg.pps = h264::find_nal(&first.data, nal::PPS)
                .ok_or_else(|| backend("encoder gave no PPS"))?
                .to_vec();
        }
        VideoCodec::Av1 => {
            cfg.av1_sequence_header = Some(
                livepeer_bitstream::av1::sequence_header_obu(&first.data)
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| backend("no AV1 sequence header"))?,
            );
        }
        other => return Err(crate::error::unsupported(format!("{other} in fMP4"))),
    }
    let acfg = audio_config(audio);
    let mut m = match acfg {
        Some((p, f, c)) => FragmentedMuxer::new_with_audio(
            cfg,
            FragmentAudioConfig {
                codec: AudioCodec::Aac(aac_profile(p)),
                sample_rate: AAC_RATES[usize::from(f)],
                channels: u16::from(c),
            },
        ),
        None => FragmentedMuxer::new(cfg),
    }
    .map_err(backend)?;
    let mut out = m.init_segment();
    for p in video {
        let sample = match codec {
            VideoCodec::H264 => h264::annexb_to_avcc(&p.data, false),
            _ => p.data.to_vec(),
        };
        let (pts, dts) = (p.pts.max(0) as u64, p.dts.max(0) as u64);
        m.write_video(pts, dts, &sample, p.keyframe)
            .map_err(backend)?;
    }
    if let Some((_, f, _)) = acfg {
        let rate = AAC_RATES[usize::from(f)];
        for (pts, _, payload) in adts_frames(audio, rate) {
            let t = (pts.max(0) as u64) * u64::from(rate) / u64::from(TIMESCALE);
            m.write_audio(t, t, payload).map_err(backend)?;
        }
    }
    if let Some(mut frag) = m.flush_segment() {
        // The muxer starts each new fragment sequence at decode time 0; the source clock goes
        // in instead, video track first, then audio in its sample rate.
        let mut bases = vec![first.dts.max(0) as u64];
        if let Some((_, f, _)) = acfg
            && let Some((pts, _, _)) = adts_frames(audio, AAC_RATES[usize::from(f)]).next()
        {
            let rate = u64::from(AAC_RATES[usize::from(f)]);
            bases.push((pts.max(0) as u64) * rate / u64::from(TIMESCALE));
        }
        set_decode_times(&mut frag, &bases);
        out.extend_from_slice(&frag);
    }
    Ok(out)
}

/// The child boxes of `data[start..end]`: `(type, start, end)`; stops at an inconsistent
/// size.
fn children(data: &[u8], start: usize, end: usize) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut at = start;
    while at + 8 <= end {
        let size =
            u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        let kind = [data[at + 4], data[at + 5], data[at + 6], data[at + 7]];
        if size < 8 || at + size > end {
            break;
        }
        out.push((kind, at, at + size));
        at += size;
    }
    out
}

/// Sets the `tfdt` of each track fragment of `frag`'s movie fragments, in order, to `bases`.
pub(crate) fn set_decode_times(frag: &mut [u8], bases: &[u64]) {
    let mut k = 0;
    for (kind, s, e) in children(frag, 0, frag.len()) {
        if &kind != b"moof" {
            continue;
        }
        for (kind, s, e) in children(frag, s + 8, e) {
            if &kind != b"traf" {
                continue;
            }
            let Some(&base) = bases.get(k) else { return };
            k += 1;
            for (kind, s, e) in children(frag, s + 8, e) {
                if &kind == b"tfdt" && e >= s + 20 && frag[s + 8] == 1 {
                    frag[s + 12..s + 20].copy_from_slice(&base.to_be_bytes());
                } else if &kind == b"tfdt" && e >= s + 16 {
                    let v = u32::try_from(base).unwrap_or(u32::MAX);
                    frag[s + 12..s + 16].copy_from_slice(&v.to_be_bytes());
                }
            }
        }
    }
}

/// Sets the `mfhd` sequence number of every movie fragment in `frag` to `n`.
pub(crate) fn set_sequence_number(frag: &mut [u8], n: u32) {
    for (kind, s, e) in children(frag, 0, frag.len()) {
        if &kind != b"moof" {
            continue;
        }
        for (kind, s, e) in children(frag, s + 8, e) {
            if &kind == b"mfhd" && e >= s + 16 {
                frag[s + 12..s + 16].copy_from_slice(&n.to_be_bytes());
            }
        }
    }
}
