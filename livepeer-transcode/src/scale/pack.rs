//! Four rows of a plane packed as the channels of four-byte pixels, and back: the layout
//! the scaler's horizontal pass runs on. SSE2 (every x86-64 CPU has it) does sixteen
//! pixels at a time; other targets and the ends of rows go byte by byte.

/// Rows packed together (the channels of a four-byte pixel).
pub(super) const LANES: usize = 4;

/// Packs the rows of a `width`-wide plane four to a pixel into `packed`: pixel `x` of group
/// `g` holds column `x` of rows `4g..4g+4`. A last group short of rows repeats the plane's
/// last row.
pub(super) fn pack_rows(rows: &[u8], width: usize, packed: &mut [u8]) {
    let height = rows.len() / width.max(1);
    for (g, out) in packed.chunks_exact_mut(width * LANES).enumerate() {
        let row = |k: usize| {
            let y = (g * LANES + k).min(height.saturating_sub(1));
            &rows[y * width..(y + 1) * width]
        };
        let four = [row(0), row(1), row(2), row(3)];
        let done = simd::pack(four, out);
        let [r0, r1, r2, r3] = four.map(|r| &r[done..]);
        let lanes = r0.iter().zip(r1).zip(r2).zip(r3);
        for (px, (((a, b), c), d)) in out[done * LANES..].chunks_exact_mut(LANES).zip(lanes) {
            px.copy_from_slice(&[*a, *b, *c, *d]);
        }
    }
}

