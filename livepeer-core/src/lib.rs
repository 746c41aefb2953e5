#![doc = include_str!("../README.md")]
//!
//! ## What this crate deliberately does not do
//!
//! No networking, no async runtime, no reading of the clock, and no disk I/O except the
//! embedded store behind the `redb` feature. Everything that touches the outside world is a
//! trait here and an implementation elsewhere.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod chain;
pub mod clock;
pub mod crypto;
pub mod eip712;
pub mod entropy;
pub mod error;
#[doc(hidden)]
pub mod fuzz_entry;
pub mod media;
pub mod primitives;
pub mod profile;
pub mod receipt;
pub mod rung;
pub mod service;
pub mod signer;
pub mod store;
pub mod ticket;
pub mod transcode;
pub mod verify;

#[cfg(any(test, feature = "_test_utils"))]
pub mod test_utils;

pub use crypto::{Signature, SignatureError, eip191_digest, keccak256};
pub use eip712::Domain;
pub use error::{Fault, ParseError};
pub use media::{Container, Framerate, H264Profile, Segment, StreamId, VideoCodec};
pub use primitives::{
    Address, AddressExt, Checksummed, H256, PixelPrice, Pixels, U256, Wei, parse_address,
    parse_h256, parse_u256, parse_wei, to_checksum,
};
pub use profile::{Gop, Ladder, VideoProfile};
pub use receipt::{Receipt, SegmentClaim, SignedReceipt, SignedSegmentClaim};
pub use rung::{RungOutput, SourceShape};
pub use service::{Region, ServiceId};
pub use signer::{AsyncSigner, LocalSigner, Signer, SignerError};
pub use store::{Batch, MemStore, Store, StoreError};
pub use ticket::{Ticket, WinningTicket};
