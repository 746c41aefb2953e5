//! The queue's decisions: what to ask or send next, and what each answer changes.

use std::collections::BTreeMap;

use livepeer_core::chain::{ChainError, PendingTx, TxOptions, TxStatus};
use livepeer_core::store::Store;
use livepeer_core::ticket::WinningTicket;
use livepeer_core::{Address, H256, U256};
use tracing::{debug, info, warn};

use super::record::{FailReason, SentTx, WinnerRecord, WinnerState};
use super::{Action, ChainView, Estimate, QueueEvent, RedemptionQueue};
use crate::error::QueueError;

/// Sends tried at one pinned nonce before the winners go back to the queue for a fresh one.
const MAX_PINNED_TRIES: u32 = 4;

/// Where a ticket's used flag stands at the current block.
enum Used {
    /// Answered unused this block.
    Unused,
    /// Asked this block, not answered (or the answer failed).
    Waiting,
    /// Not asked this block.
    Ask,
}

/// Whether a failed send certainly did not leave (so re-sending cannot duplicate it).
fn definitely_not_sent(e: &ChainError) -> bool {
    matches!(
        e,
        ChainError::Reverted { .. }
            | ChainError::InsufficientFunds
            | ChainError::NotFound(_)
            | ChainError::WrongChain { .. }
            | ChainError::UnexpectedCode { .. }
    )
}

impl<St: Store> RedemptionQueue<St> {
    fn closed(&self, rec: &WinnerRecord, view: &ChainView) -> bool {
        view.round >= rec.closes_at_round(view.validity_rounds)
    }

    fn in_last_round(&self, rec: &WinnerRecord, view: &ChainView) -> bool {
        view.round.saturating_add(1) >= rec.closes_at_round(view.validity_rounds)
    }

    /// Blocks left before the first of `hashes` closes, when the round length is known.
    fn blocks_left(&self, hashes: &[H256], view: &ChainView) -> Option<u64> {
        let len = view.round_length?;
        hashes
            .iter()
            .filter_map(|h| self.records.get(h))
            .map(|e| {
                e.rec
                    .closes_at_round(view.validity_rounds)
                    .saturating_mul(len)
                    .saturating_sub(view.block)
            })
            .min()
    }

    /// `wait` blocks, but never more than a quarter of the blocks the first of `hashes` to
    /// close has left (at least one): a redemption stuck, replaced or dropped is retried
    /// several times before its tickets expire, whatever the configured waits.
    fn patience(&self, wait: u64, hashes: &[H256], view: &ChainView) -> u64 {
        match self.blocks_left(hashes, view) {
            Some(left) => wait.min((left / 4).max(1)),
            None => wait,
        }
    }

    fn backoff(&self, failures: u32) -> u64 {
        let shift = failures.saturating_sub(1).min(16);
        (self.config.backoff_blocks.saturating_mul(1 << shift)).min(self.config.max_backoff_blocks)
    }

    /// The price for a replacement of a transaction sent at `old`: `gas_bump_pct` more (at
    /// least one wei more), or the market price if higher, never above the cap.
    fn bumped(&self, old: U256, view: &ChainView) -> U256 {
        let cap = self.config.max_gas_price;
        let bump = old.saturating_mul(U256::from(self.config.gas_bump_pct)) / U256::from(100u8);
        let bumped = old.saturating_add(bump.max(U256::one()));
        bumped.max(view.gas_price.min(cap)).min(cap)
    }

    /// Notes that `nonce` is (or may be) taken.
    fn take_nonce(&mut self, nonce: u64) {
        let next = nonce.saturating_add(1);
        self.nonce_cursor = Some(self.nonce_cursor.map_or(next, |c| c.max(next)));
    }

    fn used_state(&self, h: &H256, block: u64) -> Used {
        if self.asked.unused_at.get(h) == Some(&block) {
            Used::Unused
        } else if self.asked.used.get(h) == Some(&block) {
            Used::Waiting
        } else {
            Used::Ask
        }
    }

    fn tickets(&self, hashes: &[H256]) -> Vec<WinningTicket> {
        hashes
            .iter()
            .filter_map(|h| self.records.get(h))
            .map(|e| e.rec.winner.ticket.clone())
            .collect()
    }

    /// Asks the used flag of those of `hashes` not asked this block. `Ok(None)` when every
    /// one was answered unused; `Err(())` when some answer is still awaited.
    fn ask_used(&mut self, hashes: &[H256], block: u64) -> Result<Option<Action>, ()> {
        let mut ask = Vec::new();
        let mut waiting = false;
        for h in hashes {
            match self.used_state(h, block) {
                Used::Unused => {}
                Used::Waiting => waiting = true,
                Used::Ask => ask.push(*h),
            }
        }
        if !ask.is_empty() {
            for h in &ask {
                self.asked.used.insert(*h, block);
            }
            return Ok(Some(Action::CheckUsed {
                tickets: self.tickets(&ask),
            }));
        }
        if waiting { Err(()) } else { Ok(None) }
    }

