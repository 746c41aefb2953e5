//! Test doubles for this and downstream crates' tests (feature `_test_utils`):
//! [`TestChain`], a deterministic [`Fixture`] of one sender and one recipient, the fuzz
//! harness [`fuzz_ticket_batch`] shared by the fuzz target and the corpus replay test, the
//! crash simulation harness and its operation-sequence fuzzer ([`sim::fuzz_queue_ops`]), and
//! [`block_on`] for futures that never wait.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod chain;
pub mod sim;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

pub use chain::{Payout, SendFault, TestChain, test_redeem_gas};
use livepeer_core::chain::SenderInfo;
use livepeer_core::test_utils::TestEntropy;
use livepeer_core::{Address, H256, LocalSigner, PixelPrice, Signer, StreamId, U256, Wei};

use crate::batch::{TicketBatch, TicketSig};
use crate::commitment::RecipientSecret;
use crate::monitor::{SenderFunds, SenderMonitor};
use crate::params::{ExpirationParams, TicketParams};
use crate::recipient::{IssueContext, Received, Recipient, RecipientConfig};
use crate::sender::{Sender, SenderConfig};

/// Runs a future that never waits (every [`TestChain`] call) to completion.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

/// A deterministic signer: key bytes all `n` (n ≠ 0).
pub fn test_signer(n: u8) -> LocalSigner {
    LocalSigner::from_bytes(&[n; 32]).unwrap()
}

/// The sender's funds in a [`Fixture`]: 10 ETH deposit, 10 ETH reserve.
pub fn fixture_funds() -> SenderInfo {
    SenderInfo {
        deposit: Wei::from_u128(10_000_000_000_000_000_000),
        withdraw_round: 0,
        reserve_remaining: Wei::from_u128(10_000_000_000_000_000_000),
        reserve_claimed_this_round: Wei::ZERO,
    }
}

/// One sender and one recipient with deterministic keys, secret and params.
#[derive(Debug)]
#[non_exhaustive]
pub struct Fixture {
    /// The broadcaster (key `0x11…`).
    pub sender: Sender<LocalSigner>,
    /// The orchestrator (key `0x22…`, secret `0x33…`).
    pub recipient: Recipient,
    /// The orchestrator's monitor, knowing the sender's funds.
    pub monitor: SenderMonitor,
    /// Params the recipient issued to the sender at block 1000 (1 wei/pixel, EV 8 gwei).
    pub params: TicketParams,
    /// The sender's session for `params`.
    pub session: H256,
    /// The block.
    pub block: u64,
    /// The stream.
    pub stream: StreamId,
    /// The time.
    pub now: Instant,
}

/// A [`Fixture`] with the default configurations.
pub fn fixture() -> Fixture {
    fixture_with(RecipientConfig::default(), SenderConfig::default())
}

/// A [`Fixture`] with the given configurations.
pub fn fixture_with(rc: RecipientConfig, sc: SenderConfig) -> Fixture {
    let block = 1000;
    let orchestrator = test_signer(0x22);
    let recipient = Recipient::new(
        orchestrator.address(),
        RecipientSecret::from_bytes([0x33; 32]),
        rc,
    );
    let mut sender = Sender::new(test_signer(0x11), sc);
    let mut monitor = SenderMonitor::new();
    monitor.handle_round(10);
    monitor.handle_funds(
        sender.address(),
        SenderFunds::new(fixture_funds(), Wei::ZERO, 1, block),
    );
    let ctx = IssueContext::new(
        block,
        U256::from(1_000_000_000u64),
        ExpirationParams::new(10, H256::repeat_byte(0x10)),
        monitor.max_float(sender.address()).unwrap(),
    );
    let params = recipient
        .issue_params(
            sender.address(),
            PixelPrice::per_pixel(1),
            &ctx,
            &TestEntropy::new(7),
        )
        .unwrap();
    let session = sender
        .start_session(recipient.address(), params.clone(), &fixture_funds(), block)
        .unwrap();
    Fixture {
        sender,
        recipient,
        monitor,
        params,
        session,
        block,
        stream: StreamId::from_name("fixture"),
        now: Instant::now(),
    }
}

/// The fuzz harness for ticket batches, shared by `fuzz/fuzz_targets/ticket_batch.rs` and
/// the corpus replay test.
///
/// The first byte picks the mode. `0`: the rest is an encoded [`TicketBatch`], decoded and
/// received by the [`Fixture`]'s recipient. Anything else: the rest is a list of tickets
/// (`nonce` as 4 little-endian bytes, a length byte, then that many signature bytes, modulo
/// 80) under the fixture's valid params, so signature, win and nonce checks are reached.
/// Checks the invariants of [`Received`] and panics if one breaks.
pub fn fuzz_ticket_batch(data: &[u8]) -> Received {
    let mut fx = fixture();
    let (mode, rest) = data.split_first().map_or((0, data), |(m, r)| (*m, r));
    let (received, count) = if mode == 0 {
        let count = TicketBatch::decode(rest).map_or(0, |b| b.tickets.len());
        let r = fx
            .recipient
            .receive_bytes(fx.now, fx.block, rest, fx.stream, &fx.monitor);
        (r, count)
    } else {
        let mut tickets = Vec::new();
        let mut r = rest;
        while r.len() >= 5 && tickets.len() < crate::batch::MAX_TICKETS_PER_BATCH {
            let nonce = u32::from_le_bytes([r[0], r[1], r[2], r[3]]);
            let len = (r[4] as usize % 80).min(r.len() - 5);
            tickets.push(TicketSig::new(nonce, r[5..5 + len].to_vec()));
            r = &r[5 + len..];
        }
        let count = tickets.len();
        let batch = TicketBatch::new(fx.params.clone(), fx.sender.address(), tickets);
        let got = fx
            .recipient
            .receive(fx.now, fx.block, &batch, fx.stream, &fx.monitor);
        (got, count)
    };
    assert!(received.accepted <= count);
    assert!(received.winners.len() <= received.accepted);
    // No error means every ticket was accepted; an error stops at the ticket it names.
    assert!(received.error.is_some() || received.accepted == count);
    assert!(received.error.is_none() || received.accepted < count.max(1));
    if received.accepted > 0 {
        let ev = fx.params.ev();
        assert_eq!(received.credited.0, ev.0 * U256::from(received.accepted));
        assert_eq!(
            fx.recipient.balance(fx.sender.address(), fx.stream),
            received.credited
        );
    } else {
        assert_eq!(received.credited, Wei::ZERO);
    }
    received
}

/// The address of the fixture's recipient.
pub fn fixture_recipient() -> Address {
    test_signer(0x22).address()
}
