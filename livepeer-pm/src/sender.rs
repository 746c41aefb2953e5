//! The broadcaster's side: one session per set of params (per recipientRandHash), nonces
//! from 1, enough signed tickets per segment to cover its fee, and the checks go-livepeer's
//! broadcaster makes before it trusts a recipient's params.

use std::collections::HashMap;

use livepeer_core::chain::SenderInfo;
use livepeer_core::{Address, H256, PixelPrice, Pixels, Signer, StreamId, U256, Wei};
use primitive_types::U512;
use tracing::debug;

use crate::batch::{MAX_TICKETS_PER_BATCH, TicketBatch, TicketHasher, TicketSig};
use crate::error::{ParamsError, SenderError};
use crate::params::TicketParams;

/// How a sender judges params and sizes payments.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SenderConfig {
    /// The largest EV of one ticket accepted (go-livepeer's `-maxTicketEV`, 3e12 wei).
    pub max_ev: Wei,
    /// The largest EV of the tickets of one payment (`-maxTotalEV`, 2e13 wei).
    pub max_total_ev: Wei,
    /// The face value may be at most the deposit divided by this (`-depositMultiplier`, 1).
    pub deposit_multiplier: u64,
    /// Margin on the fee, in parts per million (20 000: go-livepeer's 1.02).
    pub fee_margin_ppm: u32,
    /// Params expiring within this many blocks count as expired (1).
    pub expiry_buffer_blocks: u64,
    /// Params whose price is more than this multiple of the first price paid to the same
    /// recipient are refused (2).
    pub max_price_factor: u64,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            max_ev: Wei::from_u128(3_000_000_000_000),
            max_total_ev: Wei::from_u128(20_000_000_000_000),
            deposit_multiplier: 1,
            fee_margin_ppm: 20_000,
            expiry_buffer_blocks: 1,
            max_price_factor: 2,
        }
    }
}

/// A payment for one segment.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Payment {
    /// The tickets to send with the segment (possibly none, when credit covers the fee).
    pub batch: TicketBatch,
    /// The fee the payment covers, margin included.
    pub fee: Wei,
    /// The EV of the tickets.
    pub ev: Wei,
    /// The sender's estimate of its credit with the recipient after the segment.
    pub credit_after: Wei,
}

#[derive(Clone, Debug)]
struct Session {
    params: TicketParams,
    last_nonce: u32,
}

/// The broadcaster's ticket book: sessions per set of params, credit per (recipient,
/// stream), and the price each recipient started at.
#[derive(Debug)]
pub struct Sender<S> {
    signer: S,
    address: Address,
    config: SenderConfig,
    sessions: HashMap<H256, Session>,
    initial_prices: HashMap<Address, PixelPrice>,
    credit: HashMap<(Address, StreamId), Wei>,
}

impl<S: Signer> Sender<S> {
    /// A sender signing with `signer`.
    pub fn new(signer: S, config: SenderConfig) -> Self {
        let address = signer.address();
        Sender {
            signer,
            address,
            config,
            sessions: HashMap::new(),
            initial_prices: HashMap::new(),
            credit: HashMap::new(),
        }
    }

    /// The sender's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The configuration.
    pub fn config(&self) -> &SenderConfig {
        &self.config
    }

    /// Checks `params` from `recipient` for a payment of `tickets` tickets, given the
    /// sender's own `funds` and the latest `block`.
    pub fn validate_params(
        &self,
        recipient: Address,
        params: &TicketParams,
        funds: &SenderInfo,
        block: u64,
        tickets: u64,
    ) -> Result<(), ParamsError> {
        let c = &self.config;
        if params.recipient != recipient {
            return Err(ParamsError::WrongRecipient {
                expected: recipient,
                got: params.recipient,
            });
        }
        if params.price.pixels.is_zero() {
            return Err(ParamsError::InvalidPrice);
        }
        let ev = params.ev();
        let face_value = Wei(params.face_value);
        if !face_value.is_zero() && ev >= face_value {
            return Err(ParamsError::EvNotBelowFaceValue { ev, face_value });
        }
        if ev > c.max_ev {
            return Err(ParamsError::EvTooHigh { ev, max: c.max_ev });
        }
        let total = Wei(ev.0.saturating_mul(U256::from(tickets)));
        if total > c.max_total_ev {
            return Err(ParamsError::TotalEvTooHigh {
                total,
                max: c.max_total_ev,
            });
        }
        if funds.deposit.is_zero() {
            return Err(ParamsError::NoDeposit);
        }
        if funds.reserve_remaining.is_zero() {
            return Err(ParamsError::NoReserve);
        }
        let max_fv = Wei(funds.deposit.0 / U256::from(c.deposit_multiplier.max(1)));
        if face_value > max_fv {
            return Err(ParamsError::FaceValueTooHigh {
                face_value,
                max: max_fv,
            });
        }
        if funds.withdraw_round != 0 {
            return Err(ParamsError::SenderUnlocking);
        }
        if params.expiration_block <= block.saturating_add(c.expiry_buffer_blocks) {
            return Err(ParamsError::Expired);
        }
        if let Some(initial) = self.initial_prices.get(&recipient)
            && params
                .price
                .exceeds_multiple_of(initial, c.max_price_factor)
        {
            return Err(ParamsError::PriceMoreThanDoubled {
                initial: Box::new(*initial),
                current: Box::new(params.price),
            });
        }
        Ok(())
    }

