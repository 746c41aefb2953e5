use fast_image_resize::CpuExtensions;
use proptest::prelude::*;

use super::*;

#[test]
fn scaling_keeps_flat_colour_and_timestamp() {
    let mut src = Frame::black(64, 48, 42);
    src.y.fill(100);
    let out = Scaler::new().scale(&src, 32, 18).unwrap();
    assert_eq!((out.width, out.height, out.pts), (32, 18, 42));
    assert!(out.y.iter().all(|&p| p == 100));
    assert!(out.u.iter().all(|&p| p == 128));
}

/// Every CPU path of `fast_image_resize` this machine can run.
fn extensions() -> Vec<CpuExtensions> {
    #[cfg(target_arch = "x86_64")]
    let all = vec![
        CpuExtensions::None,
        CpuExtensions::Sse4_1,
        CpuExtensions::Avx2,
    ];
    #[cfg(not(target_arch = "x86_64"))]
    let all = vec![CpuExtensions::None, CpuExtensions::default()];
    all.into_iter()
        .filter(CpuExtensions::is_supported)
        .collect()
}

/// `fast_image_resize`'s own one-pass resize of each plane, on the path of `ext`: the
/// pictures the scaler must give.
fn reference(src: &Frame, width: u32, height: u32, ext: CpuExtensions) -> Frame {
    let mut resizer = Resizer::new();
    // SAFETY: the callers pass extensions from `extensions()`, which the CPU supports.
    #[allow(unsafe_code)]
    unsafe {
        resizer.set_cpu_extensions(ext);
    }
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    let mut dst = Frame::black(width, height, src.pts);
    let (sw, sh) = (src.width, src.height);
    let planes = [
        (&src.y, &mut dst.y, 1),
        (&src.u, &mut dst.u, 2),
        (&src.v, &mut dst.v, 2),
    ];
    for (s, d, sub) in planes {
        let src = ImageRef::new(sw / sub, sh / sub, s, PixelType::U8).unwrap();
        let mut out = Image::from_slice_u8(width / sub, height / sub, d, PixelType::U8).unwrap();
        resizer.resize(&src, &mut out, &options).unwrap();
    }
    dst
}

/// A picture with edges, gradients and noise in every plane.
fn picture(width: u32, height: u32, seed: u64) -> Frame {
    let mut f = Frame::black(width, height, 7);
    let mut state = seed | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 56) as u8
    };
    let w = width as usize;
    for (i, p) in f.y.iter_mut().enumerate() {
        let (x, y) = (i % w, i / w);
        let edge = if (x / 7 + y / 5) % 2 == 0 { 0 } else { 120 };
        *p = (x * 3 + y) as u8 ^ edge ^ (noise() & 15);
    }
    for p in f.u.iter_mut().chain(f.v.iter_mut()) {
        *p = noise();
    }
    f
}

#[test]
fn a_ladder_from_1080p_is_fast_image_resizes_picture_on_every_cpu_path() {
    let src = picture(1920, 1080, 1);
    for ext in extensions() {
        let mut scaler = Scaler::new();
        assert!(scaler.use_cpu_extensions(ext));
        for (w, h) in [
            (1280, 720),
            (854, 480),
            (640, 360),
            (426, 240),
            (256, 144),
            (1920, 800),
        ] {
            let ours = scaler.scale(&src, w, h).unwrap();
            assert!(ours == reference(&src, w, h, ext), "{w}x{h} on {ext:?}");
        }
    }
}

#[test]
fn every_cpu_path_gives_the_same_pictures() {
    // The re-encode check compares renditions made on different machines.
    let src = picture(1080, 1920, 2);
    let paths = extensions();
    for (w, h) in [(360, 640), (240, 426), (1080, 1350)] {
        let first = reference(&src, w, h, paths[0]);
        for &ext in &paths[1..] {
            let mut scaler = Scaler::new();
            assert!(scaler.use_cpu_extensions(ext));
            assert!(
                scaler.scale(&src, w, h).unwrap() == first,
                "{w}x{h} on {ext:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_size_scales_to_fast_image_resizes_picture(
        (sw, sh) in (1u32..=180, 1u32..=120),
        (dw, dh) in (1u32..=200, 1u32..=140),
        seed in any::<u64>(),
    ) {
        let (sw, sh, dw, dh) = (sw * 2, sh * 2, dw * 2, dh * 2);
        let src = picture(sw, sh, seed);
        let mut scaler = Scaler::new();
        for ext in extensions() {
            prop_assert!(scaler.use_cpu_extensions(ext));
            // One scaler across sizes: its buffers are reused, never stale.
            for (w, h) in [(dw, dh), (dw, sh), (sw, dh)] {
                let ours = scaler.scale(&src, w, h).unwrap();
                prop_assert!(ours == reference(&src, w, h, ext), "{}x{} -> {}x{} on {:?}", sw, sh, w, h, ext);
            }
        }
    }
}
