//! HLS output: a transcoded ladder written as a master playlist and one media playlist per
//! rendition, playable by ffplay, ffmpeg and browsers (hls.js, Safari).
//!
//! MPEG-TS rungs are written as `<seq>.ts`. Fragmented-MP4 rungs, and AV1 rungs in IVF
//! (repackaged, since HLS carries AV1 only in fMP4), are written as `<seq>.m4s` media
//! segments after an initialization section `init.mp4` named by `EXT-X-MAP` (a new one,
//! `init-<seq>.mp4`, only when a segment's codec configuration changes); their playlists
//! are version 7.
//!
//! Every file is written to a temporary name and renamed into place, and a playlist only
//! names segments already on disk, so a reader (or a crash) never sees a half-written file
//! or a playlist pointing at a missing one. While the stream runs the media playlists are
//! `EVENT` playlists; [`HlsWriter::finish`] ends them (`#EXT-X-ENDLIST`).
//!
//! ```no_run
//! # fn demo(ladder: &livepeer_core::Ladder, seq: u64, renditions: &[livepeer_core::transcode::Rendition]) -> Result<(), livepeer_transcode::hls::HlsError> {
//! use livepeer_transcode::hls::HlsWriter;
//! let mut hls = HlsWriter::create("out".as_ref(), ladder)?;
//! hls.write_segment(seq, renditions)?;
//! let summary = hls.finish()?;
//! println!("{} segments in {}", summary.segments, summary.master.display());
//! # Ok(()) }
//! ```

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use livepeer_core::transcode::Rendition;
use livepeer_core::{Container, Ladder, VideoCodec, VideoProfile};
use m3u8_rs::{
    MasterPlaylist, MediaPlaylist, MediaPlaylistType, MediaSegment, Resolution, VariantStream,
};
use thiserror::Error;

use crate::container::ts_demux;
use livepeer_bitstream::h264::{self, find_nal};

mod fmp4;

/// The master playlist's file name.
pub const MASTER: &str = "index.m3u8";

/// Why HLS could not be written or read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HlsError {
    /// A file could not be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The output directory already holds a stream.
    #[error("{0} already holds an HLS stream; choose an empty directory")]
    NotEmpty(PathBuf),
    /// The renditions do not match the ladder the writer was created for.
    #[error("renditions do not match the ladder: {0}")]
    Mismatch(String),
    /// A rendition in a container HLS here does not carry (MPEG-TS, fragmented MP4, and AV1
    /// in IVF are written).
    #[error(
        "rendition {0}: HLS is written from MPEG-TS, fragmented MP4 or AV1 (IVF) renditions only"
    )]
    Unsupported(String),
    /// A rendition whose bytes are not the container its rung names.
    #[error("rendition {name}: {reason}")]
    BadRendition {
        /// The rung.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A segment number at or below one already written.
    #[error("segment {seq} is not after segment {last}")]
    OutOfOrder {
        /// The segment offered.
        seq: u64,
        /// The last one written.
        last: u64,
    },
    /// A playlist that does not parse or names nothing playable.
    #[error("playlist {path}: {reason}")]
    BadPlaylist {
        /// The playlist.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> HlsError + '_ {
    move |source| HlsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `data` to `path` by way of a temporary file in the same directory and a rename,
/// so the file is either absent, the old one, or whole.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), HlsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    tmp.write_all(data).map_err(io(path))?;
    tmp.as_file().sync_data().map_err(io(path))?;
    tmp.persist(path).map_err(|e| HlsError::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// How a rung's segments are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `<seq>.ts`, as the rendition is.
    Ts,
    /// `<seq>.m4s` after an `EXT-X-MAP` initialization section.
    Fmp4,
}

impl Kind {
    /// How `p`'s renditions are written, or `None` when HLS cannot carry them.
    fn of(p: &VideoProfile) -> Option<Kind> {
        match (p.container, p.codec) {
            (Container::MpegTs, _) => Some(Kind::Ts),
            (Container::Fmp4, VideoCodec::H264 | VideoCodec::Av1) => Some(Kind::Fmp4),
            (Container::Ivf, VideoCodec::Av1) => Some(Kind::Fmp4),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Kind::Ts => "ts",
            Kind::Fmp4 => "m4s",
        }
    }
}

struct Track {
    profile: VideoProfile,
    kind: Kind,
    /// The initialization section in force (fMP4 rungs): its bytes and file name.
    init: Option<(Vec<u8>, String)>,
    dir: String,
    segments: Vec<MediaSegment>,
    bytes: u64,
    media_secs: f64,
    peak_bps: u64,
    codecs: Option<String>,
    size: Option<(u32, u32)>,
}

/// What a finished stream holds.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct HlsSummary {
    /// The master playlist.
    pub master: PathBuf,
    /// The media playlists, in ladder order.
    pub media: Vec<PathBuf>,
    /// Segments written per rendition.
    pub segments: usize,
    /// Media duration per rendition.
    pub duration: Duration,
}

/// Writes a ladder as HLS under one directory: `index.m3u8` (the master playlist) and, per
/// rendition, `<name>/index.m3u8` with its segments `<name>/<seq>.ts`.
pub struct HlsWriter {
    dir: PathBuf,
    tracks: Vec<Track>,
    last_seq: Option<u64>,
}

impl std::fmt::Debug for HlsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HlsWriter")
            .field("dir", &self.dir)
            .field("renditions", &self.tracks.len())
            .field("last_seq", &self.last_seq)
            .finish()
    }
}

