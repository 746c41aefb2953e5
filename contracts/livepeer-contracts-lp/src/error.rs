//! Errors: [`LpError`] for connecting and deploying, and the mapping of ethers failures onto
//! the core [`ChainError`] that the trait implementations return.
//!
//! Livepeer's contracts revert with `require(cond, "reason")` strings rather than custom
//! errors, so a revert becomes `ChainError::Reverted { name: <the reason>, .. }`, e.g.
//! `"ticket is used"` or `"sender is unlocked"`; test one with
//! [`ChainError::is_revert`].

use ethers::abi::{AbiDecode, Address};
use ethers::contract::ContractError;
use ethers::providers::{Middleware, MiddlewareError};
use livepeer_core::Fault;
use livepeer_core::chain::ChainError;
use thiserror::Error;

/// Connecting to, or deploying, a Livepeer contract set failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LpError {
    /// There is no contract code where a contract was expected: a wrong Controller address,
    /// the wrong chain, or a name the Controller maps to an account without code.
    #[error("no contract code for {contract} at {address:?}")]
    NoCode {
        /// Which contract was expected there.
        contract: String,
        /// The address.
        address: Address,
    },
    /// The Controller has no address for this name (`getContract(keccak256(name))` is zero).
    #[error("{name} is not registered in the Controller")]
    NotRegistered {
        /// The contract name looked up.
        name: String,
    },
    /// No artifact of that name is carried by this crate.
    #[error("no artifact named {0}")]
    UnknownArtifact(String),
    /// A carried artifact does not parse or link (a build of this crate is broken).
    #[error("artifact {name}: {reason}")]
    BadArtifact {
        /// The artifact.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A chain call failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl LpError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            LpError::NoCode { .. } | LpError::NotRegistered { .. } => Fault::Incompatible,
            LpError::UnknownArtifact(_) => Fault::Misuse,
            LpError::BadArtifact { .. } => Fault::Backend,
            LpError::Chain(e) => e.fault(),
        }
    }

    /// Whether this is [`LpError::NotRegistered`].
    pub fn is_not_registered(&self) -> bool {
        matches!(self, LpError::NotRegistered { .. })
    }

    /// Whether this is [`LpError::NoCode`].
    pub fn is_no_code(&self) -> bool {
        matches!(self, LpError::NoCode { .. })
    }
}

impl From<LpError> for ChainError {
    fn from(e: LpError) -> Self {
        match e {
            LpError::Chain(c) => c,
            LpError::NoCode { contract, address } => {
                ChainError::UnexpectedCode { contract, address }
            }
            other => ChainError::NotFound(other.to_string()),
        }
    }
}

/// The name a revert's data carries: the reason string of `Error(string)`, `Panic(0x..)`,
/// or `unknown`.
pub fn revert_name(data: &[u8]) -> String {
    const ERROR: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];
    const PANIC: [u8; 4] = [0x4e, 0x48, 0x7b, 0x71];
    match data.get(..4) {
        Some(sel) if sel == ERROR => {
            String::decode(&data[4..]).unwrap_or_else(|_| "unknown".to_owned())
        }
        Some(sel) if sel == PANIC => ethers::types::U256::decode(&data[4..])
            .map(|code| format!("Panic(0x{code:x})"))
            .unwrap_or_else(|_| "Panic".to_owned()),
        _ => "unknown".to_owned(),
    }
}

fn reverted(data: &[u8]) -> ChainError {
    ChainError::Reverted {
        name: revert_name(data),
        data: data.to_vec(),
    }
}

/// Maps a contract call's failure: reverts by reason, the rest by kind.
pub(crate) fn contract_error<M: Middleware>(e: ContractError<M>) -> ChainError {
    if let Some(data) = e.as_revert() {
        return reverted(data);
    }
    match &e {
        ContractError::MiddlewareError { e: inner } => middleware_error_ref(inner),
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

fn middleware_error_ref<E: MiddlewareError>(e: &E) -> ChainError {
    if let Some(data) = e.as_error_response().and_then(|r| r.as_revert_data()) {
        return reverted(&data);
    }
    classify(e.to_string())
}

/// Maps a middleware (provider) failure.
pub(crate) fn middleware_error<E: MiddlewareError>(e: E) -> ChainError {
    middleware_error_ref(&e)
}

fn classify(msg: String) -> ChainError {
    let lower = msg.to_ascii_lowercase();
    if lower.contains("insufficient funds") {
        ChainError::InsufficientFunds
    } else if lower.contains("nonce too low") {
        ChainError::Reverted {
            name: "NonceTooLow".into(),
            data: Vec::new(),
        }
    } else if lower.contains("replacement transaction underpriced") {
        ChainError::Reverted {
            name: "ReplacementUnderpriced".into(),
            data: Vec::new(),
        }
    } else if lower.contains("execution reverted") {
        // A revert the node reported without data (`require(cond)` with no reason).
        ChainError::Reverted {
            name: "unknown".into(),
            data: Vec::new(),
        }
    } else {
        ChainError::Transport(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ethers::abi::AbiEncode;

    #[test]
    fn revert_reasons_are_named() {
        let mut data = vec![0x08, 0xc3, 0x79, 0xa0];
        data.extend("ticket is used".to_owned().encode());
        assert_eq!(revert_name(&data), "ticket is used");
        let mut panic = vec![0x4e, 0x48, 0x7b, 0x71];
        panic.extend(ethers::types::U256::from(0x11).encode());
        assert_eq!(revert_name(&panic), "Panic(0x11)");
        assert_eq!(revert_name(&[1, 2, 3]), "unknown");
        let e = reverted(&data);
        assert!(e.is_revert("ticket is used"));
    }

    #[test]
    fn errors_convert_and_classify() {
        let e = LpError::NotRegistered {
            name: "Nope".into(),
        };
        assert!(e.is_not_registered());
        assert_eq!(e.fault(), Fault::Incompatible);
        assert!(matches!(ChainError::from(e), ChainError::NotFound(_)));
        let e = LpError::NoCode {
            contract: "Controller".into(),
            address: Address::zero(),
        };
        assert!(e.is_no_code());
        assert!(matches!(
            ChainError::from(e),
            ChainError::UnexpectedCode { .. }
        ));
        assert_eq!(
            classify("insufficient funds for gas".into()),
            ChainError::InsufficientFunds
        );
    }
}
