//! Raw pictures and encoded packets: what flows between the decoder, the scaler and the
//! encoders.

use bytes::Bytes;

/// The 90 kHz clock of MPEG-TS timestamps.
pub const TIMESCALE: u32 = 90_000;

/// A decoded picture in planar 4:2:0 (I420), tightly packed: the luma plane is
/// `width × height` bytes, each chroma plane `width/2 × height/2`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Frame {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Presentation time in 90 kHz ticks, unwrapped (may exceed 33 bits).
    pub pts: i64,
    /// Luma plane.
    pub y: Vec<u8>,
    /// Blue-difference chroma plane.
    pub u: Vec<u8>,
    /// Red-difference chroma plane.
    pub v: Vec<u8>,
}

impl Frame {
    /// A black frame of `width × height` (both even) at `pts`.
    pub fn black(width: u32, height: u32, pts: i64) -> Self {
        let (w, h) = (width as usize, height as usize);
        Frame {
            width,
            height,
            pts,
            y: vec![16; w * h],
            u: vec![128; (w / 2) * (h / 2)],
            v: vec![128; (w / 2) * (h / 2)],
        }
    }

    /// A frame of no pixels.
    fn empty(pts: i64) -> Self {
        Frame {
            width: 0,
            height: 0,
            pts,
            y: Vec::new(),
            u: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Copies planes with strides into a packed frame; `None` if a plane is too short.
    pub fn from_strided(
        width: u32,
        height: u32,
        pts: i64,
        planes: [&[u8]; 3],
        strides: [usize; 3],
    ) -> Option<Self> {
        let mut f = Frame::empty(pts);
        f.refill_from_strided(width, height, pts, planes, strides)
            .then_some(f)
    }

    /// [`Frame::from_strided`] into this frame's buffers, reusing their memory: the frame
    /// takes the new size, timestamp and pictures. `false` if a plane is too short, and the
    /// frame is then empty (0 × 0).
    pub fn refill_from_strided(
        &mut self,
        width: u32,
        height: u32,
        pts: i64,
        planes: [&[u8]; 3],
        strides: [usize; 3],
    ) -> bool {
        let (w, h) = (width as usize, height as usize);
        let copy = |out: &mut Vec<u8>, src: &[u8], stride: usize, pw: usize, ph: usize| {
            out.clear();
            for row in 0..ph {
                let Some(line) = src.get(row * stride..row * stride + pw) else {
                    return false;
                };
                out.extend_from_slice(line);
            }
            true
        };
        let copied = copy(&mut self.y, planes[0], strides[0], w, h)
            && copy(&mut self.u, planes[1], strides[1], w / 2, h / 2)
            && copy(&mut self.v, planes[2], strides[2], w / 2, h / 2);
        if !copied {
            *self = Frame::empty(pts);
            return false;
        }
        (self.width, self.height, self.pts) = (width, height, pts);
        true
    }

    /// Whether the plane sizes agree with the dimensions.
    pub fn is_consistent(&self) -> bool {
        let (w, h) = (self.width as usize, self.height as usize);
        w % 2 == 0
            && h % 2 == 0
            && self.y.len() == w * h
            && self.u.len() == (w / 2) * (h / 2)
            && self.v.len() == self.u.len()
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("pts", &self.pts)
            .finish_non_exhaustive()
    }
}

/// One encoded picture.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Packet {
    /// The bitstream: Annex-B for H.264 (with SPS/PPS before key frames), OBUs for AV1.
    pub data: Bytes,
    /// Presentation time in 90 kHz ticks.
    pub pts: i64,
    /// Decode time in 90 kHz ticks (equal to `pts`: the encoders here emit no B-frames).
    pub dts: i64,
    /// Whether a decoder can start here.
    pub keyframe: bool,
}

impl Packet {
    /// A packet from its parts.
    pub fn new(data: Bytes, pts: i64, dts: i64, keyframe: bool) -> Self {
        Packet {
            data,
            pts,
            dts,
            keyframe,
        }
    }
}

impl std::fmt::Debug for Packet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packet")
            .field("bytes", &self.data.len())
            .field("pts", &self.pts)
            .field("dts", &self.dts)
            .field("keyframe", &self.keyframe)
            .finish()
    }
}