impl HlsWriter {
    /// A writer for `ladder` under `dir`, created if missing. Refuses a directory that
    /// already holds a master playlist, so one stream never overwrites another. Rungs in
    /// MPEG-TS, fragmented MP4, and AV1 in IVF are accepted.
    pub fn create(dir: &Path, ladder: &Ladder) -> Result<Self, HlsError> {
        if dir.join(MASTER).exists() {
            return Err(HlsError::NotEmpty(dir.to_owned()));
        }
        Self::open(dir, ladder)
    }

    /// Reopens the stream a writer for the same `ladder` left under `dir` (it crashed, or
    /// was stopped), to go on after its last segment; creates it when `dir` holds none.
    /// Every rung's media playlist is read back; a segment that not every rung lists is
    /// dropped from all of them (it is written again); every listed file must be there.
    /// Returns the writer and the last segment it holds.
    pub fn resume(dir: &Path, ladder: &Ladder) -> Result<(Self, Option<u64>), HlsError> {
        let mut w = Self::open(dir, ladder)?;
        if !dir.join(MASTER).exists() {
            return Ok((w, None));
        }
        let mut lists = Vec::with_capacity(w.tracks.len());
        for t in &w.tracks {
            lists.push(read_back(&dir.join(&t.dir))?);
        }
        // The last segment every rung holds (rungs are written in order, so a crash can
        // only leave the later rungs one playlist behind).
        let last = lists
            .iter()
            .map(|l| l.last().map(|(seq, _)| *seq))
            .min()
            .flatten();
        for (t, list) in w.tracks.iter_mut().zip(lists) {
            for (_, seg) in list.into_iter().filter(|(q, _)| Some(*q) <= last) {
                if let Some(map) = &seg.map {
                    let path = dir.join(&t.dir).join(&map.uri);
                    let init = fs::read(&path).map_err(io(&path))?;
                    if t.codecs.is_none() {
                        (t.codecs, t.size) = fmp4::codecs(&init);
                    }
                    t.init = Some((init, map.uri.clone()));
                }
                let path = dir.join(&t.dir).join(&seg.uri);
                let data = fs::read(&path).map_err(io(&path))?;
                let secs = f64::from(seg.duration);
                t.bytes += data.len() as u64;
                t.media_secs += secs;
                if secs > 0.0 {
                    t.peak_bps = t
                        .peak_bps
                        .max((data.len() as f64 * 8.0 / secs).ceil() as u64);
                }
                if t.codecs.is_none() && t.kind == Kind::Ts {
                    let (codecs, size) = codecs_of(&data, t.profile.codec);
                    t.codecs = codecs;
                    t.size = size;
                }
                t.segments.push(seg);
            }
        }
        w.last_seq = last;
        for t in &w.tracks {
            w.write_media(t, false)?;
        }
        w.write_master()?;
        Ok((w, last))
    }

    fn open(dir: &Path, ladder: &Ladder) -> Result<Self, HlsError> {
        let mut kinds = Vec::with_capacity(ladder.profiles().len());
        for p in ladder.profiles() {
            kinds.push(Kind::of(p).ok_or_else(|| HlsError::Unsupported(p.name.clone()))?);
        }
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut tracks: Vec<Track> = Vec::new();
        for (p, kind) in ladder.profiles().iter().zip(kinds) {
            let mut name = sanitize(&p.name);
            let base = name.clone();
            let mut n = 2;
            while tracks.iter().any(|t| t.dir == name) {
                name = format!("{base}-{n}");
                n += 1;
            }
            fs::create_dir_all(dir.join(&name)).map_err(io(dir))?;
            tracks.push(Track {
                profile: p.clone(),
                kind,
                init: None,
                dir: name,
                segments: Vec::new(),
                bytes: 0,
                media_secs: 0.0,
                peak_bps: 0,
                codecs: None,
                size: None,
            });
        }
        Ok(HlsWriter {
            dir: dir.to_owned(),
            tracks,
            last_seq: None,
        })
    }

