//! [`Checker`]: every check of one result in one deterministic, blocking function. The
//! broadcaster runs it on what it receives; a verifier node runs the very same function on
//! the evidence, so a broadcaster only challenges what the verifier will confirm.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use livepeer_core::transcode::Transcoder;
use livepeer_core::verify::FaultKind;
use livepeer_core::verify::VerificationRequest;
use livepeer_core::{
    Container, Domain, SignedReceipt, SignedSegmentClaim, VideoCodec, VideoProfile, keccak256,
};
use serde::{Deserialize, Serialize};

use crate::bitstream::StreamInfo;
use crate::checks::{Finding, check_hashes, check_receipt, check_rendition};
use crate::config::VerifyConfig;
use crate::decode::{DecodeError, FrameDecoder, PictureScaler};
use crate::metrics::{FrameScore, Picture, score};

/// One result to check: what was sent, what was asked, what came back, and what both sides
/// signed.
#[derive(Clone, Copy, Debug)]
pub struct CheckInput<'a> {
    /// The source segment's bytes.
    pub segment: &'a [u8],
    /// The source's container.
    pub container: Container,
    /// The ladder asked for (its ids must be the claim's profile ids).
    pub ladder: &'a [VideoProfile],
    /// The renditions' bytes, in ladder order.
    pub renditions: &'a [&'a [u8]],
    /// What both sides signed; `None` for files checked at hand, where the statement
    /// checks (signatures, hashes, signed pixel counts) are skipped.
    pub signed: Option<&'a Signed>,
    /// The source's duration (the claim's when signed; zero when unknown).
    pub duration: Duration,
}

/// The statements both sides signed about one segment, and the deployment they are signed
/// for.
#[derive(Clone, Debug)]
pub struct Signed {
    /// The orchestrator's receipt.
    pub receipt: SignedReceipt,
    /// The broadcaster's claim.
    pub claim: SignedSegmentClaim,
    /// The chain and FaultVerifier both signatures must be for.
    pub domain: Domain,
}

/// An owned [`CheckInput`], to move onto a worker thread.
#[derive(Clone, Debug)]
pub struct CheckJob {
    /// The source segment's bytes.
    pub segment: Bytes,
    /// The source's container.
    pub container: Container,
    /// The source's codec.
    pub codec: VideoCodec,
    /// The ladder asked for.
    pub ladder: Vec<VideoProfile>,
    /// The renditions' bytes, in ladder order.
    pub renditions: Vec<Bytes>,
    /// What both sides signed; `None` for files checked at hand (see [`Self::unsigned`]).
    pub signed: Option<Signed>,
    /// The source's duration (the claim's when signed; zero when unknown).
    pub duration: Duration,
}

impl CheckJob {
    /// The job of a verification request.
    pub fn from_request(req: &VerificationRequest) -> Self {
        CheckJob {
            segment: req.segment.data.clone(),
            container: req.segment.container,
            codec: req.segment.codec,
            ladder: req.ladder.profiles().to_vec(),
            renditions: req.renditions.iter().map(|r| r.data.clone()).collect(),
            duration: Duration::from_millis(req.claim.claim.duration_ms),
            signed: Some(Signed {
                receipt: req.receipt.clone(),
                claim: req.claim.clone(),
                domain: req.domain,
            }),
        }
    }

    /// A job for files at hand, with no signed statements: every check but the statement
    /// checks (signatures, hashes, signed pixel counts) runs, the reference re-encode
    /// included.
    pub fn unsigned(
        segment: Bytes,
        container: Container,
        codec: VideoCodec,
        ladder: Vec<VideoProfile>,
        renditions: Vec<Bytes>,
        duration: Duration,
    ) -> Self {
        CheckJob {
            segment,
            container,
            codec,
            ladder,
            renditions,
            signed: None,
            duration,
        }
    }

