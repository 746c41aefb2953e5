//! [`Verifier`]: the broadcaster's [`SegmentVerifier`]. Cheap checks on every segment, deep
//! checks on the secret sample, faults recorded in the ledger, reported to a [`FaultSink`]
//! at once, and challenged on chain when provable.

use std::sync::Arc;

use async_trait::async_trait;
use livepeer_core::ServiceId;
use livepeer_core::chain::FaultEvidence;
use livepeer_core::verify::{
    FaultReport, SegmentVerifier, Verdict, VerificationRequest, VerifyError,
};

use crate::challenge::Challenger;
use crate::checker::{CheckError, CheckJob, Checker};
use crate::config::InvalidConfig;
use crate::ledger::{FaultLedger, FaultRecord};
use crate::sampler::Sampler;

/// Hears about faults the moment they are found.
///
/// Negotiation subscribes one to drop the orchestrator at once (before any challenge is
/// decided) and move the stream elsewhere. Contract: called on the verifying task, once per
/// fault; must not block (hand the report to a channel or set a flag).
pub trait FaultSink: Send + Sync {
    /// A fault was found.
    fn on_fault(&self, report: &FaultReport);
}

impl<T: FaultSink + ?Sized> FaultSink for Arc<T> {
    fn on_fault(&self, report: &FaultReport) {
        (**self).on_fault(report)
    }
}

/// A channel sink: every report is sent to the receiver (dropped if it is gone).
impl FaultSink for tokio::sync::mpsc::UnboundedSender<FaultReport> {
    fn on_fault(&self, report: &FaultReport) {
        let _ = self.send(report.clone());
    }
}

/// The broadcaster's verifier. Build it with [`Verifier::builder`].
#[derive(Clone)]
pub struct Verifier {
    checker: Checker,
    sampler: Sampler,
    service: ServiceId,
    ledger: Option<FaultLedger>,
    sink: Option<Arc<dyn FaultSink>>,
    challenger: Option<Challenger>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("checker", &self.checker)
            .field("sampler", &self.sampler)
            .finish()
    }
}

/// Builds a [`Verifier`]: the checker and the secret sampler are mandatory, the rest optional.
#[derive(Debug)]
pub struct VerifierBuilder {
    inner: Verifier,
}

impl VerifierBuilder {
    /// Records faults in `ledger`.
    pub fn with_ledger(mut self, ledger: FaultLedger) -> Self {
        self.inner.ledger = Some(ledger);
        self
    }

    /// Reports faults to `sink`.
    pub fn with_fault_sink(mut self, sink: Arc<dyn FaultSink>) -> Self {
        self.inner.sink = Some(sink);
        self
    }

    /// Challenges provable faults through `challenger` (needs a ledger).
    pub fn with_challenger(mut self, challenger: Challenger) -> Self {
        self.inner.challenger = Some(challenger);
        self
    }

    /// The service the work is done under (what challenges name); `transcode/cpu` by default.
    pub fn with_service(mut self, service: ServiceId) -> Self {
        self.inner.service = service;
        self
    }

    /// The verifier; fails on an invalid configuration or a challenger without a ledger.
    pub fn build(self) -> Result<Verifier, InvalidConfig> {
        self.inner.checker.config().validate()?;
        if self.inner.challenger.is_some() && self.inner.ledger.is_none() {
            return Err(InvalidConfig("a challenger needs a fault ledger".into()));
        }
        Ok(self.inner)
    }
}

fn to_verify_error(e: CheckError) -> VerifyError {
    match e {
        CheckError::Input(m) => VerifyError::InvalidRequest(m),
        CheckError::Decoder(d) => VerifyError::Backend(d.to_string()),
    }
}

impl Verifier {
    /// A builder from the checks to run and the secret sampler.
    pub fn builder(checker: Checker, sampler: Sampler) -> VerifierBuilder {
        VerifierBuilder {
            inner: Verifier {
                checker,
                sampler,
                service: ServiceId::cpu_transcoding(),
                ledger: None,
                sink: None,
                challenger: None,
            },
        }
    }

    /// The fault ledger, if one is configured.
    pub fn ledger(&self) -> Option<&FaultLedger> {
        self.ledger.as_ref()
    }

    async fn on_fault(
        &self,
        report: &FaultReport,
        req: &VerificationRequest,
        job: &CheckJob,
        deep: bool,
    ) {
        tracing::warn!(orchestrator = ?report.orchestrator, kind = ?report.kind, detail = %report.detail, "fault");
        if let Some(s) = &self.sink {
            s.on_fault(report);
        }
        let Some(ledger) = &self.ledger else { return };
        let record = FaultRecord::new(
            report.clone(),
            FaultEvidence {
                service: self.service.clone(),
                receipt: req.receipt.clone(),
                claim: req.claim.clone(),
                domain: req.domain,
            },
        );
        match ledger.record(&record) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::error!(error = %e, "fault ledger write failed");
                return;
            }
        }
        if let Some(c) = &self.challenger
            && report.provable
            && let Err(e) = c.challenge(&record, job, deep).await
        {
            tracing::warn!(error = %e, "fault not challenged");
        }
    }
}

#[async_trait]
impl SegmentVerifier for Verifier {
    async fn verify(&self, req: &VerificationRequest) -> Result<Verdict, VerifyError> {
        if req.renditions.len() != req.ladder.profiles().len() {
            return Err(VerifyError::InvalidRequest(format!(
                "{} renditions for a ladder of {}",
                req.renditions.len(),
                req.ladder.profiles().len()
            )));
        }
        let claim = &req.claim.claim;
        let deep = self
            .sampler
            .is_sampled(&claim.orchestrator, &claim.stream_id, claim.seq);
        let job = Arc::new(CheckJob::from_request(req));
        let report = self
            .checker
            .run(job.clone(), deep)
            .await
            .map_err(to_verify_error)?;
        match report.finding {
            None => Ok(Verdict::Pass { sampled: deep }),
            Some(f) => {
                let report = f.into_report(claim.orchestrator);
                self.on_fault(&report, req, &job, deep).await;
                Ok(Verdict::Fault(report))
            }
        }
    }
}
