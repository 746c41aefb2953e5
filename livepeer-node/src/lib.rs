#![doc = include_str!("../README.md")]

/// The root README's embedding example, compiled with the doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct RootReadme;

pub mod broadcaster;
pub mod chain;
pub mod error;
pub mod follow;
pub mod hired;
#[cfg(feature = "livepeer")]
pub mod livepeer;
pub mod meter;
pub mod metered;
pub mod ops;
pub mod orchestrator;
pub mod rpc;
pub mod signal;
pub mod source;
mod stats;
pub mod transcoder;
pub mod verifier;
pub mod winners;

pub use broadcaster::{BroadcasterBuilder, BroadcasterNode, Reencode, StreamStats};
pub use chain::{BroadcasterChain, OrchestratorChain, RoundKeeper, SigningDomain};
pub use error::{NodeError, Result};
pub use follow::{Follow, FollowConfig, Follower};
pub use livepeer_core::{Ladder, LocalSigner, PixelPrice};
pub use ops::{Health, OpsServer};
pub use orchestrator::{OrchestratorBuilder, OrchestratorNode};
pub use rpc::RpcClient;
pub use source::{LogProgress, Progress, SegmentSource};
pub use transcoder::{TranscoderBuilder, TranscoderNode};
pub use verifier::{Judge, Judged, VerifierBuilder, VerifierNode};
pub use winners::Winners;

/// The deterministic software transcoder (this build's default H.264 decoder, OpenH264 and
/// rav1e encoders), the default wherever a node needs one; started off the async threads
/// (its encoders self-test).
pub async fn software_transcoder()
-> Result<std::sync::Arc<dyn livepeer_core::transcode::Transcoder>> {
    software_on(livepeer_transcode::H264Decoding::default()).await
}

/// The software transcoder on the other H.264 decoder than [`software_transcoder`]'s, where
/// this build has one (feature `libav`: OpenH264 beside libavcodec): the alternate
/// re-encoder a verifier tries before it calls a mismatch on a source with B slices a fault
/// (`Checker::with_alternate_reencoder`). `None` in a build with one decoder.
pub async fn alternate_software_transcoder()
-> Result<Option<std::sync::Arc<dyn livepeer_core::transcode::Transcoder>>> {
    match livepeer_transcode::H264Decoding::default().alternate() {
        Some(decoder) => software_on(decoder).await.map(Some),
        None => Ok(None),
    }
}

/// The default software transcoder decoding with `decoder`, started off the async threads.
async fn software_on(
    decoder: livepeer_transcode::H264Decoding,
) -> Result<std::sync::Arc<dyn livepeer_core::transcode::Transcoder>> {
    let t = tokio::task::spawn_blocking(move || {
        let mut c = livepeer_transcode::SoftwareConfig::default();
        c.decoder = decoder;
        livepeer_transcode::SoftwareTranscoder::new(c)
    })
    .await
    .map_err(anyhow::Error::from)??;
    Ok(std::sync::Arc::new(t))
}
