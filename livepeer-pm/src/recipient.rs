//! The orchestrator's side: issue ticket params, validate ticket batches, keep credit.
//!
//! Sans-IO: the recipient is told the block, the time and the chain state, and returns what
//! it decided. Winning tickets come back in [`Received::winners`]; the caller persists them
//! (see [`crate::queue::RedemptionQueue::add_winners`]) before it acknowledges the segment.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use livepeer_core::entropy::EntropySource;
use livepeer_core::ticket::WinningTicket;
use livepeer_core::{Address, H256, PixelPrice, StreamId, U256, Wei};
use secp256k1::PublicKey;
use serde::{Deserialize, Serialize};
use tracing::{debug, trace};

use crate::batch::TicketBatch;
use crate::commitment::{RecipientSecret, commitment};
use crate::credit::Balances;
use crate::error::{IssueError, NonceError, TicketError};
use crate::monitor::{RiskPolicy, SenderMonitor};
use crate::nonce::{DEFAULT_NONCE_WINDOW, NonceWindow};
use crate::params::{ExpirationParams, TicketParams, win_prob_for};
use crate::verify::TicketVerifier;

/// Tickets whose signatures are checked together; a refused ticket stops the batch at the
/// end of its chunk at the latest.
const VERIFY_CHUNK: usize = 64;

/// Sender keys remembered at most; the cache is emptied when it grows past this.
const MAX_CACHED_KEYS: usize = 65_536;

/// How a recipient issues params and checks tickets.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecipientConfig {
    /// Expected value of one ticket (go-livepeer's `-ticketEV`: 8e9 wei).
    pub ticket_ev: Wei,
    /// Gas one redemption costs (1.2M on Arbitrum, 350k on L1).
    pub redeem_gas: u64,
    /// Face value as a multiple of the redemption cost (100: the cost is 1% of a win).
    pub tx_cost_multiplier: u64,
    /// Face value as a multiple of the EV when the cost-based one is below the EV.
    pub ev_multiplier: u64,
    /// A cap on the face value, below the max float; `None` for no cap.
    pub max_face_value: Option<Wei>,
    /// The gas price below which a face value under the redemption cost is refused (3 gwei).
    pub min_gas_price: U256,
    /// Blocks the params buy work for (40).
    pub params_validity_blocks: u64,
    /// Nonces tracked per set of params (out-of-order tolerance).
    pub nonce_window: u32,
}

impl Default for RecipientConfig {
    fn default() -> Self {
        RecipientConfig {
            ticket_ev: Wei::from_u128(8_000_000_000),
            redeem_gas: 1_200_000,
            tx_cost_multiplier: 100,
            ev_multiplier: 100,
            max_face_value: None,
            min_gas_price: U256::from(3_000_000_000u64),
            params_validity_blocks: 40,
            nonce_window: DEFAULT_NONCE_WINDOW,
        }
    }
}

/// The chain state params are issued against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssueContext {
    /// The latest block seen.
    pub block: u64,
    /// The current gas price in wei.
    pub gas_price: U256,
    /// The last initialized round and its block hash (or the round before, when that hash
    /// is still zero).
    pub expiration: ExpirationParams,
    /// The sender's max float ([`SenderMonitor::max_float`]).
    pub max_float: Wei,
}

impl IssueContext {
    /// A context from its parts.
    pub fn new(block: u64, gas_price: U256, expiration: ExpirationParams, max_float: Wei) -> Self {
        IssueContext {
            block,
            gas_price,
            expiration,
            max_float,
        }
    }
}

/// A winning ticket with what the redemption queue needs to time it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Winner {
    /// The ticket, the sender's signature and the revealed random number.
    pub ticket: WinningTicket,
    /// The block its params expired at; it is redeemed only after (redeeming reveals the
    /// random number).
    pub params_expiration_block: u64,
}

impl Winner {
    /// A winner from its parts.
    pub fn new(ticket: WinningTicket, params_expiration_block: u64) -> Self {
        Winner {
            ticket,
            params_expiration_block,
        }
    }
}

/// What one ticket batch bought.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// Tickets accepted, from the start of the batch.
    pub accepted: usize,
    /// Credit added for them.
    pub credited: Wei,
    /// The winners among them: persist before acknowledging.
    pub winners: Vec<Winner>,
    /// The first refused ticket's error; later tickets were not looked at.
    pub error: Option<TicketError>,
}

impl Received {
    fn refuse(e: TicketError) -> Self {
        Received {
            error: Some(e),
            ..Self::default()
        }
    }

