//! The redemption queue: winning tickets from persisted to paid, as a sans-IO state machine.
//!
//! ```text
//!  add_winners ──► Queued ──(params expired, gas worth it, unused)──► Sending ──► Sent ──► Redeemed
//!                    ▲  │                                               │          │
//!                    │  └──(validity closed, unused)──► Failed(Expired)  │          │
//!                    └──────(reverted / dropped / fate unknown and unused)┴──────────┘
//! ```
//!
//! The queue owns a [`Store`] and writes every transition as one atomic batch with
//! compare-and-set preconditions; it never calls the chain. Instead [`RedemptionQueue::poll_action`]
//! says what to ask or send next ([`Action`]) and the `handle_*` methods take the answers.
//! [`drive`] is a ready-made async driver over the core chain traits.
//!
//! **Polling rule:** once per block, build a [`ChainView`], then call `poll_action` and answer
//! each action until it returns `None`. Within one block every question is asked at most
//! once, so the loop always ends; an unanswered question is asked again the next block.
//!
//! **Crash safety.** A winner is persisted by [`RedemptionQueue::add_winners`] before the
//! segment that carried it is acknowledged. `Sending` is persisted *before* the redemption is
//! handed out, and a replacement's higher gas price before the replacement is; so after a
//! crash at any point the store either shows the transaction (and it is followed), or shows
//! `Sending` (its fate is unknown: the tickets are checked on chain with `is_ticket_used`).
//! When the backend tells the account nonce, every redemption is pinned to a nonce recorded
//! with `Sending`, and a send of unknown fate is replaced at that nonce with more gas, so it
//! can neither be duplicated nor leave a gap that stalls later transactions; otherwise it is
//! queued again once a grace period has passed with the tickets unused. A ticket is marked `Redeemed` only when a
//! mined, successful transaction or the chain's used flag says so, and the chain's flag makes
//! paying twice impossible. The worst a crash costs is a reverted duplicate transaction.

//!
//! **Store layout** (keys ASCII; addresses and hashes in lowercase hex without `0x`):
//!
//! | key | value |
//! |---|---|
//! | `pm/winner/<recipient>/<ticket hash>` | `0x01` ‖ postcard([`WinnerRecord`]) |
//! | `pm/meta/<recipient>/attempt` | `0x01` ‖ postcard(`u64`): the next attempt id |
//!
//! The leading byte is the format version; a record of another version is reported as
//! [`QueueError::Corrupt`] rather than misread. Every transition is one store batch whose
//! preconditions are the bytes last read for each key it rewrites, so two writers can never
//! both move a winner.

mod driver;
mod machine;
mod record;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use livepeer_core::chain::TxOptions;
use livepeer_core::store::Store;
use livepeer_core::ticket::WinningTicket;
use livepeer_core::{Address, H256, U256, Wei};
use tracing::debug;

pub use driver::{QueueChain, drive, drive_shared, read_view};
pub use record::{FailReason, SentTx, WinnerRecord, WinnerState};

use crate::error::QueueError;
use crate::recipient::Winner;
use record::{attempt_key, decode, encode, winner_key, winner_prefix};

/// Events kept for [`RedemptionQueue::poll_event`] at most.
pub const MAX_EVENTS: usize = 4096;

/// How the queue times and prices redemptions.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueConfig {
    /// Most winners of one sender redeemed by one transaction.
    pub max_batch: usize,
    /// Redeem when the face values are at least this many percent of the transaction cost
    /// (300: the cost is at most a third). In the last round of a winner's validity any
    /// profit will do.
    pub profit_factor_pct: u32,
    /// Replace a transaction still pending after this many blocks. When the round length is
    /// known ([`ChainView::round_length`]), never more than a quarter of the blocks left
    /// before the first of its tickets closes, so a stuck redemption is bumped several
    /// times before its tickets expire.
    pub replace_after_blocks: u64,
    /// A replacement pays this many percent more gas (11, as go-livepeer).
    pub gas_bump_pct: u32,
    /// Never pay more than this gas price (wei).
    pub max_gas_price: U256,
    /// Blocks to wait before re-sending winners whose transaction's fate is unknown (a crash
    /// or a transport error during the send, or a transaction the node no longer knows).
    /// Capped like `replace_after_blocks` by the blocks the tickets have left.
    pub unknown_grace_blocks: u64,
    /// Blocks to wait after a failed attempt; doubled with each further failure.
    pub backoff_blocks: u64,
    /// The longest backoff.
    pub max_backoff_blocks: u64,
    /// The gas limit sent is the estimate times this many percent.
    pub gas_limit_pct: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_batch: 16,
            profit_factor_pct: 300,
            replace_after_blocks: 10,
            gas_bump_pct: 11,
            max_gas_price: U256::from(1_000_000_000_000u64),
            unknown_grace_blocks: 20,
            backoff_blocks: 4,
            max_backoff_blocks: 256,
            gas_limit_pct: 120,
        }
    }
}

