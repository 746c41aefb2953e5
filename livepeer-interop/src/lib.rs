#![doc = include_str!("../README.md")]
//!
//! ## What this crate deliberately does not do
//!
//! No I/O, threads or clock: it encodes, decodes, signs and checks, and leaves sockets,
//! TLS, retries and timing to the caller. go-livepeer's protocol facts come from commit
//! [`GO_LIVEPEER_COMMIT`].
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod codec;
pub mod error;
pub mod fee;
pub mod fuzz_entry;
pub mod messages;
pub mod payment;
pub mod remote_error;
pub mod result;
pub mod segment;
pub mod sign;

pub use codec::{
    PAYMENT_HEADER, SEGMENT_HEADER, decode_orchestrator_info, decode_payment_header,
    decode_payment_result, decode_segment_header, decode_transcode_result, encode_payment_header,
    encode_segment_header,
};
pub use error::InteropError;
pub use fee::{estimate_fee, estimated_pixels, tickets_needed};
pub use payment::{
    ReceivedPayment, payment_from_batch, payment_to_batch, payment_without_tickets,
    price_from_info, price_to_info, ticket_params_from_info,
};
pub use remote_error::RemoteError;
pub use result::{SegmentResponse, TranscodeOutcome, debit, output_pixels, read_transcode_result};
pub use segment::{ProfileField, build_seg_data, check_segment, profile_field};
pub use sign::{
    orchestrator_request, orchestrator_request_digest, profile_sign_name, seg_data_digest,
    seg_data_flatten, sign_seg_data, sign_transcode_result, transcode_result_digest,
    verify_orchestrator_request, verify_seg_data, verify_transcode_result,
};

/// The go-livepeer commit whose `net/lp_rpc.proto`, `core/streamdata.go`,
/// `server/segment_rpc.go` and `pm/` this crate follows (v0.9.1, 2026-08-18).
pub const GO_LIVEPEER_COMMIT: &str = "176aa415ccea4f9861e0dd44e981cda17fb36f52";
