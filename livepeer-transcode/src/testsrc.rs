//! Synthetic input made with this crate's own encoder and muxer: a moving gradient with a
//! sweeping bar, as an H.264 MPEG-TS segment. The self-test uses it, and so can tests that
//! must not depend on outside tools.

use std::time::Duration;

use bytes::Bytes;
use livepeer_core::{Container, Framerate, Segment, VideoCodec, VideoProfile};

use crate::container::ts_mux;
use crate::encode::{H264Encoder, Output, VideoEncoder};
use crate::error::{Result, backend};
use crate::frame::{Frame, TIMESCALE};

/// Picture `index` of the synthetic source.
pub fn test_frame(width: u32, height: u32, index: u64, pts: i64) -> Frame {
    let mut f = Frame::black(width, height, pts);
    let (w, h) = (width as usize, height as usize);
    let t = index as usize;
    for y in 0..h {
        for x in 0..w {
            let bar = (x + 3 * t) % w < w / 8;
            f.y[y * w + x] = if bar {
                235
            } else {
                (16 + (x + y + 2 * t) % 200) as u8
            };
        }
    }
    for y in 0..h / 2 {
        for x in 0..w / 2 {
            f.u[y * (w / 2) + x] = (64 + (x + t) % 128) as u8;
            f.v[y * (w / 2) + x] = (64 + (y + t) % 128) as u8;
        }
    }
    f
}

/// Segment `seq` of a synthetic 30 fps stream: `frames` pictures of `width × height`
/// starting at `seq × frames` (so consecutive segments join), as H.264 in MPEG-TS.
pub fn synthetic_segment(width: u32, height: u32, frames: u32, seq: u64) -> Result<Segment> {
    let fps = Framerate { num: 30, den: 1 };
    let mut profile = VideoProfile::preset("240p").map_err(backend)?;
    profile.width = width;
    profile.height = height;
    profile.bitrate_bps = u64::from(width) * u64::from(height) * 8;
    let mut enc = H264Encoder::new(&profile, fps)?;
    enc.start_segment()?;
    let step = i64::from(TIMESCALE / fps.num);
    let first = seq * u64::from(frames);
    let mut packets = Vec::new();
    for i in 0..u64::from(frames) {
        let n = first + i;
        // Start at 1.4 s like ffmpeg's muxer, so PTS never go below the PCR.
        let pts = 126_000 + n as i64 * step;
        enc.send_frame(&test_frame(width, height, n, pts))?;
    }
    enc.flush()?;
    while let Output::Ready(p) = enc.receive_packet()? {
        packets.push(p);
    }
    let data = ts_mux::mux_segment(&packets, &[], None);
    Ok(Segment {
        seq,
        duration: Duration::from_secs_f64(f64::from(frames) / 30.0),
        data: Bytes::from(data),
        container: Container::MpegTs,
        codec: VideoCodec::H264,
    })
}
