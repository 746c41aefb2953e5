//! Test doubles (feature `_test_utils`): a deterministic [`TestTranscoder`], an in-memory
//! [`TestRegistry`], [`TestPm`] for real ticket payments over a chain double, and a sans-IO
//! [`LossyLink`] with delay, jitter and loss for simulations.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use livepeer_core::chain::{ChainError, OrchestratorEntry, RegistryReader, ServiceOffer};
use livepeer_core::transcode::{
    Capabilities, Rendition, TranscodeError, TranscodeJob, TranscodeOutput, Transcoder,
};
use livepeer_core::{
    Address, Container, Pixels, Region, ServiceId, Signer, U256, VideoCodec, Wei, keccak256,
};

use livepeer_pm::test_utils::TestChain;
use livepeer_pm::{Recipient, RecipientConfig, RecipientSecret, Sender, SenderConfig};

use crate::payment::{PaymentError, PmSource, PmValidator, Winner, WinnerSink};

/// Marker that makes [`TestTranscoder`] answer `SegmentFormatDidntMatchJobInputParams`.
pub const BAD_FORMAT_MARKER: &[u8] = b"BADFORMAT";

/// A deterministic stand-in for a real transcoder: each rendition's bytes are derived from
/// the input and the profile (blake3, repeated), so every honest node returns the same
/// bytes. Delay and failures are configurable. Not a codec.
#[derive(Debug)]
pub struct TestTranscoder {
    name: String,
    delay: Mutex<Duration>,
    fail_next: AtomicU32,
    calls: AtomicU64,
}

impl TestTranscoder {
    /// A transcoder named `name` that answers after `delay`.
    pub fn new(name: &str, delay: Duration) -> Self {
        TestTranscoder {
            name: name.to_owned(),
            delay: Mutex::new(delay),
            fail_next: AtomicU32::new(0),
            calls: AtomicU64::new(0),
        }
    }

    /// Changes the delay.
    pub fn set_delay(&self, d: Duration) {
        *self.delay.lock().unwrap() = d;
    }

    /// Makes the next `n` calls fail with a backend error.
    pub fn fail_next(&self, n: u32) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// Calls so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The bytes this double produces for `input` and profile `name`.
    pub fn derive(input: &[u8], profile: &str) -> Bytes {
        let mut h = blake3::Hasher::new();
        h.update(input);
        h.update(profile.as_bytes());
        let d = h.finalize();
        let len = (input.len() / 4).clamp(32, 64 * 1024);
        Bytes::from(
            d.as_bytes()
                .iter()
                .copied()
                .cycle()
                .take(len)
                .collect::<Vec<u8>>(),
        )
    }
}

#[async_trait]
impl Transcoder for TestTranscoder {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            backend: format!("test:{}", self.name),
            decoders: vec![VideoCodec::H264],
            encoders: vec![VideoCodec::H264],
            containers: vec![Container::MpegTs],
            max_width: 1920,
            max_height: 1080,
            pixels_per_second: 100_000_000,
            hardware: false,
            deterministic: true,
        }
    }

    async fn transcode(&self, job: TranscodeJob) -> Result<TranscodeOutput, TranscodeError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let delay = *self.delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        if job.segment.data.starts_with(BAD_FORMAT_MARKER) {
            return Err(TranscodeError::SegmentFormatDidntMatchJobInputParams(
                "input is not MPEG-TS/H.264".into(),
            ));
        }
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(TranscodeError::Backend(format!(
                "{} injected failure",
                self.name
            )));
        }
        let renditions = job
            .ladder
            .profiles()
            .iter()
            .map(|p| {
                let fps = p.framerate.map_or(30, |f| f.ceil());
                let frames = (u128::from(fps) * job.segment.duration.as_millis() / 1000) as u32;
                Rendition {
                    profile: p.clone(),
                    data: Self::derive(&job.segment.data, &p.name),
                    frames,
                    pixels: Pixels(p.pixels_per_frame() * u64::from(frames)),
                    duration: job.segment.duration,
                }
            })
            .collect();
        Ok(TranscodeOutput {
            renditions,
            source_frames: 60,
        })
    }
}

/// An in-memory service registry.
#[derive(Debug, Default)]
pub struct TestRegistry {
    entries: Mutex<Vec<OrchestratorEntry>>,
}

impl TestRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) an orchestrator.
    pub fn register(&self, e: OrchestratorEntry) {
        let mut v = self.entries.lock().unwrap();
        v.retain(|x| x.address != e.address);
        v.push(e);
    }

    /// An active entry offering CPU transcoding everywhere with `stake`.
    pub fn entry(address: Address, service_uri: String, stake: u64) -> OrchestratorEntry {
        OrchestratorEntry {
            address,
            service_uri,
            reward_cut_ppm: 0,
            fee_share_ppm: 0,
            services: vec![ServiceOffer {
                id: ServiceId::cpu_transcoding(),
                verifier: Address::zero(),
            }],
            regions: vec![Region::global()],
            stake: U256::from(stake),
            active: true,
        }
    }
}

#[async_trait]
impl RegistryReader for TestRegistry {
    async fn orchestrators(&self) -> Result<Vec<OrchestratorEntry>, ChainError> {
        Ok(self.entries.lock().unwrap().clone())
    }
    async fn orchestrator(
        &self,
        address: Address,
    ) -> Result<Option<OrchestratorEntry>, ChainError> {
        Ok(self
            .entries
            .lock()
            .unwrap()
            .iter()
            .find(|e| e.address == address)
            .cloned())
    }
}

