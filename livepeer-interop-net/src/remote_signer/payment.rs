//! The remote signer's payment logic, without I/O or clock: one `generate-live-payment`
//! request in, one answer (or a typed refusal) out, as go-livepeer's
//! `GenerateLivePayment` computes it.
//!
//! The signer keeps nothing between requests: the nonce, the credit balance and the time
//! of the last payment travel in a state blob it signs and the gateway returns. The blob is
//! this crate's own JSON (go-livepeer's field names, the time as Unix milliseconds); a
//! gateway treats it as opaque.

use std::time::Duration;

use livepeer_core::crypto::keccak256;
use livepeer_core::primitives::to_checksum;
use livepeer_core::{Address, H256, Signature, Signer, U256, Wei};
use livepeer_interop::messages::{Capabilities, PriceInfo};
use livepeer_interop::payment::{payment_from_batch, ticket_params_from_info};
use livepeer_interop::{build_seg_data, encode_payment_header, encode_segment_header};
use livepeer_pm::{TicketBatch, TicketHasher, TicketSig};
use prost::Message;
use serde::{Deserialize, Serialize};
use tracing::debug;

use super::wire::{LivePaymentRequest, LivePaymentResponse, MaxPrice, SignedState};
use crate::error::SignerServiceError;

/// The most tickets one payment may carry (go-livepeer's bound).
pub const MAX_TICKETS: u64 = 100;
/// The auth token is refreshed in the last tenth of its 30-minute validity.
pub const AUTH_TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(180);
/// Seconds paid for on the first `live` payment.
const LIVE_FIRST_MS: u64 = 10_000;
/// Seconds paid for on the first `lv2v` payment.
const LV2V_FIRST_MS: u64 = 60_000;
/// Pixels per second of the `lv2v` estimate: 1280×720 at 30 fps.
const LV2V_PIXELS_PER_SEC: u64 = 1280 * 720 * 30;

/// The state carried between payments of one session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PaymentState {
    #[serde(rename = "StateID")]
    state_id: String,
    #[serde(rename = "PMSessionID", default)]
    pm_session_id: String,
    #[serde(rename = "LastUpdateMs", default)]
    last_update_ms: u64,
    #[serde(rename = "OrchestratorAddress")]
    orchestrator: Address,
    #[serde(rename = "App", default)]
    app: String,
    #[serde(rename = "SenderNonce", default)]
    sender_nonce: u32,
    /// Credit with the orchestrator, in wei (decimal).
    #[serde(rename = "Balance", default)]
    balance: String,
    #[serde(rename = "InitialPricePerUnit")]
    initial_price_per_unit: i64,
    #[serde(rename = "InitialPixelsPerUnit")]
    initial_pixels_per_unit: i64,
    #[serde(rename = "Type", default)]
    job_type: String,
    #[serde(rename = "SequenceNumber", default)]
    sequence_number: u64,
}

/// What `/sign-orchestrator-info` answers for `signer`: its EIP-55 address and its
/// signature for `GetOrchestrator`, both as strings.
pub fn orch_info_signature(
    signer: &dyn Signer,
) -> Result<super::wire::OrchInfoSigResponse, SignerServiceError> {
    let address = signer.address();
    let sig = signer.sign_message_hash(&livepeer_interop::orchestrator_request_digest(&address))?;
    Ok(super::wire::OrchInfoSigResponse {
        address: to_checksum(&address),
        signature: format!("0x{}", hex::encode(sig.as_bytes())),
    })
}

/// The limits a remote signer holds orchestrators' ticket params to, and what it knows of
/// the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PaymentPolicy {
    /// The largest EV of one ticket accepted (go-livepeer's `-maxTicketEV`, 3e12 wei).
    pub max_ev: Wei,
    /// The largest EV of the tickets of one payment (`-maxTotalEV`, 2e13 wei).
    pub max_total_ev: Wei,
    /// The latest L1 block, if known: params expiring within one block of it ask for a
    /// refresh (HTTP 480), as go-livepeer's sender does. Unknown, expiry is not checked.
    pub l1_block: Option<u64>,
}

impl Default for PaymentPolicy {
    fn default() -> Self {
        PaymentPolicy {
            max_ev: Wei::from_u128(3_000_000_000_000),
            max_total_ev: Wei::from_u128(20_000_000_000_000),
            l1_block: None,
        }
    }
}

/// Answers one `generate-live-payment` request for `signer` at `now` (since the Unix
/// epoch) under the default [`PaymentPolicy`]. `fresh` is 32 random bytes, used for the
/// state id and, on a first request without one, the manifest id.
pub fn generate_live_payment(
    signer: &dyn Signer,
    request: &LivePaymentRequest,
    now: Duration,
    fresh: [u8; 32],
) -> Result<LivePaymentResponse, SignerServiceError> {
    generate_live_payment_with(signer, request, now, fresh, &PaymentPolicy::default())
}