    /// Starts paying `recipient` with `params` (checked as for one ticket) and returns the
    /// session id, the params' recipientRandHash. Starting a session that exists keeps its
    /// nonces. The first session with a recipient fixes the price later params are held to.
    pub fn start_session(
        &mut self,
        recipient: Address,
        params: TicketParams,
        funds: &SenderInfo,
        block: u64,
    ) -> Result<H256, SenderError> {
        self.validate_params(recipient, &params, funds, block, 1)?;
        let id = params.recipient_rand_hash;
        self.initial_prices.entry(recipient).or_insert(params.price);
        self.sessions.entry(id).or_insert(Session {
            params,
            last_nonce: 0,
        });
        Ok(id)
    }

    /// The params of a session.
    pub fn session_params(&self, id: &H256) -> Option<&TicketParams> {
        self.sessions.get(id).map(|s| &s.params)
    }

    /// Ends a session.
    pub fn end_session(&mut self, id: &H256) {
        self.sessions.remove(id);
    }

    /// Ends the sessions whose params expired at or before `block`.
    pub fn prune(&mut self, block: u64) {
        self.sessions
            .retain(|_, s| s.params.expiration_block > block);
    }

    /// Forgets the price `recipient` started at (a new stream with it may start afresh).
    pub fn reset_price(&mut self, recipient: Address) {
        self.initial_prices.remove(&recipient);
    }

    /// The fee for `pixels` at `price` with the configured margin, rounded up.
    pub fn fee(&self, pixels: Pixels, price: &PixelPrice) -> Wei {
        if price.pixels.is_zero() {
            return Wei::ZERO;
        }
        let ppm = U512::from(1_000_000u64);
        let num = price.wei.full_mul(U256::from(pixels.0))
            * (ppm + U512::from(self.config.fee_margin_ppm));
        let den = U512::from(price.pixels) * ppm;
        let q = (num + den - U512::one()) / den;
        Wei(U256::try_from(q).unwrap_or(U256::MAX))
    }

    /// Pays for a segment of `pixels` output pixels on `stream` in session `id`: takes the
    /// credit held with the recipient, adds `ceil((max(fee, EV) − credit) / EV)` tickets,
    /// checks the params for that many, and signs them.
    pub fn pay(
        &mut self,
        id: &H256,
        stream: StreamId,
        pixels: Pixels,
        funds: &SenderInfo,
        block: u64,
    ) -> Result<Payment, SenderError> {
        let params = self
            .sessions
            .get(id)
            .map(|s| s.params.clone())
            .ok_or(SenderError::UnknownSession)?;
        let recipient = params.recipient;
        let fee = self.fee(pixels, &params.price);
        let ev = params.ev();
        let credit = self
            .credit
            .get(&(recipient, stream))
            .copied()
            .unwrap_or(Wei::ZERO);
        let needed = fee.max(ev) - credit;
        let count = if needed.is_zero() {
            0
        } else if ev.is_zero() {
            return Err(ParamsError::ZeroEv.into());
        } else {
            let (q, r) = needed.0.div_mod(ev.0);
            let n = if r.is_zero() { q } else { q + 1 };
            if n > U256::from(MAX_TICKETS_PER_BATCH) {
                return Err(SenderError::TooManyTickets {
                    needed: n.low_u64(),
                    max: MAX_TICKETS_PER_BATCH,
                });
            }
            n.low_u64()
        };
        self.validate_params(recipient, &params, funds, block, count)?;
        let batch = self.create_batch(id, count)?;
        let paid = Wei(ev.0.saturating_mul(U256::from(count)));
        let credit_after = credit + paid - fee;
        self.credit.insert((recipient, stream), credit_after);
        debug!(session = ?id, tickets = count, %fee, "payment");
        Ok(Payment {
            batch,
            fee,
            ev: paid,
            credit_after,
        })
    }

    /// Signs `count` tickets of session `id` with its next nonces, unchecked.
    pub fn create_batch(&mut self, id: &H256, count: u64) -> Result<TicketBatch, SenderError> {
        let session = self.sessions.get(id).ok_or(SenderError::UnknownSession)?;
        let count32 = u32::try_from(count).map_err(|_| SenderError::NonceExhausted)?;
        let first = session.last_nonce;
        let last = first
            .checked_add(count32)
            .ok_or(SenderError::NonceExhausted)?;
        let hasher = TicketHasher::new(&session.params, self.address);
        let mut tickets = Vec::with_capacity(count32 as usize);
        for nonce in first + 1..=last {
            let sig = self.signer.sign_message_hash(&hasher.hash(nonce))?;
            tickets.push(TicketSig::new(nonce, sig.as_bytes().to_vec()));
        }
        let params = session.params.clone();
        // Nonces are spent only once every ticket is signed.
        if let Some(s) = self.sessions.get_mut(id) {
            s.last_nonce = last;
        }
        Ok(TicketBatch::new(params, self.address, tickets))
    }

    /// The sender's estimate of its credit with `recipient` on `stream`.
    pub fn credit(&self, recipient: Address, stream: StreamId) -> Wei {
        self.credit
            .get(&(recipient, stream))
            .copied()
            .unwrap_or(Wei::ZERO)
    }

    /// Forgets the credit of a stream that ended.
    pub fn end_stream(&mut self, recipient: Address, stream: StreamId) {
        self.credit.remove(&(recipient, stream));
    }
}