/// Real ticket payments for tests, both sides, over a shared in-memory chain
/// ([`TestChain`]): validators fetch senders' funds from it, and their params make one
/// ticket worth `ticket_ev` with a face value of four times that, so one ticket in four wins.
/// Signatures, win draws, nonces, expiry and credit are all pm's own.
#[derive(Clone, Debug)]
pub struct TestPm {
    chain: TestChain,
    ticket_ev: Wei,
}

/// A [`WinnerSink`] that keeps the winners in memory.
#[derive(Debug, Default)]
pub struct TestWinners {
    winners: Mutex<Vec<Winner>>,
}

impl TestWinners {
    /// The winners handed over so far.
    pub fn winners(&self) -> Vec<Winner> {
        self.winners.lock().unwrap().clone()
    }
}

#[async_trait]
impl WinnerSink for TestWinners {
    async fn persist(&self, _block: u64, winners: &[Winner]) -> Result<(), PaymentError> {
        self.winners.lock().unwrap().extend_from_slice(winners);
        Ok(())
    }
}

impl TestPm {
    /// Payments with tickets worth `ticket_ev`, on a fresh chain.
    pub fn new(ticket_ev: Wei) -> Self {
        TestPm {
            chain: TestChain::new(),
            ticket_ev,
        }
    }

    /// The chain.
    pub fn chain(&self) -> &TestChain {
        &self.chain
    }

    /// Gives `sender` a deposit and a reserve of 10 ETH each.
    pub fn fund(&self, sender: Address) {
        let ten_eth = Wei::from_u128(10_000_000_000_000_000_000);
        self.chain.fund(sender, ten_eth, ten_eth);
    }

    /// The recipient configuration: EV `ticket_ev`, face value 4 × EV whatever the gas.
    pub fn recipient_config(&self) -> RecipientConfig {
        let mut c = RecipientConfig::default();
        c.ticket_ev = self.ticket_ev;
        c.tx_cost_multiplier = 0;
        c.ev_multiplier = 4;
        c.min_gas_price = U256::zero();
        c
    }

    /// The orchestrator side for `recipient`, and where its winners go.
    pub fn validator(&self, recipient: Address) -> (PmValidator, Arc<TestWinners>) {
        let secret = RecipientSecret::from_bytes(keccak256(recipient.as_bytes()));
        let winners = Arc::new(TestWinners::default());
        let v = PmValidator::new(
            Recipient::new(recipient, secret, self.recipient_config()),
            winners.clone(),
            self.chain.block(),
            U256::from(1_000_000_000u64),
            self.chain.expiration_params(),
        )
        .with_broker(Arc::new(self.chain.clone()));
        (v, winners)
    }

    /// Moves `validator` past the validity of every params it issued so far.
    pub fn expire(&self, validator: &PmValidator) {
        let block = validator.block() + self.recipient_config().params_validity_blocks;
        validator.handle_block(block, U256::from(1_000_000_000u64));
    }

    /// The broadcaster side, signing with `signer`; funds it on the chain.
    pub fn source(&self, signer: Arc<dyn Signer>) -> PmSource<Arc<dyn Signer>> {
        self.fund(signer.address());
        let funds = livepeer_pm::test_utils::block_on(
            livepeer_core::chain::TicketBrokerReader::sender_info(&self.chain, signer.address()),
        )
        .expect("the test chain answers");
        PmSource::new(
            Sender::new(signer, SenderConfig::default()),
            funds,
            self.chain.block(),
        )
    }
}

/// A sans-IO one-way link with delay, jitter and loss, driven by simulated time (the shape
/// of str0m's netem). Deterministic for a seed.
#[derive(Debug)]
pub struct LossyLink<T> {
    /// Base one-way delay.
    pub delay: Duration,
    /// Extra random delay, uniform in `0..jitter`.
    pub jitter: Duration,
    /// Probability in `0..=1` that a message is lost.
    pub loss: f64,
    rng: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    slots: HashMap<usize, T>,
    next_slot: usize,
}

impl<T> LossyLink<T> {
    /// A link with `delay`, `jitter` and `loss`, seeded with `seed`.
    pub fn new(delay: Duration, jitter: Duration, loss: f64, seed: u64) -> Self {
        LossyLink {
            delay,
            jitter,
            loss,
            rng: seed | 1,
            seq: 0,
            queue: BinaryHeap::new(),
            slots: HashMap::new(),
            next_slot: 0,
        }
    }

    fn next_f64(&mut self) -> f64 {
        // xorshift64*: small, fast and deterministic.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Sends `msg` at `now`; returns whether it will arrive.
    pub fn handle_send(&mut self, now: Instant, msg: T) -> bool {
        if self.next_f64() < self.loss {
            return false;
        }
        let at = now + self.delay + self.jitter.mul_f64(self.next_f64());
        let slot = self.next_slot;
        self.next_slot += 1;
        self.slots.insert(slot, msg);
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, slot)));
        true
    }

    /// When the next message arrives.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse((t, _, _))| *t)
    }

    /// A message that has arrived by `now`.
    #[must_use]
    pub fn poll_deliver(&mut self, now: Instant) -> Option<T> {
        match self.queue.peek() {
            Some(Reverse((t, _, _))) if *t <= now => {
                let Reverse((_, _, slot)) = self.queue.pop()?;
                self.slots.remove(&slot)
            }
            _ => None,
        }
    }
}
