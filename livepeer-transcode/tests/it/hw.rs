//! The hardware backend: probes, then runs the conformance suite where a device exists.

use livepeer_transcode::Transcoder;
use livepeer_transcode::conformance::run_suite;
use livepeer_transcode::hw::{HwConfig, HwError, HwTranscoder, probe};

#[test]
fn probe_never_panics_and_explains_itself() {
    let p = probe();
    if !p.any() {
        assert!(!p.notes.is_empty(), "a failed probe says why");
    }
    eprintln!("hardware probe: {p:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardware_backend_passes_the_conformance_suite() {
    let t = match HwTranscoder::new(HwConfig::default()) {
        Ok(t) => t,
        Err(HwError::NoDevice(why)) => {
            eprintln!("SKIPPED: no video hardware on this machine ({why})");
            return;
        }
        Err(e) => panic!("hardware present but broken: {e}"),
    };
    if crate::no_ffmpeg() {
        return;
    }
    let caps = t.capabilities();
    assert!(caps.hardware);
    eprintln!("hardware backend: {caps:?}");
    let work = tempfile::tempdir().unwrap();
    let report = run_suite(&t, work.path()).await;
    assert!(report.passed(), "{}", report.failures());
}