/// The inverse of [`pack_rows`] into a `width`-wide plane `d` (rows past its end dropped).
pub(super) fn unpack_rows(packed: &[u8], width: usize, d: &mut [u8]) {
    for (group, rows) in packed
        .chunks_exact(width * LANES)
        .zip(d.chunks_mut(width * LANES))
    {
        if rows.len() == width * LANES {
            let (r0, rest) = rows.split_at_mut(width);
            let (r1, rest) = rest.split_at_mut(width);
            let (r2, r3) = rest.split_at_mut(width);
            let done = simd::unpack(group, [&mut *r0, &mut *r1, &mut *r2, &mut *r3]);
            let lanes = r0[done..]
                .iter_mut()
                .zip(&mut r1[done..])
                .zip(&mut r2[done..])
                .zip(&mut r3[done..]);
            for (px, (((a, b), c), e)) in group[done * LANES..].chunks_exact(LANES).zip(lanes) {
                (*a, *b, *c, *e) = (px[0], px[1], px[2], px[3]);
            }
        } else {
            for (k, row) in rows.chunks_exact_mut(width).enumerate() {
                for (p, px) in row.iter_mut().zip(group.chunks_exact(LANES)) {
                    *p = px[k];
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use core::arch::x86_64::{
        __m128i, _mm_unpackhi_epi8, _mm_unpackhi_epi16, _mm_unpacklo_epi8, _mm_unpacklo_epi16,
    };

    use super::LANES;

    /// Pixels per step: one 16-byte register of each row.
    const STEP: usize = 16;

    fn load(bytes: &[u8]) -> __m128i {
        let mut array = [0; STEP];
        array.copy_from_slice(&bytes[..STEP]);
        bytemuck::cast(array)
    }

    fn store(bytes: &mut [u8], v: __m128i) {
        bytes.copy_from_slice(&bytemuck::cast::<__m128i, [u8; STEP]>(v));
    }

    /// Packs the first multiple of 16 columns of `rows` into `out`; returns how many.
    pub(super) fn pack(rows: [&[u8]; LANES], out: &mut [u8]) -> usize {
        // SAFETY: SSE2 is part of the x86-64 baseline: every CPU this code runs on has it.
        #[allow(unsafe_code)]
        unsafe {
            pack_sse2(rows, out)
        }
    }

    /// Unpacks the first multiple of 16 pixels of `group` into `rows`; returns how many.
    pub(super) fn unpack(group: &[u8], rows: [&mut [u8]; LANES]) -> usize {
        // SAFETY: as in `pack`.
        #[allow(unsafe_code)]
        unsafe {
            unpack_sse2(group, rows)
        }
    }

    #[target_feature(enable = "sse2")]
    fn pack_sse2([r0, r1, r2, r3]: [&[u8]; LANES], out: &mut [u8]) -> usize {
        let rows = r0.chunks_exact(STEP).zip(r1.chunks_exact(STEP));
        let rows = rows.zip(r2.chunks_exact(STEP)).zip(r3.chunks_exact(STEP));
        let mut done = 0;
        for (px, (((a, b), c), d)) in out.chunks_exact_mut(STEP * LANES).zip(rows) {
            let (a, b, c, d) = (load(a), load(b), load(c), load(d));
            let (ab_lo, ab_hi) = (_mm_unpacklo_epi8(a, b), _mm_unpackhi_epi8(a, b));
            let (cd_lo, cd_hi) = (_mm_unpacklo_epi8(c, d), _mm_unpackhi_epi8(c, d));
            store(&mut px[..16], _mm_unpacklo_epi16(ab_lo, cd_lo));
            store(&mut px[16..32], _mm_unpackhi_epi16(ab_lo, cd_lo));
            store(&mut px[32..48], _mm_unpacklo_epi16(ab_hi, cd_hi));
            store(&mut px[48..], _mm_unpackhi_epi16(ab_hi, cd_hi));
            done += STEP;
        }
        done
    }

    #[target_feature(enable = "sse2")]
    fn unpack_sse2(group: &[u8], [r0, r1, r2, r3]: [&mut [u8]; LANES]) -> usize {
        let rows = r0.chunks_exact_mut(STEP).zip(r1.chunks_exact_mut(STEP));
        let rows = rows
            .zip(r2.chunks_exact_mut(STEP))
            .zip(r3.chunks_exact_mut(STEP));
        let mut done = 0;
        for (px, (((a, b), c), d)) in group.chunks_exact(STEP * LANES).zip(rows) {
            let (p0, p1) = (load(&px[..16]), load(&px[16..32]));
            let (p2, p3) = (load(&px[32..48]), load(&px[48..]));
            // Three rounds of byte interleaving turn 16 pixels of 4 channels into 4 rows.
            let (v0, v1) = (_mm_unpacklo_epi8(p0, p2), _mm_unpackhi_epi8(p0, p2));
            let (v2, v3) = (_mm_unpacklo_epi8(p1, p3), _mm_unpackhi_epi8(p1, p3));
            let (u0, u1) = (_mm_unpacklo_epi8(v0, v2), _mm_unpacklo_epi8(v1, v3));
            let (u2, u3) = (_mm_unpackhi_epi8(v0, v2), _mm_unpackhi_epi8(v1, v3));
            let (w0, w1) = (_mm_unpacklo_epi8(u0, u1), _mm_unpacklo_epi8(u2, u3));
            let (w2, w3) = (_mm_unpackhi_epi8(u0, u1), _mm_unpackhi_epi8(u2, u3));
            store(a, _mm_unpacklo_epi8(w0, w1));
            store(b, _mm_unpackhi_epi8(w0, w1));
            store(c, _mm_unpacklo_epi8(w2, w3));
            store(d, _mm_unpackhi_epi8(w2, w3));
            done += STEP;
        }
        done
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
    use super::LANES;

    /// Nothing done here: the byte-by-byte loop packs every column.
    pub(super) fn pack(_rows: [&[u8]; LANES], _out: &mut [u8]) -> usize {
        0
    }

    /// Nothing done here: the byte-by-byte loop unpacks every pixel.
    pub(super) fn unpack(_group: &[u8], _rows: [&mut [u8]; LANES]) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn packing_round_trips_and_puts_each_row_in_its_channel(
            (width, height) in (1usize..70, 1usize..11),
            seed in any::<u8>(),
        ) {
            let rows: Vec<u8> = (0..width * height)
                .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
                .collect();
            let groups = height.div_ceil(LANES);
            let mut packed = vec![0; width * groups * LANES];
            pack_rows(&rows, width, &mut packed);
            for (i, &p) in packed.iter().enumerate() {
                let (g, x, k) = (i / (width * LANES), i / LANES % width, i % LANES);
                let y = (g * LANES + k).min(height - 1);
                prop_assert_eq!(p, rows[y * width + x]);
            }
            let mut back = vec![0; width * height];
            unpack_rows(&packed, width, &mut back);
            prop_assert_eq!(back, rows);
        }
    }
}
