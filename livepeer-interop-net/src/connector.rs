//! A connector that dials an orchestrator over TCP and TLS, verifying its certificate
//! through [`CertPins`]: the transport under the gRPC client, and under any HTTP/2 client
//! of the same port.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::error::NetError;
use crate::tls::{CertPins, Fingerprint, PinMismatch, pinned_client_config};

/// The default time allowed to connect and complete the TLS handshake (go-livepeer allows
/// 3 s to dial an orchestrator for discovery).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Dials `host:port` targets over TLS with certificate pinning. Cloning shares the pins.
#[derive(Clone, Debug)]
pub struct PinnedConnector {
    pins: CertPins,
    timeout: Duration,
}

impl PinnedConnector {
    /// A connector verifying through `pins`.
    pub fn new(pins: CertPins) -> Self {
        PinnedConnector {
            pins,
            timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Sets the time allowed to connect and complete the handshake.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The pins.
    pub fn pins(&self) -> &CertPins {
        &self.pins
    }

    /// Connects to `host:port`, completes the TLS handshake and pins the certificate if
    /// the target had no pin.
    pub async fn connect(&self, host: &str, port: u16) -> Result<TlsStream<TcpStream>, NetError> {
        let target = target_of(host, port);
        match tokio::time::timeout(self.timeout, self.connect_inner(host, port, &target)).await {
            Ok(r) => r,
            Err(_) => Err(NetError::Timeout { target }),
        }
    }

    async fn connect_inner(
        &self,
        host: &str,
        port: u16,
        target: &str,
    ) -> Result<TlsStream<TcpStream>, NetError> {
        let connect_err = |e: std::io::Error| NetError::Connect {
            target: target.to_owned(),
            reason: e.to_string(),
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        // IP addresses get no SNI (rustls sends none for them), as go-livepeer's clients.
        let name = match bare.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(bare.to_owned()).map_err(|_| NetError::InvalidUri {
                uri: host.to_owned(),
                reason: "not a valid host name",
            })?,
        };
        let tcp = TcpStream::connect((bare, port))
            .await
            .map_err(connect_err)?;
        let _ = tcp.set_nodelay(true);
        let config = pinned_client_config(target, &self.pins)?;
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| handshake_error(target, e))?;
        let presented = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| Fingerprint::of(c.as_ref()))
            .ok_or_else(|| NetError::Tls {
                target: target.to_owned(),
                reason: "no certificate presented".into(),
            })?;
        self.pins.pin_or_check(target, presented)?;
        Ok(tls)
    }
}

/// The pin key of a host and port: `host:port`, IPv6 addresses bracketed.
pub fn target_of(host: &str, port: u16) -> String {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.contains(':') {
        format!("[{bare}]:{port}")
    } else {
        format!("{bare}:{port}")
    }
}

/// The host and port of an orchestrator URI: `https://host:port[/]` or `host:port`, as
/// Livepeer's SDK accepts them. The port is required.
pub fn parse_target(uri: &str) -> Result<(String, u16), NetError> {
    let bad = |reason| NetError::InvalidUri {
        uri: uri.to_owned(),
        reason,
    };
    let full = if uri.contains("://") {
        uri.to_owned()
    } else {
        format!("https://{uri}")
    };
    let parsed: Uri = full.parse().map_err(|_| bad("not a URI"))?;
    if parsed.scheme_str() != Some("https") {
        return Err(bad("only https:// orchestrators are supported"));
    }
    if parsed.path() != "/" && !parsed.path().is_empty() || parsed.query().is_some() {
        return Err(bad("must not include a path or query"));
    }
    let host = parsed.host().ok_or(bad("no host"))?;
    let port = parsed.port_u16().ok_or(bad("no port"))?;
    Ok((host.to_owned(), port))
}

fn handshake_error(target: &str, e: std::io::Error) -> NetError {
    if let Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))) =
        e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        && let Some(PinMismatch(inner)) = other.0.downcast_ref::<PinMismatch>()
    {
        return inner.clone();
    }
    NetError::Tls {
        target: target.to_owned(),
        reason: e.to_string(),
    }
}

/// The connection type [`PinnedConnector`] yields to hyper and tonic.
pub type PinnedIo = TokioIo<TlsStream<TcpStream>>;

impl tower_service::Service<Uri> for PinnedConnector {
    type Response = PinnedIo;
    type Error = NetError;
    type Future = Pin<Box<dyn Future<Output = Result<PinnedIo, NetError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), NetError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let host = uri.host().ok_or(NetError::InvalidUri {
                uri: uri.to_string(),
                reason: "no host",
            })?;
            let port = uri.port_u16().unwrap_or(443);
            this.connect(host, port).await.map(TokioIo::new)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            parse_target("https://1.2.3.4:8935").unwrap(),
            ("1.2.3.4".into(), 8935)
        );
        assert_eq!(
            parse_target("localhost:8935/").unwrap(),
            ("localhost".into(), 8935)
        );
        assert_eq!(parse_target("[::1]:8935").unwrap().1, 8935);
        assert!(parse_target("http://h:1").is_err());
        assert!(parse_target("https://h").is_err());
        assert!(parse_target("https://h:1/segment").is_err());
        assert_eq!(target_of("::1", 5), "[::1]:5");
        assert_eq!(target_of("[::1]", 5), "[::1]:5");
        assert_eq!(target_of("h", 5), "h:5");
    }
}
