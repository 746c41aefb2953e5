//! The `Livepeer-Segment` and `Livepeer-Payment` headers and the protobuf bodies, with their
//! size bounds checked before anything is decoded.
//!
//! Both headers are padded standard base64 (Go's `base64.StdEncoding`) of the protobuf
//! message. Decoding allocates at most a constant multiple of the bounded input.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prost::Message;

use crate::error::InteropError;
use crate::messages::{OrchestratorInfo, Payment, PaymentResult, SegData, TranscodeResult};

/// Name of the header carrying [`SegData`].
pub const SEGMENT_HEADER: &str = "Livepeer-Segment";
/// Name of the header carrying [`Payment`].
pub const PAYMENT_HEADER: &str = "Livepeer-Payment";

/// Longest `Livepeer-Segment` value accepted: a segment's data with dozens of renditions and
/// full capabilities is a few KiB.
pub const MAX_SEGMENT_HEADER_LEN: usize = 64 * 1024;
/// Longest `Livepeer-Payment` value accepted: room for
/// [`MAX_TICKETS_PER_BATCH`](livepeer_pm::MAX_TICKETS_PER_BATCH) tickets of about 72 bytes
/// each, base64-encoded.
pub const MAX_PAYMENT_HEADER_LEN: usize = 128 * 1024;
/// Longest `TranscodeResult` body accepted.
pub const MAX_TRANSCODE_RESULT_LEN: usize = 1024 * 1024;
/// Longest `OrchestratorInfo` (or `PaymentResult`) accepted.
pub const MAX_ORCHESTRATOR_INFO_LEN: usize = 1024 * 1024;

fn encode_header(msg: &impl Message) -> String {
    STANDARD.encode(msg.encode_to_vec())
}

fn decode_header<M: Message + Default>(
    what: &'static str,
    value: &[u8],
    max: usize,
) -> Result<M, InteropError> {
    if value.len() > max {
        return Err(InteropError::TooLarge {
            what,
            len: value.len(),
            max,
        });
    }
    let bytes = STANDARD
        .decode(value)
        .map_err(|_| InteropError::Base64 { what })?;
    decode_message(what, &bytes, max)
}

fn decode_message<M: Message + Default>(
    what: &'static str,
    bytes: &[u8],
    max: usize,
) -> Result<M, InteropError> {
    if bytes.len() > max {
        return Err(InteropError::TooLarge {
            what,
            len: bytes.len(),
            max,
        });
    }
    M::decode(bytes).map_err(|e| InteropError::Protobuf {
        what,
        reason: e.to_string(),
    })
}

/// The `Livepeer-Segment` header value for `seg`.
pub fn encode_segment_header(seg: &SegData) -> String {
    encode_header(seg)
}

/// Decodes a `Livepeer-Segment` header value (the raw header bytes).
pub fn decode_segment_header(value: &[u8]) -> Result<SegData, InteropError> {
    decode_header(SEGMENT_HEADER, value, MAX_SEGMENT_HEADER_LEN)
}

/// The `Livepeer-Payment` header value for `payment`.
pub fn encode_payment_header(payment: &Payment) -> String {
    encode_header(payment)
}

/// Decodes a `Livepeer-Payment` header value. An empty value is an empty payment, as
/// go-livepeer sends to an orchestrator that does not charge.
pub fn decode_payment_header(value: &[u8]) -> Result<Payment, InteropError> {
    decode_header(PAYMENT_HEADER, value, MAX_PAYMENT_HEADER_LEN)
}

/// Decodes the body of a `/segment` response.
pub fn decode_transcode_result(body: &[u8]) -> Result<TranscodeResult, InteropError> {
    decode_message("TranscodeResult", body, MAX_TRANSCODE_RESULT_LEN)
}

/// Decodes an `OrchestratorInfo` (the `GetOrchestrator` reply).
pub fn decode_orchestrator_info(bytes: &[u8]) -> Result<OrchestratorInfo, InteropError> {
    decode_message("OrchestratorInfo", bytes, MAX_ORCHESTRATOR_INFO_LEN)
}

/// Decodes the body of a `/payment` response.
pub fn decode_payment_result(body: &[u8]) -> Result<PaymentResult, InteropError> {
    decode_message("PaymentResult", body, MAX_ORCHESTRATOR_INFO_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{AuthToken, TicketSenderParams};

    #[test]
    fn headers_are_padded_standard_base64() {
        let seg = SegData {
            manifest_id: b"m".to_vec(),
            seq: 1,
            ..SegData::default()
        };
        let h = encode_segment_header(&seg);
        // 0a 01 6d 10 01: five bytes pad to eight characters.
        assert_eq!(h, "CgFtEAE=");
        assert_eq!(decode_segment_header(h.as_bytes()).unwrap(), seg);
        // Unpadded and URL-safe forms are refused, as Go's StdEncoding refuses them.
        assert!(matches!(
            decode_segment_header(b"CgFtEAE"),
            Err(InteropError::Base64 { .. })
        ));
        let p = Payment {
            ticket_sender_params: vec![TicketSenderParams {
                sender_nonce: 1,
                sig: vec![0xfb; 65],
            }],
            ..Payment::default()
        };
        let h = encode_payment_header(&p);
        assert!(h.contains('+') || h.contains('/'));
        let url = h.replace('+', "-").replace('/', "_");
        assert!(decode_payment_header(url.as_bytes()).is_err());
        assert_eq!(decode_payment_header(h.as_bytes()).unwrap(), p);
    }

    #[test]
    fn empty_payment_header_is_an_empty_payment() {
        assert_eq!(decode_payment_header(b"").unwrap(), Payment::default());
    }

    #[test]
    fn oversized_input_is_refused_before_decoding() {
        let big = vec![b'A'; MAX_SEGMENT_HEADER_LEN + 4];
        assert!(decode_segment_header(&big).unwrap_err().is_too_large());
        let big = vec![0u8; MAX_TRANSCODE_RESULT_LEN + 1];
        assert!(decode_transcode_result(&big).unwrap_err().is_too_large());
    }

    #[test]
    fn unknown_fields_are_skipped() {
        // AuthToken{session_id: "s"} followed by an unknown field 99 (varint 5) and an
        // unknown length-delimited field 7 inside OrchestratorInfo.
        let mut info = OrchestratorInfo {
            auth_token: Some(AuthToken {
                session_id: "s".into(),
                ..AuthToken::default()
            }),
            ..OrchestratorInfo::default()
        }
        .encode_to_vec();
        info.extend_from_slice(&[0x98, 0x06, 0x05]); // field 99, varint
        info.extend_from_slice(&[0x3a, 0x02, 0x0a, 0x00]); // field 7 (hardware), 2 bytes
        let got = decode_orchestrator_info(&info).unwrap();
        assert_eq!(got.auth_token.unwrap().session_id, "s");
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(matches!(
            decode_transcode_result(&[0x0a, 0xff]),
            Err(InteropError::Protobuf { .. })
        ));
    }
}
