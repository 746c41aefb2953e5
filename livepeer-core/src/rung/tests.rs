use super::*;
use crate::profile::VideoProfile;
use proptest::prelude::*;

fn rate(num: u32, den: u32) -> Framerate {
    Framerate::new(num, den).unwrap()
}

fn shape(w: u32, h: u32, fps: Option<Framerate>) -> SourceShape {
    SourceShape {
        width: w,
        height: h,
        frame_rate: fps,
        sample_aspect: None,
    }
}

/// Display-order timestamps of `n` pictures at `fps` from `t0`, as a 90 kHz muxer writes
/// them (each rounded on its own, so 23.976 alternates 3753 and 3754 ticks).
fn stamps(fps: Framerate, n: usize, t0: i64) -> Vec<i64> {
    (0..n as i64)
        .map(|k| {
            t0 + (k * 90_000 * i64::from(fps.den) + i64::from(fps.num) / 2) / i64::from(fps.num)
        })
        .collect()
}

#[test]
fn boxes_keep_the_display_aspect_ratio() {
    // 16:9 into 16:9.
    assert_eq!(fit_box(640, 360, 1920, 1080), (640, 360));
    assert_eq!(fit_box(426, 240, 1920, 1080), (426, 240));
    // Cinema crop (2.35:1): the width fills the box.
    assert_eq!(fit_box(426, 240, 640, 272), (426, 182));
    assert_eq!(fit_box(1280, 720, 1920, 816), (1280, 544));
    // Portrait turns the box.
    assert_eq!(fit_box(640, 360, 720, 1280), (360, 640));
    assert_eq!(fit_box(1280, 720, 1080, 1920), (720, 1280));
    // Square into a landscape box: the height fills it.
    assert_eq!(fit_box(1280, 720, 1080, 1080), (720, 720));
    // 1366x768 and 1000x562: near 16:9, rounded to even.
    assert_eq!(fit_box(640, 360, 1366, 768), (640, 360));
    assert_eq!(fit_box(640, 360, 1000, 562), (640, 360));
    // Never enlarged.
    assert_eq!(fit_box(640, 360, 176, 144), (176, 144));
    assert_eq!(fit_box(854, 480, 640, 272), (640, 272));
    assert_eq!(fit_box(1280, 720, 853, 480), (852, 480));
}

#[test]
fn rates_are_a_ceiling_never_above_the_source() {
    let r30 = Some(rate(30, 1));
    assert_eq!(output_rate(r30, Some(rate(25, 1))), rate(25, 1));
    assert_eq!(output_rate(r30, Some(rate(24000, 1001))), rate(24000, 1001));
    assert_eq!(output_rate(r30, Some(rate(30000, 1001))), rate(30000, 1001));
    assert_eq!(output_rate(r30, Some(rate(50, 1))), rate(30, 1));
    assert_eq!(output_rate(r30, Some(rate(60000, 1001))), rate(30000, 1001));
    assert_eq!(output_rate(r30, Some(rate(60, 1))), rate(30, 1));
    assert_eq!(output_rate(None, Some(rate(50, 1))), rate(50, 1));
    assert_eq!(output_rate(r30, None), rate(30, 1));
}

#[test]
fn measured_rates_snap_to_common_ones() {
    for (num, den) in [
        (24000, 1001),
        (30000, 1001),
        (60000, 1001),
        (25, 1),
        (24, 1),
        (50, 1),
        (60, 1),
        (15, 1),
    ] {
        let r = rate(num, den);
        let pts = stamps(r, 60, 126_000);
        assert_eq!(Framerate::from_timestamps(&pts, TIMESCALE), Some(r), "{r}");
    }
    assert_eq!(
        Framerate::from_timestamps(&[0, 7200, 14400], TIMESCALE),
        Some(rate(25, 2))
    );
    assert_eq!(Framerate::from_timestamps(&[5], TIMESCALE), None);
}

#[test]
fn dropped_frames_leave_an_even_cadence() {
    let profile = VideoProfile::preset("P360p30fps16x9").unwrap();
    for (src, want, per_two_s) in [
        (rate(50, 1), rate(30, 1), 60),
        (rate(60, 1), rate(30, 1), 60),
        (rate(60000, 1001), rate(30000, 1001), 60),
        (rate(30, 1), rate(30, 1), 60),
        (rate(25, 1), rate(25, 1), 50),
    ] {
        let out = RungOutput::for_source(&profile, &shape(1280, 720, Some(src)));
        assert_eq!(out.frame_rate, want);
        let n = src.frames_in(std::time::Duration::from_secs(2)) as usize;
        let pts = stamps(src, n, 900_000);
        let kept = out.select(&pts);
        assert_eq!(kept.len(), per_two_s, "{src}");
        let steps: Vec<i64> = kept.windows(2).map(|w| w[1].1 - w[0].1).collect();
        let ideal = 90_000.0 * f64::from(want.den) / f64::from(want.num);
        assert!(
            steps.iter().all(|&s| (s as f64 - ideal).abs() <= 1.0),
            "{src}: {steps:?}"
        );
        assert_eq!(
            Framerate::from_timestamps(&kept.iter().map(|k| k.1).collect::<Vec<_>>(), TIMESCALE),
            Some(want)
        );
    }
}

