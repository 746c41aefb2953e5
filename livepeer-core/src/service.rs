//! Service ids and regions, as the on-chain service registry stores them.
//!
//! Both are short ASCII names in a canonical lowercase form, stored on chain left-aligned in
//! a `bytes32` and zero-padded, so a registry entry reads back as text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ParseError;
use crate::primitives::H256;

fn to_bytes32(s: &str) -> H256 {
    let mut out = [0u8; 32];
    out[..s.len()].copy_from_slice(s.as_bytes());
    H256::from(out)
}

fn from_bytes32(what: &'static str, b: &H256) -> Result<String, ParseError> {
    let bytes = b.as_bytes();
    let len = bytes.iter().position(|&c| c == 0).unwrap_or(32);
    if bytes[len..].iter().any(|&c| c != 0) {
        return Err(ParseError::invalid(what, "bytes after the zero padding"));
    }
    std::str::from_utf8(&bytes[..len])
        .map(str::to_owned)
        .map_err(|_| ParseError::invalid(what, "not ASCII"))
}

/// What an orchestrator offers: `transcode/cpu`, `transcode/gpu`, `verify/segment`, or a
/// finer id such as `h264 1080p -> 720p`.
///
/// Canonical form: 1 to 32 bytes of lowercase ASCII letters, digits, spaces and `/ . _ - > : +`,
/// with runs of spaces collapsed and no leading or trailing space. Parsing lowercases and
/// collapses, so `"H264  1080p -> 720p"` and `"h264 1080p -> 720p"` are the same id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId(String);

impl ServiceId {
    /// Transcoding on CPUs.
    pub const CPU_TRANSCODING: &'static str = "transcode/cpu";
    /// Transcoding on GPUs.
    pub const GPU_TRANSCODING: &'static str = "transcode/gpu";
    /// Verifying segments (re-encoding or checking another orchestrator's work).
    pub const SEGMENT_VERIFICATION: &'static str = "verify/segment";

    /// Longest id, in bytes.
    pub const MAX_LEN: usize = 32;

    /// Parses and canonicalises a service id.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        canonical_name("service id", s, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || " /._->:+".contains(c)
        })
        .map(ServiceId)
    }

    /// CPU transcoding.
    pub fn cpu_transcoding() -> Self {
        ServiceId(Self::CPU_TRANSCODING.to_owned())
    }

    /// GPU transcoding.
    pub fn gpu_transcoding() -> Self {
        ServiceId(Self::GPU_TRANSCODING.to_owned())
    }

    /// Segment verification.
    pub fn segment_verification() -> Self {
        ServiceId(Self::SEGMENT_VERIFICATION.to_owned())
    }

    /// A finer id for one rung: `"{codec} {from}p -> {to}p"`, e.g. `h264 1080p -> 720p`.
    pub fn rung(
        codec: crate::media::VideoCodec,
        from_height: u32,
        to_height: u32,
    ) -> Result<Self, ParseError> {
        Self::parse(&format!("{codec} {from_height}p -> {to_height}p"))
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The on-chain form: left-aligned, zero-padded `bytes32`.
    pub fn to_bytes32(&self) -> H256 {
        to_bytes32(&self.0)
    }

    /// Reads the on-chain form back; fails unless it is a canonical id.
    pub fn from_bytes32(b: &H256) -> Result<Self, ParseError> {
        let s = from_bytes32("service id", b)?;
        let id = Self::parse(&s)?;
        if id.0 != s {
            return Err(ParseError::invalid("service id", "not in canonical form"));
        }
        Ok(id)
    }
}

/// A region an orchestrator serves, e.g. `eu-west`, `us-east-1`, or `global`.
///
/// Canonical form: 1 to 32 bytes of lowercase ASCII letters, digits and `-`, starting with a
/// letter. Parsing lowercases.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);

impl Region {
    /// Longest region name, in bytes.
    pub const MAX_LEN: usize = 32;
    /// The region that matches every other in filters.
    pub const GLOBAL: &'static str = "global";

