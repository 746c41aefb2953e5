//! A broadcaster and orchestrators on one [`TestChain`], for the queue tests and the
//! simulation.

use std::sync::Arc;
use std::time::Instant;

use livepeer_core::test_utils::{TestEntropy, TestStore};
use livepeer_core::{H256, LocalSigner, PixelPrice, Pixels, Signer, StreamId, U256, Wei};
use livepeer_pm::monitor::fetch_funds;
use livepeer_pm::queue::read_view;
use livepeer_pm::test_utils::{TestChain, block_on, test_signer};
use livepeer_pm::{
    Action, IssueContext, QueueChain, QueueConfig, Recipient, RecipientConfig, RecipientSecret,
    RedemptionQueue, Sender, SenderConfig, SenderMonitor, Winner,
};

/// Gas price of the test network: a one-ticket redemption (250k gas) costs 2.5e11 wei.
pub(crate) const GAS_PRICE: u64 = 1_000_000;

/// EV 1e12, face value 16 × the cost of one redemption = 4e12: one ticket in four wins.
pub(crate) fn recipient_config() -> RecipientConfig {
    let mut c = RecipientConfig::default();
    c.ticket_ev = Wei::from_u128(1_000_000_000_000);
    c.redeem_gas = 250_000;
    c.tx_cost_multiplier = 16;
    c
}

pub(crate) struct Orch {
    pub(crate) signer: LocalSigner,
    pub(crate) recipient: Recipient,
    pub(crate) monitor: SenderMonitor,
    pub(crate) chain: TestChain,
    pub(crate) store: Arc<TestStore>,
    pub(crate) queue: RedemptionQueue<Arc<TestStore>>,
    pub(crate) config: QueueConfig,
}

impl Orch {
    /// Runs the queue for the current block.
    pub(crate) fn drive(&mut self) -> Result<(), livepeer_pm::QueueError> {
        let chain = self.chain.clone();
        block_on(livepeer_pm::drive(
            &mut self.queue,
            &QueueChain::from_backend(&chain),
        ))
        .map(|_| ())
    }

    /// Runs the queue for the current block as [`livepeer_pm::drive`] does, but stops dead
    /// (a crash) right after step `crash_at`, counting each poll and each chain call as a
    /// step, or at the first store failure. Returns the steps taken, or `Err` on a crash.
    pub(crate) fn drive_until(&mut self, crash_at: Option<usize>) -> Result<usize, ()> {
        use livepeer_core::chain::{TicketBrokerReader, TicketRedeemer};
        let chain = self.chain.clone();
        let view = block_on(read_view(&QueueChain::from_backend(&chain))).unwrap();
        let mut step = 0;
        let tick = |step: &mut usize| {
            *step += 1;
            if Some(*step) == crash_at {
                Err(())
            } else {
                Ok(())
            }
        };
        loop {
            let action = match self.queue.poll_action(&view) {
                Ok(Some(a)) => a,
                Ok(None) => return Ok(step),
                Err(_) => return Err(()),
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
                _ => panic!("unknown action"),
            };
            handled.map_err(|_| ())?;
        }
    }

    /// A crash: memory is lost, the store keeps what was committed, the queue reopens on
    /// it. The recipient restarts with a fresh secret.
    pub(crate) fn crash(&mut self, seed: u64) {
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

pub(crate) struct Net {
    pub(crate) chain: TestChain,
    pub(crate) sender: Sender<LocalSigner>,
    pub(crate) stream: StreamId,
    pub(crate) now: Instant,
    pub(crate) entropy: TestEntropy,
}

impl Net {
    pub(crate) fn new() -> Self {
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

    pub(crate) fn orchestrator(&self, key: u8, config: QueueConfig) -> Orch {
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
    pub(crate) fn session(&mut self, o: &mut Orch) -> H256 {
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
    pub(crate) fn segment(&mut self, o: &mut Orch, session: &H256, px: u64) -> Vec<Winner> {
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
    pub(crate) fn winners(&mut self, o: &mut Orch, n: usize) -> Vec<Winner> {
        let session = self.session(o);
        let mut out = Vec::new();
        while out.len() < n {
            out.extend(self.segment(o, &session, 5_000_000_000_000));
        }
        out
    }
}