    fn with_state(&self, h: &H256, state: WinnerState, failed: bool) -> Option<WinnerRecord> {
        let mut rec = self.records.get(h)?.rec.clone();
        rec.state = state;
        if failed {
            rec.failures = rec.failures.saturating_add(1);
        }
        Some(rec)
    }

    /// The records of `hashes` moved to `state` (and one more failure when `failed`).
    fn moved(&self, hashes: &[H256], state: &WinnerState, failed: bool) -> Vec<WinnerRecord> {
        hashes
            .iter()
            .filter_map(|h| self.with_state(h, state.clone(), failed))
            .collect()
    }

    fn requeue(&self, hashes: &[H256], block: u64, failed: bool) -> Vec<WinnerRecord> {
        hashes
            .iter()
            .filter_map(|h| {
                let failures = self
                    .records
                    .get(h)?
                    .rec
                    .failures
                    .saturating_add(u32::from(failed));
                let not_before = if failed {
                    block.saturating_add(self.backoff(failures))
                } else {
                    block
                };
                self.with_state(h, WinnerState::Queued { not_before }, failed)
            })
            .collect()
    }

    /// Pending winners grouped by attempt, for those in `Sending` (`sending = true`) or
    /// `Sent`, leaving out attempts whose send is in flight.
    fn attempts(&self, sending: bool, view: &ChainView) -> BTreeMap<u64, Vec<H256>> {
        let mut out: BTreeMap<u64, Vec<H256>> = BTreeMap::new();
        for (h, e) in &self.records {
            let a = match (&e.rec.state, sending) {
                (WinnerState::Sending { attempt, .. }, true)
                | (WinnerState::Sent { attempt, .. }, false) => *attempt,
                _ => continue,
            };
            if !self.in_flight.contains(&a) && !self.closed(&e.rec, view) {
                out.entry(a).or_default().push(*h);
            }
        }
        out
    }

