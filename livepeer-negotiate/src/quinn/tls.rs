//! TLS and endpoints: a fresh self-signed certificate per node, a client verifier that checks
//! the handshake signature against the presented certificate (and pins nothing by CA: the
//! identity check is the address binding that follows), and UDP sockets with a receive
//! buffer large enough for a wide fan-out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::NegotiateError;
use crate::proto::{ALPN, POOL_ALPN};

/// UDP receive buffer asked for: with the default (about 200 KiB) a fan-out to 100 peers
/// drops handshake packets and stalls about 1 s on the first PTO.
pub const RECV_BUFFER: usize = 4 * 1024 * 1024;
/// The name in every orchestrator certificate; certificates are self-signed, so it is only a
/// label.
pub const SERVER_NAME: &str = "livepeer-orchestrator";

/// The server name a client presents to the orchestrator with `address`: one name per
/// orchestrator, so TLS session tickets are only ever offered back to the orchestrator that
/// issued them (no ticket links a broadcaster's sessions across orchestrators, and a later
/// connection to the same one can resume).
pub fn server_name(address: &livepeer_core::Address) -> String {
    format!("o-{address:x}.livepeer")
}

/// ring's provider with TLS 1.3's mandatory suite, AES-128-GCM with SHA-256, put first
/// (the default puts AES-256-GCM with SHA-384 first). Every suite stays available; the
/// order only decides what two nodes of ours agree on. SHA-256 runs on the CPU's SHA
/// instructions where SHA-384 has none, and each handshake hashes its transcript and
/// derives its keys with it: about 0.1 ms of CPU per fresh connection on the reference
/// machine.
fn provider() -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites
        .sort_by_key(|s| s.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    Arc::new(p)
}

fn tls_err(e: impl std::fmt::Display) -> NegotiateError {
    NegotiateError::Config(format!("tls: {e}"))
}

/// Checks that the server holds the key of the certificate it presents (the TLS 1.3
/// CertificateVerify signature), without any CA: who the server is gets proven by the
/// address binding over exporter keying material.
#[derive(Debug)]
struct SelfSignedServerVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for SelfSignedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.is_empty() {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // QUIC is TLS 1.3 only.
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// QUIC's initial (and minimum) UDP payload size.
const INITIAL_MTU: u16 = 1200;
/// The UDP payload size the single MTU probe asks for (quinn's default upper bound).
const MTU_UPPER_BOUND: u16 = 1452;

/// QUIC transport settings shared by both sides.
fn transport(max_bidi_streams: u32, idle: Duration) -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    t.max_concurrent_bidi_streams(max_bidi_streams.into());
    t.max_concurrent_uni_streams(0u8.into());
    if let Ok(idle) = quinn::IdleTimeout::try_from(idle) {
        t.max_idle_timeout(Some(idle));
    }
    t.keep_alive_interval(Some(idle / 3));
    // Loopback and LAN peers answer in well under the 333 ms default; a lower first RTT
    // guess shortens the first retransmission after a lost handshake packet.
    t.initial_rtt(Duration::from_millis(50));
    // One MTU probe, straight at the upper bound (1452 bytes), instead of a binary search
    // of about four padded probes each way: a quote connection lives for a few packets and
    // every probe costs both sides a syscall, an ACK and a byte-by-byte parse of its
    // padding. A path that drops the probe stays at the safe 1200 bytes; the search runs
    // again after the usual interval.
    let mut mtu = quinn::MtuDiscoveryConfig::default();
    mtu.upper_bound(MTU_UPPER_BOUND)
        .minimum_change(MTU_UPPER_BOUND - INITIAL_MTU);
    t.mtu_discovery_config(Some(mtu));
    t
}

/// A client configuration for `alpn` that accepts self-signed servers which prove their key.
pub fn client_config(
    alpn: &[u8],
    max_bidi_streams: u32,
) -> Result<quinn::ClientConfig, NegotiateError> {
    let provider = provider();
    let algorithms = provider.signature_verification_algorithms;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SelfSignedServerVerifier { algorithms }))
        .with_no_client_auth();
    tls.alpn_protocols = vec![alpn.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(tls_err)?;
    let mut c = quinn::ClientConfig::new(Arc::new(quic));
    c.transport_config(Arc::new(transport(
        max_bidi_streams,
        Duration::from_secs(30),
    )));
    Ok(c)
}

/// A server configuration with a fresh self-signed certificate, serving both the
/// negotiation and the pool protocols, with at most `max_bidi_streams` concurrent streams
/// per connection.
pub fn server_config(max_bidi_streams: u32) -> Result<quinn::ServerConfig, NegotiateError> {
    server_config_for(&[ALPN, POOL_ALPN], max_bidi_streams)
}

