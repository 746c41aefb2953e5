//! go-livepeer's remote signer: a server that holds the gateway's key and signs for
//! gateways that hold none (`POST /sign-orchestrator-info`, `POST /generate-live-payment`),
//! and the client gateways use.

pub mod client;
pub mod payment;
pub mod server;
pub mod wire;

pub use client::{RemoteSignerClient, SignerMaterial};
pub use payment::{
    PaymentPolicy, generate_live_payment, generate_live_payment_with, orch_info_signature,
};
pub use server::{DangerousSignerConfig, RemoteSignerServer};
pub use wire::{
    LivePaymentRequest, LivePaymentResponse, MaxPrice, OrchInfoSigResponse, SignedState,
};
