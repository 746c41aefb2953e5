//! What a rung of a ladder promises for a given source: the one definition that every
//! transcoder backend, the verifier, the trusted verifier, the receipt's pixel counts and
//! pricing share.
//!
//! A [`VideoProfile`] names a *box* (width × height), a frame-rate *ceiling* and a bitrate.
//! What comes out for a particular source is a [`RungOutput`]:
//!
//! - **Size.** The source's picture as displayed (its size after SPS cropping, widened or
//!   narrowed by its sample aspect ratio when the VUI gives one: an anamorphic 480×360 at
//!   4:3 displays as 640×360) is fitted inside the box keeping its aspect ratio, with square
//!   pixels out, each side rounded to the nearest even
//!   number. A portrait source (taller than wide) turns a landscape box (720p becomes
//!   720×1280). A source smaller than the box in both directions is never enlarged: it keeps
//!   its own size (rounded down to even). See [`fit_box`].
//! - **Frame rate.** The profile's rate is a ceiling, never above the source's: the output
//!   runs at the source's rate when that is lower or equal (every picture kept, timestamps
//!   untouched), else at the profile's rate. When the source runs at an NTSC rate
//!   (`n·1000/1001`) and the profile asks for a whole number of frames per second, the output
//!   takes the NTSC variant of that rate (59.94 fps to `30` gives 30000/1001), so every other
//!   picture is kept. See [`output_rate`].
//! - **Dropping pictures.** The output clock starts at the first picture's timestamp; output
//!   slot `k` lasts `[t0 + k/R, t0 + (k+1)/R)`. A picture belongs to the slot that holds its
//!   timestamp plus half a source frame (so jitter of the source clock never moves a picture
//!   into the previous slot); the first picture of each slot is kept, and stamped with the
//!   slot's start. The output cadence is therefore even, and the kept pictures are the ones
//!   [`FrameSelector`] names, which is how the verifier pairs output frames with source
//!   pictures.
//! - **Variable frame rate.** A source's rate is its median timestamp step
//!   ([`Framerate::from_timestamps`]), snapped to the common rates (23.976, 29.97, 59.94, and
//!   whole numbers) when within 0.05%. Pictures the source did not send make no output
//!   picture: a stream that drops from 30 to 15 fps mid-segment produces fewer frames, as
//!   [`FrameSelector`] counts them from the source's own timestamps.
//! - **Frame count and duration.** [`RungOutput::expected_frames`] is the number of pictures
//!   the selector keeps from the source's timestamps; the duration is the source's.
//! - **GOP** is the profile's (one IDR per segment by default).
//! - **Pricing** estimates up front from the box and the profile's rate (an upper bound of
//!   every [`RungOutput`]); receipts sign the pixels actually produced.

use std::cmp::Ordering;

use crate::media::Framerate;
use crate::profile::{MIN_DIMENSION, VideoProfile};

/// Ticks per second of the timestamps the rules are written in (MPEG-TS's 90 kHz clock).
pub const TIMESCALE: u32 = 90_000;

/// How close a measured rate must be to a common one to be snapped to it (relative).
const SNAP_TOLERANCE: f64 = 0.0005;

/// What a rung's output depends on: the source's picture size and frame rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SourceShape {
    /// Display width after cropping, in pixels.
    pub width: u32,
    /// Display height after cropping, in pixels.
    pub height: u32,
    /// The source's frame rate, when known (see [`Framerate::from_timestamps`]).
    pub frame_rate: Option<Framerate>,
    /// The source's sample (pixel) aspect ratio, `width:height`, when its VUI gives one other
    /// than 1:1 (see [`sample_aspect`]).
    pub sample_aspect: Option<(u32, u32)>,
}

impl SourceShape {
    /// The picture's size as displayed: the width scaled by the sample aspect ratio, rounded
    /// to the nearest pixel.
    pub fn display_size(&self) -> (u32, u32) {
        match self.sample_aspect {
            Some((n, d)) if n > 0 && d > 0 && n != d => {
                let w =
                    (u64::from(self.width) * u64::from(n) * 2 + u64::from(d)) / (2 * u64::from(d));
                (u32::try_from(w).unwrap_or(u32::MAX), self.height)
            }
            _ => (self.width, self.height),
        }
    }
}