/// [`generate_live_payment`] under `policy`.
pub fn generate_live_payment_with(
    signer: &dyn Signer,
    request: &LivePaymentRequest,
    now: Duration,
    fresh: [u8; 32],
    policy: &PaymentPolicy,
) -> Result<LivePaymentResponse, SignerServiceError> {
    if request.orchestrator.is_empty() {
        return Err(SignerServiceError::Missing("missing orchestrator"));
    }
    let info = livepeer_interop::decode_orchestrator_info(&request.orchestrator)?;
    let price = match &info.price_info {
        Some(p) if p.price_per_unit != 0 && p.pixels_per_unit != 0 => p.clone(),
        _ => return Err(SignerServiceError::Missing("missing or zero priceInfo")),
    };
    if info.ticket_params.is_none() {
        return Err(SignerServiceError::Missing(
            "missing ticketParams in OrchestratorInfo",
        ));
    }
    if info.address.len() != 20 {
        return Err(livepeer_interop::InteropError::BadLength {
            field: "OrchestratorInfo.address",
            expected: 20,
            len: info.address.len(),
        }
        .into());
    }
    let orchestrator = Address::from_slice(&info.address);

    let has_state = !request.state.is_empty();
    let mut state = if has_state {
        let state = open_state(signer, &request.state)?;
        if state.orchestrator != orchestrator {
            return Err(SignerServiceError::StateMismatch("orchestratorAddress"));
        }
        if state.app != request.app {
            return Err(SignerServiceError::StateMismatch("app"));
        }
        if !state.job_type.is_empty() && state.job_type != request.job_type {
            return Err(SignerServiceError::StateMismatch("job type"));
        }
        PaymentState {
            job_type: request.job_type.clone(),
            sequence_number: state.sequence_number.saturating_add(1),
            ..state
        }
    } else {
        PaymentState {
            state_id: hex::encode(&fresh[..16]),
            orchestrator,
            app: request.app.clone(),
            initial_price_per_unit: price.price_per_unit,
            initial_pixels_per_unit: price.pixels_per_unit,
            job_type: request.job_type.clone(),
            ..PaymentState::default()
        }
    };

    let manifest_id = match (request.manifest_id.is_empty(), has_state) {
        (false, _) => request.manifest_id.clone(),
        (true, true) => return Err(SignerServiceError::Missing("missing manifestID")),
        (true, false) => hex::encode(&fresh[16..]),
    };
    let capabilities = if request.capabilities.is_empty() {
        None
    } else {
        Some(
            Capabilities::decode(request.capabilities.as_slice()).map_err(|e| {
                SignerServiceError::Invalid(livepeer_interop::InteropError::Protobuf {
                    what: "Capabilities",
                    reason: e.to_string(),
                })
            })?,
        )
    };
    let params = ticket_params_from_info(&info)?;
    let session_id = format!("{:?}", params.recipient_rand_hash);
    let nonce = if state.pm_session_id == session_id {
        state.sender_nonce
    } else {
        0
    };

    // go-livepeer's shouldRefreshSession: the auth token must be present and not in the
    // last tenth of its validity.
    let token = info
        .auth_token
        .clone()
        .ok_or(SignerServiceError::Missing("missing auth token"))?;
    let refresh_at = token
        .expiration
        .saturating_sub(AUTH_TOKEN_REFRESH_MARGIN.as_secs() as i64);
    let refresh = || SignerServiceError::RefreshSession {
        orchestrator_url: Some(info.transcoder.clone()).filter(|t| !t.is_empty()),
    };
    if i128::from(refresh_at) < now.as_secs() as i128 {
        return Err(refresh());
    }
    // go-livepeer's validateTicketParams, but for the sender's funds (a chain read).
    if params.expiration_block == 0 {
        return Err(SignerServiceError::BadTicketParams(
            "ticketParams expiration block is 0".into(),
        ));
    }
    if let Some(block) = policy.l1_block
        && params.expiration_block <= block.saturating_add(1)
    {
        return Err(refresh());
    }
    let ev = params.ev();
    if !ev.is_zero() && ev >= Wei(params.face_value) {
        return Err(SignerServiceError::BadTicketParams(format!(
            "ticket faceValue too low faceValue={}",
            params.face_value
        )));
    }
    if ev > policy.max_ev {
        return Err(SignerServiceError::BadTicketParams(format!(
            "ticket EV {ev} > max ticket EV {}",
            policy.max_ev
        )));
    }

    let now_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
    let last = if state.last_update_ms == 0 {
        now_ms
    } else {
        state.last_update_ms
    };
    let elapsed_ms = now_ms.saturating_sub(last);
    let units: u64 = match request.job_type.as_str() {
        "lv2v" => {
            let ms = if elapsed_ms == 0 {
                LV2V_FIRST_MS
            } else {
                elapsed_ms
            };
            LV2V_PIXELS_PER_SEC.saturating_mul(ms) / 1000
        }
        "live" => {
            let ms = if elapsed_ms == 0 {
                LIVE_FIRST_MS
            } else {
                elapsed_ms
            };
            ms.div_ceil(1000)
        }
        "fixed" => 1,
        "" => u64::try_from(request.in_pixels).unwrap_or(0),
        _ => return Err(SignerServiceError::InvalidJobType),
    };
    if units == 0 {
        return Err(SignerServiceError::NoBillableUnits);
    }

    check_price(
        &price,
        request.max_price.as_ref(),
        &request.job_type,
        has_state.then_some(&state),
    )?;

    // The fee at the session's initial price, rounded up to whole wei.
    let ppu = U256::from(state.initial_price_per_unit.max(0) as u64);
    let ppx = U256::from(state.initial_pixels_per_unit.max(1) as u64);
    let (q, r) = U256::from(units).saturating_mul(ppu).div_mod(ppx);
    let fee = Wei(if r.is_zero() { q } else { q + 1 });
    let existing = parse_wei(&state.balance)?;
    let min_credit = fee.max(ev);
    if existing >= min_credit || ev.is_zero() {
        return Err(SignerServiceError::NoTickets);
    }
    let gap = min_credit.0 - existing.0;
    let (q, r) = gap.div_mod(ev.0);
    let count = if r.is_zero() { q } else { q + 1 };
    if count > U256::from(MAX_TICKETS) {
        return Err(SignerServiceError::TooManyTickets {
            count: count.low_u64(),
            max: MAX_TICKETS,
        });
    }
    let total = Wei(ev.0.saturating_mul(count));
    if total > policy.max_total_ev {
        return Err(SignerServiceError::BadTicketParams(format!(
            "total ticket EV {total} for {count} tickets > max total ticket EV {}",
            policy.max_total_ev
        )));
    }
    let count = count.low_u32();

    let sender = signer.address();
    let hasher = TicketHasher::new(&params, sender);
    let last_nonce = nonce
        .checked_add(count)
        .ok_or(SignerServiceError::NoTickets)?;
    let mut tickets = Vec::with_capacity(count as usize);
    for n in nonce + 1..=last_nonce {
        let sig = signer.sign_message_hash(&hasher.hash(n))?;
        tickets.push(TicketSig::new(n, sig.as_bytes().to_vec()));
    }
    let batch = TicketBatch::new(params, sender, tickets);
    let payment = payment_from_batch(&batch, &price)?;
    let mut seg = build_seg_data(
        manifest_id.as_bytes(),
        0,
        b"",
        Vec::new(),
        Duration::ZERO,
        token,
        &signer,
    )
    .map_err(interop_or_signer)?;
    seg.capabilities = capabilities;

    let paid = ev.0.saturating_mul(U256::from(count));
    let balance = existing.0.saturating_add(paid).saturating_sub(fee.0);
    state.balance = balance.to_string();
    state.last_update_ms = now_ms;
    state.pm_session_id = session_id;
    state.sender_nonce = last_nonce;
    debug!(
        state_id = %state.state_id,
        seq = state.sequence_number,
        tickets = count,
        nonce = last_nonce,
        %fee,
        "live payment signed"
    );
    Ok(LivePaymentResponse {
        payment: encode_payment_header(&payment),
        seg_creds: encode_segment_header(&seg),
        state: seal_state(signer, &state)?,
    })
}

