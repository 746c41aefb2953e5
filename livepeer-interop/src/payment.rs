//! Payments: [`livepeer_pm`] ticket batches mapped to and from go-livepeer's `Payment`, and
//! an orchestrator's `TicketParams` and `PriceInfo` mapped to [`livepeer_pm::TicketParams`].
//!
//! The ticket itself is already byte-compatible with Livepeer's TicketBroker, so only the
//! encoding differs: big integers travel as minimal big-endian bytes (Go's `big.Int.Bytes`,
//! empty for zero), hashes and addresses at their fixed size, the expiration params beside
//! the ticket params, and the orchestrator's price echoed verbatim.

use livepeer_core::{Address, H256, PixelPrice, U256};
use livepeer_pm::{ExpirationParams, MAX_TICKETS_PER_BATCH, TicketBatch, TicketSig};

use crate::error::InteropError;
use crate::messages::{self, OrchestratorInfo, PriceInfo, TicketExpirationParams};
use crate::sign::address_field;

/// The minimal big-endian bytes of `v`, empty for zero (Go's `big.Int.Bytes`).
pub fn u256_to_bytes(v: &U256) -> Vec<u8> {
    let mut buf = [0u8; 32];
    v.to_big_endian(&mut buf);
    let first = buf.iter().position(|&b| b != 0).unwrap_or(32);
    buf[first..].to_vec()
}

/// A big-endian unsigned integer of at most 32 bytes (leading zeros allowed).
pub fn u256_from_bytes(field: &'static str, bytes: &[u8]) -> Result<U256, InteropError> {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let digits = &bytes[first..];
    if digits.len() > 32 {
        return Err(InteropError::OutOfRange { field });
    }
    Ok(U256::from_big_endian(digits))
}

fn u64_from_bytes(field: &'static str, bytes: &[u8]) -> Result<u64, InteropError> {
    let v = u256_from_bytes(field, bytes)?;
    if v > U256::from(u64::MAX) {
        return Err(InteropError::OutOfRange { field });
    }
    Ok(v.low_u64())
}

fn h256_field(field: &'static str, bytes: &[u8]) -> Result<H256, InteropError> {
    if bytes.len() != 32 {
        return Err(InteropError::BadLength {
            field,
            expected: 32,
            len: bytes.len(),
        });
    }
    Ok(H256::from_slice(bytes))
}

/// The price a `PriceInfo` states: `pricePerUnit` wei per `pixelsPerUnit` pixels. The
/// numerator must not be negative and the denominator must be positive.
pub fn price_from_info(info: &PriceInfo) -> Result<PixelPrice, InteropError> {
    let wei = u64::try_from(info.price_per_unit).map_err(|_| InteropError::OutOfRange {
        field: "PriceInfo.pricePerUnit",
    })?;
    let pixels = u64::try_from(info.pixels_per_unit)
        .ok()
        .filter(|&p| p > 0)
        .ok_or(InteropError::OutOfRange {
            field: "PriceInfo.pixelsPerUnit",
        })?;
    PixelPrice::new(U256::from(wei), U256::from(pixels)).ok_or(InteropError::OutOfRange {
        field: "PriceInfo.pixelsPerUnit",
    })
}

/// A `PriceInfo` for a price whose parts fit in an `int64`.
pub fn price_to_info(price: &PixelPrice) -> Result<PriceInfo, InteropError> {
    let fit = |v: &U256, field| {
        if *v > U256::from(i64::MAX as u64) {
            Err(InteropError::Unrepresentable {
                field,
                reason: "larger than int64",
            })
        } else {
            Ok(v.low_u64() as i64)
        }
    };
    Ok(PriceInfo {
        price_per_unit: fit(&price.wei, "PriceInfo.pricePerUnit")?,
        pixels_per_unit: fit(&price.pixels, "PriceInfo.pixelsPerUnit")?,
        capability: 0,
        constraint: String::new(),
    })
}

fn expiration_from_wire(e: &TicketExpirationParams) -> Result<ExpirationParams, InteropError> {
    let round = u64::try_from(e.creation_round).map_err(|_| InteropError::OutOfRange {
        field: "TicketExpirationParams.creation_round",
    })?;
    let hash = h256_field(
        "TicketExpirationParams.creation_round_block_hash",
        &e.creation_round_block_hash,
    )?;
    Ok(ExpirationParams::new(round, hash))
}