    /// `Ok` when every ticket was accepted.
    pub fn result(&self) -> Result<(), &TicketError> {
        self.error.as_ref().map_or(Ok(()), Err)
    }
}

#[derive(Debug)]
struct Window {
    nonces: NonceWindow,
    expiration_block: u64,
}

/// The orchestrator's ticket desk: issues params, validates batches, keeps credit per
/// (sender, stream). `Debug` does not show the secret.
#[derive(Debug)]
pub struct Recipient {
    address: Address,
    secret: RecipientSecret,
    config: RecipientConfig,
    windows: HashMap<H256, Window>,
    keys: HashMap<Address, PublicKey>,
    balances: Balances,
}

impl Recipient {
    /// A recipient redeeming as `address`, deriving random numbers from `secret`.
    pub fn new(address: Address, secret: RecipientSecret, config: RecipientConfig) -> Self {
        Recipient {
            address,
            secret,
            config,
            windows: HashMap::new(),
            keys: HashMap::new(),
            balances: Balances::new(),
        }
    }

    /// The recipient's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The configuration.
    pub fn config(&self) -> &RecipientConfig {
        &self.config
    }

    /// The face value go-livepeer would issue: the redemption cost times the multiplier
    /// (or the EV times its multiplier, when that is larger), capped by the max float and
    /// the configured cap.
    pub fn face_value(&self, ctx: &IssueContext) -> Result<Wei, IssueError> {
        let c = &self.config;
        let tx_cost = ctx.gas_price.saturating_mul(U256::from(c.redeem_gas));
        let mut fv = tx_cost.saturating_mul(U256::from(c.tx_cost_multiplier));
        if fv < c.ticket_ev.0 {
            fv = c.ticket_ev.0.saturating_mul(U256::from(c.ev_multiplier));
        }
        fv = fv.min(ctx.max_float.0);
        if let Some(cap) = c.max_face_value {
            fv = fv.min(cap.0);
        }
        let floor = c.min_gas_price.saturating_mul(U256::from(c.redeem_gas));
        if fv < c.ticket_ev.0 || (fv < tx_cost && fv < floor) {
            return Err(IssueError::InsufficientSenderReserve);
        }
        Ok(Wei(fv))
    }

    /// Issues params for `sender` at `price`, with a fresh seed from `entropy`.
    pub fn issue_params(
        &self,
        sender: Address,
        price: PixelPrice,
        ctx: &IssueContext,
        entropy: &dyn EntropySource,
    ) -> Result<TicketParams, IssueError> {
        let (face_value, win_prob) = if price.wei.is_zero() {
            (U256::zero(), U256::zero())
        } else {
            let fv = self.face_value(ctx)?;
            (fv.0, win_prob_for(self.config.ticket_ev, fv.0))
        };
        let mut seed = H256::zero();
        entropy.fill_bytes(seed.as_bytes_mut())?;
        let mut params = TicketParams {
            recipient: self.address,
            face_value,
            win_prob,
            recipient_rand_hash: H256::zero(),
            seed,
            expiration_block: ctx.block.saturating_add(self.config.params_validity_blocks),
            price,
            expiration: ctx.expiration,
        };
        params.recipient_rand_hash = commitment(&self.secret.recipient_rand(&params, &sender));
        Ok(params)
    }

    /// Decodes and receives a batch: the path outside input takes.
    pub fn receive_bytes<P: RiskPolicy>(
        &mut self,
        now: Instant,
        block: u64,
        bytes: &[u8],
        stream: StreamId,
        monitor: &SenderMonitor<P>,
    ) -> Received {
        match TicketBatch::decode(bytes) {
            Ok(batch) => self.receive(now, block, &batch, stream, monitor),
            Err(e) => Received::refuse(e.into()),
        }
    }

