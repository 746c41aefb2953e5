//! The re-encode check against livepeer-transcode's deterministic software transcoder: an
//! honest rendition re-encodes bit for bit; a tampered one is a `ReencodeMismatch`.

use std::sync::Arc;

use livepeer_core::verify::FaultKind;
use livepeer_core::{Ladder, VideoProfile};
use livepeer_transcode::testsrc::synthetic_segment;
use livepeer_transcode::{SoftwareConfig, SoftwareTranscoder};
use livepeer_verify::openh264::{SoftwareDecoder, SoftwareScaler};
use livepeer_verify::{CheckJob, Checker, VerifyConfig};

use crate::media::{request, transcode};

fn checker() -> Checker {
    let reencoder = SoftwareTranscoder::new(SoftwareConfig::default()).unwrap();
    Checker::new(VerifyConfig::default())
        .with_decoder(Arc::new(SoftwareDecoder::new()), Arc::new(SoftwareScaler))
        .with_reencoder(Arc::new(reencoder))
}

#[tokio::test]
async fn software_renditions_reencode_bit_for_bit_and_tampers_do_not() {
    let src = synthetic_segment(640, 360, 60, 2).unwrap().data.to_vec();
    let ladder: Ladder = "240p,360p".parse().unwrap();
    let (data, pixels): (Vec<_>, Vec<_>) = transcode(&src, &ladder).into_iter().unzip();
    let checker = checker();
    let check = |renditions: Vec<Vec<u8>>| {
        let req = request(&src, &ladder, &renditions, &pixels, 1);
        let job = Arc::new(CheckJob::from_request(&req));
        let checker = checker.clone();
        async move { checker.run(job, true).await.unwrap().finding }
    };
    assert_eq!(check(data.clone()).await, None, "honest rendition flagged");

    // The 360p rung encoded at 130% of its bitrate: within the bitrate bounds and close to
    // the source, so only the re-encode tells it apart.
    let mut richer: VideoProfile = ladder.profiles()[1].clone();
    richer.bitrate_bps = richer.bitrate_bps * 13 / 10;
    let other = transcode(&src, &Ladder::new(vec![richer]).unwrap());
    let tampered = vec![data[0].clone(), other[0].0.clone()];
    let finding = check(tampered.clone())
        .await
        .expect("tampered rendition passed");
    assert_eq!(finding.kind, FaultKind::ReencodeMismatch, "{finding:?}");
    assert_eq!(finding.rendition, Some(1));
    // Only transcode/cpu promises deterministic output: for other services (hardware
    // encoders) the same rendition passes, as nothing but the re-encode tells it apart.
    assert!(livepeer_verify::reencode::applies_to(
        &livepeer_core::ServiceId::cpu_transcoding()
    ));
    assert!(!livepeer_verify::reencode::applies_to(
        &livepeer_core::ServiceId::gpu_transcoding()
    ));
    let req = request(&src, &ladder, &tampered, &pixels, 1);
    let job = Arc::new(CheckJob::from_request(&req));
    assert_eq!(
        checker
            .without_reencoder()
            .run(job, true)
            .await
            .unwrap()
            .finding,
        None
    );

    // The 240p rung of another segment's pictures at the same settings: caught before the
    // re-encode, by the perceptual check.
    let elsewhere = synthetic_segment(640, 360, 60, 7).unwrap().data.to_vec();
    let swapped = transcode(&elsewhere, &ladder);
    let finding = check(vec![swapped[0].0.clone(), data[1].clone()])
        .await
        .expect("foreign rendition passed");
    assert!(
        matches!(
            finding.kind,
            FaultKind::PerceptualMismatch | FaultKind::ReencodeMismatch
        ),
        "{finding:?}"
    );
}

/// Records, at each re-encode, the orchestrator the checker says it is checking.
struct Recording {
    inner: SoftwareTranscoder,
    seen: std::sync::Mutex<Vec<Option<livepeer_core::Address>>>,
}

#[async_trait::async_trait]
impl livepeer_core::transcode::Transcoder for Recording {
    fn capabilities(&self) -> livepeer_core::transcode::Capabilities {
        self.inner.capabilities()
    }
    async fn transcode(
        &self,
        job: livepeer_core::transcode::TranscodeJob,
    ) -> Result<livepeer_core::transcode::TranscodeOutput, livepeer_core::transcode::TranscodeError>
    {
        self.seen
            .lock()
            .unwrap()
            .push(livepeer_verify::reencode::checked_orchestrator());
        self.inner.transcode(job).await
    }
}

#[tokio::test]
async fn a_reencoder_learns_whom_it_checks() {
    let src = synthetic_segment(640, 360, 60, 2).unwrap().data.to_vec();
    let ladder: Ladder = "240p".parse().unwrap();
    let (data, pixels): (Vec<_>, Vec<_>) = transcode(&src, &ladder).into_iter().unzip();
    let rec = Arc::new(Recording {
        inner: SoftwareTranscoder::new(SoftwareConfig::default()).unwrap(),
        seen: Default::default(),
    });
    let checker = Checker::new(VerifyConfig::default())
        .with_decoder(Arc::new(SoftwareDecoder::new()), Arc::new(SoftwareScaler))
        .with_reencoder(rec.clone());
    let req = request(&src, &ladder, &data, &pixels, 1);
    let job = Arc::new(CheckJob::from_request(&req));
    assert_eq!(checker.run(job, true).await.unwrap().finding, None);
    let orchestrator = req.receipt.receipt.orchestrator;
    assert_eq!(*rec.seen.lock().unwrap(), vec![Some(orchestrator)]);
    // Outside a check there is nobody.
    assert_eq!(livepeer_verify::reencode::checked_orchestrator(), None);
}
