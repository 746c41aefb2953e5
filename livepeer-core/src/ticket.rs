//! The on-chain ticket: Livepeer's `Ticket` struct, its 232-byte packed preimage and keccak256
//! hash, and the win rule, byte-compatible with Livepeer's TicketBroker.
//!
//! This is the shared definition the chain backends and the payment crate both use; building,
//! signing and validating tickets is `livepeer-pm`'s job.

use serde::{Deserialize, Serialize};

use crate::crypto::{Signature, keccak256, keccak256_concat};
use crate::primitives::{Address, H256, U256};

/// A probabilistic micropayment ticket, field for field as the TicketBroker contract hashes it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ticket {
    /// Who may redeem it (the orchestrator).
    pub recipient: Address,
    /// Who pays (the broadcaster).
    pub sender: Address,
    /// Wei paid if the ticket wins.
    pub face_value: U256,
    /// Win probability as a fraction of 2^256 − 1.
    pub win_prob: U256,
    /// The sender's nonce for these params, from 1 (Go keeps it as a `uint32`).
    pub sender_nonce: u32,
    /// keccak256 of the recipient's secret random number.
    pub recipient_rand_hash: H256,
    /// The round the params were created in.
    pub creation_round: u64,
    /// The block hash the RoundsManager recorded for `creation_round`.
    pub creation_round_block_hash: H256,
}

/// Length of the packed preimage with auxData.
pub const TICKET_PREIMAGE_LEN: usize = 232;
/// Length of the packed preimage without auxData (Go's form for round 0 and a zero hash).
pub const TICKET_PREIMAGE_LEN_NO_AUX: usize = 168;

impl Ticket {
    /// The 64-byte auxData (`creationRound ‖ creationRoundBlockHash`), or empty when the
    /// round is 0 and the hash is zero, as go-livepeer encodes it. The contract only redeems
    /// tickets with the full 64 bytes.
    pub fn aux_data(&self) -> Vec<u8> {
        if self.creation_round == 0 && self.creation_round_block_hash.is_zero() {
            return Vec::new();
        }
        let mut out = vec![0u8; 64];
        U256::from(self.creation_round).to_big_endian(&mut out[..32]);
        out[32..].copy_from_slice(self.creation_round_block_hash.as_bytes());
        out
    }

    /// The first 200 bytes of the preimage, shared by every ticket of one set of params
    /// except for the nonce: `recipient ‖ sender ‖ faceValue ‖ winProb`.
    pub fn preimage_prefix(&self) -> [u8; 104] {
        let mut out = [0u8; 104];
        out[..20].copy_from_slice(self.recipient.as_bytes());
        out[20..40].copy_from_slice(self.sender.as_bytes());
        self.face_value.to_big_endian(&mut out[40..72]);
        self.win_prob.to_big_endian(&mut out[72..104]);
        out
    }

    /// The packed preimage: 232 bytes, or 168 in the empty-auxData form.
    pub fn preimage(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(TICKET_PREIMAGE_LEN);
        out.extend_from_slice(&self.preimage_prefix());
        let mut nonce = [0u8; 32];
        U256::from(self.sender_nonce).to_big_endian(&mut nonce);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(self.recipient_rand_hash.as_bytes());
        out.extend_from_slice(&self.aux_data());
        out
    }

    /// keccak256 of the packed preimage: what the sender signs (EIP-191) and what the
    /// contract marks as used.
    pub fn hash(&self) -> H256 {
        let mut nonce = [0u8; 32];
        U256::from(self.sender_nonce).to_big_endian(&mut nonce);
        H256::from(keccak256_concat(&[
            &self.preimage_prefix(),
            &nonce,
            self.recipient_rand_hash.as_bytes(),
            &self.aux_data(),
        ]))
    }
}

/// The commitment to a recipient's random number: keccak256 of its 32 big-endian bytes.
pub fn recipient_rand_hash(recipient_rand: &U256) -> H256 {
    let mut b = [0u8; 32];
    recipient_rand.to_big_endian(&mut b);
    H256::from(keccak256(b))
}

/// The win rule: a ticket wins iff `uint256(keccak256(sig ‖ recipientRand)) < winProb`.
pub fn is_winning(sig: &Signature, recipient_rand: &U256, win_prob: &U256) -> bool {
    let mut rand = [0u8; 32];
    recipient_rand.to_big_endian(&mut rand);
    let h = keccak256_concat(&[sig.as_bytes(), &rand]);
    U256::from_big_endian(&h) < *win_prob
}

/// A winning ticket with everything the contract needs to redeem it.
///
/// `Debug` does not show `recipient_rand`: until the ticket's params expire, it would tell
/// the sender which of its tickets win.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinningTicket {
    /// The ticket.
    pub ticket: Ticket,
    /// The sender's signature over the ticket hash.
    pub sig: Signature,
    /// The recipient's revealed random number.
    pub recipient_rand: U256,
}