/// The chain as the queue needs to see it at one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainView {
    /// The current block.
    pub block: u64,
    /// The current round.
    pub round: u64,
    /// Rounds a ticket stays redeemable after its creation round.
    pub validity_rounds: u64,
    /// The current gas price (wei).
    pub gas_price: U256,
    /// The redeeming account's next nonce, pending transactions included; `None` when the
    /// backend cannot tell ([`livepeer_core::chain::TicketRedeemer::next_nonce`]).
    pub next_nonce: Option<u64>,
    /// Blocks per round (rounds start at multiples of it), when known: it lets the queue
    /// count the blocks a winner has left and retry well before it closes.
    pub round_length: Option<u64>,
}

impl ChainView {
    /// A view from its parts.
    pub fn new(block: u64, round: u64, validity_rounds: u64, gas_price: U256) -> Self {
        ChainView {
            block,
            round,
            validity_rounds,
            gas_price,
            next_nonce: None,
            round_length: None,
        }
    }

    /// The view with the round length.
    pub fn with_round_length(mut self, blocks: Option<u64>) -> Self {
        self.round_length = blocks.filter(|b| *b > 0);
        self
    }

    /// The view with the redeeming account's next nonce.
    pub fn with_next_nonce(mut self, nonce: Option<u64>) -> Self {
        self.next_nonce = nonce;
        self
    }
}

/// What the queue needs done next. Answer each with the `handle_*` method it names.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Ask `is_ticket_used` for each ticket; answer with [`RedemptionQueue::handle_used`].
    CheckUsed {
        /// The tickets.
        tickets: Vec<WinningTicket>,
    },
    /// Ask `tx_status` for each transaction; answer with
    /// [`RedemptionQueue::handle_tx_status`].
    CheckTx {
        /// The attempt.
        attempt: u64,
        /// Every hash the attempt was sent under.
        txs: Vec<livepeer_core::chain::PendingTx>,
    },
    /// Ask `estimate_redeem_gas` for these tickets together; answer with
    /// [`RedemptionQueue::handle_estimate`].
    EstimateGas {
        /// The tickets.
        tickets: Vec<WinningTicket>,
    },
    /// Send one transaction redeeming `tickets` with `opts` (already persisted as sending);
    /// answer with [`RedemptionQueue::handle_sent`].
    Redeem {
        /// The attempt.
        attempt: u64,
        /// The tickets, all of one sender.
        tickets: Vec<WinningTicket>,
        /// Gas price, limit, and the nonce when this replaces a pending transaction.
        opts: TxOptions,
    },
}

/// Something that happened to a winner, for logs and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueEvent {
    /// A winner was persisted.
    Queued {
        /// Its ticket hash.
        ticket: H256,
    },
    /// A redemption transaction was sent (or replaced).
    Sent {
        /// The attempt.
        attempt: u64,
        /// The transaction hash.
        tx: H256,
        /// The tickets it redeems.
        tickets: Vec<H256>,
    },
    /// The ticket is paid.
    Redeemed {
        /// Its ticket hash.
        ticket: H256,
        /// The transaction, when known.
        tx: Option<H256>,
    },
    /// The ticket goes back to the queue (reverted, dropped, or its send's fate unknown).
    Requeued {
        /// Its ticket hash.
        ticket: H256,
    },
    /// The ticket was given up.
    Failed {
        /// Its ticket hash.
        ticket: H256,
        /// Why.
        reason: FailReason,
    },
}

#[derive(Clone, Debug)]
struct Entry {
    rec: WinnerRecord,
    raw: Vec<u8>,
}

/// A gas estimate for one group of winners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Estimate {
    Asked,
    Gas(u64),
    Failed,
}

