//! Picture quality metrics over I420 pictures: SSIM the way x264 and FFmpeg's `ssim` filter
//! compute it (4×4 block sums combined into overlapping 8×8 windows, step 4) and PSNR the
//! way FFmpeg's `psnr` filter does. Plain integer sums, so results are identical on every
//! machine.

use serde::{Deserialize, Serialize};

/// A decoded picture in planar 4:2:0 (I420), tightly packed.
#[derive(Clone, PartialEq, Eq)]
pub struct Picture {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Luma plane, `width × height` bytes.
    pub y: Vec<u8>,
    /// Blue-difference chroma, `width/2 × height/2` bytes.
    pub u: Vec<u8>,
    /// Red-difference chroma, `width/2 × height/2` bytes.
    pub v: Vec<u8>,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Picture({}x{})", self.width, self.height)
    }
}

impl Picture {
    /// A picture of one flat colour.
    pub fn filled(width: u32, height: u32, y: u8, u: u8, v: u8) -> Self {
        let (w, h) = (width as usize, height as usize);
        let c = (w / 2) * (h / 2);
        Picture {
            width,
            height,
            y: vec![y; w * h],
            u: vec![u; c],
            v: vec![v; c],
        }
    }

    /// Whether the plane sizes agree with the dimensions.
    pub fn is_consistent(&self) -> bool {
        let (w, h) = (self.width as usize, self.height as usize);
        w.is_multiple_of(2)
            && h.is_multiple_of(2)
            && self.y.len() == w * h
            && self.u.len() == (w / 2) * (h / 2)
            && self.v.len() == self.u.len()
    }
}

/// One plane of a picture.
#[derive(Clone, Copy, Debug)]
pub struct Plane<'a> {
    /// Samples, row after row.
    pub data: &'a [u8],
    /// Samples per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
}

impl<'a> Plane<'a> {
    fn row(&self, y: usize) -> &'a [u8] {
        &self.data[y * self.width..(y + 1) * self.width]
    }
}

/// Sums of one 4×4 block: `[Σa, Σb, Σa²+Σb², Σab]`.
type BlockSums = [i64; 4];

fn block_sums(a: &Plane<'_>, b: &Plane<'_>, bx: usize, by: usize) -> BlockSums {
    let mut s = [0i64; 4];
    for y in by * 4..by * 4 + 4 {
        let (ra, rb) = (a.row(y), b.row(y));
        for x in bx * 4..bx * 4 + 4 {
            let (p, q) = (i64::from(ra[x]), i64::from(rb[x]));
            s[0] += p;
            s[1] += q;
            s[2] += p * p + q * q;
            s[3] += p * q;
        }
    }
    s
}

fn ssim_end(s: BlockSums) -> f64 {
    // Constants of x264/FFmpeg for 8-bit samples and 64-sample windows.
    const C1: f64 = 0.01 * 0.01 * 255.0 * 255.0 * 64.0;
    const C2: f64 = 0.03 * 0.03 * 255.0 * 255.0 * 64.0 * 63.0;
    let (s1, s2, ss, s12) = (s[0] as f64, s[1] as f64, s[2] as f64, s[3] as f64);
    let vars = ss * 64.0 - s1 * s1 - s2 * s2;
    let covar = s12 * 64.0 - s1 * s2;
    (2.0 * s1 * s2 + C1) * (2.0 * covar + C2) / ((s1 * s1 + s2 * s2 + C1) * (vars + C2))
}

/// SSIM of two planes of the same size, plus the mean SSIM of each tile of a
/// `grid × grid` tiling (row-major). Planes smaller than 8×8 give `None`.
pub fn ssim_tiled(a: &Plane<'_>, b: &Plane<'_>, grid: usize) -> Option<(f64, Vec<f64>)> {
    if a.width != b.width || a.height != b.height || a.data.len() < a.width * a.height {
        return None;
    }
    if b.data.len() < b.width * b.height {
        return None;
    }
    let (bw, bh) = (a.width / 4, a.height / 4);
    if bw < 2 || bh < 2 {
        return None;
    }
    let grid = grid.max(1);
    let mut tiles = vec![(0.0f64, 0u32); grid * grid];
    let mut total = 0.0;
    let mut prev: Vec<BlockSums> = (0..bw).map(|x| block_sums(a, b, x, 0)).collect();
    for by in 1..bh {
        let cur: Vec<BlockSums> = (0..bw).map(|x| block_sums(a, b, x, by)).collect();
        let ty = ((by - 1) * grid / (bh - 1)).min(grid - 1);
        for bx in 0..bw - 1 {
            let mut s = [0i64; 4];
            for blk in [&prev[bx], &prev[bx + 1], &cur[bx], &cur[bx + 1]] {
                for k in 0..4 {
                    s[k] += blk[k];
                }
            }
            let v = ssim_end(s);
            total += v;
            let tx = (bx * grid / (bw - 1)).min(grid - 1);
            let t = &mut tiles[ty * grid + tx];
            t.0 += v;
            t.1 += 1;
        }
        prev = cur;
    }
    let windows = ((bw - 1) * (bh - 1)) as f64;
    let tiles = tiles
        .into_iter()
        .map(|(s, n)| if n == 0 { 1.0 } else { s / f64::from(n) })
        .collect();
    Some((total / windows, tiles))
}

