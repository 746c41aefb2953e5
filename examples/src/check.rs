//! `verifier check`: one rendition checked against its source segment, here, with the
//! broadcasters' own checks; the verdict and the measured metrics printed as JSON.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use livepeer_core::entropy::OsEntropy;
use livepeer_core::{Container, H256, Ladder, LocalSigner, SegmentClaim, SignedReceipt, keccak256};
use livepeer_transcode::{SoftwareConfig, SoftwareTranscoder};
use livepeer_verify::openh264::{SoftwareDecoder, SoftwareScaler};
use livepeer_verify::{
    CheckJob, Checker, FrameDecoder as _, Signed, SourceTiming, VerifyConfig, inspect,
};
use serde_json::json;

/// Check one rendition against its source segment, here, and print JSON.
#[derive(Debug, clap::Args)]
pub struct Check {
    /// The source segment (MPEG-TS or MP4).
    #[arg(long, value_name = "PATH")]
    pub source: PathBuf,
    /// The rendition (MPEG-TS, MP4 or IVF).
    #[arg(long, value_name = "PATH")]
    pub rendition: PathBuf,
    /// The profile it was asked for: a preset name (720p, P360p30fps16x9...) or a JSON or
    /// TOML ladder of one rung.
    #[arg(long, value_name = "NAME")]
    pub profile: String,
    /// The orchestrator's signed receipt for it (JSON); its signature, hashes and pixel
    /// counts are then checked too. Without it those checks pass by construction. The
    /// signature is checked for the deployment of `--chain-id` and `--contracts FILE` (read
    /// from the file; no node is asked): a receipt signed for another chain or deployment is
    /// a bad signature.
    #[arg(long, value_name = "FILE")]
    pub receipt: Option<PathBuf>,
    /// Skip the full decode and perceptual comparison (the always-on checks only).
    #[arg(long)]
    pub cheap: bool,
    /// Judge without an honest reference encode. By default, as the network judges, a
    /// rendition that fails a check is re-checked against this machine's software transcode
    /// of the same segment and rung, and a rule the honest reference breaks too is reported
    /// as a calibration fault, not as the orchestrator's.
    #[arg(long)]
    pub no_reference: bool,
    /// Write the JSON here as well as to standard output.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

fn container_of(path: &Path, data: &[u8]) -> anyhow::Result<Container> {
    if data.len() >= 189 && data[0] == 0x47 && data[188] == 0x47 {
        return Ok(Container::MpegTs);
    }
    if data.len() >= 8 && &data[4..8] == b"ftyp" {
        return Ok(Container::Mp4);
    }
    if data.starts_with(b"DKIF") {
        return Ok(Container::Ivf);
    }
    anyhow::bail!(
        "{} is not MPEG-TS, MP4 or IVF; give a video segment",
        path.display()
    )
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

#[allow(clippy::print_stdout)]
/// Runs the check; exits with status 2 when the rendition is at fault. `chain` names the
/// deployment a given receipt must be signed for.
pub async fn check(c: Check, chain: &crate::rpc::ChainArgs) -> anyhow::Result<()> {
    let source = read(&c.source)?;
    let rendition = read(&c.rendition)?;
    let src_container = container_of(&c.source, &source)?;
    let out_container = container_of(&c.rendition, &rendition)?;
    let ladder =
        Ladder::parse(&c.profile).map_err(|e| anyhow::anyhow!("--profile {:?}: {e}", c.profile))?;
    let [profile] = ladder.profiles() else {
        anyhow::bail!(
            "--profile names {} rungs; give one",
            ladder.profiles().len()
        );
    };
    let mut profile = profile.clone();
    profile.container = out_container;
    let info = inspect(&rendition, out_container)
        .map_err(|e| anyhow::anyhow!("{} does not parse: {e}", c.rendition.display()))?;
    let src_info = inspect(&source, src_container)
        .map_err(|e| anyhow::anyhow!("{} does not parse: {e}", c.source.display()))?;

    let cfg = VerifyConfig::default();
    let decoder = Arc::new(SoftwareDecoder::new());
    let mut checker =
        Checker::new(cfg.clone()).with_decoder(decoder.clone(), Arc::new(SoftwareScaler));
    if !c.no_reference {
        let reference = SoftwareTranscoder::new(SoftwareConfig::default())
            .context("starting the reference transcoder")?;
        checker = checker.with_reference_encoder(Arc::new(reference));
    }
    let duration = src_info.duration.unwrap_or_default();
    let mut job = CheckJob::unsigned(
        source.clone().into(),
        src_container,
        src_info.codec,
        vec![profile.clone()],
        vec![rendition.clone().into()],
        duration,
    );
    // A given receipt is checked too: its signature, hashes and pixel counts, against a
    // claim restating what was sent (checked against the receipt, not by its signature).
    let given = c.receipt.is_some();
    if let Some(p) = &c.receipt {
        let domain = chain.signing_domain().context("--receipt")?;
        let receipt: SignedReceipt = serde_json::from_slice(&read(p)?)
            .with_context(|| format!("{} is not a signed receipt", p.display()))?;
        let claim = SegmentClaim {
            broadcaster: receipt.receipt.broadcaster,
            orchestrator: receipt.receipt.orchestrator,
            stream_id: receipt.receipt.stream_id,
            seq: receipt.receipt.seq,
            input_hash: H256::from(keccak256(&source)),
            profile_ids: vec![profile.id()],
            duration_ms: duration.as_millis() as u64,
        }
        .sign(&LocalSigner::random(&OsEntropy)?, &domain)?;
        job.signed = Some(Signed {
            receipt,
            claim,
            domain,
        });
    }
    let job = Arc::new(job);
    let report = checker.run(job, !c.cheap).await?;
    let timing = SourceTiming {
        pts: src_info.pts.clone(),
        frame_rate: src_info.frame_rate,
        sample_aspect: src_info.sample_aspect,
    };
    let promised = timing.output(&profile, src_info.width, src_info.height);
    let perceptual = if c.cheap {
        serde_json::Value::Null
    } else {
        let pictures = decoder.decode(&source, src_container, None)?;
        match checker.compare_timed(&pictures, &timing, &profile, &rendition, None, 0) {
            Ok(Some(scores)) => {
                let n = scores.len().max(1) as f64;
                let min = |f: fn(&livepeer_verify::FrameScore) -> f64| {
                    scores.iter().map(f).fold(f64::INFINITY, f64::min)
                };
                json!({
                    "frames_compared": scores.len(),
                    "min_frame_ssim": min(|s| s.ssim_y),
                    "mean_frame_ssim": scores.iter().map(|s| s.ssim_y).sum::<f64>() / n,
                    "min_tile_ssim": min(|s| s.min_tile_ssim),
                    "min_psnr_db": min(|s| s.psnr_yuv),
                    "mean_psnr_db": scores.iter().map(|s| s.psnr_yuv).sum::<f64>() / n,
                })
            }
            Ok(None) => json!("not compared: no decoder for this codec"),
            Err(f) => json!({ "error": f.detail }),
        }
    };
    let verdict = match (&report.finding, &report.calibration) {
        (None, None) => json!({ "verdict": "pass" }),
        (None, Some(f)) => json!({
            "verdict": "pass",
            "calibration": {
                "kind": format!("{:?}", f.kind),
                "detail": f.detail,
                "note": "an honest reference encode fails this check too: the rule does not fit this content",
            },
        }),
        (Some(f), _) => json!({
            "verdict": "fault",
            "kind": format!("{:?}", f.kind),
            "detail": f.detail,
            "provable": f.is_provable(),
        }),
    };
    let out = json!({
        "result": verdict,
        "receipt_checked": given,
        "rendition": {
            "codec": format!("{}", info.codec),
            "width": info.width,
            "height": info.height,
            "frames": info.frames,
            "frame_rate": info.frame_rate.map(|f| f64::from(f.num) / f64::from(f.den)),
            "duration_seconds": info.duration.map(|d| d.as_secs_f64()),
            "bitrate_bps": info.bitrate_bps(),
            "asked": {
                "box": [profile.width, profile.height],
                "width": promised.width,
                "height": promised.height,
                "frame_rate": promised.frame_rate.as_f64(),
                "bitrate_bps": profile.bitrate_bps,
            },
        },
        "perceptual": perceptual,
        "thresholds": {
            "min_frame_ssim": cfg.perceptual.min_frame_ssim,
            "min_tile_ssim": cfg.perceptual.min_tile_ssim,
            "min_psnr_db": cfg.perceptual.min_psnr_db,
            "bitrate_ratio": [cfg.min_bitrate_ratio, cfg.max_bitrate_ratio],
        },
    });
    let text = serde_json::to_string_pretty(&out)?;
    println!("{text}");
    if let Some(p) = c.json {
        livepeer_transcode::hls::write_atomic(&p, text.as_bytes())?;
    }
    if report.finding.is_some() {
        std::process::exit(2);
    }
    Ok(())
}
