//! Input from disk for tools: an HLS playlist of MPEG-TS segments, an MPEG-TS file or an MP4
//! file, cut at key frames into segments of about a target duration by the [`Segmenter`].
//!
//! [`InputStream::open`] checks what it can before anything is transcoded (the file exists,
//! is MPEG-TS or MP4, every segment a playlist names is there, and the first segment can be
//! cut), so a tool fails with one clear line before writing output.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use livepeer_core::{Container, Segment};
use thiserror::Error;

use crate::hls::{HlsError, read_playlist};
use crate::segmenter::{Segmenter, SegmenterConfig};

/// Bytes read at a time from an MPEG-TS input.
const CHUNK: usize = 1 << 20;

/// Why an input cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InputError {
    /// The file is missing or unreadable.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The playlist is unusable.
    #[error(transparent)]
    Playlist(#[from] HlsError),
    /// The file is not video this crate reads.
    #[error(
        "{path} is not a video this tool reads ({reason}); give an MPEG-TS, MP4 or HLS playlist"
    )]
    NotVideo {
        /// The file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// The file is video this crate cannot transcode yet.
    #[error("{path}: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is not supported, and what to do.
        reason: String,
    },
}

/// Segments cut from a file or playlist as they are read.
#[derive(Debug)]
pub struct InputStream {
    files: VecDeque<PathBuf>,
    current: Option<(PathBuf, File)>,
    segmenter: Segmenter,
    ready: VecDeque<Segment>,
    done: bool,
}

impl InputStream {
    /// Opens `path` (`.m3u8`: an HLS playlist; otherwise an MPEG-TS or MP4 file, told apart
    /// by their first bytes) and cuts segments of about `target`.
    pub fn open(path: &Path, target: Duration) -> Result<Self, InputError> {
        let is_playlist = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("m3u8") || e.eq_ignore_ascii_case("m3u"));
        let files: VecDeque<PathBuf> = if is_playlist {
            read_playlist(path)?.into()
        } else {
            VecDeque::from([path.to_owned()])
        };
        let first = files.front().cloned().unwrap_or_else(|| path.to_owned());
        let container = sniff(&first)?;
        if is_playlist && container != Container::MpegTs {
            return Err(InputError::NotVideo {
                path: first,
                reason: "a playlist segment that is not MPEG-TS".into(),
            });
        }
        let cfg = SegmenterConfig {
            target,
            container,
            ..SegmenterConfig::default()
        };
        let mut s = InputStream {
            files,
            current: None,
            segmenter: Segmenter::new(cfg),
            ready: VecDeque::new(),
            done: false,
        };
        // Cut the first segment now: garbage behind a valid header fails here.
        let first = s.next_segment()?.ok_or_else(|| InputError::NotVideo {
            path: path.to_owned(),
            reason: "no video segment could be cut from it".into(),
        })?;
        #[cfg(not(feature = "libav"))]
        if crate::pipeline::is_interlaced(&first) {
            return Err(InputError::Unsupported {
                path: path.to_owned(),
                reason: crate::decode::INTERLACED_NEEDS_LIBAV.into(),
            });
        }
        s.ready.push_front(first);
        Ok(s)
    }

    /// The next segment, or `None` at the end of the input.
    pub fn next_segment(&mut self) -> Result<Option<Segment>, InputError> {
        loop {
            if let Some(s) = self.ready.pop_front() {
                return Ok(Some(s));
            }
            if let Some(s) = self.segmenter.poll_segment() {
                return Ok(Some(s));
            }
            if self.done {
                return Ok(None);
            }
            self.feed()?;
        }
    }

    fn feed(&mut self) -> Result<(), InputError> {
        if self.current.is_none() {
            let Some(path) = self.files.pop_front() else {
                self.done = true;
                return self.segmenter.finish().map_err(|e| InputError::NotVideo {
                    path: PathBuf::from("input"),
                    reason: e.to_string(),
                });
            };
            let f = File::open(&path).map_err(|source| InputError::Io {
                path: path.clone(),
                source,
            })?;
            self.current = Some((path, f));
        }
        let Some((path, f)) = self.current.as_mut() else {
            return Ok(());
        };
        let mut buf = vec![0u8; CHUNK];
        let n = f.read(&mut buf).map_err(|source| InputError::Io {
            path: path.clone(),
            source,
        })?;
        if n == 0 {
            self.current = None;
            return Ok(());
        }
        let path = path.clone();
        self.segmenter
            .push(&buf[..n])
            .map_err(|e| InputError::NotVideo {
                path,
                reason: e.to_string(),
            })
    }
}

/// Tells MPEG-TS (sync bytes every 188) from MP4 (an `ftyp` box first).
fn sniff(path: &Path) -> Result<Container, InputError> {
    let io = |source| InputError::Io {
        path: path.to_owned(),
        source,
    };
    let mut head = [0u8; 377];
    let mut f = File::open(path).map_err(io)?;
    let mut n = 0;
    while n < head.len() {
        let k = f.read(&mut head[n..]).map_err(io)?;
        if k == 0 {
            break;
        }
        n += k;
    }
    let head = &head[..n];
    if head.len() >= 189 && head[0] == 0x47 && head[188] == 0x47 {
        return Ok(Container::MpegTs);
    }
    if head.len() >= 8 && &head[4..8] == b"ftyp" {
        return Ok(Container::Mp4);
    }
    Err(InputError::NotVideo {
        path: path.to_owned(),
        reason: if head.is_empty() {
            "the file is empty".into()
        } else {
            "neither MPEG-TS sync bytes nor an MP4 ftyp box".into()
        },
    })
}
