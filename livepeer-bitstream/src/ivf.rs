//! IVF files: a 32-byte file header (`DKIF`, codec, size, time base) and a 12-byte header
//! before each frame (size, timestamp). Read and written here.

use crate::{BitstreamError, MAX_FRAMES};

/// The codec tag of AV1.
pub const AV1: [u8; 4] = *b"AV01";
/// Bytes of the file header this crate writes (and the least a file may have).
pub const HEADER_LEN: usize = 32;
/// Bytes of a frame header.
pub const FRAME_HEADER_LEN: usize = 12;

/// The file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// The codec tag (`AV01`, `VP90`, ...).
    pub fourcc: [u8; 4],
    /// Picture width.
    pub width: u16,
    /// Picture height.
    pub height: u16,
    /// Timestamp units per `scale` seconds (the time base's denominator); never zero.
    pub rate: u32,
    /// Seconds per `rate` units (the time base's numerator); never zero.
    pub scale: u32,
}

impl Header {
    /// A header for `fourcc` pictures of `width`×`height` with timestamps in units of
    /// `scale / rate` seconds.
    pub fn new(fourcc: [u8; 4], width: u16, height: u16, rate: u32, scale: u32) -> Self {
        Header {
            fourcc,
            width,
            height,
            rate,
            scale,
        }
    }

    /// A timestamp of this file in 90 kHz ticks; `None` past `i64`.
    pub fn ticks_90khz(&self, pts: u64) -> Option<i64> {
        let t = u128::from(pts) * 90_000 * u128::from(self.scale) / u128::from(self.rate.max(1));
        i64::try_from(t).ok()
    }
}

/// One frame (for AV1, a temporal unit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Its timestamp in the file's time base.
    pub pts: u64,
    /// Its bytes.
    pub data: &'a [u8],
}

/// A parsed IVF file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ivf<'a> {
    /// The file header.
    pub header: Header,
    /// The frames, at most [`MAX_FRAMES`].
    pub frames: Vec<Frame<'a>>,
}

fn le32(b: &[u8], at: usize) -> Result<u32, BitstreamError> {
    let s = b
        .get(at..at + 4)
        .ok_or(BitstreamError::Truncated("IVF frame header"))?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses an IVF file whose codec must be `fourcc` (another codec is
/// [`BitstreamError::Unsupported`]).
pub fn parse(data: &[u8], fourcc: [u8; 4]) -> Result<Ivf<'_>, BitstreamError> {
    if data.len() < HEADER_LEN || &data[..4] != b"DKIF" {
        return Err(BitstreamError::Invalid("not an IVF file"));
    }
    if data[8..12] != fourcc {
        return Err(BitstreamError::Unsupported(format!(
            "IVF of codec {}",
            String::from_utf8_lossy(&data[8..12])
        )));
    }
    let header_len = usize::from(u16::from_le_bytes([data[6], data[7]]));
    let header = Header {
        fourcc,
        width: u16::from_le_bytes([data[12], data[13]]),
        height: u16::from_le_bytes([data[14], data[15]]),
        rate: le32(data, 16)?,
        scale: le32(data, 20)?,
    };
    if header.rate == 0 || header.scale == 0 {
        return Err(BitstreamError::Invalid("IVF time base with a zero field"));
    }
    let mut frames = Vec::new();
    let mut at = header_len.max(HEADER_LEN);
    while at < data.len() {
        let size = le32(data, at)? as usize;
        let pts = data
            .get(at + 4..at + FRAME_HEADER_LEN)
            .ok_or(BitstreamError::Truncated("IVF frame header"))?;
        let mut p = [0u8; 8];
        p.copy_from_slice(pts);
        let start = at + FRAME_HEADER_LEN;
        let body = data
            .get(start..start.saturating_add(size))
            .ok_or(BitstreamError::Truncated("IVF frame"))?;
        if frames.len() >= MAX_FRAMES as usize {
            return Err(BitstreamError::Invalid("too many pictures"));
        }
        frames.push(Frame {
            pts: u64::from_le_bytes(p),
            data: body,
        });
        at = start + size;
    }
    Ok(Ivf { header, frames })
}

/// Writes an IVF file of `frames` (timestamp, bytes). A frame over 4 GiB is cut to its first
/// 4 GiB, so the file stays well formed.
pub fn write<'a>(
    header: &Header,
    frames: impl ExactSizeIterator<Item = (u64, &'a [u8])>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + frames.len() * FRAME_HEADER_LEN);
    out.extend_from_slice(b"DKIF");
    out.extend_from_slice(&0u16.to_le_bytes()); // version
    out.extend_from_slice(&(HEADER_LEN as u16).to_le_bytes());
    out.extend_from_slice(&header.fourcc);
    out.extend_from_slice(&header.width.to_le_bytes());
    out.extend_from_slice(&header.height.to_le_bytes());
    out.extend_from_slice(&header.rate.to_le_bytes());
    out.extend_from_slice(&header.scale.to_le_bytes());
    out.extend_from_slice(
        &u32::try_from(frames.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&0u32.to_le_bytes()); // unused
    for (pts, data) in frames {
        let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&pts.to_le_bytes());
        out.extend_from_slice(&data[..size as usize]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_headers_are_errors() {
        assert!(parse(b"DKIF", AV1).is_err());
        assert!(parse(&[0u8; 64], AV1).is_err());
        let mut vp9 = vec![0u8; 32];
        vp9[..4].copy_from_slice(b"DKIF");
        vp9[8..12].copy_from_slice(b"VP90");
        assert!(parse(&vp9, AV1).unwrap_err().is_unsupported());
        let h = Header::new(AV1, 64, 48, 90_000, 1);
        let mut file = write(&h, [(0u64, &[1u8, 2][..])].into_iter());
        file.pop();
        assert_eq!(
            parse(&file, AV1),
            Err(BitstreamError::Truncated("IVF frame"))
        );
        let mut zero = write(&h, std::iter::empty());
        zero[16..20].fill(0);
        assert!(parse(&zero, AV1).is_err());
    }

    #[test]
    fn written_files_read_back() {
        let h = Header::new(AV1, 64, 48, 30, 1);
        let frames = [(0u64, &b"ab"[..]), (1, b""), (2, b"cde")];
        let file = write(&h, frames.into_iter());
        let ivf = parse(&file, AV1).unwrap();
        assert_eq!(ivf.header, h);
        let back: Vec<(u64, &[u8])> = ivf.frames.iter().map(|f| (f.pts, f.data)).collect();
        assert_eq!(back, frames);
        assert_eq!(h.ticks_90khz(2), Some(6000));
    }
}
