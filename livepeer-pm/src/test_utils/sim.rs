//! A broadcaster and orchestrators on one [`TestChain`], with crashes, store failures and
//! lost sends: the harness of the queue tests, the seeded simulation and the
//! operation-sequence fuzzer [`fuzz_queue_ops`], whose invariants are that no acknowledged
//! winner is lost, none is paid twice, and nothing unacknowledged is paid.

use std::sync::Arc;
use std::time::Instant;

use std::collections::HashMap;

use livepeer_core::test_utils::{TestEntropy, TestStore};
use livepeer_core::{H256, LocalSigner, PixelPrice, Pixels, Signer, StreamId, U256, Wei};

use super::{SendFault, TestChain, block_on, test_signer};
use crate::monitor::fetch_funds;
use crate::queue::read_view;
use crate::{
    Action, IssueContext, QueueChain, QueueConfig, Recipient, RecipientConfig, RecipientSecret,
    RedemptionQueue, Sender, SenderConfig, SenderMonitor, Winner,
};

/// Gas price of the test network: a one-ticket redemption (250k gas) costs 2.5e11 wei.
pub const GAS_PRICE: u64 = 1_000_000;

/// EV 1e12, face value 16 × the cost of one redemption = 4e12: one ticket in four wins.
pub fn recipient_config() -> RecipientConfig {
    RecipientConfig {
        ticket_ev: Wei::from_u128(1_000_000_000_000),
        redeem_gas: 250_000,
        tx_cost_multiplier: 16,
        ..RecipientConfig::default()
    }
}

/// One orchestrator: its keys, ticket recipient, funds monitor, view of the chain, crash-safe
/// store and redemption queue.
pub struct Orch {
    /// Its key.
    pub signer: LocalSigner,
    /// Issues params and takes tickets.
    pub recipient: Recipient,
    /// The senders' funds it follows.
    pub monitor: SenderMonitor,
    /// The chain, as this orchestrator's account.
    pub chain: TestChain,
    /// What survives a crash.
    pub store: Arc<TestStore>,
    /// Its winners, persisted in `store`.
    pub queue: RedemptionQueue<Arc<TestStore>>,
    /// The queue's settings (kept for reopening after a crash).
    pub config: QueueConfig,
}

impl Orch {
    /// Runs the queue for the current block.
    pub fn drive(&mut self) -> Result<(), crate::QueueError> {
        let chain = self.chain.clone();
        block_on(crate::drive(
            &mut self.queue,
            &QueueChain::from_backend(&chain),
        ))
        .map(|_| ())
    }

    /// Runs the queue for the current block as [`crate::drive`] does, but stops dead
    /// (a crash) right after step `crash_at`, counting each poll and each chain call as a
    /// step, or at the first store failure. Returns the steps taken, or `Err` on a crash.
    pub fn drive_until(&mut self, crash_at: Option<usize>) -> Result<usize, Crashed> {
        use livepeer_core::chain::{TicketBrokerReader, TicketRedeemer};
        let chain = self.chain.clone();
        let view = block_on(read_view(&QueueChain::from_backend(&chain))).unwrap();
        let mut step = 0;
        let tick = |step: &mut usize| {
            *step += 1;
            if Some(*step) == crash_at {
                Err(Crashed)
            } else {
                Ok(())
            }
        };
        loop {
            let action = match self.queue.poll_action(&view) {
                Ok(Some(a)) => a,
                Ok(None) => return Ok(step),
                Err(_) => return Err(Crashed),
            };
            tick(&mut step)?;
            let handled = match action {
                Action::CheckUsed { tickets } => {
                    let answers: Vec<_> = tickets
                        .iter()
                        .map(|t| (t.ticket.hash(), block_on(chain.is_ticket_used(t))))
                        .collect();
                    tick(&mut step)?;
                    self.queue.handle_used(&view, answers)
                }
                Action::CheckTx { attempt, txs } => {
                    let answers: Vec<_> = txs
                        .iter()
                        .map(|tx| (tx.hash, block_on(chain.tx_status(tx))))
                        .collect();
                    tick(&mut step)?;
                    self.queue.handle_tx_status(&view, attempt, answers)
                }
                Action::EstimateGas { tickets } => {
                    let r = block_on(chain.estimate_redeem_gas(&tickets));
                    tick(&mut step)?;
                    self.queue.handle_estimate(&view, &tickets, r);
                    Ok(())
                }
                Action::Redeem {
                    attempt,
                    tickets,
                    opts,
                } => {
                    let r = block_on(chain.send_redeem(&tickets, &opts));
                    tick(&mut step)?;
                    self.queue.handle_sent(&view, attempt, r)
                }
            };
            handled.map_err(|_| Crashed)?;
        }
    }