/// SSIM of two planes of the same size, as FFmpeg's `ssim` filter reports it per plane.
pub fn ssim(a: &Plane<'_>, b: &Plane<'_>) -> Option<f64> {
    ssim_tiled(a, b, 1).map(|(s, _)| s)
}

/// Sum of squared differences of two planes of the same size.
pub fn sse(a: &Plane<'_>, b: &Plane<'_>) -> Option<u64> {
    if a.width != b.width || a.height != b.height {
        return None;
    }
    let n = a.width * a.height;
    let (da, db) = (a.data.get(..n)?, b.data.get(..n)?);
    Some(
        da.iter()
            .zip(db)
            .map(|(&p, &q)| {
                let d = i64::from(p) - i64::from(q);
                (d * d) as u64
            })
            .sum(),
    )
}

/// Luma size of the blocks [`min_block_psnr`] scores.
pub const BLOCK: usize = 16;

/// The lowest PSNR of any [`BLOCK`]×[`BLOCK`] luma block of two same-sized pictures, its
/// two chroma blocks' squared errors pooled with its own (blocks at the right and bottom
/// edges are as large as the picture leaves them). Honest encoding spreads its error over
/// the picture; an overlay, a logo or a patch from elsewhere concentrates a large one,
/// chroma included, in the blocks it covers. `None` when the sizes differ.
pub fn min_block_psnr(a: &Picture, b: &Picture) -> Option<f64> {
    block_errors(a, b).map(|(worst, _)| worst)
}

/// Squared differences of one row segment; a row of at most [`BLOCK`] samples fits a u32.
fn row_sse(a: &[u8], b: &[u8]) -> u32 {
    a.iter()
        .zip(b)
        .map(|(&p, &q)| {
            let d = i32::from(p) - i32::from(q);
            (d * d) as u32
        })
        .sum()
}

/// [`min_block_psnr`] and each plane's sum of squared differences, in one pass.
fn block_errors(a: &Picture, b: &Picture) -> Option<(f64, [u64; 3])> {
    if a.width != b.width || a.height != b.height || !a.is_consistent() || !b.is_consistent() {
        return None;
    }
    let (w, h) = (a.width as usize, a.height as usize);
    let (cw, ch) = (w / 2, h / 2);
    let mut totals = [0u64; 3];
    let mut worst = f64::INFINITY;
    for by in (0..h).step_by(BLOCK) {
        let y1 = (by + BLOCK).min(h);
        let (cy0, cy1) = (by / 2, (y1 / 2).min(ch));
        for bx in (0..w).step_by(BLOCK) {
            let x1 = (bx + BLOCK).min(w);
            let (cx0, cx1) = (bx / 2, (x1 / 2).min(cw));
            let mut luma = 0u64;
            for y in by..y1 {
                let r = y * w;
                luma += u64::from(row_sse(&a.y[r + bx..r + x1], &b.y[r + bx..r + x1]));
            }
            let mut chroma = [0u64; 2];
            for y in cy0..cy1 {
                let r = y * cw;
                chroma[0] += u64::from(row_sse(&a.u[r + cx0..r + cx1], &b.u[r + cx0..r + cx1]));
                chroma[1] += u64::from(row_sse(&a.v[r + cx0..r + cx1], &b.v[r + cx0..r + cx1]));
            }
            totals[0] += luma;
            totals[1] += chroma[0];
            totals[2] += chroma[1];
            let n = (y1 - by) * (x1 - bx) + 2 * (cy1 - cy0) * (cx1 - cx0);
            if n > 0 {
                worst = worst.min(psnr_from_mse(
                    (luma + chroma[0] + chroma[1]) as f64 / n as f64,
                ));
            }
        }
    }
    // Chroma columns or rows past the last whole luma pair (odd sizes never pass
    // `is_consistent`, so there are none) would be missed; the totals cover every sample.
    Some((worst, totals))
}

/// PSNR in dB for a mean squared error of 8-bit samples; identical inputs give 100 dB.
pub fn psnr_from_mse(mse: f64) -> f64 {
    if mse <= 0.0 {
        return 100.0;
    }
    (10.0 * (255.0f64 * 255.0 / mse).log10()).min(100.0)
}

