//! TLS as go-livepeer orchestrators use it: a self-signed certificate on the server, and on
//! the client trust on first use (TOFU) through [`CertPins`], never by skipping
//! verification.
//!
//! go-livepeer generates a fresh self-signed P-256 certificate on every start
//! (`server/cert.go`: a CA certificate naming the service host) and its clients dial with
//! `InsecureSkipVerify`. Here the client pins the SHA-256 of the first certificate it sees
//! for a `host:port`; a different certificate later is [`NetError::CertificateChanged`],
//! and only the caller may forget a pin. The TLS handshake signature is always checked
//! against the presented certificate's key.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::error::NetError;

/// ALPN protocols the orchestrator port speaks: HTTP/2 (gRPC and `/segment`) and HTTP/1.1.
pub const ALPN_SERVER: &[&[u8]] = &[b"h2", b"http/1.1"];

/// The ring crypto provider, the one the workspace uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// SHA-256 of a certificate's DER bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of `der`.
    pub fn of(der: &[u8]) -> Self {
        Fingerprint(Sha256::digest(der).into())
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

/// A self-signed certificate and its key, as a go-livepeer orchestrator makes one: P-256,
/// marked as a CA (so clients that use it as their only trust root, such as Livepeer's
/// Python SDK, accept it), naming the service's hosts.
///
/// `Debug` shows the fingerprint only; the key never reaches logs.
pub struct SelfSignedCert {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl SelfSignedCert {
    /// A fresh certificate for `names` (DNS names or IP addresses, e.g. `localhost`).
    pub fn generate(names: &[&str]) -> Result<Self, NetError> {
        let setup = |e: rcgen::Error| NetError::Setup(format!("certificate: {e}"));
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names).map_err(setup)?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "livepeer-rs orchestrator");
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(setup)?;
        let cert = params.self_signed(&key).map_err(setup)?;
        Ok(SelfSignedCert {
            cert: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }

    /// The certificate's DER bytes.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// The certificate in PEM form (what a client may pin or trust).
    pub fn cert_pem(&self) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.cert.as_ref());
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        pem
    }

    /// The certificate's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self.cert.as_ref())
    }

    /// A rustls server configuration presenting this certificate, with ALPN `h2` and
    /// `http/1.1` ([`ALPN_SERVER`]).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, NetError> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| NetError::Setup(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )
            .map_err(|e| NetError::Setup(e.to_string()))?;
        config.alpn_protocols = ALPN_SERVER.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

impl fmt::Debug for SelfSignedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelfSignedCert")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

/// Certificates pinned per `host:port`, shared by every connection of a client (clone it
/// to share). Trust on first use: the first certificate a successful handshake presents
/// for a target is pinned; later handshakes must present the same one.
#[derive(Clone, Debug, Default)]
pub struct CertPins {
    pins: Arc<Mutex<HashMap<String, Fingerprint>>>,
}

impl CertPins {
    /// An empty set.
    pub fn new() -> Self {
        CertPins::default()
    }

    /// The pin for `target` (`host:port`), if any.
    pub fn get(&self, target: &str) -> Option<Fingerprint> {
        self.lock().get(target).copied()
    }

    /// Pins `fingerprint` for `target` ahead of any connection (a certificate learnt
    /// out of band), replacing any pin.
    pub fn insert(&self, target: &str, fingerprint: Fingerprint) {
        self.lock().insert(target.to_owned(), fingerprint);
    }

    /// Forgets the pin for `target`, so the next handshake pins afresh. Call it only when
    /// the orchestrator is known to have restarted.
    pub fn forget(&self, target: &str) -> Option<Fingerprint> {
        self.lock().remove(target)
    }

    /// Checks `presented` against the pin for `target`.
    pub fn check(&self, target: &str, presented: Fingerprint) -> Result<(), NetError> {
        match self.get(target) {
            Some(pinned) if pinned != presented => Err(changed(target, pinned, presented)),
            _ => Ok(()),
        }
    }

    /// Pins `presented` for `target` unless another certificate is pinned already.
    pub fn pin_or_check(&self, target: &str, presented: Fingerprint) -> Result<(), NetError> {
        let mut pins = self.lock();
        let pinned = *pins.entry(target.to_owned()).or_insert(presented);
        if pinned != presented {
            return Err(changed(target, pinned, presented));
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Fingerprint>> {
        // The map holds plain values, so a poisoned lock still holds a consistent map.
        self.pins.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn changed(target: &str, pinned: Fingerprint, presented: Fingerprint) -> NetError {
    NetError::CertificateChanged {
        target: target.to_owned(),
        pinned: pinned.to_hex(),
        presented: presented.to_hex(),
    }
}

/// The error a [`PinningVerifier`] fails a handshake with when the certificate differs
/// from the pin; the connector turns it back into [`NetError::CertificateChanged`].
#[derive(Debug)]
pub(crate) struct PinMismatch(pub(crate) NetError);

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for PinMismatch {}

/// A rustls verifier for one target: the end-entity certificate must match the target's
/// pin where there is one (no pin: accepted, and pinned by the connector once the handshake
/// succeeds), and the handshake must be signed by that certificate's key.
#[derive(Debug)]
pub struct PinningVerifier {
    target: String,
    pins: CertPins,
    provider: Arc<CryptoProvider>,
}

impl PinningVerifier {
    /// A verifier for `target` (`host:port`) against `pins`.
    pub fn new(target: &str, pins: CertPins) -> Self {
        PinningVerifier {
            target: target.to_owned(),
            pins,
            provider: provider(),
        }
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.pins
            .check(&self.target, Fingerprint::of(end_entity.as_ref()))
            .map_err(|e| {
                rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
                    rustls::OtherError(Arc::new(PinMismatch(e))),
                ))
            })?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls client configuration for `target` that verifies through `pins`, offering ALPN
/// `h2` (gRPC needs it).
pub fn pinned_client_config(
    target: &str,
    pins: &CertPins,
) -> Result<Arc<rustls::ClientConfig>, NetError> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::Setup(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinningVerifier::new(target, pins.clone())))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_first_certificate_and_refuses_another() {
        let pins = CertPins::new();
        let a = Fingerprint::of(b"a");
        let b = Fingerprint::of(b"b");
        assert!(pins.check("h:1", a).is_ok());
        pins.pin_or_check("h:1", a).unwrap();
        assert!(pins.check("h:1", a).is_ok());
        assert!(pins.check("h:1", b).unwrap_err().is_certificate_changed());
        assert!(pins.pin_or_check("h:1", b).is_err());
        // Another target is independent.
        pins.pin_or_check("h:2", b).unwrap();
        assert_eq!(pins.forget("h:1"), Some(a));
        pins.pin_or_check("h:1", b).unwrap();
    }

    #[test]
    fn generated_certificates_differ_and_hide_the_key() {
        let a = SelfSignedCert::generate(&["localhost"]).unwrap();
        let b = SelfSignedCert::generate(&["localhost", "127.0.0.1"]).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert!(a.cert_pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
        let dbg = format!("{a:?}");
        assert!(dbg.contains(&a.fingerprint().to_hex()));
        assert!(a.server_config().is_ok());
    }
}