    /// The directory written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Segments written so far (per rendition).
    pub fn segments(&self) -> usize {
        self.tracks.first().map_or(0, |t| t.segments.len())
    }

    /// Writes segment `seq`'s renditions (in ladder order) and updates the playlists.
    /// Segments must come in increasing order; a gap (a segment that could not be
    /// transcoded) is marked as a discontinuity so players skip it cleanly.
    pub fn write_segment(&mut self, seq: u64, renditions: &[Rendition]) -> Result<(), HlsError> {
        if renditions.len() != self.tracks.len() {
            return Err(HlsError::Mismatch(format!(
                "{} renditions for {} rungs",
                renditions.len(),
                self.tracks.len()
            )));
        }
        if let Some(last) = self.last_seq
            && seq <= last
        {
            return Err(HlsError::OutOfOrder { seq, last });
        }
        for (t, r) in self.tracks.iter().zip(renditions) {
            if r.profile.id() != t.profile.id() {
                return Err(HlsError::Mismatch(format!(
                    "rendition {} for rung {}",
                    r.profile.name, t.profile.name
                )));
            }
        }
        // Every rendition is checked (and repackaged) before any file is written, so a bad
        // one leaves the stream as it was.
        let mut bodies = Vec::with_capacity(renditions.len());
        for (t, r) in self.tracks.iter().zip(renditions) {
            bodies.push(match t.kind {
                Kind::Ts => None,
                Kind::Fmp4 => {
                    let bad = |e: crate::TranscodeError| HlsError::BadRendition {
                        name: r.profile.name.clone(),
                        reason: e.to_string(),
                    };
                    let whole = match r.profile.container {
                        Container::Ivf => fmp4::from_ivf(&r.data).map_err(bad)?,
                        _ => r.data.to_vec(),
                    };
                    let (init, media) = fmp4::split(&whole).map_err(bad)?;
                    let mut media = media.to_vec();
                    // Fragment numbers increase along the stream (ISO/IEC 14496-12 §8.8.5).
                    let n = u32::try_from(seq.saturating_add(1)).unwrap_or(u32::MAX);
                    crate::container::mp4::set_sequence_number(&mut media, n);
                    Some((init.to_vec(), media))
                }
            });
        }
        let gap = self.last_seq.is_some_and(|l| seq > l + 1);
        for ((t, r), body) in self.tracks.iter_mut().zip(renditions).zip(bodies) {
            let uri = format!("{seq}.{}", t.kind.extension());
            let mut map = None;
            let data: &[u8] = match &body {
                None => &r.data,
                Some((init, media)) => {
                    if t.init.as_ref().is_none_or(|(bytes, _)| bytes != init) {
                        let name = if t.init.is_none() {
                            "init.mp4".to_owned()
                        } else {
                            format!("init-{seq}.mp4")
                        };
                        write_atomic(&self.dir.join(&t.dir).join(&name), init)?;
                        (t.codecs, t.size) = fmp4::codecs(init);
                        t.init = Some((init.clone(), name.clone()));
                        map = Some(m3u8_rs::Map {
                            uri: name,
                            ..m3u8_rs::Map::default()
                        });
                    }
                    media
                }
            };
            write_atomic(&self.dir.join(&t.dir).join(&uri), data)?;
            let secs = r.duration.as_secs_f64();
            t.bytes += data.len() as u64;
            t.media_secs += secs;
            if secs > 0.0 {
                t.peak_bps = t
                    .peak_bps
                    .max((data.len() as f64 * 8.0 / secs).ceil() as u64);
            }
            if t.codecs.is_none() && t.kind == Kind::Ts {
                let (codecs, size) = codecs_of(&r.data, t.profile.codec);
                t.codecs = codecs;
                // The size the rung produced for this source (its box fitted to the source's
                // aspect ratio), as the stream's SPS says.
                t.size = Some(size.unwrap_or((r.profile.width, r.profile.height)));
            }
            t.segments.push(MediaSegment {
                uri,
                duration: secs as f32,
                discontinuity: gap,
                map,
                ..MediaSegment::default()
            });
        }
        self.last_seq = Some(seq);
        for t in &self.tracks {
            self.write_media(t, false)?;
        }
        self.write_master()
    }

