//! [`TestChain`]: an in-memory ticket broker with a mempool and contract rules.
//!
//! It stands in for the chain backends until `livepeer-contracts` provides them. It
//! follows the TicketBroker's rules at mining time: recipient, auxData validity, unused,
//! signature, commitment, win, funds (all or nothing, as post-#657), then marks the tickets
//! used and pays from the deposit first, then the reserve. Batches pay all or revert.
//! Transactions sit in a mempool until [`TestChain::mine`]; those priced under the inclusion
//! price stay there, and one with the same account nonce and a price at least 10% higher
//! replaces its predecessor.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use livepeer_core::chain::{
    ChainError, GasPriceEstimator, PendingTx, RoundInfo, SenderInfo, TicketBrokerReader,
    TicketRedeemer, TxOptions, TxStatus,
};
use livepeer_core::ticket::{WinningTicket, is_winning, recipient_rand_hash};
use livepeer_core::{Address, H256, U256, Wei, keccak256};

use crate::params::ExpirationParams;

/// A fault injected into the next `send_redeem`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendFault {
    /// The transaction is not sent and the call fails with a transport error.
    Lost,
    /// The transaction is sent, but the call fails with a transport error.
    SentButFailed,
}

/// One payout: a ticket paid to a recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Payout {
    /// The ticket hash.
    pub ticket: H256,
    /// Who was paid.
    pub recipient: Address,
    /// How much.
    pub amount: Wei,
}

#[derive(Clone, Debug)]
struct Tx {
    hash: H256,
    from: Address,
    gas_price: U256,
    tickets: Vec<WinningTicket>,
}

#[derive(Debug)]
struct State {
    block: u64,
    round_length: u64,
    validity_rounds: u64,
    pool_size: u64,
    gas_price: U256,
    inclusion_price: U256,
    senders: HashMap<Address, SenderInfo>,
    used: HashSet<H256>,
    payouts: Vec<Payout>,
    account_nonce: HashMap<Address, u64>,
    mempool: BTreeMap<(Address, u64), Tx>,
    mined: HashMap<H256, TxStatus>,
    tx_counter: u64,
    faults: VecDeque<SendFault>,
    sends: u64,
    reverts: u64,
    tells_nonces: bool,
}

/// An in-memory ticket broker, rounds manager and gas oracle; clones share one chain, each
/// acting as its own account ([`TestChain::as_account`]).
#[derive(Clone, Debug)]
pub struct TestChain {
    state: Arc<Mutex<State>>,
    me: Address,
}

impl Default for TestChain {
    fn default() -> Self {
        Self::new()
    }
}

/// Gas a redemption of `n` tickets costs on the test chain.
pub fn test_redeem_gas(n: usize) -> u64 {
    100_000 + 150_000 * n as u64
}

