//! Error primitives shared by every crate: who is at fault, and parse errors of outside input.

use thiserror::Error;

/// Who is at fault for an error, so a caller can decide what to do about it.
///
/// Every error type in the workspace maps its variants onto one of these, the way rustls
/// groups its errors: a misbehaving peer is dropped, an incompatible one is skipped, API
/// misuse is a bug in the caller, and a backend failure may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The remote party sent something invalid or dishonest (bad signature, forged ticket,
    /// tampered output). Stop trusting it.
    Peer,
    /// The remote party is honest but cannot serve this request (codec, version, price).
    Incompatible,
    /// The caller asked for something impossible (bad configuration, wrong state).
    Misuse,
    /// A local or remote backend failed (chain node, disk, encoder); often transient.
    Backend,
}

/// Something from outside (a string, a file, a peer) that does not parse.
///
/// Parsers of outside input in this crate return this error and never panic.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input is empty where a value is required.
    #[error("{what}: empty input")]
    Empty {
        /// What was being parsed.
        what: &'static str,
    },
    /// The input is longer than allowed.
    #[error("{what}: {len} bytes is longer than the maximum of {max}")]
    TooLong {
        /// What was being parsed.
        what: &'static str,
        /// Length of the input.
        len: usize,
        /// Maximum length accepted.
        max: usize,
    },
    /// The input has the wrong length.
    #[error("{what}: expected {expected} bytes, got {got}")]
    BadLength {
        /// What was being parsed.
        what: &'static str,
        /// Length expected.
        expected: usize,
        /// Length found.
        got: usize,
    },
    /// A hex string is malformed.
    #[error("{what}: invalid hex: {reason}")]
    BadHex {
        /// What was being parsed.
        what: &'static str,
        /// Why the hex does not decode.
        reason: String,
    },
    /// A mixed-case address fails its EIP-55 checksum.
    #[error("address checksum mismatch: expected {expected}")]
    BadChecksum {
        /// The correctly checksummed form of the same address.
        expected: String,
    },
    /// A number is malformed or out of range.
    #[error("{what}: invalid number {input:?}: {reason}")]
    BadNumber {
        /// What was being parsed.
        what: &'static str,
        /// The offending text (truncated to 64 characters).
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A character outside the allowed set.
    #[error("{what}: character {ch:?} at byte {at} is not allowed")]
    BadChar {
        /// What was being parsed.
        what: &'static str,
        /// The character.
        ch: char,
        /// Byte offset of the character.
        at: usize,
    },
    /// A name that is not one of the known ones.
    #[error("{what}: unknown value {input:?}")]
    Unknown {
        /// What was being parsed.
        what: &'static str,
        /// The offending text (truncated to 64 characters).
        input: String,
    },
    /// A structurally valid value that breaks a rule.
    #[error("{what}: {reason}")]
    Invalid {
        /// What was being parsed.
        what: &'static str,
        /// The rule that was broken.
        reason: String,
    },
    /// A JSON or TOML document that does not deserialize.
    #[error("{what}: {reason}")]
    Format {
        /// What was being parsed.
        what: &'static str,
        /// The deserializer's message.
        reason: String,
    },
}

impl ParseError {
    /// Parse errors are always the fault of whoever supplied the input.
    pub fn fault(&self) -> Fault {
        Fault::Peer
    }

    #[cold]
    pub(crate) fn number(what: &'static str, input: &str, reason: &'static str) -> Self {
        ParseError::BadNumber {
            what,
            input: truncate(input),
            reason,
        }
    }

    #[cold]
    pub(crate) fn unknown(what: &'static str, input: &str) -> Self {
        ParseError::Unknown {
            what,
            input: truncate(input),
        }
    }

    #[cold]
    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        ParseError::Invalid {
            what,
            reason: reason.into(),
        }
    }
}

/// Keeps error messages bounded when they echo outside input.
pub(crate) fn truncate(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        let s = "é".repeat(100);
        let t = truncate(&s);
        assert!(t.len() <= 64 + '…'.len_utf8());
        assert!(t.ends_with('…'));
        assert_eq!(truncate("short"), "short");
    }
}