    /// Runs `f` on the borrowed view of this job.
    pub fn with_input<R>(&self, f: impl FnOnce(&CheckInput<'_>) -> R) -> R {
        let renditions: Vec<&[u8]> = self.renditions.iter().map(|b| &b[..]).collect();
        f(&CheckInput {
            segment: &self.segment,
            container: self.container,
            ladder: &self.ladder,
            renditions: &renditions,
            signed: self.signed.as_ref(),
            duration: self.duration,
        })
    }
}

/// Why a check could not run (not a verdict on the orchestrator).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The input is inconsistent on the broadcaster's side (its own claim, ladder or segment).
    #[error("inconsistent check input: {0}")]
    Input(String),
    /// The source did not decode, or the decoder failed.
    #[error("decoder: {0}")]
    Decoder(#[from] DecodeError),
}

/// What a check found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckReport {
    /// The first fault found, if any.
    #[serde(skip)]
    pub finding: Option<Finding>,
    /// Each rendition's headers, where they parsed.
    pub infos: Vec<Option<StreamInfo>>,
    /// Each rendition's worst frame score on the perceptual check, where it ran.
    pub worst: Vec<Option<FrameScore>>,
    /// Whether the deep (sampled) checks ran.
    pub deep: bool,
    /// A rule that did not fit this content: a rendition failed a check that an honest
    /// reference encode of the same segment and rung fails too. Recorded, never a fault:
    /// the orchestrator is paid and not challenged.
    #[serde(skip)]
    pub calibration: Option<Finding>,
}

/// Every check, configured once. Cheap to clone.
#[derive(Clone)]
pub struct Checker {
    cfg: VerifyConfig,
    decoder: Option<Arc<dyn FrameDecoder>>,
    scaler: Arc<dyn PictureScaler>,
    reencoder: Option<Arc<dyn Transcoder>>,
    alternates: Vec<Arc<dyn Transcoder>>,
    reference: Option<Arc<dyn Transcoder>>,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("cfg", &self.cfg)
            .field("decoder", &self.decoder.is_some())
            .finish()
    }
}

impl Checker {
    /// Checks without a decoder: headers, signatures, hashes and pixel counts only.
    pub fn new(cfg: VerifyConfig) -> Self {
        Checker {
            cfg,
            decoder: None,
            scaler: Arc::new(crate::decode::BilinearScaler),
            reencoder: None,
            alternates: Vec::new(),
            reference: None,
        }
    }

    /// Adds the decoder and scaler the perceptual checks use: the same decoder the
    /// transcoders use, so the reference is the picture they started from.
    pub fn with_decoder(
        mut self,
        decoder: Arc<dyn FrameDecoder>,
        scaler: Arc<dyn PictureScaler>,
    ) -> Self {
        self.decoder = Some(decoder);
        self.scaler = scaler;
        self
    }

    /// Adds a deterministic transcoder for the re-encode check of sampled segments: the
    /// same software and version the orchestrators promise, so honest output matches bit for
    /// bit. It may be local, or a second orchestrator hired through the same trait.
    /// It is also the reference encoder (see [`Self::with_reference_encoder`]) unless one is
    /// set.
    pub fn with_reencoder(mut self, transcoder: Arc<dyn Transcoder>) -> Self {
        self.reference.get_or_insert_with(|| transcoder.clone());
        self.reencoder = Some(transcoder);
        self
    }

    /// Adds a re-encoder on another decoder than the first's (livepeer-transcode's
    /// `H264Decoding`): honest orchestrators may decode with OpenH264 or libavcodec, whose
    /// pictures differ on B slices, so a mismatch on such a source is a fault only if no
    /// alternate matches either ([`crate::reencode::settle`]). Without one, such a mismatch
    /// is inconclusive.
    pub fn with_alternate_reencoder(mut self, transcoder: Arc<dyn Transcoder>) -> Self {
        self.alternates.push(transcoder);
        self
    }