impl TestChain {
    /// A chain at block 1000, 100 blocks a round, tickets valid 2 rounds, gas at 1 gwei.
    pub fn new() -> Self {
        TestChain {
            state: Arc::new(Mutex::new(State {
                block: 1000,
                round_length: 100,
                validity_rounds: 2,
                pool_size: 1,
                gas_price: U256::from(1_000_000_000u64),
                inclusion_price: U256::zero(),
                senders: HashMap::new(),
                used: HashSet::new(),
                payouts: Vec::new(),
                account_nonce: HashMap::new(),
                mempool: BTreeMap::new(),
                mined: HashMap::new(),
                tx_counter: 0,
                faults: VecDeque::new(),
                sends: 0,
                reverts: 0,
                tells_nonces: true,
            })),
            me: Address::zero(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// The same chain, acting as `account` (the redeemer).
    pub fn as_account(&self, account: Address) -> TestChain {
        TestChain {
            state: self.state.clone(),
            me: account,
        }
    }

    /// Sets a sender's deposit and reserve.
    pub fn fund(&self, sender: Address, deposit: Wei, reserve: Wei) {
        let mut s = self.lock();
        let info = s.senders.entry(sender).or_default();
        info.deposit = deposit;
        info.reserve_remaining = reserve;
    }

    /// Sets how many recipients share each reserve.
    pub fn set_pool_size(&self, n: u64) {
        self.lock().pool_size = n;
    }

    /// Sets the gas price the oracle reports.
    pub fn set_gas_price(&self, p: U256) {
        self.lock().gas_price = p;
    }

    /// Transactions priced below `p` stay in the mempool.
    pub fn set_inclusion_price(&self, p: U256) {
        self.lock().inclusion_price = p;
    }

    /// Whether `next_nonce` answers (it does by default); without it, redemptions are not
    /// pinned to nonces.
    pub fn set_tells_nonces(&self, yes: bool) {
        self.lock().tells_nonces = yes;
    }

    /// Makes the next `send_redeem` fail this way.
    pub fn inject_send_fault(&self, f: SendFault) {
        self.lock().faults.push_back(f);
    }

    /// The current block.
    pub fn block(&self) -> u64 {
        self.lock().block
    }

    /// The current round.
    pub fn round(&self) -> u64 {
        let s = self.lock();
        s.block / s.round_length
    }

    /// The block hash recorded for `round`.
    pub fn round_hash(round: u64) -> H256 {
        H256::from(keccak256(round.to_be_bytes()))
    }

    /// Expiration params for tickets created now.
    pub fn expiration_params(&self) -> ExpirationParams {
        let r = self.round();
        ExpirationParams::new(r, Self::round_hash(r))
    }

    /// Every payout so far.
    pub fn payouts(&self) -> Vec<Payout> {
        self.lock().payouts.clone()
    }

    /// Whether a ticket is used.
    pub fn is_used(&self, hash: &H256) -> bool {
        self.lock().used.contains(hash)
    }

    /// Redemption transactions sent so far (replacements included).
    pub fn sends(&self) -> u64 {
        self.lock().sends
    }

    /// Redemption transactions that reverted.
    pub fn reverts(&self) -> u64 {
        self.lock().reverts
    }

    /// Transactions waiting in the mempool.
    pub fn mempool_len(&self) -> usize {
        self.lock().mempool.len()
    }

    /// Mines `n` blocks, each including every transaction priced at or above the inclusion
    /// price, in account-nonce order.
    pub fn mine(&self, n: u64) {
        for _ in 0..n {
            let mut s = self.lock();
            s.block += 1;
            let accounts: Vec<Address> = s.mempool.keys().map(|(a, _)| *a).collect();
            for account in accounts {
                loop {
                    let next = *s.account_nonce.get(&account).unwrap_or(&0);
                    // Stale transactions (nonce already used) can never be mined.
                    let stale: Vec<_> = s
                        .mempool
                        .range((account, 0)..(account, next))
                        .map(|(k, _)| *k)
                        .collect();
                    for k in stale {
                        s.mempool.remove(&k);
                    }
                    let Some(tx) = s.mempool.get(&(account, next)).cloned() else {
                        break;
                    };
                    if tx.gas_price < s.inclusion_price {
                        break;
                    }
                    s.mempool.remove(&(account, next));
                    s.account_nonce.insert(account, next + 1);
                    let success = execute(&mut s, &tx);
                    if !success {
                        s.reverts += 1;
                    }
                    let status = TxStatus::Mined {
                        block: s.block,
                        gas_used: test_redeem_gas(tx.tickets.len()),
                        success,
                    };
                    s.mined.insert(tx.hash, status);
                }
            }
        }
    }
}

/// Why the broker would refuse `t` redeemed by `from`, if it would.
fn refuse(s: &State, from: Address, t: &WinningTicket) -> Option<&'static str> {
    let k = &t.ticket;
    let round = s.block / s.round_length;
    if k.recipient != from || k.recipient.is_zero() || k.sender.is_zero() {
        return Some("InvalidRecipient");
    }
    if k.aux_data().is_empty()
        || k.creation_round_block_hash != TestChain::round_hash(k.creation_round)
        || k.creation_round + s.validity_rounds <= round
    {
        return Some("TicketExpired");
    }
    if s.used.contains(&k.hash()) {
        return Some("TicketAlreadyUsed");
    }
    if recipient_rand_hash(&t.recipient_rand) != k.recipient_rand_hash {
        return Some("InvalidPreimage");
    }
    if t.sig.recover_eip191(&k.hash()).ok() != Some(k.sender) {
        return Some("InvalidSignature");
    }
    if !is_winning(&t.sig, &t.recipient_rand, &k.win_prob) {
        return Some("NotWinning");
    }
    let info = s.senders.get(&k.sender).cloned().unwrap_or_default();
    if info.withdraw_round != 0 && round >= info.withdraw_round {
        return Some("SenderUnlocked");
    }
    if (info.deposit + info.reserve_remaining).0 < k.face_value {
        return Some("InsufficientFunds");
    }
    None
}

fn refuse_all(s: &State, from: Address, tickets: &[WinningTicket]) -> Option<&'static str> {
    let mut seen = HashSet::new();
    for t in tickets {
        if !seen.insert(t.ticket.hash()) {
            return Some("TicketAlreadyUsed");
        }
    }
    // Funds must cover the whole batch, sender by sender.
    let mut need: HashMap<Address, U256> = HashMap::new();
    for t in tickets {
        if let Some(r) = refuse(s, from, t) {
            return Some(r);
        }
        let n = need.entry(t.ticket.sender).or_default();
        *n = n.saturating_add(t.ticket.face_value);
    }
    for (sender, n) in need {
        let info = s.senders.get(&sender).cloned().unwrap_or_default();
        if (info.deposit + info.reserve_remaining).0 < n {
            return Some("InsufficientFunds");
        }
    }
    None
}

fn execute(s: &mut State, tx: &Tx) -> bool {
    if refuse_all(s, tx.from, &tx.tickets).is_some() {
        return false;
    }
    for t in &tx.tickets {
        let fv = Wei(t.ticket.face_value);
        let info = s.senders.entry(t.ticket.sender).or_default();
        let from_deposit = fv.0.min(info.deposit.0);
        info.deposit = info.deposit - Wei(from_deposit);
        info.reserve_remaining = info.reserve_remaining - Wei(fv.0 - from_deposit);
        s.used.insert(t.ticket.hash());
        s.payouts.push(Payout {
            ticket: t.ticket.hash(),
            recipient: tx.from,
            amount: fv,
        });
    }
    true
}

/// The account's next nonce counting its pending transactions, as a node's `pending` nonce
/// does: past the mined ones, then through consecutive mempool entries.
fn pending_nonce(s: &State, account: Address) -> u64 {
    let mut n = *s.account_nonce.get(&account).unwrap_or(&0);
    while s.mempool.contains_key(&(account, n)) {
        n += 1;
    }
    n
}

fn reverted(name: &str) -> ChainError {
    ChainError::Reverted {
        name: name.into(),
        data: Vec::new(),
    }
}

#[async_trait]
impl TicketBrokerReader for TestChain {
    async fn sender_info(&self, sender: Address) -> Result<SenderInfo, ChainError> {
        Ok(self
            .lock()
            .senders
            .get(&sender)
            .cloned()
            .unwrap_or_default())
    }
    async fn claimed_reserve(&self, _: Address, _: Address) -> Result<Wei, ChainError> {
        Ok(Wei::ZERO)
    }
    async fn is_ticket_used(&self, ticket: &WinningTicket) -> Result<bool, ChainError> {
        Ok(self.lock().used.contains(&ticket.ticket.hash()))
    }
    async fn ticket_validity_period(&self) -> Result<u64, ChainError> {
        Ok(self.lock().validity_rounds)
    }
    async fn unlock_period(&self) -> Result<u64, ChainError> {
        Ok(2)
    }
    async fn reserve_pool_size(&self) -> Result<u64, ChainError> {
        Ok(self.lock().pool_size)
    }
}

#[async_trait]
impl TicketRedeemer for TestChain {
    fn redeemer(&self) -> Address {
        self.me
    }

