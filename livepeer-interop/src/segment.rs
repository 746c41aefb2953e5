//! Building a segment's [`SegData`] as a go-livepeer gateway does, and the checks an
//! orchestrator makes on one it receives.

use std::time::Duration;

use livepeer_core::crypto::keccak256;
use livepeer_core::{Address, Signer};

use crate::error::InteropError;
use crate::messages::video_profile::{Format, Profile};
use crate::messages::{AuthToken, SegData, VideoProfile};
use crate::sign::{sign_seg_data, verify_seg_data};

/// The longest segment an orchestrator accepts (go-livepeer's `common.MaxDuration`).
pub const MAX_SEGMENT_DURATION: Duration = Duration::from_secs(5 * 60);

/// The duration an orchestrator assumes when a segment states none.
pub const DEFAULT_SEGMENT_DURATION: Duration = Duration::from_secs(2);

/// What go-livepeer puts in the legacy `profiles` field so orchestrators too old to read the
/// full profiles fail loudly.
pub const LEGACY_PROFILES: &[u8] = b"invalid";

/// Which `SegData` field carries the renditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProfileField {
    /// `fullProfiles` (33): every output MPEG-TS, integer frame rates, default encoder
    /// profile and GOP. Understood by the oldest orchestrators.
    Full,
    /// `fullProfiles2` (34): those defaults, but some output is not MPEG-TS.
    Full2,
    /// `fullProfiles3` (35): anything else.
    Full3,
}

/// The field go-livepeer puts `profiles` in.
pub fn profile_field(profiles: &[VideoProfile]) -> ProfileField {
    let defaults = profiles
        .iter()
        .all(|p| p.fps_den == 0 && p.profile == Profile::EncoderDefault as i32 && p.gop == 0);
    let all_ts = profiles.iter().all(|p| p.format == Format::Mpegts as i32);
    match (defaults, all_ts) {
        (true, true) => ProfileField::Full,
        (true, false) => ProfileField::Full2,
        (false, _) => ProfileField::Full3,
    }
}

/// A signed `SegData` for segment `seq` of `manifest_id` with `body`, to be transcoded into
/// `profiles`, under the orchestrator's `auth_token`: the hash of the body, the duration in
/// milliseconds, the renditions in the field go-livepeer picks, the legacy `profiles`
/// marker, and the gateway's signature.
pub fn build_seg_data(
    manifest_id: &[u8],
    seq: i64,
    body: &[u8],
    profiles: Vec<VideoProfile>,
    duration: Duration,
    auth_token: AuthToken,
    signer: &impl Signer,
) -> Result<SegData, InteropError> {
    if duration > MAX_SEGMENT_DURATION {
        return Err(InteropError::Unrepresentable {
            field: "SegData.duration",
            reason: "longer than five minutes",
        });
    }
    // At most 300 000 ms, so it fits.
    let ms = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let mut seg = SegData {
        manifest_id: manifest_id.to_vec(),
        seq,
        hash: keccak256(body).to_vec(),
        profiles: LEGACY_PROFILES.to_vec(),
        duration: ms,
        auth_token: Some(auth_token),
        ..SegData::default()
    };
    match profile_field(&profiles) {
        ProfileField::Full => seg.full_profiles = profiles,
        ProfileField::Full2 => seg.full_profiles2 = profiles,
        ProfileField::Full3 => seg.full_profiles3 = profiles,
    }
    sign_seg_data(&mut seg, signer)?;
    Ok(seg)
}

/// The checks an orchestrator makes on a received segment before transcoding it: the
/// duration is within five minutes (0 meaning two seconds), the body hashes to `hash`, an
/// auth token is present, and `sender` signed it. Returns the segment's duration.
///
/// Checking the auth token's HMAC and expiry is the orchestrator's own business (the token
/// is its secret's), so it is left to the caller.
pub fn check_segment(
    seg: &SegData,
    body: &[u8],
    sender: &Address,
) -> Result<Duration, InteropError> {
    let duration = match u64::try_from(seg.duration) {
        Ok(0) => DEFAULT_SEGMENT_DURATION,
        Ok(ms) if Duration::from_millis(ms) <= MAX_SEGMENT_DURATION => Duration::from_millis(ms),
        _ => {
            return Err(InteropError::OutOfRange {
                field: "SegData.duration",
            });
        }
    };
    if seg.hash.as_slice() != keccak256(body).as_slice() {
        return Err(InteropError::BodyHash);
    }
    if seg.auth_token.is_none() {
        return Err(InteropError::Missing {
            field: "SegData.auth_token",
        });
    }
    verify_seg_data(seg, sender)?;
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::video_profile::Format;
    use livepeer_core::LocalSigner;

    fn p(name: &str) -> VideoProfile {
        VideoProfile {
            name: name.into(),
            width: 640,
            height: 360,
            bitrate: 900_000,
            fps: 30,
            ..VideoProfile::default()
        }
    }

    #[test]
    fn profiles_go_where_go_livepeer_puts_them() {
        assert_eq!(profile_field(&[p("a"), p("b")]), ProfileField::Full);
        let mp4 = VideoProfile {
            format: Format::Mp4 as i32,
            ..p("c")
        };
        assert_eq!(profile_field(&[p("a"), mp4.clone()]), ProfileField::Full2);
        let ntsc = VideoProfile {
            fps: 30_000,
            fps_den: 1001,
            ..p("d")
        };
        assert_eq!(profile_field(&[ntsc]), ProfileField::Full3);
        let gop = VideoProfile { gop: 2000, ..mp4 };
        assert_eq!(profile_field(&[gop]), ProfileField::Full3);
    }

    #[test]
    fn built_segments_pass_the_orchestrator_checks() {
        let g = LocalSigner::from_bytes(&[3; 32]).unwrap();
        let token = AuthToken {
            session_id: "s".into(),
            ..AuthToken::default()
        };
        let body = b"segment bytes";
        let seg = build_seg_data(
            b"m",
            4,
            body,
            vec![p("P360p30fps16x9")],
            Duration::from_millis(2_500),
            token.clone(),
            &g,
        )
        .unwrap();
        assert_eq!(seg.profiles, LEGACY_PROFILES);
        assert_eq!(seg.full_profiles.len(), 1);
        assert_eq!(
            check_segment(&seg, body, &g.address()).unwrap(),
            Duration::from_millis(2_500)
        );
        assert_eq!(
            check_segment(&seg, b"other bytes", &g.address()),
            Err(InteropError::BodyHash)
        );
        let other = LocalSigner::from_bytes(&[4; 32]).unwrap();
        assert!(
            check_segment(&seg, body, &other.address())
                .unwrap_err()
                .is_signature()
        );
        let no_duration = SegData {
            duration: 0,
            ..seg.clone()
        };
        // The duration is not signed: 0 reads as two seconds.
        assert_eq!(
            check_segment(&no_duration, body, &g.address()).unwrap(),
            DEFAULT_SEGMENT_DURATION
        );
        for bad in [-1, 300_001] {
            let s = SegData {
                duration: bad,
                ..seg.clone()
            };
            assert!(check_segment(&s, body, &g.address()).is_err());
        }
        let tokenless = SegData {
            auth_token: None,
            ..seg
        };
        assert!(matches!(
            check_segment(&tokenless, body, &g.address()),
            Err(InteropError::Missing { .. })
        ));
        assert!(
            build_seg_data(b"m", 1, body, vec![], Duration::from_secs(301), token, &g).is_err()
        );
    }
}
