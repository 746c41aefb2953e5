//! Mapping ethers failures onto the core [`ChainError`], with custom errors by name.

use ethers::contract::ContractError;
use ethers::providers::{Middleware, MiddlewareError};
use livepeer_core::chain::ChainError;

use crate::artifacts::revert_name;

fn reverted(data: &[u8]) -> ChainError {
    ChainError::Reverted {
        name: revert_name(data),
        data: data.to_vec(),
    }
}

/// Maps a contract call's failure: reverts by custom-error name, the rest by kind.
pub(crate) fn contract_error<M: Middleware>(e: ContractError<M>) -> ChainError {
    if let Some(data) = e.as_revert() {
        return reverted(data);
    }
    match &e {
        ContractError::MiddlewareError { e: inner } => {
            if let Some(data) = inner.as_error_response().and_then(|r| r.as_revert_data()) {
                return reverted(&data);
            }
            classify(inner.to_string())
        }
        ContractError::ProviderError { e: inner } => {
            if let Some(data) = inner.as_error_response().and_then(|r| r.as_revert_data()) {
                return reverted(&data);
            }
            classify(inner.to_string())
        }
        ContractError::DecodingError(_)
        | ContractError::AbiError(_)
        | ContractError::DetokenizationError(_) => ChainError::Decode(e.to_string()),
        _ => classify(e.to_string()),
    }
}

/// Maps a middleware (provider) failure.
pub(crate) fn middleware_error<E: MiddlewareError>(e: E) -> ChainError {
    if let Some(data) = e.as_error_response().and_then(|r| r.as_revert_data()) {
        return reverted(&data);
    }
    classify(e.to_string())
}

fn classify(msg: String) -> ChainError {
    let lower = msg.to_ascii_lowercase();
    if lower.contains("insufficient funds") {
        ChainError::InsufficientFunds
    } else if lower.contains("nonce too low") {
        // The node refused the transaction outright: it was definitely not sent, which the
        // redemption queue must be able to tell from a send of unknown fate.
        ChainError::Reverted {
            name: "NonceTooLow".into(),
            data: Vec::new(),
        }
    } else if lower.contains("replacement transaction underpriced") {
        ChainError::Reverted {
            name: "ReplacementUnderpriced".into(),
            data: Vec::new(),
        }
    } else {
        ChainError::Transport(msg)
    }
}
