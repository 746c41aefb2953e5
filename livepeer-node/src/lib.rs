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
pub mod meter;
pub mod metered;
pub mod ops;
pub mod orchestrator;
pub mod rpc;
pub mod signal;
pub mod source;
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

/// The deterministic software transcoder (OpenH264 and rav1e), the default wherever a node
/// needs one; started off the async threads (its encoders self-test).
pub async fn software_transcoder()
-> Result<std::sync::Arc<dyn livepeer_core::transcode::Transcoder>> {
    let t = tokio::task::spawn_blocking(|| {
        livepeer_transcode::SoftwareTranscoder::new(livepeer_transcode::SoftwareConfig::default())
    })
    .await
    .map_err(anyhow::Error::from)??;
    Ok(std::sync::Arc::new(t))
}
