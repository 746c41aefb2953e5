//! The video track of an MP4 or fragmented MP4 (ISO/IEC 14496-12): its codec configuration
//! (`avcC` or `av1C`), size and samples with presentation times and sync flags, from the
//! sample tables of a progressive file or the `trun`s of movie fragments. Headers only; every
//! read is bounded by the bytes given.

use livepeer_core::VideoCodec;

use crate::{BitstreamError, MAX_FRAMES};

/// One sample of the video track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample<'a> {
    /// Presentation time in the track's timescale.
    pub pts: i64,
    /// The sample's bytes.
    pub data: &'a [u8],
}

/// The video track of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Video<'a> {
    /// Its codec (H.264 or AV1).
    pub codec: VideoCodec,
    /// Picture width its sample entry declares.
    pub width: u32,
    /// Picture height its sample entry declares.
    pub height: u32,
    /// Ticks per second of the sample times.
    pub timescale: u32,
    /// `avcC` (H.264) or `av1C` (AV1) payload.
    pub config: &'a [u8],
    /// Its samples in decode order, at most [`MAX_FRAMES`].
    pub samples: Vec<Sample<'a>>,
}

const BAD: BitstreamError = BitstreamError::Invalid("MP4 box structure");

fn be(b: &[u8], at: usize, n: usize) -> Result<u64, BitstreamError> {
    let s = b
        .get(at..at + n)
        .ok_or(BitstreamError::Truncated("MP4 box"))?;
    Ok(s.iter().fold(0u64, |v, &x| v << 8 | u64::from(x)))
}

fn be32(b: &[u8], at: usize) -> Result<u32, BitstreamError> {
    Ok(be(b, at, 4)? as u32)
}

/// A box: its type, its payload, and where the box starts in the bytes it was read from.
type Mp4Box<'a> = ([u8; 4], &'a [u8], usize);

/// The boxes in `data`.
fn boxes(data: &[u8]) -> Result<Vec<Mp4Box<'_>>, BitstreamError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let size32 = be32(data, at)? as usize;
        let kind = [data[at + 4], data[at + 5], data[at + 6], data[at + 7]];
        let (size, head) = match size32 {
            0 => (data.len() - at, 8),
            1 => (usize::try_from(be(data, at + 8, 8)?).map_err(|_| BAD)?, 16),
            n => (n, 8),
        };
        let end = at
            .checked_add(size)
            .filter(|&e| e <= data.len() && size >= head);
        let end = end.ok_or(BitstreamError::Truncated("MP4 box"))?;
        out.push((kind, &data[at + head..end], at));
        at = end;
        if out.len() > 100_000 {
            return Err(BAD);
        }
    }
    Ok(out)
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, BitstreamError> {
    Ok(boxes(data)?
        .into_iter()
        .find(|(k, _, _)| k == kind)
        .map(|(_, p, _)| p))
}

