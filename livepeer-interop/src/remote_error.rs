//! go-livepeer's error strings, as an orchestrator writes them in a `TranscodeResult`'s
//! `error` field or an HTTP error body, mapped to a named enum a gateway can act on.

use std::fmt;

/// An error an orchestrator reported, by the string go-livepeer uses for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemoteError {
    /// `OrchestratorBusy`: no session slot free; try another orchestrator.
    OrchestratorBusy,
    /// `OrchestratorCapped`: the orchestrator is at its session cap.
    OrchestratorCapped,
    /// `TranscoderBusy`: the orchestrator's transcoder is at capacity.
    TranscoderBusy,
    /// `no transcoders available`.
    NoTranscodersAvailable,
    /// `no transcoders can provide requested capabilities`.
    NoCompatibleTranscoders,
    /// `Remote transcoder took too long`.
    RemoteTranscoderTimeout,
    /// `MediaStats Failure`: the input could not be probed (often a keyframe interval over
    /// 4 s).
    MediaStatsFailure,
    /// `ZeroSegments`: a rendition came out empty.
    ZeroSegments,
    /// `MismatchedSegments`: fewer renditions than profiles came out.
    MismatchedSegments,
    /// `TicketParams expired`: fetch new params with `GetOrchestrator`.
    TicketParamsExpired,
    /// `invalid ticket senderNonce: …`: a nonce was replayed or too many were used.
    InvalidSenderNonce,
    /// `Insufficient balance`: the credit does not cover the segment.
    InsufficientBalance,
    /// `insufficient sender reserve`: the sender's reserve cannot back the face value.
    InsufficientSenderReserve,
    /// `invalid ticket signature`.
    InvalidTicketSignature,
    /// `invalid recipientRand for ticket recipientRandHash`: the params were altered or
    /// belong to another orchestrator.
    InvalidRecipientRand,
    /// `invalid ticket recipient`.
    InvalidTicketRecipient,
    /// `invalid ticket sender`.
    InvalidTicketSender,
    /// `invalid ticket creation round` or `… creation round block hash`.
    InvalidCreationRound,
    /// `ticket already used`.
    TicketAlreadyUsed,
    /// `invalid expected price sent with payment …`.
    InvalidExpectedPrice,
    /// `ErrSegSig`: the segment signature did not verify.
    SegmentSignature,
    /// `ErrorSegEncoding`: the segment header did not decode.
    SegmentEncoding,
    /// `missing auth token`, `invalid auth token` or `expired auth token`.
    AuthToken,
    /// `invalid duration`.
    InvalidDuration,
    /// `incompatible capabilities`.
    IncompatibleCapabilities,
    /// Any other message, kept as sent.
    Other(String),
}

/// Substrings matched in order; the first that occurs wins. Go wraps some errors with
/// context (`invalid ticket senderNonce: already seen sender=…`), so matching is by
/// containment, with the longer strings that contain shorter ones listed first.
const PATTERNS: &[(&str, RemoteError)] = &[
    ("OrchestratorBusy", RemoteError::OrchestratorBusy),
    ("OrchestratorCapped", RemoteError::OrchestratorCapped),
    ("TranscoderBusy", RemoteError::TranscoderBusy),
    (
        "no transcoders can provide requested capabilities",
        RemoteError::NoCompatibleTranscoders,
    ),
    (
        "no transcoders available",
        RemoteError::NoTranscodersAvailable,
    ),
    (
        "Remote transcoder took too long",
        RemoteError::RemoteTranscoderTimeout,
    ),
    ("MediaStats Failure", RemoteError::MediaStatsFailure),
    ("ZeroSegments", RemoteError::ZeroSegments),
    ("MismatchedSegments", RemoteError::MismatchedSegments),
    ("TicketParams expired", RemoteError::TicketParamsExpired),
    (
        "invalid ticket senderNonce",
        RemoteError::InvalidSenderNonce,
    ),
    ("Insufficient balance", RemoteError::InsufficientBalance),
    (
        "insufficient sender reserve",
        RemoteError::InsufficientSenderReserve,
    ),
    (
        "invalid ticket signature",
        RemoteError::InvalidTicketSignature,
    ),
    (
        "invalid recipientRand for ticket recipientRandHash",
        RemoteError::InvalidRecipientRand,
    ),
    (
        "invalid ticket recipient",
        RemoteError::InvalidTicketRecipient,
    ),
    ("invalid ticket sender", RemoteError::InvalidTicketSender),
    (
        "invalid ticket creation round",
        RemoteError::InvalidCreationRound,
    ),
    ("ticket already used", RemoteError::TicketAlreadyUsed),
    ("invalid expected price", RemoteError::InvalidExpectedPrice),
    ("ErrSegSig", RemoteError::SegmentSignature),
    ("ErrorSegEncoding", RemoteError::SegmentEncoding),
    ("missing auth token", RemoteError::AuthToken),
    ("invalid auth token", RemoteError::AuthToken),
    ("expired auth token", RemoteError::AuthToken),
    ("invalid duration", RemoteError::InvalidDuration),
    (
        "incompatible capabilities",
        RemoteError::IncompatibleCapabilities,
    ),
];