/// Per-block bookkeeping of questions asked, so each is asked once per block. It is only
/// ever read for the current block and is emptied when the block changes.
#[derive(Clone, Debug, Default)]
struct Asked {
    block: u64,
    used: HashMap<H256, u64>,
    unused_at: HashMap<H256, u64>,
    tx: HashMap<u64, u64>,
    estimates: HashMap<Vec<H256>, (u64, Estimate)>,
    split: HashMap<Address, u64>,
}

/// Winning tickets from persisted to paid. See the [module docs](self).
#[derive(Debug)]
pub struct RedemptionQueue<St> {
    store: St,
    recipient: Address,
    config: QueueConfig,
    records: BTreeMap<H256, Entry>,
    next_attempt: u64,
    attempt_raw: Option<Vec<u8>>,
    in_flight: HashSet<u64>,
    nonce_cursor: Option<u64>,
    outbox: VecDeque<Action>,
    asked: Asked,
    events: VecDeque<QueueEvent>,
}

/// Every record of `recipient` in `store`, with the attempt counter and its raw bytes.
#[allow(clippy::type_complexity)]
fn load<St: Store>(
    store: &St,
    recipient: &Address,
) -> Result<(BTreeMap<H256, Entry>, u64, Option<Vec<u8>>), QueueError> {
    let mut records = BTreeMap::new();
    for (key, raw) in store.scan_prefix(&winner_prefix(recipient), usize::MAX)? {
        let rec: WinnerRecord = decode(&key, &raw)?;
        records.insert(rec.hash(), Entry { rec, raw });
    }
    let akey = attempt_key(recipient);
    let attempt_raw = store.get(&akey)?;
    let next_attempt = match &attempt_raw {
        Some(raw) => decode(&akey, raw)?,
        None => 1,
    };
    Ok((records, next_attempt, attempt_raw))
}

impl<St: Store> RedemptionQueue<St> {
    /// Opens the queue of `recipient` in `store`, loading every record. Winners found
    /// `Sending` were being sent when the process stopped; they are reconciled with the chain
    /// before anything else is sent for them.
    pub fn open(store: St, recipient: Address, config: QueueConfig) -> Result<Self, QueueError> {
        let (records, next_attempt, attempt_raw) = load(&store, &recipient)?;
        debug!(
            ?recipient,
            winners = records.len(),
            "redemption queue opened"
        );
        Ok(RedemptionQueue {
            store,
            recipient,
            config,
            records,
            next_attempt,
            attempt_raw,
            in_flight: HashSet::new(),
            nonce_cursor: None,
            outbox: VecDeque::new(),
            asked: Asked::default(),
            events: VecDeque::new(),
        })
    }

    /// Reads every record from the store again, as [`RedemptionQueue::open`] does. Call it
    /// after a store failure of unknown outcome (a commit that failed at its last step may
    /// have landed): memory then agrees with the store again, and no later batch fails on a
    /// precondition that memory got wrong. What was in flight is reconciled with the chain as
    /// after a restart.
    pub fn reload(&mut self) -> Result<(), QueueError> {
        let (records, next_attempt, attempt_raw) = load(&self.store, &self.recipient)?;
        self.records = records;
        self.next_attempt = next_attempt;
        self.attempt_raw = attempt_raw;
        self.in_flight.clear();
        self.outbox.clear();
        self.asked = Asked::default();
        Ok(())
    }

    /// The recipient whose winners these are.
    pub fn recipient(&self) -> Address {
        self.recipient
    }

    /// The store.
    pub fn store(&self) -> &St {
        &self.store
    }

    /// Persists winners (one atomic batch) and returns how many were new; a winner already
    /// known is left as it is. Call it, and see it succeed, before acknowledging the segment
    /// that carried them.
    pub fn add_winners(&mut self, block: u64, winners: &[Winner]) -> Result<usize, QueueError> {
        let mut changes = Vec::new();
        let mut seen = HashSet::new();
        for w in winners {
            if w.ticket.ticket.recipient != self.recipient {
                return Err(QueueError::WrongRecipient);
            }
            let hash = w.ticket.ticket.hash();
            if self.records.contains_key(&hash) || !seen.insert(hash) {
                continue;
            }
            let state = if w.ticket.ticket.aux_data().is_empty() {
                WinnerState::Failed {
                    reason: FailReason::Unredeemable,
                    block,
                }
            } else {
                WinnerState::Queued { not_before: 0 }
            };
            changes.push(WinnerRecord {
                winner: w.clone(),
                state,
                failures: 0,
                added_block: block,
            });
        }
        let n = changes.len();
        self.commit(changes, false)?;
        Ok(n)
    }