    /// Ends every media playlist (`#EXT-X-ENDLIST`) and returns what was written.
    pub fn finish(self) -> Result<HlsSummary, HlsError> {
        for t in &self.tracks {
            self.write_media(t, true)?;
        }
        self.write_master()?;
        Ok(HlsSummary {
            master: self.dir.join(MASTER),
            media: self
                .tracks
                .iter()
                .map(|t| self.dir.join(&t.dir).join(MASTER))
                .collect(),
            segments: self.segments(),
            duration: Duration::from_secs_f64(
                self.tracks.first().map_or(0.0, |t| t.media_secs.max(0.0)),
            ),
        })
    }

    fn write_media(&self, t: &Track, ended: bool) -> Result<(), HlsError> {
        let longest = t
            .segments
            .iter()
            .map(|s| f64::from(s.duration))
            .fold(0.0, f64::max);
        let playlist = MediaPlaylist {
            // EXT-X-MAP without I-frames-only needs version 6; fMP4 segments 7.
            version: Some(if t.kind == Kind::Fmp4 { 7 } else { 3 }),
            target_duration: longest.round().max(1.0) as u64,
            media_sequence: 0,
            segments: t.segments.clone(),
            end_list: ended,
            playlist_type: Some(if ended {
                MediaPlaylistType::Vod
            } else {
                MediaPlaylistType::Event
            }),
            independent_segments: true,
            ..MediaPlaylist::default()
        };
        let mut out = Vec::new();
        let path = self.dir.join(&t.dir).join(MASTER);
        playlist.write_to(&mut out).map_err(io(&path))?;
        write_atomic(&path, &out)
    }

    fn write_master(&self) -> Result<(), HlsError> {
        let variants = self
            .tracks
            .iter()
            .map(|t| {
                let average = if t.media_secs > 0.0 {
                    (t.bytes as f64 * 8.0 / t.media_secs).ceil() as u64
                } else {
                    t.profile.bitrate_bps
                };
                VariantStream {
                    uri: format!("{}/{MASTER}", t.dir),
                    bandwidth: t.peak_bps.max(average).max(1),
                    average_bandwidth: Some(average.max(1)),
                    codecs: t.codecs.clone(),
                    resolution: t.size.map(|(width, height)| Resolution {
                        width: u64::from(width),
                        height: u64::from(height),
                    }),
                    frame_rate: t
                        .profile
                        .framerate
                        .map(|f| f64::from(f.num) / f64::from(f.den)),
                    ..VariantStream::default()
                }
            })
            .collect();
        let fmp4 = self.tracks.iter().any(|t| t.kind == Kind::Fmp4);
        let master = MasterPlaylist {
            version: Some(if fmp4 { 7 } else { 3 }),
            variants,
            independent_segments: true,
            ..MasterPlaylist::default()
        };
        let mut out = Vec::new();
        let path = self.dir.join(MASTER);
        master.write_to(&mut out).map_err(io(&path))?;
        write_atomic(&path, &out)
    }
}

/// The segments a rung's media playlist under `track_dir` lists, with their sequence
/// numbers (from `<seq>.ts`); none when the playlist is not there yet.
fn read_back(track_dir: &Path) -> Result<Vec<(u64, MediaSegment)>, HlsError> {
    let path = track_dir.join(MASTER);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&path)(e)),
    };
    let bad = |reason: String| HlsError::BadPlaylist {
        path: path.clone(),
        reason,
    };
    let playlist = m3u8_rs::parse_media_playlist_res(&bytes)
        .map_err(|_| bad("not a media playlist this writer wrote".into()))?;
    let mut out: Vec<(u64, MediaSegment)> = Vec::with_capacity(playlist.segments.len());
    for seg in playlist.segments {
        let seq = seg
            .uri
            .strip_suffix(".ts")
            .or_else(|| seg.uri.strip_suffix(".m4s"))
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| bad(format!("segment {} is not named <seq>.ts or .m4s", seg.uri)))?;
        if out.last().is_some_and(|(q, _)| *q >= seq) {
            return Err(bad(format!("segment {seq} out of order")));
        }
        if !track_dir.join(&seg.uri).is_file() {
            return Err(bad(format!("segment {} is missing", seg.uri)));
        }
        out.push((seq, seg));
    }
    Ok(out)
}

/// A rung name as a directory name: ASCII letters, digits, `-` and `_`.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "rendition".into() } else { s }
}

