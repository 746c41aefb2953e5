//! Evidence over the network: during a challenge window the broadcaster serves its
//! content-addressed evidence ([`EvidenceServer`], feature `net`) and a verifier node fetches
//! it ([`RemoteEvidence`], an [`EvidenceSource`](crate::EvidenceSource)).
//!
//! QUIC with the negotiation crate's TLS settings (a self-signed certificate per server) and
//! its address binding: on every connection the server signs the TLS exporter keying
//! material with its Ethereum key, and the client refuses a server that does not prove the
//! address it expects (the challenger's). Clients stay anonymous: what is served is evidence
//! for a public challenge, and every blob is checked against its content address.

pub mod wire;

#[cfg(feature = "net")]
mod quic;

#[cfg(feature = "net")]
pub use quic::{EvidenceServer, RemoteEvidence, ServerLimits, parse_endpoint};
