//! The transcoder's own decoders and scaler as verification seams (feature `openh264`, on by
//! default): [`SoftwareDecoder`] decodes H.264 with livepeer-transcode's OpenH264 decoder
//! (libavcodec for interlaced H.264 and AV1, feature `libav`), and [`SoftwareScaler`]
//! scales with its bilinear scaler, so the reference picture of a perceptual check is, bit for bit, the one livepeer-transcode's
//! software backend encoded.
//!
//! OpenH264 and libavcodec are not bit-exact on streams with B-frames, so a verifier that
//! checks OpenH264 transcoders must decode with OpenH264 too.

use std::time::Duration;

use bytes::Bytes;
use livepeer_core::transcode::TranscodeError;
use livepeer_core::{Container, Segment, VideoCodec};
use livepeer_transcode::{Frame, InputLimits, Output, Scaler, VideoDecoder, software_decoder};

use livepeer_bitstream::{h264, mp4};

use crate::bitstream::ts;
use crate::decode::{DecodeError, FrameDecoder, PictureScaler};
use crate::metrics::Picture;

/// Decodes a segment with the decoder livepeer-transcode's software backend chooses
/// ([`livepeer_transcode::software_decoder`]): H.264 in MPEG-TS, Annex-B, MP4 or fragmented
/// MP4 with OpenH264; with the `libav` feature also interlaced H.264 (libavcodec,
/// deinterlaced as the transcoder does) and AV1 in IVF, MP4 or fragmented MP4 (libavcodec's
/// libdav1d, one thread, so deterministic). Without that feature those are [`DecodeError::Unsupported`].
///
/// Access units before the first IDR are skipped, as the transcoder skips them. With
/// `max_frames`, decoding stops as soon as that many pictures are out, so the key frame
/// check costs one picture per rendition. Other codecs and containers are
/// [`DecodeError::Unsupported`], which the checker treats as "not checked here".
#[derive(Clone, Copy, Debug, Default)]
pub struct SoftwareDecoder {
    limits: InputLimits,
}

impl SoftwareDecoder {
    /// A decoder with livepeer-transcode's default input limits (16×16 to 4096×2304).
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder that refuses pictures outside `limits` before allocating them.
    pub fn with_limits(limits: InputLimits) -> Self {
        SoftwareDecoder { limits }
    }

    /// The input limits.
    pub fn limits(&self) -> InputLimits {
        self.limits
    }
}

/// Maps the transcoder's errors onto the verifier's: bad bytes are the producer's fault.
fn decode_error(e: TranscodeError) -> DecodeError {
    match e {
        TranscodeError::Unsupported(m) => DecodeError::Unsupported(m),
        TranscodeError::Busy | TranscodeError::Backend(_) => DecodeError::Backend(e.to_string()),
        other => DecodeError::Invalid(other.to_string()),
    }
}

fn picture(f: Frame) -> Picture {
    Picture {
        width: f.width,
        height: f.height,
        y: f.y,
        u: f.u,
        v: f.v,
    }
}

/// Splits an Annex-B stream into access units the way livepeer-transcode does
/// ([`h264::access_units`]), refusing NAL units with the forbidden bit set.
fn annexb_access_units(data: &[u8]) -> Result<Vec<Vec<u8>>, DecodeError> {
    for unit in h264::nal_units(data) {
        h264::nal_unit_type(unit).map_err(|e| DecodeError::Invalid(e.to_string()))?;
    }
    Ok(h264::access_units(data))
}

fn has_idr(au: &[u8]) -> bool {
    h264::nal_units(au).any(|u| h264::nal_unit_type(u) == Ok(h264::nal::IDR))
}

impl SoftwareDecoder {
    fn decode_access_units(
        &self,
        aus: Vec<Vec<u8>>,
        max_frames: Option<usize>,
    ) -> Result<Vec<Picture>, DecodeError> {
        let first = aus
            .iter()
            .position(|au| has_idr(au))
            .ok_or_else(|| DecodeError::Invalid("no IDR access unit".into()))?;
        let dec =
            software_decoder(VideoCodec::H264, &aus[first], self.limits).map_err(decode_error)?;
        let units = aus
            .iter()
            .enumerate()
            .skip(first)
            .map(|(i, au)| (i as i64, &au[..]));
        decode_units(dec, units, max_frames)
    }