    /// Parses and canonicalises a region.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let r = canonical_name("region", s, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
        })?;
        if !r.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(ParseError::invalid("region", "must start with a letter"));
        }
        Ok(Region(r))
    }

    /// The region that matches all others.
    pub fn global() -> Self {
        Region(Self::GLOBAL.to_owned())
    }

    /// Whether an orchestrator serving `self` serves a broadcaster asking for `wanted`.
    pub fn serves(&self, wanted: &Region) -> bool {
        self == wanted || self.0 == Self::GLOBAL || wanted.0 == Self::GLOBAL
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The on-chain form: left-aligned, zero-padded `bytes32`.
    pub fn to_bytes32(&self) -> H256 {
        to_bytes32(&self.0)
    }

    /// Reads the on-chain form back; fails unless it is a canonical region.
    pub fn from_bytes32(b: &H256) -> Result<Self, ParseError> {
        let s = from_bytes32("region", b)?;
        let r = Self::parse(&s)?;
        if r.0 != s {
            return Err(ParseError::invalid("region", "not in canonical form"));
        }
        Ok(r)
    }
}

fn canonical_name(
    what: &'static str,
    s: &str,
    allowed: impl Fn(char) -> bool,
) -> Result<String, ParseError> {
    if s.len() > 4 * ServiceId::MAX_LEN {
        return Err(ParseError::TooLong {
            what,
            len: s.len(),
            max: ServiceId::MAX_LEN,
        });
    }
    let lowered = s.trim().to_ascii_lowercase();
    let mut out = String::with_capacity(lowered.len());
    for (at, ch) in lowered.char_indices() {
        if ch.is_whitespace() {
            if ch != ' ' || !allowed(' ') {
                return Err(ParseError::BadChar { what, ch, at });
            }
            if !out.ends_with(' ') {
                out.push(' ');
            }
            continue;
        }
        if !allowed(ch) {
            return Err(ParseError::BadChar { what, ch, at });
        }
        out.push(ch);
    }
    if out.is_empty() {
        return Err(ParseError::Empty { what });
    }
    if out.len() > 32 {
        return Err(ParseError::TooLong {
            what,
            len: out.len(),
            max: 32,
        });
    }
    Ok(out)
}

macro_rules! name_impls {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($t), self.0)
            }
        }
        impl FromStr for $t {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                Self::parse(s)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_impls!(ServiceId);
name_impls!(Region);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::VideoCodec;

    #[test]
    fn paper_examples_parse() {
        for s in [
            ServiceId::CPU_TRANSCODING,
            ServiceId::GPU_TRANSCODING,
            ServiceId::SEGMENT_VERIFICATION,
        ] {
            assert_eq!(ServiceId::parse(s).unwrap().as_str(), s);
        }
        let r = ServiceId::parse("  H264   1080p -> 720p ").unwrap();
        assert_eq!(r.as_str(), "h264 1080p -> 720p");
        assert_eq!(ServiceId::rung(VideoCodec::H264, 1080, 720).unwrap(), r);
    }

    #[test]
    fn bytes32_round_trip() {
        let id = ServiceId::parse("transcode/gpu").unwrap();
        let b = id.to_bytes32();
        assert_eq!(&b.as_bytes()[..13], b"transcode/gpu");
        assert_eq!(ServiceId::from_bytes32(&b).unwrap(), id);
        let mut bad = b;
        bad.0[31] = b'x';
        assert!(ServiceId::from_bytes32(&bad).is_err());
        let region = Region::parse("EU-West").unwrap();
        assert_eq!(Region::from_bytes32(&region.to_bytes32()).unwrap(), region);
        assert!(Region::from_bytes32(&ServiceId::parse("Upper").unwrap().to_bytes32()).is_ok());
    }

    #[test]
    fn rejections() {
        assert!(ServiceId::parse("").is_err());
        assert!(ServiceId::parse("a\tb").is_err());
        assert!(ServiceId::parse(&"a".repeat(33)).is_err());
        assert!(ServiceId::parse("naïve").is_err());
        assert!(Region::parse("1eu").is_err());
        assert!(Region::parse("eu west").is_err());
    }

    #[test]
    fn global_region_serves_all() {
        let g = Region::global();
        let eu = Region::parse("eu-west").unwrap();
        assert!(g.serves(&eu) && eu.serves(&g) && eu.serves(&eu));
        assert!(!eu.serves(&Region::parse("us-east").unwrap()));
    }
}