/// The sample aspect ratio an H.264 VUI declares (Table E-1): `aspect_ratio_idc`, and for
/// 255 (Extended_SAR) the explicit `sar_width:sar_height`. `None` for unspecified, 1:1,
/// reserved values and zero fields. Both the transcoders and the verifier read it here.
pub fn sample_aspect(idc: u8, extended: Option<(u16, u16)>) -> Option<(u32, u32)> {
    const TABLE: [(u32, u32); 16] = [
        (1, 1),
        (12, 11),
        (10, 11),
        (16, 11),
        (40, 33),
        (24, 11),
        (20, 11),
        (32, 11),
        (80, 33),
        (18, 11),
        (15, 11),
        (64, 33),
        (160, 99),
        (4, 3),
        (3, 2),
        (2, 1),
    ];
    let (n, d) = match idc {
        1..=16 => TABLE[usize::from(idc - 1)],
        255 => {
            let (w, h) = extended?;
            (u32::from(w), u32::from(h))
        }
        _ => return None,
    };
    (n > 0 && d > 0 && n != d).then_some((n, d))
}

/// What a rung promises for one source: see the [module documentation](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RungOutput {
    /// Output width in pixels (even).
    pub width: u32,
    /// Output height in pixels (even).
    pub height: u32,
    /// Output frame rate.
    pub frame_rate: Framerate,
    /// Whether pictures are dropped (the output rate is below the source's).
    pub drops_frames: bool,
    /// The source's rate the selection was computed with.
    pub source_rate: Option<Framerate>,
}

impl RungOutput {
    /// The output of `profile` for `source`.
    pub fn for_source(profile: &VideoProfile, source: &SourceShape) -> RungOutput {
        let (sw, sh) = source.display_size();
        let (width, height) = fit_box(profile.width, profile.height, sw, sh);
        let frame_rate = output_rate(profile.framerate, source.frame_rate);
        let drops_frames = source
            .frame_rate
            .is_some_and(|s| compare_rates(frame_rate, s) == Ordering::Less);
        RungOutput {
            width,
            height,
            frame_rate,
            drops_frames,
            source_rate: source.frame_rate,
        }
    }

    /// Pixels per output frame.
    pub fn pixels_per_frame(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// A selector that picks and stamps the output pictures in display order.
    pub fn selector(&self) -> FrameSelector {
        FrameSelector::new(self.frame_rate, self.source_rate)
    }

    /// The pictures the output keeps from a source with these display-order timestamps
    /// (in [`TIMESCALE`] ticks): `(index into source_pts, output timestamp)`.
    pub fn select(&self, source_pts: &[i64]) -> Vec<(usize, i64)> {
        let mut s = self.selector();
        source_pts
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| s.offer(p).map(|t| (i, t)))
            .collect()
    }

    /// How many frames the output holds for a source with these display-order timestamps.
    pub fn expected_frames(&self, source_pts: &[i64]) -> usize {
        self.select(source_pts).len()
    }
}

/// Fits a `src_w × src_h` picture in a `box_w × box_h` box keeping its aspect ratio: a
/// portrait source turns a landscape box, each side is rounded to the nearest even number,
/// and a source smaller than the box keeps its own size (rounded down to even). Never below
/// [`MIN_DIMENSION`], never above the (possibly turned) box.
pub fn fit_box(box_w: u32, box_h: u32, src_w: u32, src_h: u32) -> (u32, u32) {
    let (bw, bh) = if src_h > src_w && box_w > box_h {
        (box_h, box_w)
    } else {
        (box_w, box_h)
    };
    if src_w == 0 || src_h == 0 {
        return (bw, bh);
    }
    let (sw, sh) = (u64::from(src_w), u64::from(src_h));
    let (w, h) = if sw <= u64::from(bw) && sh <= u64::from(bh) {
        (sw & !1, sh & !1)
    } else if sw * u64::from(bh) >= sh * u64::from(bw) {
        // Wider than the box: the width fills it.
        (u64::from(bw), round_even(sh * u64::from(bw), sw))
    } else {
        (round_even(sw * u64::from(bh), sh), u64::from(bh))
    };
    let clamp = |v: u64, max: u32| {
        u32::try_from(v)
            .unwrap_or(max)
            .clamp(MIN_DIMENSION.min(max), max)
    };
    (clamp(w, bw), clamp(h, bh))
}

/// `num / den` rounded to the nearest even integer.
fn round_even(num: u64, den: u64) -> u64 {
    // round(num / (2·den)) · 2
    (num + den) / (2 * den) * 2
}

/// The output rate: the profile's ceiling, never above the source's (see the
/// [module documentation](self)). Without a profile rate the source's; with neither, 30.
pub fn output_rate(profile: Option<Framerate>, source: Option<Framerate>) -> Framerate {
    match (profile, source) {
        (Some(p), Some(s)) => {
            if compare_rates(p, s) != Ordering::Less {
                return s;
            }
            if p.den == 1 && is_ntsc(s) {
                let ntsc = Framerate::new(p.num.saturating_mul(1000), 1001).unwrap_or(p);
                if compare_rates(ntsc, s) == Ordering::Less {
                    return ntsc;
                }
            }
            p
        }
        (Some(p), None) => p,
        (None, Some(s)) => s,
        (None, None) => Framerate { num: 30, den: 1 },
    }
}

