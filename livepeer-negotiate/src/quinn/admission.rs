//! The driver's side of connection admission: the sans-IO
//! [`ConnectionAdmission`](crate::proto::ConnectionAdmission) behind a lock, and a guard that
//! gives a handshake's place back when dropped.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::proto::{AdmissionLimits, ConnectionAdmission, ConnectionVerdict};

/// What to do with one incoming connection.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Go on with the handshake; the guard holds its place in the budget until dropped.
    Admit(HandshakeGuard),
    /// Ask the source to prove its address first (a stateless Retry).
    Retry,
    /// Refuse it: the named budget is spent.
    Refuse(&'static str),
}

/// Unfinished handshakes, shared by the accept loop and the handshakes' guards.
#[derive(Debug)]
pub(crate) struct Admission {
    state: Mutex<ConnectionAdmission>,
}

impl Admission {
    pub(crate) fn new(limits: AdmissionLimits) -> Arc<Self> {
        Arc::new(Admission {
            state: Mutex::new(ConnectionAdmission::new(limits)),
        })
    }

    /// Decides for a connection from `source` (whose address is `validated` or not) while
    /// `connections` are admitted already.
    pub(crate) fn decide(
        self: &Arc<Self>,
        source: IpAddr,
        validated: bool,
        connections: usize,
    ) -> Verdict {
        let v = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .decide(source, validated, connections);
        match v {
            ConnectionVerdict::Admit => Verdict::Admit(HandshakeGuard {
                admission: self.clone(),
                source,
            }),
            ConnectionVerdict::Retry => Verdict::Retry,
            ConnectionVerdict::Refuse(what) => Verdict::Refuse(what),
        }
    }
}

/// One unfinished handshake's place in the budget, given back on drop (the handshake
/// finished, failed or ran out of time).
#[derive(Debug)]
pub(crate) struct HandshakeGuard {
    admission: Arc<Admission>,
    source: IpAddr,
}

impl Drop for HandshakeGuard {
    fn drop(&mut self) {
        self.admission
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .handshake_ended(self.source);
    }
}