    /// Adds an honest reference encoder for content too hard for the absolute thresholds:
    /// when a rendition scores below them, the segment is encoded with it, and the rendition
    /// is at fault only if it also scores clearly below what that honest encode scores
    /// ([`crate::config::ReferenceMargins`]). Heavy grain, for example, takes every honest
    /// encoder under the thresholds; an overlay or a frozen frame stays far below the
    /// reference. Runs only on renditions that fail the thresholds.
    pub fn with_reference_encoder(mut self, transcoder: Arc<dyn Transcoder>) -> Self {
        self.reference = Some(transcoder);
        self
    }

    /// This checker without its re-encoder (the reference encoder stays): for jobs whose
    /// service does not promise deterministic output (see [`crate::reencode::applies_to`]).
    pub fn without_reencoder(&self) -> Self {
        let mut c = self.clone();
        c.reencoder = None;
        c.alternates.clear();
        c
    }

    /// Every check, off the async executor: [`Self::check`] on a blocking thread; where a
    /// rendition fails the perceptual thresholds or the bitrate bounds and a reference
    /// encoder is set, the checks again against the reference's scores and rate; then on
    /// sampled segments the re-encode comparison.
    ///
    /// Before any rendition-level finding stands, the judge checks its own rule: where a
    /// reference encoder is set, an honest encode of the segment goes through the same
    /// header checks, and if it fails the check the rendition failed, the rule does not fit
    /// this content ([`CheckReport::calibration`]); no fault.
    pub async fn run(&self, job: Arc<CheckJob>, deep: bool) -> Result<CheckReport, CheckError> {
        let mut report = self.check_blocking(&job, deep, None, Vec::new()).await?;
        // The honest reference encode, made at most once and only on a suspected fault.
        let mut reference: Option<Arc<Vec<Bytes>>> = None;
        let mut excused: Vec<(usize, FaultKind)> = Vec::new();
        let mut calibration = None;
        let mut relaxed = false;
        // Each pass ends the loop or uses up something finite: the one pass with thresholds
        // relative to the reference, or one more excused (rendition, check).
        for _ in 0..=(3 * job.ladder.len() + 1) {
            let (Some(f), Some(t)) = (report.finding.clone(), self.reference.as_deref()) else {
                break;
            };
            let Some(at) = f.rendition.filter(|_| judged_against_reference(&f)) else {
                break;
            };
            let ours = match &reference {
                Some(o) => o.clone(),
                None => {
                    let o = Arc::new(crate::reencode::encode(t, &job).await?);
                    reference = Some(o.clone());
                    o
                }
            };
            let again = if matches!(
                f.kind,
                FaultKind::PerceptualMismatch | FaultKind::BitrateOutOfBounds
            ) {
                if relaxed {
                    break;
                }
                // Thresholds relative to the honest reference (its scores and its rate).
                relaxed = true;
                self.check_blocking(&job, deep, Some(ours), excused.clone())
                    .await?
            } else if let Some(failed) = self.reference_fails_too(&job, &f, &ours)
                && !excused.contains(&(at, f.kind))
            {
                tracing::warn!(
                    kind = ?f.kind,
                    detail = %f.detail,
                    reference = %failed,
                    "an honest reference fails this check too: recorded as a calibration fault"
                );
                excused.push((at, f.kind));
                self.check_blocking(&job, deep, Some(ours), excused.clone())
                    .await?
            } else {
                break;
            };
            let same = |g: &Finding| g.rendition == f.rendition && g.kind == f.kind;
            if !again.finding.as_ref().is_some_and(same) {
                calibration.get_or_insert(f);
            }
            report = again;
        }
        report.calibration = calibration.filter(|_| report.finding.is_none());
        if deep
            && report.finding.is_none()
            && let Some(t) = self.reencoder.as_deref()
            && t.capabilities().deterministic
        {
            let first = match &reference {
                // The reference was this very deterministic transcoder: no second encode.
                Some(ours) if self.reference_is_reencoder() => {
                    crate::reencode::compare_with(ours, &job)?
                }
                _ => crate::reencode::compare(t, &job).await?,
            };
            report.finding = crate::reencode::settle(first, &self.alternates, &job).await?;
        }
        Ok(report)
    }

