//! The signatures go-livepeer exchanges, all EIP-191 personal signatures over a keccak256:
//!
//! - the gateway's `GetOrchestrator` signature, over keccak256 of its EIP-55 address string;
//! - the gateway's segment signature, over keccak256 of the flattened [`SegData`];
//! - the orchestrator's result signature, over keccak256 of the renditions' keccak256 hashes.

use std::borrow::Cow;

use livepeer_core::crypto::{keccak256, keccak256_concat};
use livepeer_core::primitives::to_checksum;
use livepeer_core::{Address, H256, Signature, Signer};

use crate::error::InteropError;
use crate::messages::{Capabilities, OrchestratorRequest, SegData, TranscodeData, VideoProfile};

/// The name a profile is signed under: its own, or, when empty, the name an orchestrator
/// gives it, `net_<width>x<height>_<bitrate>`.
pub fn profile_sign_name(profile: &VideoProfile) -> Cow<'_, str> {
    if profile.name.is_empty() {
        Cow::Owned(format!(
            "net_{}x{}_{}",
            profile.width, profile.height, profile.bitrate
        ))
    } else {
        Cow::Borrowed(&profile.name)
    }
}

/// The profile part of the flattened segment: lowercase hex of the first 4 bytes of
/// keccak256 of each profile's signing name, concatenated.
pub fn profiles_hex(profiles: &[VideoProfile]) -> String {
    let mut out = String::with_capacity(profiles.len() * 8);
    for p in profiles {
        let h = keccak256(profile_sign_name(p).as_bytes());
        for b in &h[..4] {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The bytes a segment signature covers (go-livepeer's `Flatten`):
/// `manifestId ‖ leftpad32(seq) ‖ hash ‖ profiles_hex(renditions)`.
///
/// The renditions are those the orchestrator reads ([`SegData::renditions`]). The sequence
/// number is encoded as Go's `big.Int.Bytes` does, so a negative number contributes its
/// absolute value. `hash` must be 32 bytes.
pub fn seg_data_flatten(seg: &SegData) -> Result<Vec<u8>, InteropError> {
    if seg.hash.len() != 32 {
        return Err(InteropError::BadLength {
            field: "SegData.hash",
            expected: 32,
            len: seg.hash.len(),
        });
    }
    let profiles = profiles_hex(seg.renditions());
    let mut out = Vec::with_capacity(seg.manifest_id.len() + 64 + profiles.len());
    out.extend_from_slice(&seg.manifest_id);
    out.extend_from_slice(&[0u8; 24]);
    out.extend_from_slice(&seg.seq.unsigned_abs().to_be_bytes());
    out.extend_from_slice(&seg.hash);
    out.extend_from_slice(profiles.as_bytes());
    Ok(out)
}

/// keccak256 of [`seg_data_flatten`]: the hash the gateway personal-signs.
pub fn seg_data_digest(seg: &SegData) -> Result<H256, InteropError> {
    Ok(H256::from(keccak256(seg_data_flatten(seg)?)))
}

/// Signs `seg` with `signer` and stores the signature in `seg.sig`.
pub fn sign_seg_data(seg: &mut SegData, signer: &impl Signer) -> Result<(), InteropError> {
    let digest = seg_data_digest(seg)?;
    seg.sig = signer.sign_message_hash(&digest)?.as_bytes().to_vec();
    Ok(())
}

/// Checks that `sender` signed `seg`.
pub fn verify_seg_data(seg: &SegData, sender: &Address) -> Result<(), InteropError> {
    verify("SegData.sig", &seg.sig, &seg_data_digest(seg)?, sender)
}

/// The hash a gateway personal-signs in `GetOrchestrator`: keccak256 of its EIP-55
/// (checksummed, `0x`-prefixed) address string.
pub fn orchestrator_request_digest(address: &Address) -> H256 {
    H256::from(keccak256(to_checksum(address).as_bytes()))
}

/// A signed `GetOrchestrator` request from `signer`'s address.
pub fn orchestrator_request(
    signer: &impl Signer,
    capabilities: Option<Capabilities>,
) -> Result<OrchestratorRequest, InteropError> {
    let address = signer.address();
    let sig = signer.sign_message_hash(&orchestrator_request_digest(&address))?;
    Ok(OrchestratorRequest {
        address: address.as_bytes().to_vec(),
        sig: sig.as_bytes().to_vec(),
        capabilities,
        ignore_capacity_check: false,
    })
}

/// Checks a `GetOrchestrator` request's signature and returns the gateway's address.
pub fn verify_orchestrator_request(req: &OrchestratorRequest) -> Result<Address, InteropError> {
    let address = address_field("OrchestratorRequest.address", &req.address)?;
    verify(
        "OrchestratorRequest.sig",
        &req.sig,
        &orchestrator_request_digest(&address),
        &address,
    )?;
    Ok(address)
}

/// The hash an orchestrator personal-signs over a segment's renditions:
/// `keccak256(keccak256(r1) ‖ keccak256(r2) ‖ …)`, in the order the profiles were requested.
pub fn transcode_result_digest<R: AsRef<[u8]>>(renditions: &[R]) -> H256 {
    let hashes: Vec<[u8; 32]> = renditions.iter().map(keccak256).collect();
    let parts: Vec<&[u8]> = hashes.iter().map(|h| h.as_slice()).collect();
    H256::from(keccak256_concat(&parts))
}

/// The orchestrator's signature over `renditions`, for [`TranscodeData::sig`].
pub fn sign_transcode_result<R: AsRef<[u8]>>(
    renditions: &[R],
    signer: &impl Signer,
) -> Result<Signature, InteropError> {
    Ok(signer.sign_message_hash(&transcode_result_digest(renditions))?)
}

/// Checks that `orchestrator` signed the renditions a gateway downloaded for `data`, one per
/// entry of `data.segments`, in order.
pub fn verify_transcode_result<R: AsRef<[u8]>>(
    data: &TranscodeData,
    renditions: &[R],
    orchestrator: &Address,
) -> Result<(), InteropError> {
    if data.segments.len() != renditions.len() {
        return Err(InteropError::RenditionCount {
            listed: data.segments.len(),
            received: renditions.len(),
        });
    }
    verify(
        "TranscodeData.sig",
        &data.sig,
        &transcode_result_digest(renditions),
        orchestrator,
    )
}

/// Parses a 20-byte address field.
pub(crate) fn address_field(field: &'static str, bytes: &[u8]) -> Result<Address, InteropError> {
    if bytes.len() != 20 {
        return Err(InteropError::BadLength {
            field,
            expected: 20,
            len: bytes.len(),
        });
    }
    Ok(Address::from_slice(bytes))
}

fn verify(
    what: &'static str,
    sig: &[u8],
    hash: &H256,
    expected: &Address,
) -> Result<(), InteropError> {
    Signature::from_slice(sig)
        .and_then(|s| s.verify_eip191(hash, expected))
        .map_err(|source| InteropError::Signature { what, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use livepeer_core::LocalSigner;

    fn signer(b: u8) -> LocalSigner {
        LocalSigner::from_bytes(&[b; 32]).unwrap()
    }

    #[test]
    fn empty_names_sign_as_the_orchestrator_names_them() {
        let p = VideoProfile {
            width: 1280,
            height: 720,
            bitrate: 3_000_000,
            ..VideoProfile::default()
        };
        assert_eq!(profile_sign_name(&p), "net_1280x720_3000000");
        let named = VideoProfile {
            name: "P720p30fps16x9".into(),
            ..p
        };
        assert_eq!(profile_sign_name(&named), "P720p30fps16x9");
        let h = keccak256(b"P720p30fps16x9");
        assert_eq!(profiles_hex(&[named]), hex::encode(&h[..4]));
    }

    #[test]
    fn flatten_layout() {
        let seg = SegData {
            manifest_id: b"abc".to_vec(),
            seq: 0x0102,
            hash: vec![0xee; 32],
            full_profiles: vec![VideoProfile {
                name: "a".into(),
                ..VideoProfile::default()
            }],
            ..SegData::default()
        };
        let f = seg_data_flatten(&seg).unwrap();
        assert_eq!(&f[..3], b"abc");
        assert_eq!(&f[3..33], &[0u8; 30]);
        assert_eq!(&f[33..35], &[1, 2]);
        assert_eq!(&f[35..67], &[0xee; 32]);
        assert_eq!(&f[67..], hex::encode(&keccak256(b"a")[..4]).as_bytes());
        // Go's big.Int.Bytes drops the sign.
        let neg = SegData {
            seq: -0x0102,
            ..seg.clone()
        };
        assert_eq!(seg_data_flatten(&neg).unwrap(), f);
        // fullProfiles3 takes precedence over fullProfiles, as on the orchestrator.
        let three = SegData {
            full_profiles3: vec![VideoProfile::default()],
            ..seg
        };
        assert_eq!(
            &seg_data_flatten(&three).unwrap()[67..],
            hex::encode(&keccak256(b"net_0x0_0")[..4]).as_bytes()
        );
    }

    /// go-livepeer's `TestSegmentFlatten` vector (core/stream_test.go): two preset
    /// renditions, a 6-byte manifest id and a right-padded hash.
    #[test]
    fn flatten_matches_go_livepeer_vector() {
        let mut hash = b"browns".to_vec();
        hash.resize(32, 0);
        let named = |n: &str| VideoProfile {
            name: n.into(),
            ..VideoProfile::default()
        };
        let seg = SegData {
            manifest_id: b"abcdef".to_vec(),
            seq: 1234,
            hash,
            full_profiles: vec![named("P144p30fps16x9"), named("P240p30fps16x9")],
            ..SegData::default()
        };
        assert_eq!(
            hex::encode(seg_data_digest(&seg).unwrap()),
            "08a398e7e7a5a545b0b07d9e7e1eab52b4131e0df1621bd53ee6e7550a15465b"
        );
    }

    #[test]
    fn segment_signature_round_trip_and_wrong_signer() {
        let mut seg = SegData {
            manifest_id: b"stream".to_vec(),
            seq: 7,
            hash: keccak256(b"body").to_vec(),
            ..SegData::default()
        };
        let s = signer(1);
        sign_seg_data(&mut seg, &s).unwrap();
        verify_seg_data(&seg, &s.address()).unwrap();
        let e = verify_seg_data(&seg, &signer(2).address()).unwrap_err();
        assert!(e.is_signature());
        seg.seq = 8;
        assert!(verify_seg_data(&seg, &s.address()).is_err());
        let short = SegData {
            hash: vec![1; 31],
            ..seg
        };
        assert!(matches!(
            seg_data_digest(&short),
            Err(InteropError::BadLength { .. })
        ));
    }

    #[test]
    fn orchestrator_request_signs_the_checksummed_address() {
        let s = signer(3);
        let req = orchestrator_request(&s, None).unwrap();
        assert_eq!(verify_orchestrator_request(&req).unwrap(), s.address());
        let text = to_checksum(&s.address());
        assert!(text.starts_with("0x") && text.len() == 42);
        assert_eq!(
            orchestrator_request_digest(&s.address()),
            H256::from(keccak256(text.as_bytes()))
        );
        let mut forged = req.clone();
        forged.address = signer(4).address().as_bytes().to_vec();
        assert!(verify_orchestrator_request(&forged).is_err());
        forged.address.pop();
        assert!(matches!(
            verify_orchestrator_request(&forged),
            Err(InteropError::BadLength { .. })
        ));
    }

    #[test]
    fn result_signature_round_trip() {
        let o = signer(5);
        let renditions = [b"first".to_vec(), b"second".to_vec()];
        let sig = sign_transcode_result(&renditions, &o).unwrap();
        let data = TranscodeData {
            segments: vec![Default::default(), Default::default()],
            sig: sig.as_bytes().to_vec(),
        };
        verify_transcode_result(&data, &renditions, &o.address()).unwrap();
        assert!(verify_transcode_result(&data, &renditions, &signer(6).address()).is_err());
        let swapped = [b"second".to_vec(), b"first".to_vec()];
        assert!(verify_transcode_result(&data, &swapped, &o.address()).is_err());
        assert!(matches!(
            verify_transcode_result(&data, &renditions[..1], &o.address()),
            Err(InteropError::RenditionCount { .. })
        ));
        // No second keccak: the digest is the keccak of the concatenated hashes.
        let mut cat = keccak256(b"first").to_vec();
        cat.extend_from_slice(&keccak256(b"second"));
        assert_eq!(
            transcode_result_digest(&renditions),
            H256::from(keccak256(&cat))
        );
    }
}