fn path<'a>(data: &'a [u8], kinds: &[&[u8; 4]]) -> Result<Option<&'a [u8]>, BitstreamError> {
    let mut cur = data;
    for k in kinds {
        match child(cur, k)? {
            Some(p) => cur = p,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

/// Sample tables of a progressive file.
struct Tables<'a> {
    stts: Option<&'a [u8]>,
    ctts: Option<&'a [u8]>,
    stsz: Option<&'a [u8]>,
    stsc: Option<&'a [u8]>,
    stco: Option<(&'a [u8], usize)>,
}

/// Refuses one sample more than [`MAX_FRAMES`].
fn room(samples: &[Sample<'_>]) -> Result<(), BitstreamError> {
    if samples.len() >= MAX_FRAMES as usize {
        return Err(BitstreamError::Invalid("too many pictures"));
    }
    Ok(())
}

/// Samples from progressive sample tables.
fn table_samples<'a>(file: &'a [u8], t: &Tables<'a>) -> Result<Vec<Sample<'a>>, BitstreamError> {
    let (Some(stsz), Some(stsc), Some((stco, width)), Some(stts)) =
        (t.stsz, t.stsc, t.stco, t.stts)
    else {
        return Ok(Vec::new());
    };
    let fixed = be32(stsz, 4)?;
    let count = be32(stsz, 8)? as usize;
    if count > MAX_FRAMES as usize {
        return Err(BitstreamError::Invalid("too many pictures"));
    }
    let size = |i: usize| -> Result<usize, BitstreamError> {
        Ok(if fixed != 0 {
            fixed
        } else {
            be32(stsz, 12 + 4 * i)?
        } as usize)
    };
    let chunks = be32(stco, 4)? as usize;
    let offset = |c: usize| -> Result<usize, BitstreamError> {
        usize::try_from(be(stco, 8 + width * c, width)?).map_err(|_| BAD)
    };
    let runs = be32(stsc, 4)? as usize;
    let run = |r: usize| -> Result<(usize, usize), BitstreamError> {
        Ok((
            be32(stsc, 8 + 12 * r)? as usize,
            be32(stsc, 12 + 12 * r)? as usize,
        ))
    };
    // Decode times from stts, composition offsets from ctts.
    let mut dts = Vec::with_capacity(count);
    let mut clock = 0i64;
    for e in 0..be32(stts, 4)? as usize {
        let (n, d) = (
            be32(stts, 8 + 8 * e)? as usize,
            i64::from(be32(stts, 12 + 8 * e)?),
        );
        for _ in 0..n.min(count.saturating_sub(dts.len())) {
            dts.push(clock);
            clock = clock.saturating_add(d);
        }
        if dts.len() >= count {
            break;
        }
    }
    let mut cto = vec![0i64; count];
    if let Some(ctts) = t.ctts {
        let mut i = 0;
        for e in 0..be32(ctts, 4)? as usize {
            let n = be32(ctts, 8 + 8 * e)? as usize;
            let off = i64::from(be32(ctts, 12 + 8 * e)? as i32);
            // The count is the file's word: never loop past the samples there are.
            let take = n.min(count - i);
            cto[i..i + take].iter_mut().for_each(|c| *c = off);
            i += take;
            if i >= count {
                break;
            }
        }
    }
    let mut out = Vec::with_capacity(count);
    let mut i = 0usize;
    // Runs come in increasing first-chunk order: one pass over chunks and runs together.
    let (mut r, mut per_chunk) = (0usize, 0usize);
    for c in 0..chunks {
        if i >= count {
            break;
        }
        while r < runs {
            let (first, n) = run(r)?;
            if first > c + 1 {
                break;
            }
            per_chunk = n;
            r += 1;
        }
        let mut at = offset(c)?;
        for _ in 0..per_chunk {
            if i >= count {
                break;
            }
            let n = size(i)?;
            let data = file
                .get(at..at.checked_add(n).ok_or(BAD)?)
                .ok_or(BitstreamError::Truncated("MP4 sample"))?;
            room(&out)?;
            let d = dts.get(i).copied().unwrap_or(clock);
            out.push(Sample {
                pts: d.saturating_add(cto[i]),
                data,
            });
            at += n;
            i += 1;
        }
    }
    Ok(out)
}

/// Samples of track `track` from the movie fragments.
fn fragment_samples<'a>(
    file: &'a [u8],
    top: &[Mp4Box<'a>],
    track: u32,
) -> Result<Vec<Sample<'a>>, BitstreamError> {
    let mut out = Vec::new();
    for (kind, moof, moof_at) in top {
        if kind != b"moof" {
            continue;
        }
        for (k, traf, _) in boxes(moof)? {
            if &k != b"traf" {
                continue;
            }
            let tfhd = child(traf, b"tfhd")?.ok_or(BAD)?;
            let flags = be32(tfhd, 0)? & 0xff_ffff;
            if be32(tfhd, 4)? != track {
                continue;
            }
            let mut at = 8;
            let mut base = *moof_at as u64;
            if flags & 0x1 != 0 {
                base = be(tfhd, at, 8)?;
                at += 8;
            }
            if flags & 0x2 != 0 {
                at += 4;
            }
            let mut default_duration = 0;
            if flags & 0x8 != 0 {
                default_duration = be32(tfhd, at)?;
                at += 4;
            }
            let mut default_size = 0;
            if flags & 0x10 != 0 {
                default_size = be32(tfhd, at)?;
            }
            let mut t = match child(traf, b"tfdt")? {
                Some(d) if d.first() == Some(&1) => be(d, 4, 8)? as i64,
                Some(d) => i64::from(be32(d, 4)?),
                None => 0,
            };
            for (k, trun, _) in boxes(traf)? {
                if &k != b"trun" {
                    continue;
                }
                let f = be32(trun, 0)? & 0xff_ffff;
                let n = be32(trun, 4)? as usize;
                let mut at = 8;
                let mut offset = base;
                if f & 0x1 != 0 {
                    offset = offset.wrapping_add(i64::from(be32(trun, at)? as i32) as u64);
                    at += 4;
                }
                if f & 0x4 != 0 {
                    at += 4;
                }
                let mut pos = usize::try_from(offset).map_err(|_| BAD)?;
                for _ in 0..n {
                    let mut duration = default_duration;
                    let mut size = default_size;
                    let mut cto = 0i64;
                    if f & 0x100 != 0 {
                        duration = be32(trun, at)?;
                        at += 4;
                    }
                    if f & 0x200 != 0 {
                        size = be32(trun, at)?;
                        at += 4;
                    }
                    if f & 0x400 != 0 {
                        at += 4;
                    }
                    if f & 0x800 != 0 {
                        cto = i64::from(be32(trun, at)? as i32);
                        at += 4;
                    }
                    let end = pos.checked_add(size as usize).ok_or(BAD)?;
                    let data = file
                        .get(pos..end)
                        .ok_or(BitstreamError::Truncated("MP4 sample"))?;
                    room(&out)?;
                    out.push(Sample {
                        pts: t.saturating_add(cto),
                        data,
                    });
                    pos = end;
                    t = t.saturating_add(i64::from(duration));
                }
            }
        }
    }
    Ok(out)
}

/// Reads the first video track of an MP4 or fragmented MP4.
pub fn read_video(file: &[u8]) -> Result<Video<'_>, BitstreamError> {
    let top = boxes(file)?;
    let moov = top
        .iter()
        .find(|(k, _, _)| k == b"moov")
        .map(|(_, p, _)| *p)
        .ok_or(BitstreamError::Invalid("MP4 without a movie box"))?;
    for (k, trak, _) in boxes(moov)? {
        if &k != b"trak" {
            continue;
        }
        let Some(hdlr) = path(trak, &[b"mdia", b"hdlr"])? else {
            continue;
        };
        if hdlr.get(8..12) != Some(b"vide") {
            continue;
        }
        let tkhd = child(trak, b"tkhd")?.ok_or(BAD)?;
        let track = be32(tkhd, if tkhd.first() == Some(&1) { 20 } else { 12 })?;
        let mdhd = path(trak, &[b"mdia", b"mdhd"])?.ok_or(BAD)?;
        let timescale = be32(mdhd, if mdhd.first() == Some(&1) { 20 } else { 12 })?;
        if timescale == 0 {
            return Err(BitstreamError::Invalid("MP4 timescale of zero"));
        }
        let stbl = path(trak, &[b"mdia", b"minf", b"stbl"])?.ok_or(BAD)?;
        let stsd = child(stbl, b"stsd")?.ok_or(BAD)?;
        let entry = boxes(stsd.get(8..).ok_or(BAD)?)?;
        let (kind, entry, _) = entry.first().ok_or(BAD)?;
        let (codec, config_kind) = match kind {
            b"avc1" | b"avc3" => (VideoCodec::H264, b"avcC"),
            b"av01" => (VideoCodec::Av1, b"av1C"),
            other => {
                return Err(BitstreamError::Unsupported(format!(
                    "MP4 sample entry {}",
                    String::from_utf8_lossy(other)
                )));
            }
        };
        let (width, height) = (be(entry, 24, 2)? as u32, be(entry, 26, 2)? as u32);
        let config = child(entry.get(78..).ok_or(BAD)?, config_kind)?
            .ok_or(BitstreamError::MissingParameterSet)?;
        let stco = match (child(stbl, b"stco")?, child(stbl, b"co64")?) {
            (Some(s), _) => Some((s, 4)),
            (None, Some(s)) => Some((s, 8)),
            _ => None,
        };
        let tables = Tables {
            stts: child(stbl, b"stts")?,
            ctts: child(stbl, b"ctts")?,
            stsz: child(stbl, b"stsz")?,
            stsc: child(stbl, b"stsc")?,
            stco,
        };
        let mut samples = table_samples(file, &tables)?;
        samples.extend(fragment_samples(file, &top, track)?);
        return Ok(Video {
            codec,
            width,
            height,
            timescale,
            config,
            samples,
        });
    }
    Err(BitstreamError::Invalid("MP4 without a video track"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(payload);
        v
    }

    /// A progressive file of two 1-byte samples whose tables claim absurd counts.
    fn file(ctts_count: u32, runs: &[(u32, u32)]) -> Vec<u8> {
        let mut entry = vec![0u8; 78];
        entry[24..26].copy_from_slice(&64u16.to_be_bytes());
        entry[26..28].copy_from_slice(&48u16.to_be_bytes());
        entry.extend(b(b"avcC", &[1, 66, 0, 30, 0xff, 0xe0, 0]));
        let stsd = [&[0u8; 8][..], &b(b"avc1", &entry)].concat();
        let words = |w: &[u32]| w.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
        let mut stsc = words(&[0, runs.len() as u32]);
        for (first, n) in runs {
            stsc.extend(words(&[*first, *n, 1]));
        }
        let stbl = [
            b(b"stsd", &stsd),
            b(b"stts", &words(&[0, 1, 2, 1])),
            b(b"ctts", &words(&[0, 1, ctts_count, 0])),
            b(b"stsz", &words(&[0, 1, 2])),
            b(b"stsc", &stsc),
            b(b"stco", &words(&[0, 1, 0])),
        ]
        .concat();
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"vide");
        let mdia = [
            b(b"mdhd", &words(&[0, 0, 0, 90_000, 0])),
            b(b"hdlr", &hdlr),
            b(b"minf", &b(b"stbl", &stbl)),
        ]
        .concat();
        let trak = [b(b"tkhd", &words(&[0, 0, 0, 1, 0])), b(b"mdia", &mdia)].concat();
        b(b"moov", &b(b"trak", &trak))
    }

    #[test]
    fn absurd_table_counts_are_bounded_by_the_samples() {
        // Four billion composition offsets and a million runs for two samples: the loops
        // follow the samples there are, not the counts.
        let many: Vec<(u32, u32)> = (1..=1_000_000).map(|c| (c, 2)).collect();
        let data = file(u32::MAX, &many);
        let t = std::time::Instant::now();
        let v = read_video(&data).unwrap();
        assert_eq!(v.samples.len(), 2);
        assert_eq!((v.width, v.height, v.timescale), (64, 48, 90_000));
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            t.elapsed()
        );
    }
}