    /// A crash: memory is lost, the store keeps what was committed, the queue reopens on
    /// it. The recipient restarts with a fresh secret.
    pub fn crash(&mut self, seed: u64) {
        let survivor = Arc::new(self.store.restart());
        self.store = survivor.clone();
        self.queue =
            RedemptionQueue::open(survivor, self.signer.address(), self.config.clone()).unwrap();
        self.recipient = Recipient::new(
            self.signer.address(),
            RecipientSecret::random(&TestEntropy::new(seed)).unwrap(),
            recipient_config(),
        );
    }
}

/// A queue pass stopped dead: a crash at a chosen step, or a store failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crashed;

/// The chain and one funded broadcaster.
pub struct Net {
    /// The chain.
    pub chain: TestChain,
    /// The broadcaster.
    pub sender: Sender<LocalSigner>,
    /// The stream it pays for.
    pub stream: StreamId,
    /// The time every ticket is received at.
    pub now: Instant,
    /// Entropy for recipients' params.
    pub entropy: TestEntropy,
}

impl Default for Net {
    fn default() -> Self {
        Self::new()
    }
}

impl Net {
    /// A fresh chain with the broadcaster funded (1000 ETH deposit and reserve).
    pub fn new() -> Self {
        let chain = TestChain::new();
        chain.set_gas_price(U256::from(GAS_PRICE));
        let sender = Sender::new(test_signer(0x11), SenderConfig::default());
        let eth = Wei::from_u128(1_000_000_000_000_000_000_000);
        chain.fund(sender.address(), eth, eth);
        Net {
            chain,
            sender,
            stream: StreamId::from_name("sim"),
            now: Instant::now(),
            entropy: TestEntropy::new(99),
        }
    }

    /// An orchestrator on key bytes `key`, with an empty store.
    pub fn orchestrator(&self, key: u8, config: QueueConfig) -> Orch {
        let signer = test_signer(key);
        let store = Arc::new(TestStore::new());
        let queue = RedemptionQueue::open(store.clone(), signer.address(), config.clone()).unwrap();
        Orch {
            recipient: Recipient::new(
                signer.address(),
                RecipientSecret::from_bytes([key; 32]),
                recipient_config(),
            ),
            monitor: SenderMonitor::new(),
            chain: self.chain.as_account(signer.address()),
            signer,
            store,
            queue,
            config,
        }
    }

    /// Fresh params from `o` and a sender session for them.
    pub fn session(&mut self, o: &mut Orch) -> H256 {
        let block = self.chain.block();
        let funds = block_on(fetch_funds(
            &self.chain,
            self.sender.address(),
            o.signer.address(),
            block,
        ))
        .unwrap();
        o.monitor.handle_round(self.chain.round());
        o.monitor.handle_funds(self.sender.address(), funds.clone());
        let ctx = IssueContext::new(
            block,
            U256::from(GAS_PRICE),
            self.chain.expiration_params(),
            o.monitor.max_float(self.sender.address()).unwrap(),
        );
        let params = o
            .recipient
            .issue_params(
                self.sender.address(),
                PixelPrice::per_pixel(1),
                &ctx,
                &self.entropy,
            )
            .unwrap();
        self.sender
            .start_session(o.signer.address(), params, &funds.info, block)
            .unwrap()
    }

    /// Pays one segment of `px` pixels to `o` in `session`; returns the winners received.
    pub fn segment(&mut self, o: &mut Orch, session: &H256, px: u64) -> Vec<Winner> {
        let block = self.chain.block();
        let funds = block_on(livepeer_core::chain::TicketBrokerReader::sender_info(
            &self.chain,
            self.sender.address(),
        ))
        .unwrap();
        let pay = self
            .sender
            .pay(session, self.stream, Pixels(px), &funds, block)
            .unwrap();
        let got = o
            .recipient
            .receive(self.now, block, &pay.batch, self.stream, &o.monitor);
        assert_eq!(got.result(), Ok(()));
        got.winners
    }

    /// Pays segments to `o` until at least `n` winners came in.
    pub fn winners(&mut self, o: &mut Orch, n: usize) -> Vec<Winner> {
        let session = self.session(o);
        let mut out = Vec::new();
        while out.len() < n {
            out.extend(self.segment(o, &session, 5_000_000_000_000));
        }
        out
    }
}

/// What an operation sequence did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpsReport {
    /// Winners acknowledged (persisted before their segment was answered).
    pub acknowledged: usize,
    /// Crashes, chosen or from store failures.
    pub crashes: usize,
    /// Redemption transactions sent.
    pub sends: u64,
}