/// [`server_config`] for other protocols on the same TLS and transport settings: a fresh
/// self-signed certificate, serving the given ALPN protocols.
pub fn server_config_for(
    alpns: &[&[u8]],
    max_bidi_streams: u32,
) -> Result<quinn::ServerConfig, NegotiateError> {
    // Ed25519: the handshake signature costs the server about half and the client about a
    // third of what ECDSA P-256 costs, once per fresh connection on each side.
    let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(tls_err)?;
    let cert = rcgen::CertificateParams::new(vec![SERVER_NAME.to_owned()])
        .map_err(tls_err)?
        .self_signed(&key_pair)
        .map_err(tls_err)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .map_err(tls_err)?;
    tls.alpn_protocols = alpns.iter().map(|a| a.to_vec()).collect();
    tls.max_early_data_size = 0;
    // One resumption ticket per connection instead of rustls' two: a client uses a ticket
    // once and gets a fresh one with every resumed connection, so one keeps resumption
    // going, and a fan-out of fresh connections does half the ticket work (derivation,
    // server cache entry, client cache entry).
    tls.send_tls13_tickets = 1;
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(tls_err)?;
    let mut s = quinn::ServerConfig::with_crypto(Arc::new(quic));
    s.transport_config(Arc::new(transport(
        max_bidi_streams,
        Duration::from_secs(30),
    )));
    Ok(s)
}

/// A UDP socket bound to `addr` with [`RECV_BUFFER`] asked for (the OS may cap it).
pub fn udp_socket(addr: SocketAddr) -> Result<std::net::UdpSocket, NegotiateError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let io = |e: std::io::Error| NegotiateError::Transport(format!("udp socket: {e}"));
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).map_err(io)?;
    // Best effort: a smaller buffer still works, only worse under a burst.
    let _ = s.set_recv_buffer_size(RECV_BUFFER);
    let _ = s.set_send_buffer_size(RECV_BUFFER);
    s.bind(&addr.into()).map_err(io)?;
    Ok(s.into())
}

/// The secret behind a server's stateless resets. quinn draws a random one per endpoint, so
/// a server restarted on the same port cannot reset the connections of its previous run:
/// each client then waits out its idle timeout (30 s) before it dials again. Derived from
/// the node's key instead, the restarted server's resets are recognised at once.
#[derive(Clone)]
pub struct StatelessResetKey([u8; 32]);

impl std::fmt::Debug for StatelessResetKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatelessResetKey(..)")
    }
}

impl StatelessResetKey {
    /// The key derived from a node's secret (its signing key's bytes): the same secret
    /// gives the same key in every run, and the key reveals nothing of the secret.
    pub fn derive(secret: &[u8]) -> Self {
        StatelessResetKey(livepeer_core::crypto::keccak256_concat(&[
            b"livepeer-rs quic stateless reset v1",
            secret,
        ]))
    }

    fn mac(&self, data: &[u8]) -> [u8; 32] {
        // Keyed keccak-256 is a PRF (keccak has no length extension).
        livepeer_core::crypto::keccak256_concat(&[&self.0, data])
    }
}

impl quinn::crypto::HmacKey for StatelessResetKey {
    fn sign(&self, data: &[u8], signature_out: &mut [u8]) {
        let mac = self.mac(data);
        let n = signature_out.len().min(mac.len());
        signature_out[..n].copy_from_slice(&mac[..n]);
    }

    fn signature_len(&self) -> usize {
        32
    }

    fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), quinn::crypto::CryptoError> {
        let mac = self.mac(data);
        // Constant time over the length compared.
        let diff = mac
            .iter()
            .zip(signature)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if signature.len() == mac.len() && diff == 0 {
            Ok(())
        } else {
            Err(quinn::crypto::CryptoError)
        }
    }
}

/// A quinn endpoint on `addr` with a large receive buffer; a server when `server` is set.
/// Must be called inside a tokio runtime.
pub fn endpoint(
    addr: SocketAddr,
    server: Option<quinn::ServerConfig>,
) -> Result<quinn::Endpoint, NegotiateError> {
    endpoint_with(addr, server, None)
}

/// [`endpoint`] whose stateless resets use `reset_key` (a random key when `None`).
pub fn endpoint_with(
    addr: SocketAddr,
    server: Option<quinn::ServerConfig>,
    reset_key: Option<StatelessResetKey>,
) -> Result<quinn::Endpoint, NegotiateError> {
    let socket = udp_socket(addr)?;
    let config = match reset_key {
        Some(k) => quinn::EndpointConfig::new(Arc::new(k)),
        None => quinn::EndpointConfig::default(),
    };
    quinn::Endpoint::new(config, server, socket, Arc::new(quinn::TokioRuntime))
        .map_err(|e| NegotiateError::Transport(format!("endpoint: {e}")))
}

/// The connection's TLS exporter keying material (RFC 8446 §7.5) under the binding label and
/// `context`: what a party signs to bind its address to this very connection. Another
/// protocol on the same certificates passes its own `context`, so a proof made for one
/// protocol never verifies in another.
pub fn exporter(
    conn: &quinn::Connection,
    context: &[u8],
) -> Result<[u8; crate::proto::identity::EXPORTER_LEN], NegotiateError> {
    let mut out = [0u8; crate::proto::identity::EXPORTER_LEN];
    conn.export_keying_material(&mut out, crate::proto::identity::EXPORTER_LABEL, context)
        .map_err(|_| NegotiateError::Transport("TLS exporter unavailable".into()))?;
    Ok(out)
}
