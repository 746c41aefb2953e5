//! `POST /segment` for go-livepeer gateways: the auth token checked, the payment's tickets
//! validated and credited by the node's [`livepeer_negotiate::PmValidator`] (its risk policy
//! first, winners persisted before anything is answered), the segment transcoded by the
//! node's pool, the renditions kept for download and their hashes signed.

use std::sync::Arc;
use std::time::Duration;

use livepeer_core::media::{Container, Framerate, H264Profile, Segment, StreamId, VideoCodec};
use livepeer_core::profile::Gop;
use livepeer_core::transcode::TranscodeJob;
use livepeer_core::{Ladder, Wei};
use livepeer_interop::messages::video_profile::{Format, Profile, VideoCodec as WireCodec};
use livepeer_interop::messages::{
    Payment, TranscodeData, TranscodeResult, TranscodedSegmentData, VideoProfile as WireProfile,
    transcode_result,
};
use livepeer_interop::{estimate_fee, payment_to_batch, price_from_info, profile_sign_name};
use livepeer_interop_net::orchestrator::segment_route::SegmentFuture;
use livepeer_interop_net::orchestrator::{SegmentHandler, SegmentRefusal, SegmentRequest};
use livepeer_negotiate::PaymentError;
use livepeer_negotiate::payment::PaymentValidator as _;
use livepeer_negotiate::quinn::PoolError;
use tracing::{Instrument as _, debug, info_span};

use super::Shared;
use super::renditions::Renditions;

/// The handler the port's `SegmentRoute` calls.
pub(crate) struct Handler(pub(crate) Arc<Shared>);

impl SegmentHandler for Handler {
    fn handle_segment(&self, request: SegmentRequest) -> SegmentFuture {
        let shared = self.0.clone();
        let span = info_span!("livepeer_segment", seq = request.seg.seq, sender = ?request.sender);
        Box::pin(async move { handle(&shared, request).await }.instrument(span))
    }
}

fn refuse(status: u16, message: impl Into<String>) -> SegmentRefusal {
    let message = message.into();
    debug!(status, %message, "segment refused");
    SegmentRefusal { status, message }
}

fn failed(seq: i64, error: impl Into<String>) -> TranscodeResult {
    TranscodeResult {
        seq,
        result: Some(transcode_result::Result::Error(error.into())),
        info: None,
    }
}

async fn handle(shared: &Shared, req: SegmentRequest) -> Result<TranscodeResult, SegmentRefusal> {
    let seq = req.seg.seq;
    let token = req
        .seg
        .auth_token
        .as_ref()
        .ok_or_else(|| refuse(403, "missing auth token"))?;
    shared.tokens.check(token).map_err(|m| refuse(403, m))?;
    if shared.health.is_draining() {
        return Ok(failed(seq, "OrchestratorCapped"));
    }
    // A URL to fetch the segment from (`application/vnd+livepeer.uri`) is not served:
    // refused before any payment.
    if !req.content_type.is_empty() && !req.content_type.eq_ignore_ascii_case("video/MP2T") {
        return Err(refuse(
            400,
            format!("unsupported content type {:?}", req.content_type),
        ));
    }
    let price = shared.price();
    let wire = req.seg.renditions();
    let ladder = ladder_of(wire).map_err(|m| refuse(400, m))?;
    let seq_u = u64::try_from(seq).map_err(|_| refuse(400, "invalid seq"))?;
    let fee = estimate_fee(wire, req.duration, &price).map_err(|e| refuse(400, e.to_string()))?;
    let stream = credit(shared, req.sender, &req.payment, &token.session_id, fee).await?;
    let job = TranscodeJob {
        stream_id: stream,
        segment: Segment {
            seq: seq_u,
            duration: req.duration,
            data: req.body,
            container: Container::MpegTs,
            codec: VideoCodec::H264,
        },
        ladder,
    };
    let out = match shared.pool.run(job).await {
        Ok(o) => o,
        Err(e) => {
            let message = match e {
                PoolError::NoTranscoders => "no transcoders available".to_owned(),
                PoolError::Input(e) | PoolError::Failed(e) => e.to_string(),
                other => format!("{other:?}"),
            };
            debug!(%message, "transcoding failed");
            return Ok(failed(seq, message));
        }
    };
    let mut segments = Vec::with_capacity(out.renditions.len());
    for (r, w) in out.renditions.iter().zip(wire) {
        let path = Renditions::path(&token.session_id, &profile_sign_name(w), seq_u);
        shared.renditions.insert(path.clone(), r.data.clone());
        segments.push(TranscodedSegmentData {
            url: format!("{}{path}", shared.uri),
            pixels: i64::try_from(r.pixels.0).unwrap_or(i64::MAX),
            perceptual_hash_url: String::new(),
        });
    }
    let datas: Vec<&[u8]> = out.renditions.iter().map(|r| r.data.as_ref()).collect();
    let sig = livepeer_interop::sign_transcode_result(&datas, &shared.signer)
        .map_err(|e| refuse(500, format!("signing the result: {e}")))?;
    let fee: Wei = price.fee(out.total_pixels());
    shared.payments.debit(req.sender, stream, fee);
    // A refreshed info carries new ticket params for the next payment, and the session's
    // own token, so its credit stays where it is (go-livepeer keeps the token too).
    let info = shared.info(req.sender).await.ok().map(|mut i| {
        i.auth_token = Some(token.clone());
        i
    });
    Ok(TranscodeResult {
        seq,
        result: Some(transcode_result::Result::Data(TranscodeData {
            segments,
            sig: sig.as_bytes().to_vec(),
        })),
        info,
    })
}

