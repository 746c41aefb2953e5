//! The re-encode check: transcode the segment again with a deterministic transcoder and
//! compare the video elementary streams bit for bit (blake3). The elementary stream, not the
//! container, so two honest multiplexers that differ only in packetisation still agree.

use std::sync::Arc;

use bytes::Bytes;
use livepeer_bitstream::{h264, mp4};

use livepeer_core::transcode::{TranscodeJob, Transcoder};
use livepeer_core::verify::FaultKind;
use livepeer_core::{Address, Container, Ladder, Segment, StreamId, VideoCodec};

use crate::bitstream::elementary_stream;
use crate::checker::{CheckError, CheckJob};
use crate::checks::Finding;
use crate::decode::DecodeError;

/// Whether the re-encode check applies to jobs of `service`. Only `transcode/cpu` promises
/// livepeer-transcode's deterministic software output; other services (`transcode/gpu`, whose
/// hardware encoders differ bit for bit between devices and drivers) are checked by the
/// always-on and perceptual checks only, so an honest hardware orchestrator is never found
/// at fault by a re-encode.
pub fn applies_to(service: &livepeer_core::ServiceId) -> bool {
    *service == livepeer_core::ServiceId::cpu_transcoding()
}

tokio::task_local! {
    static CHECKED: Address;
}

/// Inside a re-encode that [`compare`] asked for: the orchestrator whose result is being
/// checked. A transcoder that hires another node for the re-encode (the paper's second
/// orchestrator) reads it to never hire the very orchestrator it checks.
pub fn checked_orchestrator() -> Option<Address> {
    CHECKED.try_with(|a| *a).ok()
}

/// Re-encodes `job`'s segment with `transcoder` and compares every rendition's elementary
/// stream. A transcoder that does not call itself deterministic is not used (`Ok(None)`).
pub async fn compare(
    transcoder: &dyn Transcoder,
    job: &CheckJob,
) -> Result<Option<Finding>, CheckError> {
    if !transcoder.capabilities().deterministic {
        return Ok(None);
    }
    let out = encode(transcoder, job).await?;
    compare_with(&out, job)
}

/// Transcodes `job`'s segment to its ladder with `transcoder` (telling it, through
/// [`checked_orchestrator`], whose result this is for). The renditions in ladder order.
pub async fn encode(transcoder: &dyn Transcoder, job: &CheckJob) -> Result<Vec<Bytes>, CheckError> {
    let claim = job.signed.as_ref().map(|s| &s.claim.claim);
    let ladder = Ladder::new(job.ladder.clone()).map_err(|e| CheckError::Input(e.to_string()))?;
    let reencode = transcoder.transcode(TranscodeJob {
        stream_id: claim.map_or_else(|| StreamId::from_name("unsigned"), |c| c.stream_id),
        segment: Segment {
            seq: claim.map_or(0, |c| c.seq),
            duration: job.duration,
            data: job.segment.clone(),
            container: job.container,
            codec: job.codec,
        },
        ladder,
    });
    let out = CHECKED
        .scope(claim.map_or(Address::zero(), |c| c.orchestrator), reencode)
        .await
        .map_err(|e| CheckError::Decoder(DecodeError::Backend(format!("re-encode: {e}"))))?;
    if out.renditions.len() != job.renditions.len() {
        return Err(CheckError::Decoder(DecodeError::Backend(
            "re-encode returned another number of renditions".into(),
        )));
    }
    Ok(out.renditions.into_iter().map(|r| r.data).collect())
}

/// Compares the elementary streams of a deterministic re-encode `ours` (ladder order) with
/// the renditions `job` holds.
pub fn compare_with(ours: &[Bytes], job: &CheckJob) -> Result<Option<Finding>, CheckError> {
    for (i, (mine, theirs)) in ours.iter().zip(&job.renditions).enumerate() {
        let c = job.ladder[i].container;
        let a = elementary_stream(mine, c)
            .map_err(|e| CheckError::Decoder(DecodeError::Backend(e.to_string())))?;
        let b = match elementary_stream(theirs, c) {
            Ok(b) => b,
            Err(e) => {
                return Ok(Some(Finding::new(
                    FaultKind::Undecodable,
                    Some(i),
                    e.to_string(),
                )));
            }
        };
        if blake3::hash(&a) != blake3::hash(&b) {
            return Ok(Some(Finding::new(
                FaultKind::ReencodeMismatch,
                Some(i),
                format!(
                    "re-encoded stream of {} bytes differs from the {} bytes returned",
                    a.len(),
                    b.len()
                ),
            )));
        }
    }
    Ok(None)
}

/// Whether the pictures an honest software transcoder decodes from `job`'s source depend on
/// which of its decoders ran: H.264 with B slices, where OpenH264's deblocking deviates
/// from libavcodec's (see livepeer-transcode's `H264Decoding`). Without B slices both give
/// the same pictures, so one re-encode settles the check. A source it cannot read counts as
/// depending (no accusation rests on what could not be read).
pub fn decoders_may_differ(job: &CheckJob) -> bool {
    if job.codec != VideoCodec::H264 {
        return false;
    }
    match job.container {
        Container::MpegTs | Container::AnnexB => {
            elementary_stream(&job.segment, job.container).map_or(true, |es| h264::has_b_slice(&es))
        }
        Container::Mp4 | Container::Fmp4 => mp4::read_video(&job.segment).map_or(true, |v| {
            let len_size = usize::from(v.config.get(4).map_or(3, |b| b & 3)) + 1;
            let mut au = Vec::new();
            v.samples.iter().any(|s| {
                au.clear();
                h264::avcc_to_annexb(s.data, len_size, &mut au).is_err() || h264::has_b_slice(&au)
            })
        }),
        _ => true,
    }
}

/// Settles a re-encode finding: a mismatch on a source whose pictures depend on the decoder
/// ([`decoders_may_differ`]) stands only if no deterministic `alternate` (a transcoder on
/// the other decoder) matches either; with no alternate to try it is inconclusive, not a
/// fault. Any other finding, and a mismatch on a source every decoder reads alike, stands.
pub async fn settle(
    finding: Option<Finding>,
    alternates: &[Arc<dyn Transcoder>],
    job: &CheckJob,
) -> Result<Option<Finding>, CheckError> {
    let Some(f) = finding else {
        return Ok(None);
    };
    if f.kind != FaultKind::ReencodeMismatch || !decoders_may_differ(job) {
        return Ok(Some(f));
    }
    let mut tried = 0;
    for t in alternates.iter().filter(|t| t.capabilities().deterministic) {
        tried += 1;
        if compare_with(&encode(t.as_ref(), job).await?, job)?.is_none() {
            return Ok(None);
        }
    }
    if tried == 0 {
        tracing::info!(
            detail = %f.detail,
            "re-encode mismatch on a source with B slices and no re-encoder on the other \
             decoder: inconclusive, not a fault"
        );
        return Ok(None);
    }
    Ok(Some(f))
}