/// The scores of one frame pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FrameScore {
    /// Luma SSIM of the whole frame.
    pub ssim_y: f64,
    /// Lowest luma SSIM of a tile.
    pub min_tile_ssim: f64,
    /// Luma PSNR in dB.
    pub psnr_y: f64,
    /// PSNR over all three planes (their squared errors pooled), in dB.
    pub psnr_yuv: f64,
    /// The lowest PSNR of a 16×16 block, luma and chroma pooled ([`min_block_psnr`]), in dB.
    #[serde(default = "full_psnr")]
    pub min_block_psnr: f64,
}

fn full_psnr() -> f64 {
    100.0
}

fn planes(p: &Picture) -> [Plane<'_>; 3] {
    let (w, h) = (p.width as usize, p.height as usize);
    [
        Plane {
            data: &p.y,
            width: w,
            height: h,
        },
        Plane {
            data: &p.u,
            width: w / 2,
            height: h / 2,
        },
        Plane {
            data: &p.v,
            width: w / 2,
            height: h / 2,
        },
    ]
}

/// Scores `test` against `reference`; `None` when their sizes differ or a picture is
/// inconsistent or smaller than 16×16.
pub fn score(reference: &Picture, test: &Picture, grid: u32) -> Option<FrameScore> {
    if !reference.is_consistent()
        || !test.is_consistent()
        || reference.width != test.width
        || reference.height != test.height
    {
        return None;
    }
    let (pr, pt) = (planes(reference), planes(test));
    let (ssim_y, tiles) = ssim_tiled(&pr[0], &pt[0], grid as usize)?;
    let (min_block_psnr, sses) = block_errors(reference, test)?;
    let luma = (reference.width as f64) * (reference.height as f64);
    Some(FrameScore {
        ssim_y,
        min_tile_ssim: tiles.into_iter().fold(f64::INFINITY, f64::min),
        psnr_y: psnr_from_mse(sses[0] as f64 / luma),
        psnr_yuv: psnr_from_mse(sses.iter().sum::<u64>() as f64 / (luma * 1.5)),
        min_block_psnr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32, shift: u8) -> Picture {
        let mut p = Picture::filled(w, h, 0, 128, 128);
        for y in 0..h as usize {
            for x in 0..w as usize {
                p.y[y * w as usize + x] = ((x * 3 + y * 5) as u8).wrapping_add(shift);
            }
        }
        p
    }

    #[test]
    fn identical_pictures_score_perfectly() {
        let a = gradient(64, 48, 0);
        let s = score(&a, &a, 4).unwrap();
        assert!((s.ssim_y - 1.0).abs() < 1e-12);
        assert_eq!(s.min_tile_ssim, 1.0);
        assert_eq!(s.psnr_y, 100.0);
    }

    #[test]
    fn damage_lowers_scores_and_shows_in_one_tile() {
        let a = gradient(64, 64, 0);
        let mut b = a.clone();
        for y in 0..16 {
            for x in 0..16 {
                b.y[y * 64 + x] = 0;
            }
        }
        let s = score(&a, &b, 4).unwrap();
        assert!(s.ssim_y < 0.99 && s.ssim_y > 0.8, "{s:?}");
        assert!(s.min_tile_ssim < 0.5, "{s:?}");
        assert!(s.psnr_y < 30.0);
    }

    #[test]
    fn mismatched_or_tiny_pictures_give_none() {
        let a = gradient(64, 48, 0);
        assert!(score(&a, &gradient(64, 64, 0), 1).is_none());
        let tiny = Picture::filled(4, 4, 0, 0, 0);
        assert!(score(&tiny, &tiny, 1).is_none());
        let mut broken = a.clone();
        broken.y.pop();
        assert!(score(&broken, &a, 1).is_none());
    }

    #[test]
    fn psnr_of_known_mse() {
        assert!((psnr_from_mse(1.0) - 48.1308).abs() < 1e-3);
    }

    #[test]
    fn block_pass_totals_equal_plane_sse_and_find_the_patch() {
        // Sizes that leave partial blocks at the right and bottom edges.
        let a = gradient(70, 38, 0);
        let mut b = a.clone();
        b.y.iter_mut().for_each(|p| *p ^= 1);
        b.v.iter_mut().step_by(3).for_each(|p| *p ^= 2);
        let (worst, totals) = block_errors(&a, &b).unwrap();
        let (pa, pb) = (planes(&a), planes(&b));
        for i in 0..3 {
            assert_eq!(totals[i], sse(&pa[i], &pb[i]).unwrap());
        }
        assert!(worst < 100.0);
        // A saturated patch in one block drags that block far under the others.
        let uniform = min_block_psnr(&a, &b).unwrap();
        for y in 20..28 {
            for x in 40..48 {
                b.y[y * 70 + x] = 255;
                b.u[(y / 2) * 35 + x / 2] = 0;
            }
        }
        let patched = min_block_psnr(&a, &b).unwrap();
        assert!(patched < uniform - 10.0, "{patched} vs {uniform}");
        assert_eq!(min_block_psnr(&a, &gradient(64, 38, 0)), None);
    }
}
