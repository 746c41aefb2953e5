use livepeer_transcode::Transcoder;
use livepeer_transcode::conformance::run_suite;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn software_backend_passes_the_conformance_suite() {
    if crate::no_ffmpeg() {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter("livepeer_transcode=info")
        .with_test_writer()
        .try_init();
    let t = crate::software();
    let caps = t.capabilities();
    let expected = if cfg!(feature = "libav") {
        "libavcodec+openh264+rav1e"
    } else {
        "openh264+rav1e"
    };
    assert_eq!(caps.backend, expected);
    assert!(caps.pixels_per_second > 0 && caps.deterministic && !caps.hardware);
    suite(t.as_ref()).await;
}

/// Every decoder the software backend can run passes the suite, bad input included.
#[cfg(feature = "libav")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn software_backend_on_openh264_decoding_passes_the_conformance_suite() {
    if crate::no_ffmpeg() {
        return;
    }
    let mut c = livepeer_transcode::SoftwareConfig::default();
    c.decoder = livepeer_transcode::H264Decoding::OpenH264;
    let t = livepeer_transcode::SoftwareTranscoder::new(c).unwrap();
    assert_eq!(t.capabilities().backend, "openh264+rav1e");
    suite(&t).await;
}

async fn suite(t: &dyn Transcoder) {
    let work = tempfile::tempdir().unwrap();
    let report = run_suite(t, work.path()).await;
    for (name, r) in &report.checks {
        eprintln!("{name}: {}", if r.is_ok() { "ok" } else { "FAILED" });
    }
    assert!(report.passed(), "{}", report.failures());
    assert!(report.checks.len() >= 15);
}
