//! The recipient's watch over its senders' funds: deposit, reserve, its own share of the
//! reserve, winners not yet redeemed, the max float that caps face values, and a risk policy
//! that decides whether to keep working for a sender.
//!
//! Sans-IO: the monitor holds what it is told ([`SenderMonitor::handle_funds`],
//! [`SenderMonitor::handle_round`], [`SenderMonitor::set_pending`]) and says which senders
//! need a fresh read ([`SenderMonitor::poll_stale`]); [`fetch_funds`] does that read through
//! the chain traits.

use std::collections::HashMap;
use std::ops::Deref;

use livepeer_core::chain::{ChainError, SenderInfo, TicketBrokerReader};
use livepeer_core::{Address, U256, Wei};

use crate::error::TicketError;

/// A sender's funds at the ticket broker, as the recipient last read them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SenderFunds {
    /// Deposit, reserve and unlock state.
    pub info: SenderInfo,
    /// What this recipient claimed from the reserve this round.
    pub claimed_by_me: Wei,
    /// How many recipients share the reserve this round (0: this recipient is not active).
    pub pool_size: u64,
    /// This recipient's claimable reserve as the broker computes it, when it was read; it then
    /// replaces the equal split by `pool_size` in [`SenderFunds::reserve_alloc`].
    pub claimable: Option<Wei>,
    /// The block the funds were read at.
    pub block: u64,
}

impl SenderFunds {
    /// Funds from their parts.
    pub fn new(info: SenderInfo, claimed_by_me: Wei, pool_size: u64, block: u64) -> Self {
        SenderFunds {
            info,
            claimed_by_me,
            pool_size,
            claimable: None,
            block,
        }
    }

    /// The same funds with the broker's own answer for this recipient's claimable reserve.
    pub fn with_claimable(mut self, claimable: Wei) -> Self {
        self.claimable = Some(claimable);
        self
    }

    /// This recipient's share of the reserve: the broker's claimable reserve when it was read,
    /// otherwise `(remaining + claimed this round) / poolSize − claimed by me`, zero when the
    /// recipient is not in the pool.
    pub fn reserve_alloc(&self) -> Wei {
        if let Some(claimable) = self.claimable {
            return claimable;
        }
        if self.pool_size == 0 {
            return Wei::ZERO;
        }
        let total = self.info.reserve_remaining + self.info.reserve_claimed_this_round;
        Wei(total.0 / U256::from(self.pool_size)) - self.claimed_by_me
    }
}

/// Reads a sender's funds through the chain traits.
pub async fn fetch_funds(
    broker: &(impl TicketBrokerReader + ?Sized),
    sender: Address,
    me: Address,
    block: u64,
) -> Result<SenderFunds, ChainError> {
    let info = broker.sender_info(sender).await?;
    let claimed_by_me = broker.claimed_reserve(sender, me).await?;
    let pool_size = broker.reserve_pool_size().await?;
    let claimable = broker.claimable_reserve(sender, me).await?;
    Ok(SenderFunds::new(info, claimed_by_me, pool_size, block).with_claimable(claimable))
}

/// What a risk policy sees of one sender.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SenderView<'a> {
    /// The sender.
    pub sender: Address,
    /// Its funds.
    pub funds: &'a SenderFunds,
    /// Face value of its winners not yet redeemed.
    pub pending: Wei,
    /// This recipient's share of its reserve.
    pub reserve_alloc: Wei,
    /// The most this recipient lets its winners be worth.
    pub max_float: Wei,
    /// Whether its deposit and reserve unlock within a round.
    pub unlocking: bool,
}

/// Whether to keep working for a sender.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Risk {
    /// Work on.
    Accept,
    /// Stop working for this sender.
    Stop(StopReason),
}

/// Why a risk policy stops work.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// No funds information was read for the sender.
    Unknown,
    /// The sender's deposit and reserve unlock within a round.
    Unlocking,
    /// The sender's balance is too low to back the tickets.
    LowBalance {
        /// What backs new winners: deposit plus reserve share, less pending winners.
        available: Wei,
        /// What the policy wants backed.
        required: Wei,
    },
}

/// Decides whether to keep working for a sender.
///
/// Contract: pure and fast (called before every segment); no I/O.
pub trait RiskPolicy: Send + Sync {
    /// Assesses a sender for tickets of `face_value`.
    fn assess(&self, view: &SenderView<'_>, face_value: Wei) -> Risk;
}

impl<T> RiskPolicy for T
where
    T: Deref + Send + Sync,
    T::Target: RiskPolicy,
{
    fn assess(&self, view: &SenderView<'_>, face_value: Wei) -> Risk {
        self.deref().assess(view, face_value)
    }
}

/// The paper's "simple algorithm to start": if the sender's balance is too low, stop
/// working. Too low means the deposit plus this recipient's reserve share, less winners not
/// yet redeemed, cannot pay `min_winners` more winning tickets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DefaultRiskPolicy {
    /// How many further winners the balance must cover.
    pub min_winners: u64,
}