impl RemoteError {
    /// Names the error an orchestrator reported. Never fails: an unknown message is
    /// [`RemoteError::Other`] (trimmed of the newline Go's `http.Error` appends).
    pub fn parse(message: &str) -> Self {
        let message = message.trim();
        PATTERNS
            .iter()
            .find(|(pattern, _)| message.contains(pattern))
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| RemoteError::Other(message.to_owned()))
    }

    /// go-livepeer's string for this error (for variants covering several strings, the
    /// first), or the message kept in [`RemoteError::Other`].
    pub fn as_str(&self) -> &str {
        if let RemoteError::Other(s) = self {
            return s;
        }
        PATTERNS
            .iter()
            .find(|(_, e)| e == self)
            .map(|(p, _)| *p)
            .unwrap_or_default()
    }

    /// Whether the orchestrator cannot take the work now and another should be tried.
    pub fn is_capacity(&self) -> bool {
        matches!(
            self,
            RemoteError::OrchestratorBusy
                | RemoteError::OrchestratorCapped
                | RemoteError::TranscoderBusy
                | RemoteError::NoTranscodersAvailable
                | RemoteError::NoCompatibleTranscoders
                | RemoteError::RemoteTranscoderTimeout
        )
    }

    /// Whether the gateway should refresh its ticket params or auth token with
    /// `GetOrchestrator` before paying this orchestrator again.
    pub fn needs_refresh(&self) -> bool {
        matches!(
            self,
            RemoteError::TicketParamsExpired
                | RemoteError::InvalidSenderNonce
                | RemoteError::InvalidRecipientRand
                | RemoteError::InvalidCreationRound
                | RemoteError::AuthToken
        )
    }

    /// Whether the orchestrator refused the payment itself (tickets, balance, price).
    pub fn is_payment(&self) -> bool {
        matches!(
            self,
            RemoteError::TicketParamsExpired
                | RemoteError::InvalidSenderNonce
                | RemoteError::InsufficientBalance
                | RemoteError::InsufficientSenderReserve
                | RemoteError::InvalidTicketSignature
                | RemoteError::InvalidRecipientRand
                | RemoteError::InvalidTicketRecipient
                | RemoteError::InvalidTicketSender
                | RemoteError::InvalidCreationRound
                | RemoteError::TicketAlreadyUsed
                | RemoteError::InvalidExpectedPrice
        )
    }

    /// Whether the segment itself cannot be transcoded, so retrying it elsewhere is
    /// unlikely to help.
    pub fn is_media(&self) -> bool {
        matches!(
            self,
            RemoteError::MediaStatsFailure
                | RemoteError::ZeroSegments
                | RemoteError::MismatchedSegments
                | RemoteError::InvalidDuration
        )
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for RemoteError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_strings_map_to_their_names() {
        let cases = [
            ("OrchestratorBusy", RemoteError::OrchestratorBusy),
            ("OrchestratorCapped", RemoteError::OrchestratorCapped),
            ("MediaStats Failure", RemoteError::MediaStatsFailure),
            ("ZeroSegments", RemoteError::ZeroSegments),
            (
                "no transcoders available",
                RemoteError::NoTranscodersAvailable,
            ),
            ("TicketParams expired", RemoteError::TicketParamsExpired),
            (
                "invalid ticket senderNonce: already seen sender=0xabc nonce=3",
                RemoteError::InvalidSenderNonce,
            ),
            ("Insufficient balance\n", RemoteError::InsufficientBalance),
            (
                "invalid ticket creation round block hash",
                RemoteError::InvalidCreationRound,
            ),
            (
                "invalid expected price sent with payment err=\"expected price is nil\"",
                RemoteError::InvalidExpectedPrice,
            ),
            ("expired auth token", RemoteError::AuthToken),
        ];
        for (s, e) in cases {
            assert_eq!(RemoteError::parse(s), e, "{s}");
        }
        assert_eq!(
            RemoteError::parse(" something new \n"),
            RemoteError::Other("something new".into())
        );
    }

    #[test]
    fn every_name_parses_back_from_its_string() {
        for (_, e) in PATTERNS {
            assert_eq!(&RemoteError::parse(e.as_str()), e);
            assert_eq!(e.to_string(), e.as_str());
        }
    }

    #[test]
    fn classes() {
        assert!(RemoteError::OrchestratorBusy.is_capacity());
        assert!(RemoteError::TicketParamsExpired.needs_refresh());
        assert!(RemoteError::InsufficientBalance.is_payment());
        assert!(!RemoteError::InsufficientBalance.needs_refresh());
        assert!(RemoteError::ZeroSegments.is_media());
        assert!(!RemoteError::Other("x".into()).is_capacity());
    }
}