    /// The next event, if any. Events are kept until polled, the oldest dropped past
    /// [`MAX_EVENTS`].
    pub fn poll_event(&mut self) -> Option<QueueEvent> {
        self.events.pop_front()
    }

    /// Every record, by ticket hash.
    pub fn records(&self) -> impl Iterator<Item = &WinnerRecord> {
        self.records.values().map(|e| &e.rec)
    }

    /// One record.
    pub fn record(&self, ticket: &H256) -> Option<&WinnerRecord> {
        self.records.get(ticket).map(|e| &e.rec)
    }

    /// Face value of the winners of each sender that are not paid yet: what the sender
    /// monitor subtracts from the max float.
    pub fn pending_by_sender(&self) -> BTreeMap<Address, Wei> {
        let mut out = BTreeMap::new();
        for e in self.records.values().filter(|e| e.rec.state.is_pending()) {
            let v: &mut Wei = out.entry(e.rec.sender()).or_default();
            *v = *v + e.rec.face_value();
        }
        out
    }

    /// Deletes redeemed and failed records settled before `block`; returns how many.
    pub fn prune_settled(&mut self, block: u64) -> Result<usize, QueueError> {
        let old: Vec<H256> =
            self.records
                .iter()
                .filter(|(_, e)| match e.rec.state {
                    WinnerState::Redeemed { block: b, .. }
                    | WinnerState::Failed { block: b, .. } => b < block,
                    _ => false,
                })
                .map(|(h, _)| *h)
                .collect();
        let mut batch = livepeer_core::Batch::new();
        for h in &old {
            let key = winner_key(&self.recipient, h);
            batch.expect(key.clone(), Some(&self.records[h].raw));
            batch.delete(key);
        }
        if !batch.is_empty() {
            self.store.commit(batch)?;
        }
        for h in &old {
            self.records.remove(h);
        }
        Ok(old.len())
    }

    /// Writes `changes` (and, with `bump_attempt`, the attempt counter) as one atomic batch
    /// conditioned on the bytes last read, then updates memory. Nothing changes on error.
    fn commit(&mut self, changes: Vec<WinnerRecord>, bump_attempt: bool) -> Result<(), QueueError> {
        if changes.is_empty() && !bump_attempt {
            return Ok(());
        }
        let mut batch = livepeer_core::Batch::new();
        let mut staged = Vec::with_capacity(changes.len());
        for rec in changes {
            let hash = rec.hash();
            let key = winner_key(&self.recipient, &hash);
            let raw = encode(&rec);
            batch.expect(
                key.clone(),
                self.records.get(&hash).map(|e| e.raw.as_slice()),
            );
            batch.put(key, raw.clone());
            staged.push((hash, Entry { rec, raw }));
        }
        let attempt_raw = if bump_attempt {
            let key = attempt_key(&self.recipient);
            let raw = encode(&self.next_attempt.saturating_add(1));
            batch.expect(key.clone(), self.attempt_raw.as_deref());
            batch.put(key, raw.clone());
            Some(raw)
        } else {
            None
        };
        self.store.commit(batch)?;
        if let Some(raw) = attempt_raw {
            self.next_attempt = self.next_attempt.saturating_add(1);
            self.attempt_raw = Some(raw);
        }
        for (hash, entry) in staged {
            let event = match &entry.rec.state {
                WinnerState::Queued { .. } if !self.records.contains_key(&hash) => {
                    Some(QueueEvent::Queued { ticket: hash })
                }
                WinnerState::Queued { .. } => Some(QueueEvent::Requeued { ticket: hash }),
                WinnerState::Redeemed { tx, .. } => Some(QueueEvent::Redeemed {
                    ticket: hash,
                    tx: *tx,
                }),
                WinnerState::Failed { reason, .. } => Some(QueueEvent::Failed {
                    ticket: hash,
                    reason: *reason,
                }),
                _ => None,
            };
            self.push_event(event);
            self.records.insert(hash, entry);
        }
        Ok(())
    }

    fn push_event(&mut self, event: Option<QueueEvent>) {
        if let Some(e) = event {
            if self.events.len() >= MAX_EVENTS {
                self.events.pop_front();
            }
            self.events.push_back(e);
        }
    }
}