fn is_ntsc(r: Framerate) -> bool {
    (u64::from(r.num) * 1001).is_multiple_of(u64::from(r.den) * 1000)
}

/// Orders two frame rates exactly.
pub fn compare_rates(a: Framerate, b: Framerate) -> Ordering {
    (u64::from(a.num) * u64::from(b.den)).cmp(&(u64::from(b.num) * u64::from(a.den)))
}

impl Framerate {
    /// The rate of display-order timestamps in `timescale` ticks per second: the median step,
    /// snapped to a common rate (whole numbers, 23.976, 29.97, 47.952, 59.94, 119.88) when
    /// within 0.05% of it, else the exact fraction. `None` with fewer than two distinct
    /// timestamps or a rate above [`Framerate::MAX_FPS`].
    pub fn from_timestamps(sorted_pts: &[i64], timescale: u32) -> Option<Framerate> {
        let mut steps: Vec<i64> = sorted_pts
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .filter(|d| *d > 0)
            .collect();
        if steps.is_empty() {
            return None;
        }
        steps.sort_unstable();
        let step = steps[steps.len() / 2];
        Framerate::from_step(u64::try_from(step).ok()?, timescale)
    }

    /// The rate of one frame every `step` ticks of a `timescale` clock, snapped as in
    /// [`Self::from_timestamps`].
    pub fn from_step(step: u64, timescale: u32) -> Option<Framerate> {
        if step == 0 || timescale == 0 {
            return None;
        }
        let fps = f64::from(timescale) / step as f64;
        let near = fps.round();
        let candidates = [
            (near as u32, 1),
            ((fps * 1.001).round() as u32 * 1000, 1001),
        ];
        for (num, den) in candidates {
            if num == 0 {
                continue;
            }
            let c = f64::from(num) / f64::from(den);
            if ((c - fps) / c).abs() <= SNAP_TOLERANCE
                && let Ok(r) = Framerate::new(num, den)
            {
                return Some(r);
            }
        }
        let g = gcd(u64::from(timescale), step);
        let (num, den) = (u64::from(timescale) / g, step / g);
        Framerate::new(u32::try_from(num).ok()?, u32::try_from(den).ok()?).ok()
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Picks the output pictures of one segment, in display order, and stamps them (see the
/// [module documentation](self)). Deterministic: the transcoder and the verifier run the same
/// selection over the same timestamps.
#[derive(Clone, Debug)]
pub struct FrameSelector {
    out: Framerate,
    drops: bool,
    half_source_step: i64,
    t0: Option<i64>,
    last_slot: Option<i64>,
}

impl FrameSelector {
    /// A selector for output rate `out` from a source at `source` (when known): it drops
    /// pictures only when `out` is below the source's rate.
    pub fn new(out: Framerate, source: Option<Framerate>) -> Self {
        let drops = source.is_some_and(|s| compare_rates(out, s) == Ordering::Less);
        let half_source_step = source.map_or(0, |s| {
            i64::from(TIMESCALE) * i64::from(s.den) / (2 * i64::from(s.num))
        });
        FrameSelector {
            out,
            drops,
            half_source_step,
            t0: None,
            last_slot: None,
        }
    }

    /// Offers the next picture (display order, timestamp in [`TIMESCALE`] ticks): its output
    /// timestamp if it is kept, `None` if it is dropped.
    pub fn offer(&mut self, pts: i64) -> Option<i64> {
        if !self.drops {
            return Some(pts);
        }
        let t0 = *self.t0.get_or_insert(pts);
        let num = i128::from(self.out.num);
        let den = i128::from(self.out.den) * i128::from(TIMESCALE);
        let rel = i128::from(pts) - i128::from(t0) + i128::from(self.half_source_step);
        // The slot holding the picture: floor(rel · num / den).
        let slot = i64::try_from((rel * num).div_euclid(den)).unwrap_or(i64::MAX);
        if self.last_slot.is_some_and(|l| slot <= l) {
            return None;
        }
        self.last_slot = Some(slot);
        let stamp = (i128::from(slot) * den * 2 + num) / (2 * num);
        Some(t0.saturating_add(i64::try_from(stamp).unwrap_or(i64::MAX)))
    }
}

#[cfg(test)]
mod tests;
