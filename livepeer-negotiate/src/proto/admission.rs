//! Admission of incoming connections, so that peers who open handshakes and never finish
//! them cannot take the place of paying ones:
//!
//! - unfinished handshakes have their own budget, well under the connection slots (and a
//!   deadline of their own, kept by the driver);
//! - once a few handshakes are in flight, a source that has not proven its address is asked
//!   to (a stateless Retry: it costs the server no state, and a spoofed or fire-and-forget
//!   sender never answers it);
//! - one source address holds only a few unfinished handshakes at once.
//!
//! Sans-IO: [`ConnectionAdmission::decide`] for each incoming connection, and
//! [`ConnectionAdmission::handshake_ended`] once an admitted handshake finished, failed or ran
//! out of time.

use std::collections::HashMap;
use std::net::IpAddr;

/// The limits, from the orchestrator's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Most connections at once.
    pub max_connections: usize,
    /// Most unfinished handshakes at once.
    pub max_handshakes: usize,
    /// Most unfinished handshakes from one source address.
    pub max_handshakes_per_source: usize,
    /// Above this many unfinished handshakes, unproven sources are sent a Retry.
    pub retry_above_handshakes: usize,
}

/// What to do with one incoming connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionVerdict {
    /// Go on with the handshake; it holds a place in the budget until
    /// [`ConnectionAdmission::handshake_ended`].
    Admit,
    /// Ask the source to prove its address first (a stateless Retry).
    Retry,
    /// Refuse it (the client sees `CONNECTION_REFUSED`): the named budget is spent.
    Refuse(&'static str),
}

/// Unfinished handshakes, in all and per source.
#[derive(Clone, Debug)]
pub struct ConnectionAdmission {
    limits: AdmissionLimits,
    handshakes: usize,
    per_source: HashMap<IpAddr, usize>,
}

impl ConnectionAdmission {
    /// Admission under `limits`, with nothing in flight.
    pub fn new(limits: AdmissionLimits) -> Self {
        ConnectionAdmission {
            limits,
            handshakes: 0,
            per_source: HashMap::new(),
        }
    }

    /// Decides for a connection from `source` (whose address is `validated` or not) while
    /// `connections` are admitted already.
    pub fn decide(
        &mut self,
        source: IpAddr,
        validated: bool,
        connections: usize,
    ) -> ConnectionVerdict {
        let l = &self.limits;
        if connections >= l.max_connections {
            return ConnectionVerdict::Refuse("connections");
        }
        if !validated && self.handshakes >= l.retry_above_handshakes {
            return ConnectionVerdict::Retry;
        }
        if self.handshakes >= l.max_handshakes {
            return ConnectionVerdict::Refuse("handshakes");
        }
        let mine = self.per_source.entry(source).or_default();
        if *mine >= l.max_handshakes_per_source {
            return ConnectionVerdict::Refuse("handshakes from one source");
        }
        *mine += 1;
        self.handshakes += 1;
        ConnectionVerdict::Admit
    }

    /// An admitted handshake from `source` finished, failed or ran out of time.
    pub fn handshake_ended(&mut self, source: IpAddr) {
        self.handshakes = self.handshakes.saturating_sub(1);
        if let Some(n) = self.per_source.get_mut(&source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_source.remove(&source);
            }
        }
    }

    /// Unfinished handshakes now.
    pub fn handshakes(&self) -> usize {
        self.handshakes
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
        use ConnectionVerdict::*;
        let mut a = ConnectionAdmission::new(limits());
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        assert_eq!(a.decide(ip(1), false, 0), Admit);
        // Under load, unproven sources are asked to prove their address.
        assert_eq!(a.decide(ip(1), false, 0), Retry);
        assert_eq!(a.decide(ip(1), true, 0), Admit);
        assert_eq!(
            a.decide(ip(1), true, 0),
            Refuse("handshakes from one source")
        );
        assert_eq!(a.decide(ip(2), true, 0), Admit);
        assert_eq!(a.decide(ip(3), true, 0), Admit);
        assert_eq!(a.decide(ip(4), true, 0), Refuse("handshakes"));
        assert_eq!(a.handshakes(), 4);
        for n in [1, 1, 2, 3] {
            a.handshake_ended(ip(n));
        }
        assert_eq!(a.handshakes(), 0);
        assert_eq!(a.decide(ip(1), false, 0), Admit);
        assert_eq!(a.decide(ip(5), true, 10), Refuse("connections"));
    }
}
