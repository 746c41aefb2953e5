//! The compiled Livepeer contracts this crate carries: ABI and creation code per contract, as
//! built by `scripts/build-livepeer-artifacts.sh` (provenance in
//! `livepeer-artifacts/PROVENANCE.md`).

use std::collections::BTreeMap;

use ethers::types::{Address, Bytes};
use serde::Deserialize;

use crate::error::LpError;

/// One compiled contract.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Artifact {
    /// The contract's name in its source.
    pub contract_name: String,
    /// The ABI.
    pub abi: ethers::abi::Abi,
    /// Creation code, with `__$…$__` placeholders where libraries are linked.
    pub bytecode: String,
    /// Where each library's address goes: source → library → byte ranges of the creation code.
    #[serde(default)]
    pub link_references: BTreeMap<String, BTreeMap<String, Vec<LinkReference>>>,
}

/// One place in the creation code where a library's address is linked.
#[derive(Clone, Copy, Debug, Deserialize)]
#[non_exhaustive]
pub struct LinkReference {
    /// Offset in bytes.
    pub start: usize,
    /// Length in bytes (20).
    pub length: usize,
}

/// The contracts carried, by the name their artifact file has.
pub const CONTRACTS: [&str; 11] = [
    "Controller",
    "ManagerProxy",
    "TicketBroker",
    "BondingManager",
    "SortedDoublyLL",
    "BondingVotes",
    "RoundsManager",
    "Minter",
    "ServiceRegistry",
    "LivepeerToken",
    "DummyL2LPTDataCache",
];

fn source(name: &str) -> Option<&'static str> {
    Some(match name {
        "Controller" => include_str!("../livepeer-artifacts/Controller.json"),
        "ManagerProxy" => include_str!("../livepeer-artifacts/ManagerProxy.json"),
        "TicketBroker" => include_str!("../livepeer-artifacts/TicketBroker.json"),
        "BondingManager" => include_str!("../livepeer-artifacts/BondingManager.json"),
        "SortedDoublyLL" => include_str!("../livepeer-artifacts/SortedDoublyLL.json"),
        "BondingVotes" => include_str!("../livepeer-artifacts/BondingVotes.json"),
        "RoundsManager" => include_str!("../livepeer-artifacts/RoundsManager.json"),
        "Minter" => include_str!("../livepeer-artifacts/Minter.json"),
        "ServiceRegistry" => include_str!("../livepeer-artifacts/ServiceRegistry.json"),
        "LivepeerToken" => include_str!("../livepeer-artifacts/LivepeerToken.json"),
        "DummyL2LPTDataCache" => include_str!("../livepeer-artifacts/DummyL2LPTDataCache.json"),
        _ => return None,
    })
}

/// The artifact of `name` (one of [`CONTRACTS`]).
pub fn artifact(name: &str) -> Result<Artifact, LpError> {
    let json = source(name).ok_or_else(|| LpError::UnknownArtifact(name.to_owned()))?;
    serde_json::from_str(json).map_err(|e| LpError::BadArtifact {
        name: name.to_owned(),
        reason: e.to_string(),
    })
}

impl Artifact {
    /// The creation code with each library in `libraries` (by name) linked at its address.
    /// Fails when a library the code needs is missing.
    pub fn linked_bytecode(&self, libraries: &[(&str, Address)]) -> Result<Bytes, LpError> {
        let hex = self.bytecode.trim_start_matches("0x");
        let mut code = hex.as_bytes().to_vec();
        for refs in self.link_references.values() {
            for (lib, places) in refs {
                let addr = libraries
                    .iter()
                    .find(|(n, _)| n == lib)
                    .map(|(_, a)| *a)
                    .ok_or_else(|| LpError::BadArtifact {
                        name: self.contract_name.clone(),
                        reason: format!("library {lib} is not linked"),
                    })?;
                let addr_hex = ethers::utils::hex::encode(addr.as_bytes());
                for r in places {
                    let range = 2 * r.start..2 * (r.start + r.length);
                    let slot = code.get_mut(range).ok_or_else(|| LpError::BadArtifact {
                        name: self.contract_name.clone(),
                        reason: "link reference out of range".into(),
                    })?;
                    slot.copy_from_slice(addr_hex.as_bytes());
                }
            }
        }
        ethers::utils::hex::decode(&code)
            .map(Bytes::from)
            .map_err(|e| LpError::BadArtifact {
                name: self.contract_name.clone(),
                reason: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_artifact_parses_and_links() {
        for name in CONTRACTS {
            let a = artifact(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            let code = a
                .linked_bytecode(&[("SortedDoublyLL", Address::repeat_byte(0x11))])
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(code.len() > 10, "{name}");
        }
        assert!(matches!(artifact("Nope"), Err(LpError::UnknownArtifact(_))));
        // BondingManager cannot be deployed without SortedDoublyLL.
        let bm = artifact("BondingManager").unwrap();
        assert!(bm.linked_bytecode(&[]).is_err());
        let code = bm
            .linked_bytecode(&[("SortedDoublyLL", Address::repeat_byte(0xab))])
            .unwrap();
        assert!(code.windows(20).any(|w| w == [0xab; 20]));
    }
}