impl Default for DefaultRiskPolicy {
    fn default() -> Self {
        DefaultRiskPolicy { min_winners: 1 }
    }
}

impl RiskPolicy for DefaultRiskPolicy {
    fn assess(&self, view: &SenderView<'_>, face_value: Wei) -> Risk {
        if view.unlocking {
            return Risk::Stop(StopReason::Unlocking);
        }
        let available = view.funds.info.deposit + view.reserve_alloc - view.pending;
        let required = Wei(face_value.0.saturating_mul(U256::from(self.min_winners)));
        if available < required {
            return Risk::Stop(StopReason::LowBalance {
                available,
                required,
            });
        }
        Risk::Accept
    }
}

#[derive(Clone, Debug, Default)]
struct Tracked {
    funds: Option<SenderFunds>,
    pending: Wei,
}

/// Watches the funds of the senders a recipient works for.
#[derive(Clone, Debug, Default)]
pub struct SenderMonitor<P = DefaultRiskPolicy> {
    last_round: u64,
    senders: HashMap<Address, Tracked>,
    policy: P,
}

impl SenderMonitor<DefaultRiskPolicy> {
    /// A monitor with the default risk policy.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<P: RiskPolicy> SenderMonitor<P> {
    /// A monitor with `policy`.
    pub fn with_policy(policy: P) -> Self {
        SenderMonitor {
            last_round: 0,
            senders: HashMap::new(),
            policy,
        }
    }

    /// The last initialized round changed.
    pub fn handle_round(&mut self, last_initialized_round: u64) {
        self.last_round = last_initialized_round;
    }

    /// Fresh funds of `sender`.
    pub fn handle_funds(&mut self, sender: Address, funds: SenderFunds) {
        self.senders.entry(sender).or_default().funds = Some(funds);
    }

    /// The face value of `sender`'s winners not yet redeemed (from the redemption queue).
    pub fn set_pending(&mut self, sender: Address, pending: Wei) {
        self.senders.entry(sender).or_default().pending = pending;
    }

    /// Stops watching `sender`.
    pub fn forget(&mut self, sender: Address) {
        self.senders.remove(&sender);
    }

    /// The funds last read for `sender`.
    pub fn funds(&self, sender: Address) -> Option<&SenderFunds> {
        self.senders.get(&sender).and_then(|t| t.funds.as_ref())
    }

    /// Senders whose funds were never read, or read more than `max_age` blocks before
    /// `block`: read them with [`fetch_funds`] and hand them to
    /// [`SenderMonitor::handle_funds`].
    #[must_use]
    pub fn poll_stale(&self, block: u64, max_age: u64) -> Vec<Address> {
        let mut out: Vec<_> = self
            .senders
            .iter()
            .filter(|(_, t)| {
                t.funds
                    .as_ref()
                    .is_none_or(|f| block.saturating_sub(f.block) > max_age)
            })
            .map(|(a, _)| *a)
            .collect();
        out.sort();
        out
    }

