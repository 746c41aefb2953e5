//! The evidence protocol's messages, sans I/O.
//!
//! One request per QUIC stream: the client writes [`REQUEST_LEN`] bytes (an operation byte
//! and a 32-byte id) and finishes its side; the server answers with a status byte and, when
//! found, the bytes, then finishes. Ids are content addresses (or a challenge's id for the
//! manifest index), so nothing served needs to be trusted: the verifier checks every blob
//! against its key.

use bytes::Bytes;
use livepeer_core::H256;
use livepeer_core::chain::ChallengeId;

use crate::evidence::{ContentKey, EvidenceError};

/// The ALPN protocol id.
pub const ALPN: &[u8] = b"livepeer-evidence/1";
/// The TLS exporter context the server's address binding signs (see
/// `livepeer_negotiate::quinn::tls::exporter`): a proof made for this protocol never
/// verifies in the negotiation protocol, nor the other way round.
pub const EXPORTER_CONTEXT: &[u8] = b"livepeer-evidence/1";
/// Bytes in a request.
pub const REQUEST_LEN: usize = 33;
/// Longest error text a server sends (longer ones are cut).
pub const MAX_ERROR_TEXT: usize = 1024;

const OP_HELLO: u8 = 0;
const OP_MANIFEST: u8 = 1;
const OP_BLOB: u8 = 2;

const FOUND: u8 = 0;
const NOT_FOUND: u8 = 1;
const FAILED: u8 = 2;

/// What a client asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// The server's address binding for this connection.
    Hello,
    /// The manifest key the server holds for a challenge.
    Manifest(ChallengeId),
    /// The bytes under a content key.
    Blob(ContentKey),
}

impl Request {
    /// The request's bytes.
    pub fn encode(&self) -> [u8; REQUEST_LEN] {
        let mut out = [0u8; REQUEST_LEN];
        let (op, id) = match self {
            Request::Hello => (OP_HELLO, [0u8; 32]),
            Request::Manifest(c) => (OP_MANIFEST, c.0.0),
            Request::Blob(k) => (OP_BLOB, k.0),
        };
        out[0] = op;
        out[1..].copy_from_slice(&id);
        out
    }

    /// Parses a request: exactly [`REQUEST_LEN`] bytes, a known operation, and a zero id
    /// for [`Request::Hello`].
    pub fn parse(data: &[u8]) -> Result<Self, EvidenceError> {
        let bad = |m: &str| EvidenceError::Malformed(format!("request: {m}"));
        if data.len() != REQUEST_LEN {
            return Err(bad(&format!("{} bytes, not {REQUEST_LEN}", data.len())));
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(&data[1..]);
        match data[0] {
            OP_HELLO if id == [0u8; 32] => Ok(Request::Hello),
            OP_HELLO => Err(bad("hello with an id")),
            OP_MANIFEST => Ok(Request::Manifest(ChallengeId(H256::from(id)))),
            OP_BLOB => Ok(Request::Blob(ContentKey(id))),
            op => Err(bad(&format!("unknown operation {op}"))),
        }
    }
}

/// A server's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// The bytes asked for.
    Found(Bytes),
    /// The server does not hold it.
    NotFound,
    /// The server failed; the text says why. Retrying may help.
    Failed(String),
}

impl Response {
    /// The status byte that starts the answer; the body (found bytes or error text)
    /// follows it.
    pub fn status(&self) -> u8 {
        match self {
            Response::Found(_) => FOUND,
            Response::NotFound => NOT_FOUND,
            Response::Failed(_) => FAILED,
        }
    }

    /// The body that follows the status byte.
    pub fn body(&self) -> Bytes {
        match self {
            Response::Found(b) => b.clone(),
            Response::NotFound => Bytes::new(),
            Response::Failed(m) => {
                let mut end = m.len().min(MAX_ERROR_TEXT);
                while !m.is_char_boundary(end) {
                    end -= 1;
                }
                Bytes::copy_from_slice(&m.as_bytes()[..end])
            }
        }
    }

    /// The whole answer (status and body) as one buffer.
    pub fn encode(&self) -> Vec<u8> {
        let body = self.body();
        let mut out = Vec::with_capacity(1 + body.len());
        out.push(self.status());
        out.extend_from_slice(&body);
        out
    }

    /// Parses an answer of at most `1 + max_body` bytes (the transport enforces the bound
    /// while reading; it is checked again here).
    pub fn parse(data: Bytes, max_body: usize) -> Result<Self, EvidenceError> {
        let bad = |m: String| EvidenceError::Malformed(format!("response: {m}"));
        let Some(&status) = data.first() else {
            return Err(bad("empty".into()));
        };
        let body = data.slice(1..);
        match status {
            FOUND if body.len() <= max_body => Ok(Response::Found(body)),
            FOUND => Err(bad(format!("{} bytes, more than {max_body}", body.len()))),
            NOT_FOUND if body.is_empty() => Ok(Response::NotFound),
            NOT_FOUND => Err(bad("a body after not-found".into())),
            FAILED if body.len() <= MAX_ERROR_TEXT => Ok(Response::Failed(
                String::from_utf8_lossy(&body).into_owned(),
            )),
            FAILED => Err(bad("error text too long".into())),
            s => Err(bad(format!("unknown status {s}"))),
        }
    }
}
