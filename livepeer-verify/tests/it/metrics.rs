//! Our SSIM and PSNR against FFmpeg's `ssim` and `psnr` filters on the same decoded frames.

use std::process::Command;

use livepeer_core::Container;
use livepeer_verify::FrameDecoder;
use livepeer_verify::metrics::{Plane, psnr_from_mse, sse, ssim};

use crate::media::{FfmpegDecoder, have_ffmpeg, source, to_file, x264};

fn stats(filter: &str, a: &str, b: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stats.txt");
    let graph = format!("[0][1]{filter}=stats_file={}", file.display());
    let st = Command::new("ffmpeg")
        .args([
            "-v", "error", "-nostdin", "-i", a, "-i", b, "-lavfi", &graph, "-f", "null", "-",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn field(line: &str, name: &str) -> f64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(name))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn ssim_and_psnr_match_ffmpeg() {
    if !have_ffmpeg() {
        return;
    }
    let src = source("testsrc2");
    let good = x264(&src, 426, 240, 400, None);
    let poor = x264(&src, 426, 240, 60, None);
    let (pa, pb) = (to_file(&good, "ts"), to_file(&poor, "ts"));
    let fa = FfmpegDecoder
        .decode(&good, Container::MpegTs, None)
        .unwrap();
    let fb = FfmpegDecoder
        .decode(&poor, Container::MpegTs, None)
        .unwrap();
    assert_eq!((fa.len(), fb.len()), (60, 60));
    let ssim_lines = stats("ssim", &pa, &pb);
    let psnr_lines = stats("psnr", &pa, &pb);
    let plane = |p: &livepeer_verify::Picture| -> (Vec<u8>, usize, usize) {
        (p.y.clone(), p.width as usize, p.height as usize)
    };
    for i in [0usize, 17, 59] {
        let (ya, w, h) = plane(&fa[i]);
        let (yb, _, _) = plane(&fb[i]);
        let a = Plane {
            data: &ya,
            width: w,
            height: h,
        };
        let b = Plane {
            data: &yb,
            width: w,
            height: h,
        };
        let ours = ssim(&a, &b).unwrap();
        let theirs = field(&ssim_lines[i], "Y:");
        assert!(
            (ours - theirs).abs() < 1e-3,
            "frame {i}: ssim {ours} vs ffmpeg {theirs}"
        );
        let mse = sse(&a, &b).unwrap() as f64 / (w * h) as f64;
        assert!(
            (mse - field(&psnr_lines[i], "mse_y:")).abs() < 1e-2,
            "frame {i} mse"
        );
        let p = psnr_from_mse(mse);
        assert!(
            (p - field(&psnr_lines[i], "psnr_y:")).abs() < 1e-2,
            "frame {i}: psnr {p}"
        );
    }
}
