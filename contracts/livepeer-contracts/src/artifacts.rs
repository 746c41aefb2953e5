//! The compiled contracts this crate was built with, and the checks that a chain runs them.

use std::collections::HashMap;
use std::sync::OnceLock;

use ethers::types::Bytes;
use ethers::utils::keccak256;
use serde::Deserialize;

/// One compiled contract.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// The ABI.
    pub abi: ethers::abi::Abi,
    /// Creation code.
    pub bytecode: Bytes,
    /// Runtime code, with zeros where immutables go.
    pub deployed_bytecode: Bytes,
    /// `(start, length)` of each immutable in the runtime code.
    #[serde(default)]
    pub immutable_ranges: Vec<(usize, usize)>,
}

/// The contracts, by name, in deployment order.
pub const CONTRACTS: [&str; 7] = [
    "RoundsManager",
    "StakeToken",
    "BondingManager",
    "ServiceRegistry",
    "TicketBroker",
    "FaultVerifier",
    "TrustedVerifier",
];

const SOURCES: [(&str, &str); 7] = [
    (
        "RoundsManager",
        include_str!("../../artifacts/RoundsManager.json"),
    ),
    (
        "StakeToken",
        include_str!("../../artifacts/StakeToken.json"),
    ),
    (
        "BondingManager",
        include_str!("../../artifacts/BondingManager.json"),
    ),
    (
        "ServiceRegistry",
        include_str!("../../artifacts/ServiceRegistry.json"),
    ),
    (
        "TicketBroker",
        include_str!("../../artifacts/TicketBroker.json"),
    ),
    (
        "FaultVerifier",
        include_str!("../../artifacts/FaultVerifier.json"),
    ),
    (
        "TrustedVerifier",
        include_str!("../../artifacts/TrustedVerifier.json"),
    ),
];

fn all() -> &'static HashMap<&'static str, Artifact> {
    static ALL: OnceLock<HashMap<&'static str, Artifact>> = OnceLock::new();
    ALL.get_or_init(|| {
        SOURCES
            .iter()
            .filter_map(|(name, json)| {
                serde_json::from_str::<Artifact>(json)
                    .ok()
                    .map(|a| (*name, a))
            })
            .collect()
    })
}

/// The artifact of `name` (one of [`CONTRACTS`]).
pub fn artifact(name: &str) -> Option<&'static Artifact> {
    all().get(name)
}

impl Artifact {
    /// Whether `code` (read from a chain) is this contract's runtime code, immutables aside.
    pub fn matches_runtime(&self, code: &[u8]) -> bool {
        let expected = self.deployed_bytecode.as_ref();
        if code.len() != expected.len() {
            return false;
        }
        let mut masked = code.to_vec();
        for &(start, len) in &self.immutable_ranges {
            if let Some(slice) = masked.get_mut(start..start + len) {
                slice.fill(0);
            }
        }
        masked == expected
    }
}

/// Names of every custom error of every contract, by 4-byte selector.
pub fn error_names() -> &'static HashMap<[u8; 4], String> {
    static NAMES: OnceLock<HashMap<[u8; 4], String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut out = HashMap::new();
        for a in all().values() {
            for errors in a.abi.errors.values() {
                for e in errors {
                    let sig = format!(
                        "{}({})",
                        e.name,
                        e.inputs
                            .iter()
                            .map(|p| p.kind.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    );
                    let h = keccak256(sig.as_bytes());
                    out.insert([h[0], h[1], h[2], h[3]], e.name.clone());
                }
            }
        }
        // Solidity's built-in Error(string) and Panic(uint256).
        out.insert([0x08, 0xc3, 0x79, 0xa0], "Error".to_owned());
        out.insert([0x4e, 0x48, 0x7b, 0x71], "Panic".to_owned());
        out
    })
}

/// The name of the custom error revert `data` carries, or `unknown`.
pub fn revert_name(data: &[u8]) -> String {
    data.get(..4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .and_then(|sel| error_names().get(&sel).cloned())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_artifact_parses_and_errors_are_named() {
        for name in CONTRACTS {
            let a = artifact(name).unwrap_or_else(|| panic!("{name} artifact"));
            assert!(!a.bytecode.is_empty() && !a.deployed_bytecode.is_empty());
            assert!(a.matches_runtime(&a.deployed_bytecode));
        }
        let sel = &keccak256(b"TicketAlreadyUsed()")[..4];
        assert_eq!(revert_name(sel), "TicketAlreadyUsed");
        assert_eq!(revert_name(&[1, 2]), "unknown");
    }

    #[test]
    fn code_check_ignores_immutables_only() {
        let a = artifact("TicketBroker").unwrap();
        let mut code = a.deployed_bytecode.to_vec();
        let (start, _) = a.immutable_ranges[0];
        code[start + 31] ^= 0xff;
        assert!(a.matches_runtime(&code));
        let other = (0..code.len())
            .find(|i| {
                !a.immutable_ranges
                    .iter()
                    .any(|&(s, l)| *i >= s && *i < s + l)
            })
            .unwrap();
        code[other] ^= 0xff;
        assert!(!a.matches_runtime(&code));
    }
}