    fn decode_ivf(
        &self,
        data: &[u8],
        max_frames: Option<usize>,
    ) -> Result<Vec<Picture>, DecodeError> {
        let units = crate::bitstream::ivf_units(data).map_err(|e| match e {
            crate::BitstreamError::Unsupported(m) => DecodeError::Unsupported(m),
            other => DecodeError::Invalid(other.to_string()),
        })?;
        let first = units.first().map_or(&[][..], |u| u.1);
        let dec = software_decoder(VideoCodec::Av1, first, self.limits).map_err(decode_error)?;
        let out = decode_units(dec, units.into_iter(), max_frames)?;
        if out.is_empty() {
            return Err(DecodeError::Invalid("no AV1 picture decodes".into()));
        }
        Ok(out)
    }
}

impl SoftwareDecoder {
    /// The video track of an MP4 or fragmented MP4: H.264 samples as Annex-B access units
    /// (the parameter sets of `avcC` before the first), AV1 samples as temporal units.
    /// `Ok(None)` for H.264 in a progressive MP4 (or an MP4 that does not parse here): the
    /// transcoder's own demuxer reads those, as it reads such sources.
    fn decode_mp4(
        &self,
        data: &[u8],
        container: Container,
        max_frames: Option<usize>,
    ) -> Result<Option<Vec<Picture>>, DecodeError> {
        let invalid = |e: crate::BitstreamError| match e {
            crate::BitstreamError::Unsupported(m) => DecodeError::Unsupported(m),
            other => DecodeError::Invalid(other.to_string()),
        };
        let v = match mp4::read_video(data) {
            Ok(v) if container == Container::Fmp4 || v.codec == VideoCodec::Av1 => v,
            Err(e) if container == Container::Fmp4 => return Err(invalid(e)),
            _ => return Ok(None),
        };
        match v.codec {
            VideoCodec::H264 => {
                let (sets, len) = h264::avcc_parameter_sets(v.config).map_err(invalid)?;
                let mut aus = Vec::with_capacity(v.samples.len());
                for (i, s) in v.samples.iter().enumerate() {
                    let mut au = if i == 0 { sets.clone() } else { Vec::new() };
                    h264::avcc_to_annexb(s.data, len, &mut au).map_err(invalid)?;
                    aus.push(au);
                }
                self.decode_access_units(aus, max_frames).map(Some)
            }
            _ => {
                let first = v.samples.first().map_or(&[][..], |s| s.data);
                let dec =
                    software_decoder(VideoCodec::Av1, first, self.limits).map_err(decode_error)?;
                let units = v.samples.iter().map(|s| (s.pts, s.data));
                decode_units(dec, units, max_frames).map(Some)
            }
        }
    }
}

/// Sends `(pts, unit)`s through `dec` and collects its pictures, stopping once
/// `max_frames` are out.
fn decode_units<'a>(
    mut dec: Box<dyn VideoDecoder>,
    units: impl Iterator<Item = (i64, &'a [u8])>,
    max_frames: Option<usize>,
) -> Result<Vec<Picture>, DecodeError> {
    let want = max_frames.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let drain = |dec: &mut dyn VideoDecoder, out: &mut Vec<Picture>| -> Result<(), DecodeError> {
        while out.len() < want {
            match dec.receive_frame().map_err(decode_error)? {
                Output::Ready(f) => out.push(picture(f)),
                _ => break,
            }
        }
        Ok(())
    };
    for (pts, unit) in units {
        dec.send_packet(unit, pts).map_err(decode_error)?;
        drain(dec.as_mut(), &mut out)?;
        if out.len() >= want {
            return Ok(out);
        }
    }
    dec.flush().map_err(decode_error)?;
    drain(dec.as_mut(), &mut out)?;
    Ok(out)
}

impl FrameDecoder for SoftwareDecoder {
    fn decode(
        &self,
        data: &[u8],
        container: Container,
        max_frames: Option<usize>,
    ) -> Result<Vec<Picture>, DecodeError> {
        let aus = match container {
            Container::MpegTs => {
                let vs = ts::demux_video(data).map_err(|e| DecodeError::Invalid(e.to_string()))?;
                if vs.stream_type != livepeer_bitstream::ts::stream_type::H264 {
                    return Err(DecodeError::Unsupported(format!(
                        "transport stream type {:#04x}",
                        vs.stream_type
                    )));
                }
                vs.pes.into_iter().map(|p| p.payload).collect()
            }
            Container::AnnexB => annexb_access_units(data)?,
            Container::Ivf => return self.decode_ivf(data, max_frames),
            Container::Fmp4 | Container::Mp4 => {
                if let Some(pictures) = self.decode_mp4(data, container, max_frames).transpose() {
                    return pictures;
                }
                // H.264 in a progressive MP4 is demuxed by the transcoder itself, as it demuxes
                // such sources; the whole segment is decoded.
                let segment = Segment {
                    seq: 0,
                    duration: Duration::from_secs(2),
                    data: Bytes::copy_from_slice(data),
                    container,
                    codec: VideoCodec::H264,
                };
                let mut frames = livepeer_transcode::decode_segment(&segment, self.limits)
                    .map_err(decode_error)?;
                frames.truncate(max_frames.unwrap_or(usize::MAX));
                return Ok(frames.into_iter().map(picture).collect());
            }
            other => {
                return Err(DecodeError::Unsupported(format!(
                    "OpenH264 decodes H.264, not {other}"
                )));
            }
        };
        self.decode_access_units(aus, max_frames)
    }
}

