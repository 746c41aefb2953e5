//! Credit per (sender, stream): what accepted tickets are worth, less the work done.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use livepeer_core::{Address, StreamId, Wei};

use crate::error::TicketError;

/// One sender's standing on one stream: credit, or debt when work outran the tickets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Entry {
    credit: Wei,
    debt: Wei,
    touched: Option<Instant>,
}

impl Entry {
    fn add(&mut self, amount: Wei) {
        let paid = amount.0.min(self.debt.0);
        self.debt = self.debt - Wei(paid);
        self.credit = self.credit + Wei(amount.0 - paid);
    }

    fn sub(&mut self, amount: Wei) {
        let taken = amount.0.min(self.credit.0);
        self.credit = self.credit - Wei(taken);
        self.debt = self.debt + Wei(amount.0 - taken);
    }
}

/// Balances of every (sender, stream) a recipient works for.
#[derive(Clone, Debug, Default)]
pub struct Balances {
    entries: HashMap<(Address, StreamId), Entry>,
}

impl Balances {
    /// No balances.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `amount` to the balance (paying off any debt first).
    pub fn credit(&mut self, now: Instant, sender: Address, stream: StreamId, amount: Wei) {
        let e = self.entries.entry((sender, stream)).or_default();
        e.add(amount);
        e.touched = Some(now);
    }

    /// The credit (zero while in debt).
    pub fn balance(&self, sender: Address, stream: StreamId) -> Wei {
        self.entries
            .get(&(sender, stream))
            .map_or(Wei::ZERO, |e| e.credit)
    }

    /// What the sender owes beyond its credit.
    pub fn debt(&self, sender: Address, stream: StreamId) -> Wei {
        self.entries
            .get(&(sender, stream))
            .map_or(Wei::ZERO, |e| e.debt)
    }

    /// Checks that the credit covers `required`; [`TicketError::LowPMBalance`] otherwise.
    pub fn ensure(
        &self,
        sender: Address,
        stream: StreamId,
        required: Wei,
    ) -> Result<(), TicketError> {
        let balance = self.balance(sender, stream);
        if balance < required {
            return Err(TicketError::LowPMBalance { balance, required });
        }
        Ok(())
    }

    /// Debits `fee` for work done. The work is owed either way: when the credit falls short
    /// it goes to zero, the rest is kept as debt that later tickets pay off first, and the
    /// result is [`TicketError::LowPMBalance`]. Returns the credit left.
    pub fn debit(
        &mut self,
        now: Instant,
        sender: Address,
        stream: StreamId,
        fee: Wei,
    ) -> Result<Wei, TicketError> {
        let e = self.entries.entry((sender, stream)).or_default();
        let balance = e.credit;
        e.sub(fee);
        e.touched = Some(now);
        if balance < fee {
            return Err(TicketError::LowPMBalance {
                balance,
                required: fee,
            });
        }
        Ok(e.credit)
    }

    /// Forgets one stream.
    pub fn remove(&mut self, sender: Address, stream: StreamId) {
        self.entries.remove(&(sender, stream));
    }

    /// Forgets balances untouched for `idle` (streams that ended without saying so).
    pub fn prune(&mut self, now: Instant, idle: Duration) {
        self.entries.retain(|_, e| {
            e.touched
                .is_none_or(|t| now.saturating_duration_since(t) < idle)
        });
    }

    /// How many (sender, stream) balances are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no balance is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_debit_and_debt() {
        let now = Instant::now();
        let (a, s) = (Address::repeat_byte(1), StreamId::from_name("x"));
        let mut b = Balances::new();
        b.credit(now, a, s, Wei::from_u128(100));
        assert_eq!(
            b.debit(now, a, s, Wei::from_u128(60)).unwrap(),
            Wei::from_u128(40)
        );
        assert!(b.ensure(a, s, Wei::from_u128(40)).is_ok());
        let e = b.debit(now, a, s, Wei::from_u128(50)).unwrap_err();
        assert_eq!(
            e,
            TicketError::LowPMBalance {
                balance: Wei::from_u128(40),
                required: Wei::from_u128(50)
            }
        );
        assert_eq!(b.balance(a, s), Wei::ZERO);
        assert_eq!(b.debt(a, s), Wei::from_u128(10));
        b.credit(now, a, s, Wei::from_u128(25));
        assert_eq!(b.debt(a, s), Wei::ZERO);
        assert_eq!(b.balance(a, s), Wei::from_u128(15));
        assert!(
            b.ensure(a, s, Wei::from_u128(16))
                .unwrap_err()
                .is_low_balance()
        );
        b.prune(now + Duration::from_secs(10), Duration::from_secs(5));
        assert!(b.is_empty());
    }
}