    /// Whether the honest reference rendition of the finding's rung fails the same header
    /// check: `Some(what it measured)` if so.
    fn reference_fails_too(&self, job: &CheckJob, f: &Finding, ours: &[Bytes]) -> Option<String> {
        let i = f.rendition?;
        let profile = job.ladder.get(i)?;
        let data = ours.get(i)?;
        let facts = crate::checks::source_facts(&job.segment, job.container, job.duration);
        match check_rendition(i, profile, data, None, &facts, &self.cfg) {
            // Perceptual and bitrate findings have their own thresholds relative to the
            // reference; an absolute rule the reference breaks too excuses nothing there.
            Err(g)
                if g.kind == f.kind
                    && !matches!(
                        f.kind,
                        FaultKind::PerceptualMismatch | FaultKind::BitrateOutOfBounds
                    ) =>
            {
                Some(g.detail)
            }
            _ => None,
        }
    }

    fn reference_is_reencoder(&self) -> bool {
        match (&self.reference, &self.reencoder) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    async fn check_blocking(
        &self,
        job: &Arc<CheckJob>,
        deep: bool,
        reference: Option<Arc<Vec<Bytes>>>,
        excused: Vec<(usize, FaultKind)>,
    ) -> Result<CheckReport, CheckError> {
        let me = self.clone();
        let j = job.clone();
        tokio::task::spawn_blocking(move || {
            j.with_input(|i| {
                me.check_excusing(i, deep, reference.as_deref().map(Vec::as_slice), &excused)
            })
        })
        .await
        .map_err(|e| CheckError::Decoder(DecodeError::Backend(e.to_string())))?
    }

    /// The configuration.
    pub fn config(&self) -> &VerifyConfig {
        &self.cfg
    }

    /// Runs the checks; `deep` adds the full-decode perceptual check of every rendition.
    pub fn check(&self, input: &CheckInput<'_>, deep: bool) -> Result<CheckReport, CheckError> {
        self.check_against(input, deep, None)
    }

    /// [`Self::check`], where a rendition below the perceptual thresholds is at fault only if
    /// it also scores clearly below `reference`'s rendition of the same rung (an honest
    /// encode of this segment, ladder order), when given.
    pub fn check_against(
        &self,
        input: &CheckInput<'_>,
        deep: bool,
        reference: Option<&[Bytes]>,
    ) -> Result<CheckReport, CheckError> {
        self.check_excusing(input, deep, reference, &[])
    }

    /// [`Self::check_against`], where a header check in `excused` (rendition, kind) that an
    /// honest reference fails too does not count: the rendition's remaining checks go on.
    fn check_excusing(
        &self,
        input: &CheckInput<'_>,
        deep: bool,
        reference: Option<&[Bytes]>,
        excused: &[(usize, FaultKind)],
    ) -> Result<CheckReport, CheckError> {
        if input.renditions.len() != input.ladder.len() {
            return Err(CheckError::Input(
                "one rendition per rung of the ladder".into(),
            ));
        }
        let mut report = CheckReport {
            deep,
            infos: vec![None; input.ladder.len()],
            worst: vec![None; input.ladder.len()],
            ..CheckReport::default()
        };
        if let Some(signed) = input.signed {
            let claim = &signed.claim.claim;
            let ids: Vec<_> = input.ladder.iter().map(VideoProfile::id).collect();
            if ids != claim.profile_ids {
                return Err(CheckError::Input("the ladder is not the claim's".into()));
            }
            if keccak256(input.segment) != claim.input_hash.0 {
                return Err(CheckError::Input("the segment is not the claim's".into()));
            }
            if let Some(f) = check_receipt(&signed.receipt, &signed.claim, &signed.domain)
                .or_else(|| check_hashes(&signed.receipt, input.renditions))
            {
                report.finding = Some(f);
                return Ok(report);
            }
        }
        let facts = crate::checks::source_facts(input.segment, input.container, input.duration);
        for (i, (p, data)) in input.ladder.iter().zip(input.renditions).enumerate() {
            let pixels = input
                .signed
                .map(|s| s.receipt.receipt.pixels.get(i).copied().unwrap_or(0));
            let mut checked = check_rendition(i, p, data, pixels, &facts, &self.cfg);
            if let Err(f) = &checked
                && f.kind == FaultKind::BitrateOutOfBounds
                && let Some(cfg) = self.bitrate_excuse(p, reference.and_then(|r| r.get(i)))
            {
                checked = check_rendition(i, p, data, pixels, &facts, &cfg);
            }
            if let Err(f) = &checked
                && excused.contains(&(i, f.kind))
                && let Ok(info) = crate::bitstream::inspect(data, p.container)
            {
                checked = Ok(info);
            }
            match checked {
                Ok(info) => report.infos[i] = Some(info),
                Err(f) => {
                    report.finding = Some(f);
                    return Ok(report);
                }
            }
        }
        let Some(decoder) = self.decoder.as_deref() else {
            return Ok(report);
        };
        if !deep && !self.cfg.key_frame_check {
            return Ok(report);
        }
        let limit = (!deep).then_some(1);
        let source = decoder.decode(input.segment, input.container, limit)?;
        if source.is_empty() {
            return Err(CheckError::Input(
                "the source decodes to no pictures".into(),
            ));
        }
        let timing = SourceTiming::of(&facts);
        for (i, (p, data)) in input.ladder.iter().zip(input.renditions).enumerate() {
            let scores = match self.compare_timed(&source, &timing, p, data, limit, i) {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(f) => {
                    report.finding = Some(f);
                    return Ok(report);
                }
            };
            if let Some((frame, detail)) = scores
                .iter()
                .enumerate()
                .find_map(|(j, s)| self.below_thresholds(s).map(|d| (j, d)))
                && let Some(why) =
                    self.against_reference(&source, &timing, p, &scores, reference, limit, i)
            {
                report.finding = Some(Finding::new(
                    FaultKind::PerceptualMismatch,
                    Some(i),
                    format!("frame {frame}: {detail}{why}"),
                ));
            }
            report.worst[i] = minima(&scores);
            if report.finding.is_some() {
                return Ok(report);
            }
        }
        Ok(report)
    }

    /// The per-frame scores of one rendition against the source, decoded and scaled: what
    /// the perceptual check thresholds. `Ok(None)` when the decoder does not handle the
    /// rendition's codec (the check is skipped, never a fault). Without the source's
    /// timestamps, output frames pair with source pictures spread evenly in time; see
    /// [`Self::compare_timed`].
    pub fn compare(
        &self,
        source: &[Picture],
        profile: &VideoProfile,
        data: &[u8],
        limit: Option<usize>,
        index: usize,
    ) -> Result<Option<Vec<FrameScore>>, Finding> {
        self.compare_timed(
            source,
            &SourceTiming::default(),
            profile,
            data,
            limit,
            index,
        )
    }

    /// [`Self::compare`] with the source's timing: output frame `j` pairs with the source
    /// picture the rung's frame selection kept for it ([`livepeer_core::rung`]), the same
    /// picture the transcoder encoded, and the source is scaled to the size the rung
    /// promises for it.
    pub fn compare_timed(
        &self,
        source: &[Picture],
        timing: &SourceTiming,
        profile: &VideoProfile,
        data: &[u8],
        limit: Option<usize>,
        index: usize,
    ) -> Result<Option<Vec<FrameScore>>, Finding> {
        let Some(decoder) = self.decoder.as_deref() else {
            return Ok(None);
        };
        let frames = match decoder.decode(data, profile.container, limit) {
            Ok(f) => f,
            Err(DecodeError::Unsupported(_)) => return Ok(None),
            Err(e) => {
                return Err(Finding::new(
                    FaultKind::Undecodable,
                    Some(index),
                    e.to_string(),
                ));
            }
        };
        let (n_src, n_out) = (source.len(), frames.len());
        if n_out == 0 {
            return Err(Finding::new(
                FaultKind::Undecodable,
                Some(index),
                "decodes to no pictures",
            ));
        }
        let mut scores = Vec::with_capacity(n_out);
        let mut cached: Option<(usize, Picture)> = None;
        let first = &source[0];
        let rung = timing.output(profile, first.width, first.height);
        let kept: Vec<usize> = if timing.pts.len() == n_src {
            rung.select(&timing.pts).into_iter().map(|k| k.0).collect()
        } else {
            Vec::new()
        };
        for (j, out) in frames.iter().enumerate() {
            // The source picture the transcoder kept for output frame j; without timestamps,
            // the first picture of its share of the segment (equal counts pair one to one).
            let k = if limit.is_some() || n_src == n_out {
                j
            } else if let Some(&k) = kept.get(j) {
                k
            } else {
                j * n_src / n_out
            }
            .min(n_src - 1);
            if cached.as_ref().map(|c| c.0) != Some(k) {
                let scaled = self
                    .scaler
                    .scale(&source[k], rung.width, rung.height)
                    .map_err(|e| {
                        Finding::new(FaultKind::Undecodable, Some(index), e.to_string())
                    })?;
                cached = Some((k, scaled));
            }
            let reference = cached.as_ref().map(|c| &c.1);
            let s = reference.and_then(|r| score(r, out, self.cfg.perceptual.grid));
            match s {
                Some(s) => scores.push(s),
                None => {
                    return Err(Finding::new(
                        FaultKind::WrongResolution,
                        Some(index),
                        format!("frame {j} decodes to {}x{}", out.width, out.height),
                    ));
                }
            }
        }
        Ok(Some(scores))
    }

    /// When the honest reference of a rung is itself outside the bitrate bounds (film grain
    /// no encoder fits in the rate, a still slate no encoder fills), the bounds moved to
    /// around the reference's own rate: the configuration to check the rendition with.
    fn bitrate_excuse(
        &self,
        profile: &VideoProfile,
        reference: Option<&Bytes>,
    ) -> Option<VerifyConfig> {
        let info = crate::bitstream::inspect(reference?, profile.container).ok()?;
        let ratio = info.bitrate_bps()? as f64 / profile.bitrate_bps.max(1) as f64;
        let c = &self.cfg;
        if (c.min_bitrate_ratio..=c.max_bitrate_ratio).contains(&ratio) {
            return None;
        }
        let mut cfg = c.clone();
        cfg.min_bitrate_ratio = c.min_bitrate_ratio.min(ratio * c.min_bitrate_ratio);
        cfg.max_bitrate_ratio = c.max_bitrate_ratio.max(ratio * c.max_bitrate_ratio);
        Some(cfg)
    }

    /// A rendition below the thresholds, measured against the honest reference of its rung:
    /// `None` when it scores within the margins of the reference (the content is hard,
    /// not the rendition bad), `Some(detail)` when it is still at fault.
    #[allow(clippy::too_many_arguments)]
    fn against_reference(
        &self,
        source: &[Picture],
        timing: &SourceTiming,
        profile: &VideoProfile,
        scores: &[FrameScore],
        reference: Option<&[Bytes]>,
        limit: Option<usize>,
        index: usize,
    ) -> Option<String> {
        let Some(data) = reference.and_then(|r| r.get(index)) else {
            return Some(String::new());
        };
        let theirs = match self.compare_timed(source, timing, profile, data, limit, index) {
            Ok(Some(s)) => s,
            // The reference encoder's own output does not compare: no excuse from it.
            Ok(None) | Err(_) => return Some(" (the reference does not compare)".into()),
        };
        let (Some(t), Some(r)) = (minima(scores), minima(&theirs)) else {
            return Some(String::new());
        };
        let m = &self.cfg.perceptual.reference;
        let short = [
            ("SSIM", t.ssim_y, r.ssim_y, m.ssim),
            ("tile SSIM", t.min_tile_ssim, r.min_tile_ssim, m.tile_ssim),
            ("PSNR", t.psnr_yuv, r.psnr_yuv, m.psnr_db),
            (
                "block PSNR",
                t.min_block_psnr,
                r.min_block_psnr,
                m.block_psnr_db,
            ),
        ]
        .into_iter()
        .find(|(_, ours, refs, margin)| *ours < *refs - *margin);
        short.map(|(name, ours, refs, _)| {
            format!("; {name} {ours:.3} also under an honest encode's {refs:.3}")
        })
    }

    fn below_thresholds(&self, s: &FrameScore) -> Option<String> {
        let t = &self.cfg.perceptual;
        if s.ssim_y < t.min_frame_ssim {
            return Some(format!("SSIM {:.4} < {}", s.ssim_y, t.min_frame_ssim));
        }
        if s.min_tile_ssim < t.min_tile_ssim {
            return Some(format!(
                "tile SSIM {:.4} < {}",
                s.min_tile_ssim, t.min_tile_ssim
            ));
        }
        if s.psnr_yuv < t.min_psnr_db {
            return Some(format!("PSNR {:.2} dB < {}", s.psnr_yuv, t.min_psnr_db));
        }
        if s.min_block_psnr < t.min_block_psnr_db {
            return Some(format!(
                "block PSNR {:.2} dB < {}",
                s.min_block_psnr, t.min_block_psnr_db
            ));
        }
        None
    }
}

/// What the perceptual comparison needs of the source's timing: its display-order timestamps
/// and frame rate, from its headers. The default knows nothing: pictures pair evenly in time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceTiming {
    /// Display-order timestamps in 90 kHz ticks, one per source picture.
    pub pts: Vec<i64>,
    /// The source's frame rate.
    pub frame_rate: Option<livepeer_core::Framerate>,
    /// The source's sample aspect ratio, other than 1:1.
    pub sample_aspect: Option<(u32, u32)>,
}