fn interop_or_signer(e: livepeer_interop::InteropError) -> SignerServiceError {
    match e {
        livepeer_interop::InteropError::Signer(s) => SignerServiceError::Signer(s),
        other => SignerServiceError::Invalid(other),
    }
}

fn parse_wei(s: &str) -> Result<Wei, SignerServiceError> {
    if s.is_empty() {
        return Ok(Wei::ZERO);
    }
    U256::from_dec_str(s)
        .map(Wei)
        .map_err(|_| SignerServiceError::InvalidState)
}

fn seal_state(
    signer: &dyn Signer,
    state: &PaymentState,
) -> Result<SignedState, SignerServiceError> {
    let bytes = serde_json::to_vec(state).map_err(|_| SignerServiceError::InvalidState)?;
    seal_bytes(signer, bytes)
}

/// Signs state bytes as the signer signs its state (for tests and fuzzing).
pub(crate) fn seal_bytes(
    signer: &dyn Signer,
    bytes: Vec<u8>,
) -> Result<SignedState, SignerServiceError> {
    let sig = signer.sign_message_hash(&H256::from(keccak256(&bytes)))?;
    Ok(SignedState {
        state: bytes,
        sig: sig.as_bytes().to_vec(),
    })
}

fn open_state(
    signer: &dyn Signer,
    sealed: &SignedState,
) -> Result<PaymentState, SignerServiceError> {
    Signature::from_slice(&sealed.sig)
        .and_then(|s| s.verify_eip191(&H256::from(keccak256(&sealed.state)), &signer.address()))
        .map_err(|_| SignerServiceError::InvalidStateSig)?;
    serde_json::from_slice(&sealed.state).map_err(|_| SignerServiceError::InvalidState)
}