impl std::fmt::Debug for WinningTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WinningTicket")
            .field("ticket", &self.ticket)
            .field("sig", &self.sig)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{parse_address, parse_h256};

    fn zero() -> Ticket {
        Ticket {
            recipient: Address::zero(),
            sender: Address::zero(),
            face_value: U256::zero(),
            win_prob: U256::zero(),
            sender_nonce: 0,
            recipient_rand_hash: H256::zero(),
            creation_round: 0,
            creation_round_block_hash: H256::zero(),
        }
    }

    fn hex_hash(t: &Ticket) -> String {
        hex::encode(t.hash().as_bytes())
    }

    /// The seven hash vectors of go-livepeer's `TestHash`.
    #[test]
    fn livepeer_hash_vectors() {
        let rrh =
            parse_h256("41b1a0649752af1b28b3dc29a1556eee781e4a4c3a1f7f53f90fa834de098c4d").unwrap();
        let cases: Vec<(Ticket, &str)> = vec![
            (
                Ticket {
                    sender_nonce: u32::MAX,
                    ..zero()
                },
                "e1393fc7f6de093780674022f96cb8e3872235167d037c04d554e58c0e63d280",
            ),
            (
                Ticket {
                    sender_nonce: 1,
                    ..zero()
                },
                "ce0918ba94518293e9712effbe5fca4f1f431089833a5b8c257cb1e024595f68",
            ),
            (
                Ticket {
                    face_value: U256::from(1),
                    win_prob: U256::from(500),
                    ..zero()
                },
                "87ef13f2d37e4d5352a01d3c77b8179d80e0887f1953bfabfd0bfd7b0f689ddd",
            ),
            (
                Ticket {
                    face_value: U256::from(500),
                    win_prob: U256::from(1),
                    ..zero()
                },
                "aa4b35071043587992ac8b9dd1b2cf1d8311130e6458cf0b2342484e21af5f5b",
            ),
            (
                Ticket {
                    recipient: parse_address("0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F").unwrap(),
                    ..zero()
                },
                "81e353ae39046e2b77b9f996abbaeed527fda559b61ef90f299c4499dd508ccc",
            ),
            (
                Ticket {
                    recipient_rand_hash: rrh,
                    ..zero()
                },
                "be5eaf9a49a39540b9bb02f1a21904f61324a29819e2c032824bfaa10c100b17",
            ),
            (
                Ticket {
                    creation_round: 10,
                    creation_round_block_hash: rrh,
                    ..zero()
                },
                "e502907c16036ab3d11b78c5a2e93c20f3d6415c67f91de4ed01348182b3b2e2",
            ),
        ];
        for (t, want) in cases {
            assert_eq!(hex_hash(&t), want, "{t:?}");
            assert_eq!(t.hash(), H256::from(keccak256(t.preimage())));
        }
    }

    #[test]
    fn debug_hides_the_recipient_rand() {
        let sig = crate::signer::Signer::sign_message_hash(
            &crate::signer::LocalSigner::from_bytes(&[1u8; 32]).unwrap(),
            &zero().hash(),
        )
        .unwrap();
        let w = WinningTicket {
            ticket: zero(),
            sig,
            recipient_rand: U256::from(0xfeed_face_u64),
        };
        let d = format!("{w:?}");
        assert!(!d.contains("feedface") && !d.contains("4277009102"), "{d}");
    }

    #[test]
    fn preimage_lengths() {
        assert_eq!(zero().preimage().len(), TICKET_PREIMAGE_LEN_NO_AUX);
        let t = Ticket {
            creation_round: 1,
            ..zero()
        };
        assert_eq!(t.preimage().len(), TICKET_PREIMAGE_LEN);
    }

    #[test]
    fn win_rule_bounds() {
        let sig = crate::signer::LocalSigner::from_bytes(&[1u8; 32])
            .and_then(|s| {
                crate::signer::Signer::sign_message_hash(&s, &zero().hash())
                    .map_err(|e| crate::error::ParseError::invalid("sig", e.to_string()))
            })
            .unwrap();
        assert!(!is_winning(&sig, &U256::from(7), &U256::zero()));
        assert!(
            is_winning(&sig, &U256::from(7), &U256::MAX) || {
                // Only a hash of exactly 2^256-1 loses at the maximum probability.
                let mut r = [0u8; 32];
                U256::from(7).to_big_endian(&mut r);
                U256::from_big_endian(&keccak256_concat(&[sig.as_bytes(), &r])) == U256::MAX
            }
        );
    }
}