    /// Validates a batch in go-livepeer's order — derive the random number, the sender's
    /// unlock state, recipient, sender, preimage, then per ticket signature, win, nonce and
    /// expiry — and credits each accepted ticket's EV to (sender, `stream`). The first refused
    /// ticket stops the batch; the tickets before it stay accepted.
    pub fn receive<P: RiskPolicy>(
        &mut self,
        now: Instant,
        block: u64,
        batch: &TicketBatch,
        stream: StreamId,
        monitor: &SenderMonitor<P>,
    ) -> Received {
        if let Err(e) = batch.check_bounds() {
            return Received::refuse(e.into());
        }
        let params = &batch.params;
        let sender = batch.sender;
        let rand = self.secret.recipient_rand(params, &sender);
        let batch_check = monitor.validate_sender(sender).and_then(|()| {
            if params.recipient != self.address {
                Err(TicketError::WrongRecipient)
            } else if sender.is_zero() {
                Err(TicketError::InvalidSender)
            } else if commitment(&rand) != params.recipient_rand_hash {
                Err(TicketError::InvalidRecipientRand)
            } else {
                Ok(())
            }
        });
        if let Err(e) = batch_check {
            debug!(?sender, error = %e, "ticket batch refused");
            return Received::refuse(e);
        }

        // Signatures are only worth recovering up to the first ticket the cheap checks
        // already refuse (with expired params, the first ticket is refused either way).
        let rrh = params.recipient_rand_hash;
        let mut probe = self.windows.get(&rrh).map_or_else(
            || NonceWindow::new(self.config.nonce_window),
            |w| w.nonces.clone(),
        );
        let cut = batch
            .tickets
            .iter()
            .position(|t| probe.insert(t.nonce).is_err())
            .map_or(batch.tickets.len(), |i| i + 1);
        let cut = if params.is_expired_at(block) {
            cut.min(1)
        } else {
            cut
        };

        let mut verifier = TicketVerifier::new(params, sender, rand);
        if let Some(k) = self.keys.get(&sender) {
            verifier = verifier.with_sender_key(*k);
        }
        let ev = params.ev();
        let mut out = Received::default();
        // In chunks, so a bad ticket early in a large batch stops the recoveries soon.
        let checked = batch.tickets[..cut]
            .chunks(VERIFY_CHUNK)
            .flat_map(|chunk| chunk.iter().zip(verifier.check_all(chunk)));
        for (t, c) in checked {
            let step = c.and_then(|c| {
                let seen = match self.windows.get(&rrh) {
                    Some(w) => w.nonces.check(t.nonce),
                    None if t.nonce == 0 => Err(NonceError::Zero),
                    None => Ok(()),
                };
                seen.map_err(TicketError::InvalidNonce)?;
                if params.is_expired_at(block) {
                    return Err(TicketError::ParamsExpired);
                }
                let window = self.windows.entry(rrh).or_insert_with(|| Window {
                    nonces: NonceWindow::new(self.config.nonce_window),
                    expiration_block: params.expiration_block,
                });
                window
                    .nonces
                    .insert(t.nonce)
                    .map_err(TicketError::InvalidNonce)?;
                Ok(c)
            });
            match step {
                Ok(c) => {
                    out.accepted += 1;
                    out.credited = out.credited + ev;
                    if c.won {
                        let ticket = batch.ticket(t.nonce);
                        trace!(hash = ?ticket.hash(), "winning ticket");
                        out.winners.push(Winner::new(
                            WinningTicket {
                                ticket,
                                sig: c.sig,
                                recipient_rand: rand,
                            },
                            params.expiration_block,
                        ));
                    }
                }
                Err(e) => {
                    debug!(?sender, nonce = t.nonce, error = %e, "ticket refused");
                    out.error = Some(e);
                    break;
                }
            }
        }
        if let Some(k) = verifier.sender_key() {
            if self.keys.len() >= MAX_CACHED_KEYS {
                self.keys.clear();
            }
            self.keys.insert(sender, k);
        }
        if !out.credited.is_zero() {
            self.balances.credit(now, sender, stream, out.credited);
        }
        out
    }

    /// Forgets the nonce windows of params that expired at or before `block`.
    pub fn handle_block(&mut self, block: u64) {
        self.windows.retain(|_, w| w.expiration_block > block);
    }

    /// Credit of (sender, stream).
    pub fn balance(&self, sender: Address, stream: StreamId) -> Wei {
        self.balances.balance(sender, stream)
    }

    /// Checks that (sender, stream) has `required` credit before the work starts:
    /// [`TicketError::LowPMBalance`] otherwise.
    pub fn ensure_credit(
        &self,
        sender: Address,
        stream: StreamId,
        required: Wei,
    ) -> Result<(), TicketError> {
        self.balances.ensure(sender, stream, required)
    }

    /// Debits `fee` for work done; see [`Balances::debit`].
    pub fn debit(
        &mut self,
        now: Instant,
        sender: Address,
        stream: StreamId,
        fee: Wei,
    ) -> Result<Wei, TicketError> {
        self.balances.debit(now, sender, stream, fee)
    }

    /// Forgets balances idle for `idle`.
    pub fn prune_balances(&mut self, now: Instant, idle: Duration) {
        self.balances.prune(now, idle);
    }

    /// The balances.
    pub fn balances(&self) -> &Balances {
        &self.balances
    }
}
