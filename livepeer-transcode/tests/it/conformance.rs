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
    assert_eq!(caps.backend, "openh264+rav1e");
    assert!(caps.pixels_per_second > 0 && caps.deterministic && !caps.hardware);
    let work = tempfile::tempdir().unwrap();
    let report = run_suite(t.as_ref(), work.path()).await;
    for (name, r) in &report.checks {
        eprintln!("{name}: {}", if r.is_ok() { "ok" } else { "FAILED" });
    }
    assert!(report.passed(), "{}", report.failures());
    assert!(report.checks.len() >= 15);
}