    /// A view of `sender` for the risk policy; `None` when its funds were never read.
    pub fn view(&self, sender: Address) -> Option<SenderView<'_>> {
        let t = self.senders.get(&sender)?;
        let funds = t.funds.as_ref()?;
        let reserve_alloc = funds.reserve_alloc();
        // go-livepeer's rule: a deposit of three times the pending winners or more leaves the
        // whole reserve share as float; otherwise pending winners come off it.
        let covered = t.pending.is_zero() || funds.info.deposit.0 / t.pending.0 >= U256::from(3);
        let max_float = if covered {
            reserve_alloc
        } else {
            reserve_alloc - t.pending
        };
        let w = funds.info.withdraw_round;
        Some(SenderView {
            sender,
            funds,
            pending: t.pending,
            reserve_alloc,
            max_float,
            unlocking: w != 0 && w <= self.last_round.saturating_add(1),
        })
    }

    /// The most `sender`'s winners may be worth: the cap on the face value of new params.
    pub fn max_float(&self, sender: Address) -> Option<Wei> {
        self.view(sender).map(|v| v.max_float)
    }

    /// The recipient's sender check before it accepts tickets: funds known, not unlocking.
    pub fn validate_sender(&self, sender: Address) -> Result<(), TicketError> {
        match self.view(sender) {
            None => Err(TicketError::UnknownSender),
            Some(v) if v.unlocking => Err(TicketError::SenderUnlocking),
            Some(_) => Ok(()),
        }
    }

    /// Whether to work for `sender`, whose tickets are worth `face_value` when they win.
    pub fn assess(&self, sender: Address, face_value: Wei) -> Risk {
        match self.view(sender) {
            None => Risk::Stop(StopReason::Unknown),
            Some(v) => self.policy.assess(&v, face_value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn funds(
        deposit: u128,
        reserve: u128,
        claimed_round: u128,
        mine: u128,
        pool: u64,
    ) -> SenderFunds {
        SenderFunds::new(
            SenderInfo {
                deposit: Wei::from_u128(deposit),
                withdraw_round: 0,
                reserve_remaining: Wei::from_u128(reserve),
                reserve_claimed_this_round: Wei::from_u128(claimed_round),
            },
            Wei::from_u128(mine),
            pool,
            10,
        )
    }

    #[test]
    fn broker_claimable_replaces_the_equal_split() {
        let a = Address::repeat_byte(2);
        let mut m = SenderMonitor::new();
        // The equal split would give (900 + 100) / 4 − 50 = 200; the broker says 300 (its
        // sender names fewer recipients than the active set).
        m.handle_funds(
            a,
            funds(1000, 900, 100, 50, 4).with_claimable(Wei::from_u128(300)),
        );
        assert_eq!(m.max_float(a), Some(Wei::from_u128(300)));
        // A recipient the sender does not cover: no reserve share at all.
        m.handle_funds(a, funds(1000, 900, 100, 0, 4).with_claimable(Wei::ZERO));
        assert_eq!(m.max_float(a), Some(Wei::ZERO));
    }

    #[test]
    fn max_float_follows_go() {
        let a = Address::repeat_byte(1);
        let mut m = SenderMonitor::new();
        assert_eq!(m.max_float(a), None);
        assert_eq!(m.validate_sender(a), Err(TicketError::UnknownSender));
        // (900 + 100) / 4 − 50 = 200.
        m.handle_funds(a, funds(1000, 900, 100, 50, 4));
        assert_eq!(m.max_float(a), Some(Wei::from_u128(200)));
        // Deposit ≥ 3 × pending: the whole share.
        m.set_pending(a, Wei::from_u128(300));
        assert_eq!(m.max_float(a), Some(Wei::from_u128(200)));
        // Otherwise pending comes off, floored at zero.
        m.set_pending(a, Wei::from_u128(400));
        assert_eq!(m.max_float(a), Some(Wei::ZERO));
        m.set_pending(a, Wei::from_u128(340));
        assert_eq!(m.max_float(a), Some(Wei::ZERO));
        m.handle_funds(a, funds(1000, 4000, 0, 0, 4));
        assert_eq!(m.max_float(a), Some(Wei::from_u128(660)));
        m.handle_funds(a, funds(1000, 900, 100, 50, 0));
        assert_eq!(m.max_float(a), Some(Wei::ZERO));
    }

    #[test]
    fn unlocking_and_default_policy() {
        let a = Address::repeat_byte(1);
        let mut m = SenderMonitor::new();
        m.handle_round(10);
        let mut f = funds(1000, 400, 0, 0, 4);
        m.handle_funds(a, f.clone());
        m.validate_sender(a).unwrap();
        assert_eq!(m.assess(a, Wei::from_u128(1100)), Risk::Accept);
        assert!(matches!(
            m.assess(a, Wei::from_u128(1101)),
            Risk::Stop(StopReason::LowBalance { .. })
        ));
        m.set_pending(a, Wei::from_u128(600));
        assert!(matches!(
            m.assess(a, Wei::from_u128(600)),
            Risk::Stop(StopReason::LowBalance { .. })
        ));
        f.info.withdraw_round = 11;
        m.handle_funds(a, f.clone());
        assert_eq!(m.validate_sender(a), Err(TicketError::SenderUnlocking));
        assert_eq!(m.assess(a, Wei::ZERO), Risk::Stop(StopReason::Unlocking));
        f.info.withdraw_round = 12;
        m.handle_funds(a, f);
        m.validate_sender(a).unwrap();
        assert_eq!(
            m.assess(Address::zero(), Wei::ZERO),
            Risk::Stop(StopReason::Unknown)
        );
        assert!(m.poll_stale(10, 5).is_empty());
        assert_eq!(m.poll_stale(16, 5), vec![a]);
    }
}