/// Scales with livepeer-transcode's bilinear scaler (`fast_image_resize`, plane by plane):
/// the reference a software-transcoded rendition was encoded from, exactly.
#[derive(Clone, Copy, Debug, Default)]
pub struct SoftwareScaler;

impl PictureScaler for SoftwareScaler {
    fn scale(&self, p: &Picture, width: u32, height: u32) -> Result<Picture, DecodeError> {
        if !p.is_consistent()
            || width == 0
            || height == 0
            || !width.is_multiple_of(2)
            || !height.is_multiple_of(2)
        {
            return Err(DecodeError::Invalid(
                "inconsistent picture or odd size".into(),
            ));
        }
        let w = p.width as usize;
        let src = Frame::from_strided(p.width, p.height, 0, [&p.y, &p.u, &p.v], [w, w / 2, w / 2])
            .ok_or_else(|| DecodeError::Invalid("planes shorter than the picture".into()))?;
        // A resizer per call: its buffers are small next to a picture, and `&self` stays
        // free of locks so checks of several renditions can run side by side.
        let scaled = Scaler::new()
            .scale(&src, width, height)
            .map_err(|e| DecodeError::Backend(e.to_string()))?;
        Ok(picture(scaled))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_typed_error() {
        let d = SoftwareDecoder::new();
        for c in [Container::MpegTs, Container::AnnexB, Container::Mp4] {
            for data in [
                &b""[..],
                &[0u8; 400][..],
                &[0x47u8; 188 * 3][..],
                b"\0\0\x01\x65junk",
            ] {
                assert!(d.decode(data, c, None).is_err(), "{c:?} {data:?}");
            }
        }
        assert!(matches!(
            d.decode(b"DKIF", Container::Ivf, None),
            Err(DecodeError::Invalid(_))
        ));
        let mut vp9 = vec![0u8; 32];
        vp9[..4].copy_from_slice(b"DKIF");
        vp9[8..12].copy_from_slice(b"VP90");
        assert!(matches!(
            d.decode(&vp9, Container::Ivf, None),
            Err(DecodeError::Unsupported(_))
        ));
        for c in [Container::Fmp4, Container::Mp4] {
            assert!(matches!(
                d.decode(b"\0\0\0\x08moof", c, None),
                Err(DecodeError::Invalid(_))
            ));
        }
    }

    #[test]
    fn scaler_keeps_flat_pictures_and_checks_sizes() {
        let p = Picture::filled(64, 48, 100, 50, 200);
        let s = SoftwareScaler.scale(&p, 32, 18).unwrap();
        assert_eq!((s.width, s.height), (32, 18));
        assert!(s.y.iter().all(|&v| v == 100) && s.u.iter().all(|&v| v == 50));
        assert!(SoftwareScaler.scale(&p, 31, 18).is_err());
        let mut bad = p.clone();
        bad.y.pop();
        assert!(SoftwareScaler.scale(&bad, 32, 18).is_err());
    }

    #[test]
    fn annexb_splits_like_the_transcoder() {
        // SPS, PPS, IDR slice (first_mb 0), slice (first_mb 0): two access units.
        let es = [
            &[0, 0, 0, 1, 0x67, 0x42][..],
            &[0, 0, 0, 1, 0x68, 0xce],
            &[0, 0, 0, 1, 0x65, 0x88, 0x80],
            &[0, 0, 0, 1, 0x41, 0x9a, 0x00],
        ]
        .concat();
        let aus = annexb_access_units(&es).unwrap();
        assert_eq!(aus.len(), 2);
        assert!(has_idr(&aus[0]) && !has_idr(&aus[1]));
    }
}