/// Runs `data` as a sequence of operations on one broadcaster, three orchestrators and one
/// chain, then lets every queue finish with no more faults, and checks that no acknowledged
/// winner is lost, none is paid twice, and nothing unacknowledged or to the wrong recipient
/// is paid. Each byte pair is one operation, by the low three bits of the first byte: pay a
/// segment, start a new session, crash an orchestrator after a chosen step of its queue pass,
/// crash it between passes, fail its store after a few commits, lose the next send or fail it
/// though it left, price the chain's inclusion above or at the gas price, and mine one to
/// four blocks (each block, every orchestrator runs its queue, so none stops for long: a
/// winner can only be lost by the queue itself). At most 400 operations are read.
/// Panics on a broken invariant (the fuzz target's and the property test's verdict).
pub fn fuzz_queue_ops(data: &[u8]) -> OpsReport {
    let mut net = Net::new();
    let mut os: Vec<Orch> = [0x22, 0x33, 0x44]
        .into_iter()
        .map(|k| net.orchestrator(k, QueueConfig::default()))
        .collect();
    let mut sessions: Vec<H256> = os.iter_mut().map(|o| net.session(o)).collect();
    let mut renewed = vec![net.chain.block(); os.len()];
    let mut acked: HashMap<H256, (usize, U256)> = HashMap::new();
    let mut report = OpsReport::default();
    let mut seed = 5000;
    let mut crash = |o: &mut Orch, net: &mut Net, session: &mut H256, report: &mut OpsReport| {
        seed += 1;
        o.crash(seed);
        report.crashes += 1;
        *session = net.session(o);
    };
    for op in data.chunks(2).take(400) {
        let (code, arg) = (op[0] & 7, op.get(1).copied().unwrap_or(0));
        let i = usize::from(op[0] >> 3) % os.len();
        let o = &mut os[i];
        match code {
            0 => {
                // Params last about a round; a broadcaster renews them as they age, as the
                // simulation does every 20 blocks.
                if net.chain.block() >= renewed[i] + 20 {
                    sessions[i] = net.session(o);
                    renewed[i] = net.chain.block();
                }
                let winners = net.segment(o, &sessions[i], 5_000_000_000_000);
                match o.queue.add_winners(net.chain.block(), &winners) {
                    Ok(_) => {
                        for w in &winners {
                            acked.insert(w.ticket.ticket.hash(), (i, w.ticket.ticket.face_value));
                        }
                    }
                    // Crashed before answering: the segment is not acknowledged.
                    Err(_) => crash(o, &mut net, &mut sessions[i], &mut report),
                }
            }
            1 => {
                sessions[i] = net.session(o);
                renewed[i] = net.chain.block();
            }
            2 => {
                if o.drive_until(Some(usize::from(arg % 12) + 1)).is_err() {
                    crash(o, &mut net, &mut sessions[i], &mut report);
                }
            }
            3 => crash(o, &mut net, &mut sessions[i], &mut report),
            4 => o.store.fail_after(i64::from(arg % 4)),
            5 => net.chain.inject_send_fault(if arg & 1 == 0 {
                SendFault::Lost
            } else {
                SendFault::SentButFailed
            }),
            6 => net.chain.set_inclusion_price(if arg & 1 == 0 {
                U256::zero()
            } else {
                U256::from(GAS_PRICE * 105 / 100)
            }),
            _ => {
                for _ in 0..=(arg % 4) {
                    for (j, o) in os.iter_mut().enumerate() {
                        if o.drive_until(None).is_err() {
                            crash(o, &mut net, &mut sessions[j], &mut report);
                        }
                    }
                    net.chain.mine(1);
                }
            }
        }
    }
    settle_and_check(&mut net, &mut os, &acked);
    report.acknowledged = acked.len();
    report.sends = net.chain.sends();
    report
}

/// Lets every queue finish with no more faults (store failures off, inclusion at the gas
/// price, up to 400 blocks), then checks every payout against `acked` (ticket hash →
/// orchestrator index, face value): each acknowledged winner paid exactly once, to its
/// orchestrator, its face value, and nothing else paid. Panics otherwise.
pub fn settle_and_check(net: &mut Net, os: &mut [Orch], acked: &HashMap<H256, (usize, U256)>) {
    net.chain.set_inclusion_price(U256::zero());
    for o in os.iter() {
        o.store.fail_after(i64::MAX);
    }
    for _ in 0..400 {
        for o in os.iter_mut() {
            o.drive().unwrap();
        }
        let pending = os
            .iter()
            .any(|o| o.queue.pending_by_sender().values().any(|v| !v.is_zero()));
        if !pending {
            break;
        }
        net.chain.mine(1);
    }
    let mut paid: HashMap<H256, usize> = HashMap::new();
    for p in net.chain.payouts() {
        *paid.entry(p.ticket).or_default() += 1;
        let (i, fv) = acked
            .get(&p.ticket)
            .expect("only acknowledged winners are redeemed");
        assert_eq!(
            p.recipient,
            os[*i].signer.address(),
            "paid to its recipient"
        );
        assert_eq!(p.amount, Wei(*fv), "paid its face value");
    }
    for (h, (i, _)) in acked {
        assert_eq!(paid.get(h), Some(&1), "winner {h:?} of orchestrator {i}");
    }
}