    /// What to ask or send next at `view`, or `None` when nothing is left for this block.
    /// May write to the store (a winner given up, a redemption about to be sent).
    #[must_use = "an action must be carried out and answered"]
    pub fn poll_action(&mut self, view: &ChainView) -> Result<Option<Action>, QueueError> {
        if let Some(a) = self.outbox.pop_front() {
            return Ok(Some(a));
        }
        let block = view.block;
        if self.asked.block != block {
            self.asked = super::Asked {
                block,
                ..Default::default()
            };
        }

        // 1. Winners whose validity closed: paid if the chain says used, else given up.
        let closed: Vec<H256> = self
            .records
            .iter()
            .filter(|(_, e)| e.rec.state.is_pending() && self.closed(&e.rec, view))
            .filter(|(_, e)| {
                e.rec
                    .state
                    .attempt()
                    .is_none_or(|a| !self.in_flight.contains(&a))
            })
            .map(|(h, _)| *h)
            .collect();
        if !closed.is_empty() {
            let unused: Vec<H256> = closed
                .iter()
                .filter(|h| matches!(self.used_state(h, block), Used::Unused))
                .copied()
                .collect();
            let expired = WinnerState::Failed {
                reason: FailReason::Expired,
                block,
            };
            let give_up = self.moved(&unused, &expired, false);
            if !give_up.is_empty() {
                warn!(count = give_up.len(), "winning tickets expired unredeemed");
                self.commit(give_up, false)?;
            }
            if let Ok(Some(a)) = self.ask_used(&closed, block) {
                return Ok(Some(a));
            }
        }

        // 2. Sent transactions: where do they stand?
        for (attempt, hashes) in self.attempts(false, view) {
            if self.asked.tx.get(&attempt) == Some(&block) {
                continue;
            }
            let Some(WinnerState::Sent { tx, .. }) =
                self.records.get(&hashes[0]).map(|e| &e.rec.state)
            else {
                continue;
            };
            let txs = tx
                .hashes
                .iter()
                .map(|hash| PendingTx {
                    hash: *hash,
                    nonce: tx.nonce,
                    gas_price: tx.gas_price,
                })
                .collect();
            self.asked.tx.insert(attempt, block);
            return Ok(Some(Action::CheckTx { attempt, txs }));
        }

        // 3. Sends of unknown fate. Used means paid. Otherwise a send pinned to a nonce is
        //    repeated at that nonce with more gas (replacing the first, if it left) when it
        //    would have been replaced anyway; an unpinned one goes back to the queue after the
        //    grace period. In the last round of validity, at once.
        for (attempt, hashes) in self.attempts(true, view) {
            match self.ask_used(&hashes, block) {
                Ok(Some(a)) => return Ok(Some(a)),
                Err(()) => continue,
                Ok(None) => {}
            }
            let Some(WinnerState::Sending {
                block: since,
                nonce,
                gas_price,
                tries,
                ..
            }) = self.records.get(&hashes[0]).map(|e| e.rec.state.clone())
            else {
                continue;
            };
            let urgent = hashes
                .iter()
                .filter_map(|h| self.records.get(h))
                .any(|e| self.in_last_round(&e.rec, view));
            let grace = self.patience(self.config.unknown_grace_blocks, &hashes, view);
            let grace_over = block >= since.saturating_add(grace);
            let Some(n) = nonce else {
                if urgent || grace_over {
                    info!(
                        count = hashes.len(),
                        "re-queueing winners of a send of unknown fate"
                    );
                    let changes = self.requeue(&hashes, block, false);
                    self.commit(changes, false)?;
                }
                continue;
            };
            let replace_after = self.patience(self.config.replace_after_blocks, &hashes, view);
            if !urgent && block < since.saturating_add(replace_after) {
                continue;
            }
            let price = self.bumped(gas_price, view);
            if price <= gas_price && !urgent && !grace_over {
                continue;
            }
            let state = WinnerState::Sending {
                attempt,
                block,
                nonce,
                gas_price: price,
                tries: tries.saturating_add(1),
            };
            let changes = self.moved(&hashes, &state, false);
            // The new price is on disk before the send can leave.
            self.commit(changes, false)?;
            info!(attempt, nonce = n, %price, "re-sending a redemption of unknown fate");
            self.in_flight.insert(attempt);
            return Ok(Some(Action::Redeem {
                attempt,
                tickets: self.tickets(&hashes),
                opts: TxOptions {
                    gas_price: Some(price),
                    nonce: Some(n),
                    gas_limit: None,
                },
            }));
        }

        // 4. Queued winners whose params expired: per sender, oldest first, in batches.
        let mut by_sender: BTreeMap<Address, Vec<(u64, H256)>> = BTreeMap::new();
        for (h, e) in &self.records {
            if let WinnerState::Queued { not_before } = e.rec.state
                && not_before <= block
                && block > e.rec.winner.params_expiration_block
                && !self.closed(&e.rec, view)
            {
                by_sender
                    .entry(e.rec.sender())
                    .or_default()
                    .push((e.rec.added_block, *h));
            }
        }
        for (sender, mut list) in by_sender {
            list.sort();
            let hashes: Vec<H256> = list.into_iter().map(|(_, h)| h).collect();
            let size = if self.asked.split.get(&sender) == Some(&block) {
                1
            } else {
                self.config.max_batch.max(1)
            };
            for group in hashes.chunks(size) {
                if let Some(a) = self.try_group(view, group)? {
                    return Ok(Some(a));
                }
            }
        }
        Ok(None)
    }

    /// Estimates, prices, checks and (when worth it) sends one group of one sender's winners.
    fn try_group(
        &mut self,
        view: &ChainView,
        group: &[H256],
    ) -> Result<Option<Action>, QueueError> {
        let block = view.block;
        let gas = match self.asked.estimates.get(group) {
            Some((b, Estimate::Gas(g))) if *b == block => *g,
            Some((b, Estimate::Asked)) if *b == block => return Ok(None),
            Some((b, Estimate::Failed)) if *b == block => {
                // A ticket that cannot be redeemed may be one that already was.
                match self.ask_used(group, block) {
                    Ok(Some(a)) => return Ok(Some(a)),
                    Err(()) => return Ok(None),
                    Ok(None) => {}
                }
                if group.len() == 1 {
                    let changes = self.requeue(group, block, true);
                    self.commit(changes, false)?;
                }
                return Ok(None);
            }
            _ => {
                self.asked
                    .estimates
                    .insert(group.to_vec(), (block, Estimate::Asked));
                return Ok(Some(Action::EstimateGas {
                    tickets: self.tickets(group),
                }));
            }
        };
        let price = view.gas_price.min(self.config.max_gas_price);
        let cost = price.saturating_mul(U256::from(gas));
        let mut value = U256::zero();
        let mut urgent = false;
        for e in group.iter().filter_map(|h| self.records.get(h)) {
            value = value.saturating_add(e.rec.face_value().0);
            urgent |= self.in_last_round(&e.rec, view);
        }
        let worth = value.full_mul(U256::from(100u8))
            >= cost.full_mul(U256::from(self.config.profit_factor_pct))
            || (urgent && value > cost);
        if !worth {
            debug!(%value, %cost, "waiting for cheaper gas");
            return Ok(None);
        }
        match self.ask_used(group, block) {
            Ok(Some(a)) => return Ok(Some(a)),
            Err(()) => return Ok(None),
            Ok(None) => {}
        }
        let attempt = self.next_attempt;
        let nonce = view
            .next_nonce
            .map(|n| n.max(self.nonce_cursor.unwrap_or(0)));
        let state = WinnerState::Sending {
            attempt,
            block,
            nonce,
            gas_price: price,
            tries: 1,
        };
        let changes = self.moved(group, &state, false);
        self.commit(changes, true)?;
        self.in_flight.insert(attempt);
        let limit = U256::from(gas) * U256::from(self.config.gas_limit_pct) / U256::from(100u8);
        Ok(Some(Action::Redeem {
            attempt,
            tickets: self.tickets(group),
            opts: TxOptions {
                gas_price: Some(price),
                nonce,
                gas_limit: Some(limit.low_u64().max(gas)),
            },
        }))
    }