/// The RFC 6381 codec string of a TS rendition, from its first SPS (`avc1.PPCCLL`).
/// The RFC 6381 codecs string and the picture size of an H.264 segment, where they parse.
fn codecs_of(ts: &[u8], codec: VideoCodec) -> (Option<String>, Option<(u32, u32)>) {
    if codec != VideoCodec::H264 {
        return (None, None);
    }
    let Ok(media) = ts_demux::demux(ts, VideoCodec::H264) else {
        return (None, None);
    };
    let Some(sps) = media
        .video
        .iter()
        .find_map(|au| find_nal(&au.data, 7).map(<[u8]>::to_vec))
    else {
        return (None, None);
    };
    let size = h264::parse_sps(&sps).ok().map(|s| (s.width, s.height));
    let audio = if media.audio.is_empty() {
        ""
    } else {
        ",mp4a.40.2"
    };
    let [_, p, c, l, ..] = sps[..] else {
        return (None, size);
    };
    (Some(format!("avc1.{p:02x}{c:02x}{l:02x}{audio}")), size)
}

/// What a playlist's bytes name: media segments, or the variant to follow.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlaylistEntries {
    /// A media playlist's segment URIs, in order.
    Segments(Vec<String>),
    /// A master playlist's highest-bandwidth variant.
    Variant(String),
}

/// Parses playlist bytes without touching the file system: a media playlist's segment URIs,
/// or a master playlist's best variant. Refuses empty playlists, fMP4 and encrypted
/// segments. `Err` carries the reason.
pub fn parse_playlist(bytes: &[u8]) -> Result<PlaylistEntries, String> {
    let playlist = m3u8_rs::parse_playlist_res(bytes)
        .map_err(|_| "not an HLS playlist (no #EXTM3U header or unparsable lines)".to_owned())?;
    match playlist {
        m3u8_rs::Playlist::MasterPlaylist(m) => m
            .variants
            .iter()
            .filter(|v| !v.is_i_frame)
            .max_by_key(|v| v.bandwidth)
            .map(|v| PlaylistEntries::Variant(v.uri.clone()))
            .ok_or_else(|| "master playlist lists no variant".to_owned()),
        m3u8_rs::Playlist::MediaPlaylist(m) => {
            if m.segments.is_empty() {
                return Err("media playlist lists no segment".into());
            }
            if m.segments
                .iter()
                .any(|s| s.map.is_some() || s.key.is_some())
            {
                return Err(
                    "fMP4 or encrypted segments are not supported; give MPEG-TS segments".into(),
                );
            }
            Ok(PlaylistEntries::Segments(
                m.segments.into_iter().map(|s| s.uri).collect(),
            ))
        }
    }
}

/// The TS segment files a media playlist names, in order, resolved against the playlist's
/// directory. A master playlist is followed to its highest-bandwidth variant (one level).
/// Only local paths are read; a URL or a missing file is an error naming it.
pub fn read_playlist(path: &Path) -> Result<Vec<PathBuf>, HlsError> {
    read_playlist_depth(path, 0)
}

fn read_playlist_depth(path: &Path, depth: u8) -> Result<Vec<PathBuf>, HlsError> {
    let bad = |reason: String| HlsError::BadPlaylist {
        path: path.to_owned(),
        reason,
    };
    let bytes = fs::read(path).map_err(io(path))?;
    let base = path.parent().unwrap_or(Path::new("."));
    match parse_playlist(&bytes).map_err(bad)? {
        PlaylistEntries::Variant(uri) => {
            if depth > 0 {
                return Err(bad("a master playlist that leads to another".into()));
            }
            let next = local(base, &uri).map_err(bad)?;
            read_playlist_depth(&next, depth + 1)
        }
        PlaylistEntries::Segments(uris) => {
            let mut out = Vec::with_capacity(uris.len());
            for uri in &uris {
                let p = local(base, uri).map_err(bad)?;
                if !p.is_file() {
                    return Err(bad(format!("segment {} is missing", p.display())));
                }
                out.push(p);
            }
            Ok(out)
        }
    }
}

/// The fuzz target's entry: arbitrary bytes as a playlist, and as a rendition the writer
/// repackages (fMP4 split, IVF to fMP4, the codecs string). Never panics.
#[doc(hidden)]
pub fn fuzz_playlist(data: &[u8]) {
    let _ = parse_playlist(data);
    if let Ok((init, media)) = fmp4::split(data) {
        assert_eq!(init.len() + media.len(), data.len());
        let _ = fmp4::codecs(init);
    }
    if let Ok(whole) = fmp4::from_ivf(data) {
        assert!(fmp4::split(&whole).is_ok(), "repackaged IVF splits");
    }
}

fn local(base: &Path, uri: &str) -> Result<PathBuf, String> {
    if uri.contains("://") {
        return Err(format!(
            "{uri} is a URL; download the stream and give a local playlist"
        ));
    }
    Ok(base.join(uri))
}

#[cfg(test)]
mod tests;