fn expiration_to_wire(e: &ExpirationParams) -> Result<TicketExpirationParams, InteropError> {
    Ok(TicketExpirationParams {
        creation_round: i64::try_from(e.creation_round).map_err(|_| {
            InteropError::Unrepresentable {
                field: "TicketExpirationParams.creation_round",
                reason: "larger than int64",
            }
        })?,
        creation_round_block_hash: e.creation_round_block_hash.as_bytes().to_vec(),
    })
}

/// Ticket params from their wire form, the expiration params sent beside them and the price.
///
/// The seed is a big integer of at most 32 bytes, kept left-padded to 32.
pub fn ticket_params_from_wire(
    params: &messages::TicketParams,
    expiration: &TicketExpirationParams,
    price: &PriceInfo,
) -> Result<livepeer_pm::TicketParams, InteropError> {
    let seed = u256_from_bytes("TicketParams.seed", &params.seed)?;
    let mut seed_bytes = [0u8; 32];
    seed.to_big_endian(&mut seed_bytes);
    Ok(livepeer_pm::TicketParams::new(
        address_field("TicketParams.recipient", &params.recipient)?,
        u256_from_bytes("TicketParams.face_value", &params.face_value)?,
        u256_from_bytes("TicketParams.win_prob", &params.win_prob)?,
        h256_field(
            "TicketParams.recipient_rand_hash",
            &params.recipient_rand_hash,
        )?,
        H256::from(seed_bytes),
        u64_from_bytes("TicketParams.expiration_block", &params.expiration_block)?,
        price_from_info(price)?,
        expiration_from_wire(expiration)?,
    ))
}

/// The wire form of ticket params, fields 1–6 (go-livepeer sends the expiration params
/// beside them in a payment; pass `with_expiration` to fill field 7 as in `OrchestratorInfo`).
pub fn ticket_params_to_wire(
    params: &livepeer_pm::TicketParams,
    with_expiration: bool,
) -> Result<messages::TicketParams, InteropError> {
    Ok(messages::TicketParams {
        recipient: params.recipient.as_bytes().to_vec(),
        face_value: u256_to_bytes(&params.face_value),
        win_prob: u256_to_bytes(&params.win_prob),
        recipient_rand_hash: params.recipient_rand_hash.as_bytes().to_vec(),
        seed: u256_to_bytes(&U256::from_big_endian(params.seed.as_bytes())),
        expiration_block: u256_to_bytes(&U256::from(params.expiration_block)),
        expiration_params: if with_expiration {
            Some(expiration_to_wire(&params.expiration)?)
        } else {
            None
        },
    })
}

/// The ticket params of an orchestrator's info, with its price: what a gateway validates
/// and signs tickets against. Requires `ticket_params`, its `expiration_params` and
/// `price_info`.
pub fn ticket_params_from_info(
    info: &OrchestratorInfo,
) -> Result<livepeer_pm::TicketParams, InteropError> {
    let params = info.ticket_params.as_ref().ok_or(InteropError::Missing {
        field: "OrchestratorInfo.ticket_params",
    })?;
    let expiration = params
        .expiration_params
        .as_ref()
        .ok_or(InteropError::Missing {
            field: "TicketParams.expiration_params",
        })?;
    let price = info.price_info.as_ref().ok_or(InteropError::Missing {
        field: "OrchestratorInfo.price_info",
    })?;
    ticket_params_from_wire(params, expiration, price)
}

/// The `Payment` for a batch of tickets signed against an orchestrator's params, echoing
/// `expected_price` (the orchestrator's `price_info`) verbatim.
///
/// Fails with [`InteropError::Unrepresentable`] when the batch was priced differently from
/// `expected_price`: the orchestrator binds the price into its random number, so such
/// tickets could never win.
pub fn payment_from_batch(
    batch: &TicketBatch,
    expected_price: &PriceInfo,
) -> Result<messages::Payment, InteropError> {
    let stated = price_from_info(expected_price)?;
    let p = &batch.params.price;
    if stated.wei.full_mul(p.pixels) != p.wei.full_mul(stated.pixels) {
        return Err(InteropError::Unrepresentable {
            field: "Payment.expected_price",
            reason: "the batch was priced differently",
        });
    }
    let tickets = batch
        .tickets
        .iter()
        .map(|t| messages::TicketSenderParams {
            sender_nonce: t.nonce,
            sig: t.sig.clone(),
        })
        .collect();
    Ok(messages::Payment {
        ticket_params: Some(ticket_params_to_wire(&batch.params, false)?),
        sender: batch.sender.as_bytes().to_vec(),
        expiration_params: Some(expiration_to_wire(&batch.params.expiration)?),
        ticket_sender_params: tickets,
        expected_price: Some(expected_price.clone()),
    })
}

