//! Entry points shared by the fuzz targets and the corpus-replay tests. Not a stable API.

use crate::chain::FaultEvidence;
use crate::media::Framerate;
use crate::primitives::{parse_hex_bytes, parse_wei};
use crate::profile::parse_bitrate;
use crate::{
    Domain, H256, Ladder, Region, ServiceId, Signature, SignedReceipt, VideoProfile, parse_address,
    parse_h256, parse_u256,
};

/// Runs every parser of outside input in this crate on `data`: as text, as raw bytes, and as
/// JSON documents. Each must return, never panic; what parses must validate.
pub fn parse_all(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let s = text.as_ref();
    let _ = parse_address(s);
    let _ = parse_h256(s);
    let _ = parse_u256(s);
    let _ = parse_wei(s);
    let _ = parse_hex_bytes("bytes", s, 1024);
    let _ = s.parse::<Signature>();
    let _ = s.parse::<Framerate>();
    let _ = parse_bitrate(s);
    let _ = VideoProfile::preset(s);
    if let Ok(l) = Ladder::parse(s) {
        for p in l.profiles() {
            assert!(
                p.validate().is_ok(),
                "a parsed ladder holds an invalid profile"
            );
        }
    }
    let _ = ServiceId::parse(s);
    let _ = Region::parse(s);
    if let Ok(sig) = Signature::from_slice(data) {
        let _ = sig.recover(&H256::zero());
    }
    if data.len() == 32 {
        let h = H256::from_slice(data);
        let _ = ServiceId::from_bytes32(&h);
        let _ = Region::from_bytes32(&h);
    }
    if let Ok(r) = serde_json::from_slice::<SignedReceipt>(data) {
        let _ = r.verify(&Domain::new(1, crate::Address::zero()));
    }
    if let Ok(e) = serde_json::from_slice::<FaultEvidence>(data) {
        let _ = e.receipt.verify(&e.domain);
        let _ = e.claim.verify(&e.domain);
        let _ = e.domain.separator();
    }
}
