//! The node's errors: settings refused when a node is built, and failures while it runs.

use livepeer_core::Address;
use livepeer_core::chain::ChainError;
use thiserror::Error;

/// A node could not be built or failed while running.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The builder has no signer (the node's on-chain identity).
    #[error("no signer: give the node its key with `.key(..)` or `.signer(..)`")]
    MissingSigner,
    /// The chain backend is on another chain than the settings name.
    #[error("the chain backend is on chain {actual}, not the expected {expected}")]
    ChainIdMismatch {
        /// The chain id the settings name.
        expected: u64,
        /// The chain id the backend reports.
        actual: u64,
    },
    /// The JSON-RPC node did not answer.
    #[error("{0}")]
    Unreachable(String),
    /// The signer and the chain backend's account differ: tickets would be signed by one
    /// address and paid from another.
    #[error("the signer is {signer} but the chain backend acts as {account}")]
    AccountMismatch {
        /// The signer's address.
        signer: Address,
        /// The chain backend's account.
        account: Address,
    },
    /// An orchestrator without a transcoder, local or remote.
    #[error("no transcoder: an orchestrator needs a local transcoder or an allowed remote one")]
    NoTranscoder,
    /// No transcoder of the node can produce a rung of the ladder.
    #[error("no transcoder can produce rung {rung:?}: {reason}")]
    LadderUnsupported {
        /// The rung's name.
        rung: String,
        /// What the transcoders lack.
        reason: String,
    },
    /// The broadcaster has nothing to pay with.
    #[error("{0} has no deposit or reserve in the TicketBroker; fund it first")]
    Unfunded(Address),
    /// A setting is out of range or inconsistent with another.
    #[error("invalid setting: {0}")]
    Config(String),
    /// A key, ladder or other setting did not parse.
    #[error(transparent)]
    Parse(#[from] livepeer_core::ParseError),
    /// A transcoder could not start or failed.
    #[error(transparent)]
    Transcode(#[from] livepeer_core::transcode::TranscodeError),
    /// The chain failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The node is draining or closed and takes no new work.
    #[error("the node is draining and takes no new streams")]
    Draining,
    /// A part of the node failed (negotiation, storage, media, files).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl NodeError {
    /// Whether trying again later may succeed (the chain could not be reached).
    pub fn is_transient(&self) -> bool {
        match self {
            NodeError::Chain(e) => e.is_transient(),
            NodeError::Unreachable(_) => true,
            NodeError::Other(e) => e
                .downcast_ref::<ChainError>()
                .is_some_and(ChainError::is_transient),
            _ => false,
        }
    }
}

/// A node's result.
pub type Result<T, E = NodeError> = std::result::Result<T, E>;