/// Checks `payment` from `sender` for `session` (its expected price, its tickets, with the
/// risk policy first; winners persisted before this returns) and credits the session;
/// refuses unless the credit then covers `fee`. Balances are kept per session, as
/// go-livepeer keys them.
pub(crate) async fn credit(
    shared: &Shared,
    sender: livepeer_core::Address,
    payment: &Payment,
    session: &str,
    fee: Wei,
) -> Result<StreamId, SegmentRefusal> {
    let price = shared.price();
    let received = payment_to_batch(payment).map_err(|e| refuse(400, e.to_string()))?;
    // go-livepeer refuses a payment that expects less than the price asked.
    if let Some(expected) = payment.expected_price.as_ref() {
        let expected = price_from_info(expected).map_err(|e| refuse(400, e.to_string()))?;
        if expected.wei.full_mul(price.pixels) < price.wei.full_mul(expected.pixels) {
            return Err(refuse(400, "invalid expected price"));
        }
    }
    let stream = StreamId::from_name(session);
    shared
        .payments
        .accept(received.batch.as_ref(), sender, stream, fee)
        .await
        .map_err(|e| match e {
            PaymentError::Backend(_) => refuse(500, e.to_string()),
            e => refuse(400, e.to_string()),
        })?;
    Ok(stream)
}

/// Our ladder for go-livepeer's profiles, in the same order; named as the gateway signed
/// them. The error says which profile does not map.
pub(crate) fn ladder_of(profiles: &[WireProfile]) -> Result<Ladder, String> {
    if profiles.is_empty() {
        return Err("no renditions requested".into());
    }
    let mut out = Vec::with_capacity(profiles.len());
    for p in profiles {
        out.push(profile_of(p)?);
    }
    Ladder::new(out).map_err(|e| format!("profiles: {e}"))
}

fn profile_of(p: &WireProfile) -> Result<livepeer_core::VideoProfile, String> {
    let name = profile_sign_name(p).into_owned();
    let bad = |what: &str| format!("profile {name}: {what}");
    let width = u32::try_from(p.width).map_err(|_| bad("negative width"))?;
    let height = u32::try_from(p.height).map_err(|_| bad("negative height"))?;
    let bitrate = u64::try_from(p.bitrate).map_err(|_| bad("negative bitrate"))?;
    if p.encoder != WireCodec::H264 as i32 {
        return Err(bad("only H.264 renditions are encoded here"));
    }
    let framerate = match p.fps {
        0 => None,
        fps => Some(Framerate::new(fps, p.fps_den.max(1)).map_err(|e| bad(&e.to_string()))?),
    };
    let container = match Format::try_from(p.format) {
        Ok(Format::Mpegts) => Container::MpegTs,
        Ok(Format::Mp4) => Container::Mp4,
        Err(_) => return Err(bad("unknown format")),
    };
    let h264_profile = match Profile::try_from(p.profile) {
        Ok(Profile::EncoderDefault | Profile::H264Baseline) => H264Profile::ConstrainedBaseline,
        Ok(Profile::H264Main) => H264Profile::Main,
        Ok(Profile::H264High | Profile::H264ConstrainedHigh) => H264Profile::High,
        Err(_) => return Err(bad("unknown H.264 profile")),
    };
    // go-livepeer's GOP is in milliseconds; -1 means intra only.
    let gop = match (p.gop, framerate) {
        (0, _) => Gop::Segment,
        (g, _) if g < 0 => Gop::IntraOnly,
        (ms, Some(f)) => {
            let frames = Duration::from_millis(ms as u64).as_secs_f64() * f64::from(f.num)
                / f64::from(f.den);
            Gop::Frames((frames.round() as u32).max(1))
        }
        (_, None) => Gop::Segment,
    };
    let profile = livepeer_core::VideoProfile {
        name: name.clone(),
        width,
        height,
        bitrate_bps: bitrate,
        framerate,
        codec: VideoCodec::H264,
        h264_profile: Some(h264_profile),
        gop,
        container,
    };
    profile.validate().map_err(|e| bad(&e.to_string()))?;
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_livepeer_profiles_map_to_rungs() {
        let p = WireProfile {
            name: "P240p30fps16x9".into(),
            width: 426,
            height: 240,
            bitrate: 600_000,
            fps: 30,
            ..WireProfile::default()
        };
        let ladder = ladder_of(std::slice::from_ref(&p)).unwrap();
        let r = &ladder.profiles()[0];
        assert_eq!((r.width, r.height, r.bitrate_bps), (426, 240, 600_000));
        assert_eq!(r.framerate, Some(Framerate::new(30, 1).unwrap()));
        assert_eq!(r.container, Container::MpegTs);
        assert_eq!(r.gop, Gop::Segment);
        let mut gop = p.clone();
        gop.gop = 1000;
        assert_eq!(
            ladder_of(&[gop]).unwrap().profiles()[0].gop,
            Gop::Frames(30)
        );
        let mut unnamed = p.clone();
        unnamed.name.clear();
        assert!(
            ladder_of(&[unnamed]).unwrap().profiles()[0]
                .name
                .starts_with("net_")
        );
        let mut vp9 = p.clone();
        vp9.encoder = WireCodec::Vp9 as i32;
        assert!(ladder_of(&[vp9]).is_err());
        let mut neg = p;
        neg.width = -2;
        assert!(ladder_of(&[neg]).is_err());
        assert!(ladder_of(&[]).is_err());
    }
}
