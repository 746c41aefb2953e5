//! What the redemption queue keeps in the store, and where (the layout is documented on the
//! parent module).

use livepeer_core::{Address, H256, U256, Wei};
use serde::{Deserialize, Serialize};

use crate::error::QueueError;
use crate::recipient::Winner;

const VERSION: u8 = 1;

/// A transaction that redeems one attempt's winners, with every hash it was sent under
/// (a replacement keeps the nonce and gets a new hash; any of them may be mined).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SentTx {
    /// The account nonce.
    pub nonce: u64,
    /// The gas price of the latest send (or of the replacement about to be sent).
    pub gas_price: U256,
    /// Hashes of every send, oldest first.
    pub hashes: Vec<H256>,
    /// The block of the first send.
    pub sent_block: u64,
    /// The block of the latest send or replacement.
    pub bumped_block: u64,
}

/// Why a winner was given up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FailReason {
    /// Its validity closed before it was redeemed.
    Expired,
    /// The contract can never redeem it (no auxData: round 0 with a zero block hash).
    Unredeemable,
}

/// Where one winner stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum WinnerState {
    /// Waiting to be redeemed, not before block `not_before`.
    Queued {
        /// Earliest block for the next attempt (backoff after a failure).
        not_before: u64,
    },
    /// A redemption was about to be sent; whether it left is unknown until it is answered.
    Sending {
        /// The attempt.
        attempt: u64,
        /// The block the intent was recorded at.
        block: u64,
        /// The account nonce the transaction is pinned to, when the backend tells nonces.
        nonce: Option<u64>,
        /// The gas price it is sent with.
        gas_price: U256,
        /// How many sends were tried at this nonce.
        tries: u32,
    },
    /// A redemption transaction was sent.
    Sent {
        /// The attempt.
        attempt: u64,
        /// The transaction.
        tx: SentTx,
    },
    /// The ticket is used on chain: paid.
    Redeemed {
        /// The transaction that redeemed it, when known.
        tx: Option<H256>,
        /// The block it was seen redeemed at.
        block: u64,
    },
    /// Given up.
    Failed {
        /// Why.
        reason: FailReason,
        /// The block it was given up at.
        block: u64,
    },
}

impl WinnerState {
    /// Whether the winner still awaits payment (queued, sending or sent).
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            WinnerState::Queued { .. } | WinnerState::Sending { .. } | WinnerState::Sent { .. }
        )
    }

    /// The attempt a sending or sent winner belongs to.
    pub fn attempt(&self) -> Option<u64> {
        match self {
            WinnerState::Sending { attempt, .. } | WinnerState::Sent { attempt, .. } => {
                Some(*attempt)
            }
            _ => None,
        }
    }
}

/// One winner as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WinnerRecord {
    /// The winner.
    pub winner: Winner,
    /// Where it stands.
    pub state: WinnerState,
    /// Failed attempts so far (drives the backoff).
    pub failures: u32,
    /// The block it was queued at.
    pub added_block: u64,
}

impl WinnerRecord {
    /// The ticket hash, the record's key.
    pub fn hash(&self) -> H256 {
        self.winner.ticket.ticket.hash()
    }

    /// The sender.
    pub fn sender(&self) -> Address {
        self.winner.ticket.ticket.sender
    }

    /// The face value.
    pub fn face_value(&self) -> Wei {
        Wei(self.winner.ticket.ticket.face_value)
    }

    /// The first round in which the contract no longer redeems it, given the validity
    /// period in rounds.
    pub fn closes_at_round(&self, validity_rounds: u64) -> u64 {
        self.winner
            .ticket
            .ticket
            .creation_round
            .saturating_add(validity_rounds)
    }
}

pub(crate) fn hex_key(a: &[u8]) -> String {
    hex::encode(a)
}

pub(crate) fn winner_prefix(recipient: &Address) -> Vec<u8> {
    format!("pm/winner/{}/", hex_key(recipient.as_bytes())).into_bytes()
}

pub(crate) fn winner_key(recipient: &Address, hash: &H256) -> Vec<u8> {
    let mut k = winner_prefix(recipient);
    k.extend_from_slice(hex_key(hash.as_bytes()).as_bytes());
    k
}

pub(crate) fn attempt_key(recipient: &Address) -> Vec<u8> {
    format!("pm/meta/{}/attempt", hex_key(recipient.as_bytes())).into_bytes()
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![VERSION];
    // Serializing plain data into a Vec cannot fail.
    out.extend_from_slice(&postcard::to_allocvec(v).unwrap_or_default());
    out
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(
    key: &[u8],
    bytes: &[u8],
) -> Result<T, QueueError> {
    let corrupt = |reason: String| QueueError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    };
    match bytes.split_first() {
        Some((&VERSION, rest)) => postcard::from_bytes(rest).map_err(|e| corrupt(e.to_string())),
        Some((v, _)) => Err(corrupt(format!("unknown format version {v}"))),
        None => Err(corrupt("empty value".into())),
    }
}