    /// Answers [`Action::CheckUsed`]: `(ticket hash, is_ticket_used)` for each ticket.
    pub fn handle_used(
        &mut self,
        view: &ChainView,
        answers: Vec<(H256, Result<bool, ChainError>)>,
    ) -> Result<(), QueueError> {
        let mut changes = Vec::new();
        for (h, r) in answers {
            match r {
                Ok(true) => {
                    let Some(e) = self.records.get(&h).filter(|e| e.rec.state.is_pending()) else {
                        continue;
                    };
                    let tx = match &e.rec.state {
                        WinnerState::Sent { tx, .. } => tx.hashes.last().copied(),
                        _ => None,
                    };
                    let state = WinnerState::Redeemed {
                        tx,
                        block: view.block,
                    };
                    changes.extend(self.with_state(&h, state, false));
                }
                Ok(false) => {
                    self.asked.unused_at.insert(h, view.block);
                }
                Err(e) => debug!(error = %e, "is_ticket_used failed; asking again next block"),
            }
        }
        self.commit(changes, false)
    }

    /// Answers [`Action::EstimateGas`] for `tickets`.
    pub fn handle_estimate(
        &mut self,
        view: &ChainView,
        tickets: &[WinningTicket],
        result: Result<u64, ChainError>,
    ) {
        let key: Vec<H256> = tickets.iter().map(|t| t.ticket.hash()).collect();
        match result {
            Ok(gas) => {
                self.asked
                    .estimates
                    .insert(key, (view.block, Estimate::Gas(gas)));
            }
            Err(e) => {
                debug!(error = %e, tickets = key.len(), "redemption gas estimate failed");
                // One bad ticket must not hold up the others: try them one by one.
                if let (2.., Some(t)) = (key.len(), tickets.first()) {
                    self.asked.split.insert(t.ticket.sender, view.block);
                }
                self.asked
                    .estimates
                    .insert(key, (view.block, Estimate::Failed));
            }
        }
    }