impl SourceTiming {
    /// The timing of the source these facts describe.
    pub fn of(facts: &crate::checks::SourceFacts) -> Self {
        facts
            .info
            .as_ref()
            .map(|i| SourceTiming {
                pts: i.pts.clone(),
                frame_rate: i.frame_rate,
                sample_aspect: i.sample_aspect,
            })
            .unwrap_or_default()
    }

    /// What `profile` promises for a source of `width × height` pictures with this timing.
    pub fn output(
        &self,
        profile: &VideoProfile,
        width: u32,
        height: u32,
    ) -> livepeer_core::RungOutput {
        livepeer_core::RungOutput::for_source(
            profile,
            &livepeer_core::SourceShape {
                width,
                height,
                frame_rate: self.frame_rate,
                sample_aspect: self.sample_aspect,
            },
        )
    }
}

/// Whether a finding is about what a rendition looks like against its rung (a rule an honest
/// encoder may break on unusual content), rather than about signatures, hashes or bytes that
/// do not decode.
fn judged_against_reference(f: &Finding) -> bool {
    f.rendition.is_some()
        && matches!(
            f.kind,
            FaultKind::PerceptualMismatch
                | FaultKind::BitrateOutOfBounds
                | FaultKind::WrongTiming
                | FaultKind::WrongResolution
                | FaultKind::WrongFormat
        )
}

/// The lowest value of each metric over `scores`.
pub(crate) fn minima(scores: &[FrameScore]) -> Option<FrameScore> {
    let first = scores.first()?.clone();
    Some(scores.iter().fold(first, |m, s| FrameScore {
        ssim_y: m.ssim_y.min(s.ssim_y),
        min_tile_ssim: m.min_tile_ssim.min(s.min_tile_ssim),
        psnr_y: m.psnr_y.min(s.psnr_y),
        psnr_yuv: m.psnr_yuv.min(s.psnr_yuv),
        min_block_psnr: m.min_block_psnr.min(s.min_block_psnr),
    }))
}