/// A payment without tickets: the sender and price only, as go-livepeer sends when its
/// credit already covers the segment.
pub fn payment_without_tickets(sender: Address, expected_price: &PriceInfo) -> messages::Payment {
    messages::Payment {
        sender: sender.as_bytes().to_vec(),
        expected_price: Some(expected_price.clone()),
        ..messages::Payment::default()
    }
}

/// A payment as an orchestrator receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedPayment {
    /// The sender; zero when the payment names none (an orchestrator that does not charge).
    pub sender: Address,
    /// The price the sender expects to pay, if stated.
    pub expected_price: Option<PixelPrice>,
    /// The tickets, for [`livepeer_pm::Recipient`] or [`livepeer_pm::TicketVerifier`] to
    /// check; `None` when the payment carries none.
    pub batch: Option<TicketBatch>,
}

/// Maps a decoded `Payment` for an orchestrator to check. Signatures stay raw bytes and are
/// checked ticket by ticket by [`livepeer_pm`].
///
/// With tickets, the ticket params, expiration params, expected price and a 20-byte sender
/// are all required.
pub fn payment_to_batch(payment: &messages::Payment) -> Result<ReceivedPayment, InteropError> {
    let sender = if payment.sender.is_empty() {
        Address::zero()
    } else {
        address_field("Payment.sender", &payment.sender)?
    };
    let expected_price = payment
        .expected_price
        .as_ref()
        .map(price_from_info)
        .transpose()?;
    if payment.ticket_sender_params.is_empty() {
        return Ok(ReceivedPayment {
            sender,
            expected_price,
            batch: None,
        });
    }
    let count = payment.ticket_sender_params.len();
    if count > MAX_TICKETS_PER_BATCH {
        return Err(InteropError::TooManyTickets {
            count,
            max: MAX_TICKETS_PER_BATCH,
        });
    }
    if payment.sender.is_empty() {
        return Err(InteropError::Missing {
            field: "Payment.sender",
        });
    }
    let params = payment
        .ticket_params
        .as_ref()
        .ok_or(InteropError::Missing {
            field: "Payment.ticket_params",
        })?;
    let expiration = payment
        .expiration_params
        .as_ref()
        .ok_or(InteropError::Missing {
            field: "Payment.expiration_params",
        })?;
    let price = payment
        .expected_price
        .as_ref()
        .ok_or(InteropError::Missing {
            field: "Payment.expected_price",
        })?;
    let params = ticket_params_from_wire(params, expiration, price)?;
    let tickets = payment
        .ticket_sender_params
        .iter()
        .map(|t| TicketSig::new(t.sender_nonce, t.sig.clone()))
        .collect();
    Ok(ReceivedPayment {
        sender,
        expected_price,
        batch: Some(TicketBatch::new(params, sender, tickets)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_integers_are_minimal() {
        assert!(u256_to_bytes(&U256::zero()).is_empty());
        assert_eq!(u256_to_bytes(&U256::from(0x0100u64)), vec![1, 0]);
        assert_eq!(u256_from_bytes("f", &[]).unwrap(), U256::zero());
        assert_eq!(
            u256_from_bytes("f", &[0, 0, 1, 0]).unwrap(),
            U256::from(256)
        );
        let mut long = vec![0u8; 40];
        long[39] = 1;
        assert_eq!(u256_from_bytes("f", &long).unwrap(), U256::one());
        long[0] = 1;
        assert!(u256_from_bytes("f", &long).is_err());
        assert!(u64_from_bytes("f", &[1; 9]).is_err());
    }

    #[test]
    fn prices() {
        let info = PriceInfo {
            price_per_unit: 1_000_000,
            pixels_per_unit: 100,
            ..PriceInfo::default()
        };
        let p = price_from_info(&info).unwrap();
        assert_eq!(p.wei, U256::from(1_000_000));
        assert_eq!(price_to_info(&p).unwrap(), info);
        for bad in [(-1, 1), (1, 0), (1, -5)] {
            let i = PriceInfo {
                price_per_unit: bad.0,
                pixels_per_unit: bad.1,
                ..PriceInfo::default()
            };
            assert!(price_from_info(&i).is_err());
        }
        let huge = PixelPrice::new(U256::MAX, U256::one()).unwrap();
        assert_eq!(
            price_to_info(&huge).unwrap_err().fault(),
            livepeer_core::Fault::Misuse
        );
    }
}
