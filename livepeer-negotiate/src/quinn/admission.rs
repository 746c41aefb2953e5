//! Admission of incoming QUIC connections, so that peers who open handshakes and never
//! finish them cannot take the place of paying ones:
//!
//! - unfinished handshakes have their own budget, well under the connection slots, and a
//!   deadline of their own;
//! - once a few handshakes are in flight, a source that has not proven its address is asked
//!   to (a stateless Retry: it costs the server no state, and a spoofed or fire-and-forget
//!   sender never answers it);
//! - one source address holds only a few unfinished handshakes at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// The limits, from the orchestrator's configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdmissionLimits {
    pub(crate) max_connections: usize,
    pub(crate) max_handshakes: usize,
    pub(crate) max_handshakes_per_source: usize,
    pub(crate) retry_above_handshakes: usize,
}

/// What to do with one incoming connection.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Go on with the handshake; the guard holds its place in the budget until dropped.
    Admit(HandshakeGuard),
    /// Ask the source to prove its address first (a stateless Retry).
    Retry,
    /// Refuse it (the client sees `CONNECTION_REFUSED`): the named budget is spent.
    Refuse(&'static str),
}

#[derive(Debug, Default)]
struct State {
    handshakes: usize,
    per_source: HashMap<IpAddr, usize>,
}

/// Unfinished handshakes, in all and per source.
#[derive(Debug)]
pub(crate) struct Admission {
    limits: AdmissionLimits,
    state: Mutex<State>,
}

impl Admission {
    pub(crate) fn new(limits: AdmissionLimits) -> Arc<Self> {
        Arc::new(Admission {
            limits,
            state: Mutex::new(State::default()),
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
        let l = &self.limits;
        if connections >= l.max_connections {
            return Verdict::Refuse("connections");
        }
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !validated && s.handshakes >= l.retry_above_handshakes {
            return Verdict::Retry;
        }
        if s.handshakes >= l.max_handshakes {
            return Verdict::Refuse("handshakes");
        }
        let mine = s.per_source.entry(source).or_default();
        if *mine >= l.max_handshakes_per_source {
            return Verdict::Refuse("handshakes from one source");
        }
        *mine += 1;
        s.handshakes += 1;
        Verdict::Admit(HandshakeGuard {
            admission: self.clone(),
            source,
        })
    }

    /// Unfinished handshakes now.
    #[cfg(test)]
    pub(crate) fn handshakes(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .handshakes
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
        let mut s = self
            .admission
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        s.handshakes = s.handshakes.saturating_sub(1);
        if let Some(n) = s.per_source.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.per_source.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> AdmissionLimits {
        AdmissionLimits {
            max_connections: 10,
            max_handshakes: 4,
            max_handshakes_per_source: 2,
            retry_above_handshakes: 1,
        }
    }

    #[test]
    fn handshakes_have_their_own_budget_per_source_and_in_all() {
        let a = Admission::new(limits());
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        let g1 = a.decide(ip(1), false, 0);
        assert!(matches!(g1, Verdict::Admit(_)));
        // Under load, unproven sources are asked to prove their address.
        assert!(matches!(a.decide(ip(1), false, 0), Verdict::Retry));
        let g2 = a.decide(ip(1), true, 0);
        assert!(matches!(g2, Verdict::Admit(_)));
        assert!(matches!(
            a.decide(ip(1), true, 0),
            Verdict::Refuse("handshakes from one source")
        ));
        let g3 = a.decide(ip(2), true, 0);
        let g4 = a.decide(ip(3), true, 0);
        assert!(matches!(
            a.decide(ip(4), true, 0),
            Verdict::Refuse("handshakes")
        ));
        assert_eq!(a.handshakes(), 4);
        drop((g1, g2, g3, g4));
        assert_eq!(a.handshakes(), 0);
        assert!(matches!(a.decide(ip(1), false, 0), Verdict::Admit(_)));
        assert!(matches!(
            a.decide(ip(5), true, 10),
            Verdict::Refuse("connections")
        ));
    }
}