    async fn send_redeem(
        &self,
        tickets: &[WinningTicket],
        opts: &TxOptions,
    ) -> Result<PendingTx, ChainError> {
        let mut s = self.lock();
        let fault = s.faults.pop_front();
        if fault == Some(SendFault::Lost) {
            return Err(ChainError::Transport("connection reset".into()));
        }
        let mined_next = *s.account_nonce.get(&self.me).unwrap_or(&0);
        let nonce = opts.nonce.unwrap_or_else(|| pending_nonce(&s, self.me));
        if nonce < mined_next {
            return Err(reverted("nonce too low"));
        }
        let gas_price = opts.gas_price.unwrap_or(s.gas_price);
        if let Some(old) = s.mempool.get(&(self.me, nonce))
            && gas_price < old.gas_price + old.gas_price / 10
        {
            return Err(reverted("replacement transaction underpriced"));
        }
        s.tx_counter += 1;
        s.sends += 1;
        let hash = H256::from(keccak256(s.tx_counter.to_be_bytes()));
        let tx = Tx {
            hash,
            from: self.me,
            gas_price,
            tickets: tickets.to_vec(),
        };
        s.mempool.insert((self.me, nonce), tx);
        if fault == Some(SendFault::SentButFailed) {
            return Err(ChainError::Transport(
                "timed out waiting for the node".into(),
            ));
        }
        Ok(PendingTx {
            hash,
            nonce,
            gas_price,
        })
    }

    async fn tx_status(&self, tx: &PendingTx) -> Result<TxStatus, ChainError> {
        let s = self.lock();
        if let Some(st) = s.mined.get(&tx.hash) {
            return Ok(st.clone());
        }
        if s.mempool.values().any(|t| t.hash == tx.hash) {
            return Ok(TxStatus::Pending);
        }
        Ok(TxStatus::NotFound)
    }

    async fn estimate_redeem_gas(&self, tickets: &[WinningTicket]) -> Result<u64, ChainError> {
        let s = self.lock();
        match refuse_all(&s, self.me, tickets) {
            Some(r) => Err(reverted(r)),
            None => Ok(test_redeem_gas(tickets.len())),
        }
    }

    async fn next_nonce(&self) -> Result<Option<u64>, ChainError> {
        if !self.lock().tells_nonces {
            return Ok(None);
        }
        Ok(Some(pending_nonce(&self.lock(), self.me)))
    }
}

#[async_trait]
impl RoundInfo for TestChain {
    async fn current_block(&self) -> Result<u64, ChainError> {
        Ok(self.block())
    }
    async fn current_round(&self) -> Result<u64, ChainError> {
        Ok(self.round())
    }
    async fn last_initialized_round(&self) -> Result<u64, ChainError> {
        Ok(self.round())
    }
    async fn block_hash_for_round(&self, round: u64) -> Result<H256, ChainError> {
        Ok(Self::round_hash(round))
    }
    async fn round_length(&self) -> Result<u64, ChainError> {
        Ok(self.lock().round_length)
    }
}

#[async_trait]
impl GasPriceEstimator for TestChain {
    async fn gas_price(&self) -> Result<U256, ChainError> {
        Ok(self.lock().gas_price)
    }
}
