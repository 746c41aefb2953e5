#![doc = include_str!("../README.md")]
//!
//! ## What this crate deliberately does not do
//!
//! No networking outside the `net` feature (evidence served and fetched over QUIC): the
//! chain is reached through the `livepeer-core` chain traits, evidence through
//! [`EvidenceSource`], and transcoders and decoders are traits too. No clock:
//! nothing here depends on the time of day. Every check is a deterministic function of its
//! inputs, so a verifier node re-running it on the evidence reaches the same verdict.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod bitstream;
pub mod challenge;
pub mod checker;
pub mod checks;
pub mod config;
pub mod decode;
pub mod evidence;
#[doc(hidden)]
pub mod fuzz_entry;
pub mod ledger;
pub mod metrics;
pub mod net;
pub mod node;
#[cfg(feature = "openh264")]
#[cfg_attr(docsrs, doc(cfg(feature = "openh264")))]
pub mod openh264;
pub mod reencode;
pub mod sampler;
pub mod verifier;

pub use bitstream::{BitstreamError, StreamInfo, inspect};
pub use challenge::{ChallengeError, Challenger};
pub use checker::{CheckError, CheckInput, CheckJob, CheckReport, Checker, Signed, SourceTiming};
pub use checks::Finding;
pub use config::{InvalidConfig, PerceptualThresholds, ReferenceMargins, VerifyConfig};
pub use decode::{BilinearScaler, DecodeError, FrameDecoder, PictureScaler};
pub use evidence::{
    ContentKey, EvidenceError, EvidenceManifest, EvidenceSource, EvidenceSources, EvidenceStore,
};
pub use ledger::{FaultLedger, FaultRecord, FaultStatus};
pub use metrics::{FrameScore, Picture};
pub use node::{Decision, NodeError, VerifierNode};
pub use sampler::Sampler;
pub use verifier::{FaultSink, Verifier, VerifierBuilder};