/// The ceilings go-livepeer checks before paying: the request's `maxPrice` and, once a
/// session is under way, its initial price. The orchestrator's price is
/// `pricePerUnit / pixelsPerUnit`.
fn check_price(
    price: &PriceInfo,
    max: Option<&MaxPrice>,
    job_type: &str,
    state: Option<&PaymentState>,
) -> Result<(), SignerServiceError> {
    let (ppu, ppx) = (price.price_per_unit, price.pixels_per_unit);
    if ppu < 0 || ppx <= 0 {
        return Err(SignerServiceError::Missing("missing or zero priceInfo"));
    }
    let (ppu, ppx) = (U256::from(ppu as u64), U256::from(ppx as u64));
    if let Some(max) = max {
        let expected_unit = match job_type {
            "live" => "seconds",
            "lv2v" => "720p-pixel-seconds",
            "fixed" => "fixed",
            _ => {
                return Err(SignerServiceError::MalformedJson(
                    "maxPrice requires payment type live, lv2v, or fixed".into(),
                ));
            }
        };
        if !max.currency.trim().eq_ignore_ascii_case("wei") {
            return Err(SignerServiceError::MalformedJson(
                "maxPrice.currency must be wei".into(),
            ));
        }
        if !max.unit.trim().eq_ignore_ascii_case(expected_unit) {
            return Err(SignerServiceError::MalformedJson(format!(
                "maxPrice.unit must be {expected_unit} for payment type {job_type}"
            )));
        }
        let (num, den) = parse_decimal(&max.price).ok_or_else(|| {
            SignerServiceError::MalformedJson("maxPrice.price must be a positive decimal".into())
        })?;
        // ppu / ppx > num / den  ⇔  ppu·den > num·ppx
        if ppu.full_mul(den) > num.full_mul(ppx) {
            return Err(SignerServiceError::PriceExceeded(format!(
                "orchestrator price {ppu}/{ppx} exceeds request maxPrice ceiling {}",
                max.price
            )));
        }
    }
    if let Some(state) = state {
        if state.initial_price_per_unit <= 0 || state.initial_pixels_per_unit <= 0 {
            return Err(SignerServiceError::InvalidState);
        }
        let ip = U256::from(state.initial_price_per_unit as u64);
        let ix = U256::from(state.initial_pixels_per_unit as u64);
        if ppu.full_mul(ix) > ip.full_mul(ppx) {
            return Err(SignerServiceError::PriceExceeded(format!(
                "orchestrator price {ppu}/{ppx} exceeds initial session price ceiling {ip}/{ix}"
            )));
        }
    }
    Ok(())
}

/// A positive decimal (`12`, `0.5`, `3.25`) as numerator and power-of-ten denominator.
fn parse_decimal(s: &str) -> Option<(U256, U256)> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || int.len() + frac.len() > 60
    {
        return None;
    }
    let digits = format!("{int}{frac}");
    let num = U256::from_dec_str(if digits.is_empty() { "0" } else { &digits }).ok()?;
    let den = U256::from(10u8).checked_pow(U256::from(frac.len()))?;
    (!num.is_zero()).then_some((num, den))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("12"), Some((U256::from(12), U256::from(1))));
        assert_eq!(
            parse_decimal("0.25"),
            Some((U256::from(25), U256::from(100)))
        );
        assert_eq!(parse_decimal(".5"), Some((U256::from(5), U256::from(10))));
        assert_eq!(parse_decimal("0"), None);
        assert_eq!(parse_decimal("-1"), None);
        assert_eq!(parse_decimal("1e3"), None);
        assert_eq!(parse_decimal(""), None);
        assert_eq!(parse_decimal("."), None);
    }
}