    /// Answers [`Action::Redeem`] with what `send_redeem` returned.
    pub fn handle_sent(
        &mut self,
        view: &ChainView,
        attempt: u64,
        result: Result<PendingTx, ChainError>,
    ) -> Result<(), QueueError> {
        self.in_flight.remove(&attempt);
        let members: Vec<H256> = self
            .records
            .iter()
            .filter(|(_, e)| e.rec.state.attempt() == Some(attempt))
            .map(|(h, _)| *h)
            .collect();
        let Some(first) = members.first().and_then(|h| self.records.get(h)) else {
            return Ok(());
        };
        let mut event = None;
        let changes = match (&first.rec.state, result) {
            (WinnerState::Sending { .. }, Ok(p)) => {
                self.take_nonce(p.nonce);
                let tx = SentTx {
                    nonce: p.nonce,
                    gas_price: p.gas_price,
                    hashes: vec![p.hash],
                    sent_block: view.block,
                    bumped_block: view.block,
                };
                event = Some(QueueEvent::Sent {
                    attempt,
                    tx: p.hash,
                    tickets: members.clone(),
                });
                self.moved(&members, &WinnerState::Sent { attempt, tx }, false)
            }
            (WinnerState::Sending { tries, .. }, Err(e)) if definitely_not_sent(&e) => {
                if *tries <= 1 || *tries >= MAX_PINNED_TRIES {
                    warn!(attempt, error = %e, "redemption refused; backing off");
                    self.requeue(&members, view.block, true)
                } else {
                    // A repeat at a pinned nonce was refused: the first send may be pending
                    // at a price the repeat did not beat. Wait, then try higher.
                    debug!(attempt, error = %e, "repeat of a redemption refused");
                    let mut state = first.rec.state.clone();
                    if let WinnerState::Sending { block, .. } = &mut state {
                        *block = view.block;
                    }
                    self.moved(&members, &state, true)
                }
            }
            (WinnerState::Sending { nonce: Some(n), .. }, Err(e)) => {
                // It may have left: its nonce is not handed to anything else.
                debug!(attempt, error = %e, "redemption send failed; fate unknown");
                let n = *n;
                self.take_nonce(n);
                Vec::new()
            }
            (WinnerState::Sent { tx, .. }, Ok(p)) => {
                let mut tx = tx.clone();
                if !tx.hashes.contains(&p.hash) {
                    tx.hashes.push(p.hash);
                }
                tx.gas_price = p.gas_price;
                event = Some(QueueEvent::Sent {
                    attempt,
                    tx: p.hash,
                    tickets: members.clone(),
                });
                self.moved(&members, &WinnerState::Sent { attempt, tx }, false)
            }
            // A send that may have left, or a replacement that failed: the store keeps what it
            // knows and the next checks settle it.
            (_, Err(e)) => {
                debug!(attempt, error = %e, "redemption send failed; fate unknown");
                Vec::new()
            }
            _ => Vec::new(),
        };
        self.commit(changes, false)?;
        self.push_event(event);
        Ok(())
    }

    /// Answers [`Action::CheckTx`]: `(hash, tx_status)` for each hash of the attempt.
    pub fn handle_tx_status(
        &mut self,
        view: &ChainView,
        attempt: u64,
        answers: Vec<(H256, Result<TxStatus, ChainError>)>,
    ) -> Result<(), QueueError> {
        let members: Vec<H256> = self
            .records
            .iter()
            .filter(|(_, e)| matches!(&e.rec.state, WinnerState::Sent { attempt: a, .. } if *a == attempt))
            .map(|(h, _)| *h)
            .collect();
        let Some(WinnerState::Sent { tx, .. }) = members
            .first()
            .and_then(|h| self.records.get(h))
            .map(|e| e.rec.state.clone())
        else {
            return Ok(());
        };
        let block = view.block;
        let mined_ok = answers.iter().find_map(|(h, r)| match r {
            Ok(TxStatus::Mined {
                success: true,
                block,
                ..
            }) => Some((*h, *block)),
            _ => None,
        });
        let reverted = answers
            .iter()
            .any(|(_, r)| matches!(r, Ok(TxStatus::Mined { success: false, .. })));
        let pending = answers
            .iter()
            .any(|(_, r)| matches!(r, Ok(TxStatus::Pending)));
        let all_gone = answers
            .iter()
            .all(|(_, r)| matches!(r, Ok(TxStatus::NotFound)));

        let changes = if let Some((hash, mined)) = mined_ok {
            let state = WinnerState::Redeemed {
                tx: Some(hash),
                block: mined,
            };
            self.moved(&members, &state, false)
        } else if reverted {
            warn!(attempt, "redemption reverted; re-queueing");
            self.requeue(&members, block, true)
        } else if pending {
            let replace_after = self.patience(self.config.replace_after_blocks, &members, view);
            if block < tx.bumped_block.saturating_add(replace_after) {
                return Ok(());
            }
            let price = self.bumped(tx.gas_price, view);
            if price <= tx.gas_price {
                return Ok(());
            }
            let mut next = tx.clone();
            next.gas_price = price;
            next.bumped_block = block;
            let changes = self.moved(&members, &WinnerState::Sent { attempt, tx: next }, false);
            // The higher price is on disk before the replacement can leave.
            self.commit(changes, false)?;
            info!(attempt, %price, "replacing a stuck redemption");
            self.in_flight.insert(attempt);
            self.outbox.push_back(Action::Redeem {
                attempt,
                tickets: self.tickets(&members),
                opts: TxOptions {
                    gas_price: Some(price),
                    nonce: Some(tx.nonce),
                    gas_limit: None,
                },
            });
            return Ok(());
        } else if all_gone
            && block
                >= tx.bumped_block.saturating_add(self.patience(
                    self.config.unknown_grace_blocks,
                    &members,
                    view,
                ))
        {
            info!(attempt, "redemption dropped; re-queueing");
            self.requeue(&members, block, false)
        } else {
            Vec::new()
        };
        self.commit(changes, false)
    }
}