#[test]
fn a_stream_that_halves_its_rate_keeps_what_it_sent() {
    // 30 fps for a second, then 15 fps: the output at 30 keeps every picture.
    let mut pts: Vec<i64> = (0..30).map(|k| k * 3000).collect();
    pts.extend((0..15).map(|k| 90_000 + k * 6000));
    let profile = VideoProfile::preset("P360p30fps16x9").unwrap();
    let src = Framerate::from_timestamps(&pts, TIMESCALE);
    assert_eq!(src, Some(rate(30, 1)));
    let out = RungOutput::for_source(&profile, &shape(640, 360, src));
    assert_eq!(out.expected_frames(&pts), 45);
}

proptest! {
    #[test]
    fn fitted_sizes_are_even_and_inside_the_box(
        bw in 8u32..=960, bh in 8u32..=540, sw in 16u32..4000, sh in 16u32..4000,
    ) {
        let (bw, bh) = (bw * 2, bh * 2);
        let (w, h) = fit_box(bw, bh, sw, sh);
        let (tw, th) = if sh > sw && bw > bh { (bh, bw) } else { (bw, bh) };
        prop_assert!(w % 2 == 0 && h % 2 == 0);
        prop_assert!(w <= tw && h <= th);
        prop_assert!(w <= sw.max(MIN_DIMENSION) && h <= sh.max(MIN_DIMENSION));
        // Aspect ratio within rounding (two pixels on the rounded side).
        if w > MIN_DIMENSION && h > MIN_DIMENSION {
            let err = (f64::from(w) / f64::from(h) - f64::from(sw) / f64::from(sh)).abs();
            let tol = 2.0 * f64::from(sw) / f64::from(sh) / f64::from(w.min(h)) + 2.0 / f64::from(h);
            prop_assert!(err <= tol, "{w}x{h} for {sw}x{sh}");
        }
    }

    #[test]
    fn selection_never_exceeds_the_output_rate(
        src_num in 10u32..=120, out_num in 5u32..=60, n in 1usize..300, t0 in 0i64..1_000_000,
    ) {
        let src = rate(src_num, 1);
        let out_r = output_rate(Some(rate(out_num, 1)), Some(src));
        let profile = VideoProfile::preset("P360p30fps16x9").unwrap();
        let mut p = profile.clone();
        p.framerate = Some(rate(out_num, 1));
        let out = RungOutput::for_source(&p, &shape(640, 360, Some(src)));
        prop_assert_eq!(out.frame_rate, out_r);
        let pts = stamps(src, n, t0);
        let kept = out.select(&pts);
        let span = (n as f64) / f64::from(src_num);
        let most = (span * out_r.as_f64()).ceil() as usize + 1;
        prop_assert!(!kept.is_empty() && kept.len() <= most);
        prop_assert!(kept.windows(2).all(|w| w[1].0 > w[0].0 && w[1].1 > w[0].1));
    }
}

#[test]
fn anamorphic_sources_are_fitted_as_displayed() {
    assert_eq!(sample_aspect(14, None), Some((4, 3)));
    assert_eq!(sample_aspect(1, None), None);
    assert_eq!(sample_aspect(0, None), None);
    assert_eq!(sample_aspect(17, None), None);
    assert_eq!(sample_aspect(255, Some((64, 45))), Some((64, 45)));
    assert_eq!(sample_aspect(255, Some((0, 45))), None);
    let profile = VideoProfile::preset("P360p30fps16x9").unwrap();
    // DV widescreen: 720x480 stored, 64:45... here PAL-style 4:3 pixels on 480x360.
    let mut s = shape(480, 360, Some(rate(25, 1)));
    s.sample_aspect = Some((4, 3));
    assert_eq!(s.display_size(), (640, 360));
    let out = RungOutput::for_source(&profile, &s);
    assert_eq!((out.width, out.height), (640, 360));
    // 1440x1080 HDV at 4:3 displays as 1920x1080.
    let mut s = shape(1440, 1080, Some(rate(25, 1)));
    s.sample_aspect = Some((4, 3));
    let out = RungOutput::for_source(&profile, &s);
    assert_eq!((out.width, out.height), (640, 360));
}
