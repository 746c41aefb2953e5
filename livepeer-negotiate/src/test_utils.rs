//! Test doubles (feature `_test_utils`): a deterministic [`TestTranscoder`], an in-memory
//! [`TestRegistry`], [`TestPayments`] that sign and check real signatures, and a sans-IO
//! [`LossyLink`] with delay, jitter and loss for simulations.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use livepeer_core::chain::{ChainError, OrchestratorEntry, RegistryReader, ServiceOffer};
use livepeer_core::transcode::{
    Capabilities, Rendition, TranscodeError, TranscodeJob, TranscodeOutput, Transcoder,
};
use livepeer_core::{
    Address, Container, H256, PixelPrice, Pixels, Region, ServiceId, Signer, StreamId, U256,
    VideoCodec, Wei, keccak256,
};

use crate::payment::{
    ExpirationParams, PaymentError, PaymentSource, PaymentValidator, TicketBatch, TicketParams,
    TicketSig,
};
use crate::proto::Quote;

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

fn ticket_digest(params: &TicketParams, sender: Address, nonce: u32) -> H256 {
    let mut buf = postcard::to_allocvec(params).unwrap_or_default();
    buf.extend_from_slice(sender.as_bytes());
    buf.extend_from_slice(&nonce.to_be_bytes());
    H256::from(keccak256(&buf))
}

/// Payments for tests, both sides: the validator issues params with a fixed ticket value and
/// checks every ticket's signature and freshness; the source signs tickets enough to cover
/// a fee. Balances are kept per (sender, stream).
pub struct TestPayments {
    recipient: Option<Address>,
    signer: Option<std::sync::Arc<dyn Signer>>,
    ticket_ev: Wei,
    issued: Mutex<Vec<H256>>,
    credit: Mutex<HashMap<(Address, StreamId), Wei>>,
    nonce: AtomicU32,
    lie_about_recipient: bool,
}

impl std::fmt::Debug for TestPayments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPayments").finish_non_exhaustive()
    }
}

impl TestPayments {
    /// The orchestrator side for `recipient`, each ticket worth `ticket_ev`.
    pub fn validator(recipient: Address, ticket_ev: Wei) -> Self {
        TestPayments {
            recipient: Some(recipient),
            signer: None,
            ticket_ev,
            issued: Mutex::new(Vec::new()),
            credit: Mutex::new(HashMap::new()),
            nonce: AtomicU32::new(0),
            lie_about_recipient: false,
        }
    }

    /// A validator that quotes params paying someone else (a lying orchestrator).
    pub fn lying_validator(recipient: Address, ticket_ev: Wei) -> Self {
        TestPayments {
            lie_about_recipient: true,
            ..Self::validator(recipient, ticket_ev)
        }
    }

    /// The broadcaster side, signing with `signer`.
    pub fn source(signer: std::sync::Arc<dyn Signer>) -> Self {
        TestPayments {
            recipient: None,
            signer: Some(signer),
            ticket_ev: Wei::ZERO,
            issued: Mutex::new(Vec::new()),
            credit: Mutex::new(HashMap::new()),
            nonce: AtomicU32::new(0),
            lie_about_recipient: false,
        }
    }

    /// Forgets every params issued so far (they count as expired from now on).
    pub fn expire_params(&self) {
        self.issued.lock().unwrap().clear();
    }

    /// The credit of `sender` for `stream`.
    pub fn credit(&self, sender: Address, stream: StreamId) -> Wei {
        self.credit
            .lock()
            .unwrap()
            .get(&(sender, stream))
            .copied()
            .unwrap_or_default()
    }
}

/// `face_value` making one ticket worth `ev` at a win probability of one in 1,000.
fn face_for(ev: Wei) -> (U256, U256) {
    (
        ev.0.saturating_mul(U256::from(1000)),
        U256::MAX / U256::from(1000),
    )
}

#[async_trait]
impl PaymentValidator for TestPayments {
    async fn quote_params(
        &self,
        _broadcaster: Address,
        price: PixelPrice,
    ) -> Result<TicketParams, PaymentError> {
        let recipient = self
            .recipient
            .ok_or(PaymentError::Backend("not a validator".into()))?;
        let n = self.nonce.fetch_add(1, Ordering::SeqCst);
        let (face_value, win_prob) = face_for(self.ticket_ev);
        let seed = H256::from(keccak256([recipient.as_bytes(), &n.to_be_bytes()].concat()));
        let p = TicketParams {
            recipient: if self.lie_about_recipient {
                Address::repeat_byte(0xee)
            } else {
                recipient
            },
            face_value,
            win_prob,
            recipient_rand_hash: H256::from(keccak256(seed.as_bytes())),
            seed,
            expiration_block: 1_000_000,
            price,
            expiration: ExpirationParams::default(),
        };
        let mut issued = self.issued.lock().unwrap();
        issued.push(p.seed);
        if issued.len() > 1024 {
            issued.remove(0);
        }
        Ok(p)
    }

    async fn accept(
        &self,
        batch: Option<&TicketBatch>,
        sender: Address,
        stream: StreamId,
        fee_estimate: Wei,
    ) -> Result<Wei, PaymentError> {
        let mut add = Wei::ZERO;
        if let Some(b) = batch {
            if !self.issued.lock().unwrap().contains(&b.params.seed) {
                return Err(PaymentError::TicketParamsExpired);
            }
            for t in &b.tickets {
                t.signature
                    .verify_eip191(&ticket_digest(&b.params, sender, t.nonce), &sender)
                    .map_err(|_| PaymentError::InvalidTicket("bad ticket signature".into()))?;
                add = add + b.params.ticket_ev();
            }
        }
        let mut credit = self.credit.lock().unwrap();
        let c = credit.entry((sender, stream)).or_default();
        *c = *c + add;
        if *c < fee_estimate {
            return Err(PaymentError::LowPMBalance);
        }
        Ok(*c)
    }

    fn debit(&self, sender: Address, stream: StreamId, fee: Wei) {
        let mut credit = self.credit.lock().unwrap();
        let c = credit.entry((sender, stream)).or_default();
        *c = *c - fee;
    }
}

#[async_trait]
impl PaymentSource for TestPayments {
    async fn pay(
        &self,
        quote: &Quote,
        _stream: StreamId,
        fee_estimate: Wei,
    ) -> Result<Option<TicketBatch>, PaymentError> {
        let signer = self
            .signer
            .as_ref()
            .ok_or(PaymentError::Backend("not a source".into()))?;
        let ev = quote.ticket_params.ticket_ev();
        if ev.is_zero() {
            return Ok(None);
        }
        let n = (fee_estimate.0 / ev.0 + 1)
            .min(U256::from(crate::payment::MAX_TICKETS_PER_BATCH))
            .low_u32();
        let sender = signer.address();
        let tickets = (0..n)
            .map(|_| {
                let nonce = self.nonce.fetch_add(1, Ordering::SeqCst);
                let signature = signer
                    .sign_message_hash(&ticket_digest(&quote.ticket_params, sender, nonce))
                    .map_err(|e| PaymentError::Backend(e.to_string()))?;
                Ok(TicketSig { nonce, signature })
            })
            .collect::<Result<Vec<_>, PaymentError>>()?;
        Ok(Some(TicketBatch {
            params: quote.ticket_params.clone(),
            sender,
            tickets,
        }))
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
