//! Signature and win checks for the tickets of one batch.
//!
//! Tickets of a batch share their params, so the shared part of the preimage is encoded and
//! absorbed once ([`TicketHasher`]). Each ticket still has its own hash (its nonce differs),
//! so each needs its own public-key recovery; a batch spreads those over the machine's cores.
//!
//! The sender's public key is cached: once a ticket has recovered to the sender's address,
//! later tickets compare the recovered key with it instead of hashing it into an address.
//! Recovery itself cannot be skipped: verifying `(r, s)` against the known key would not check
//! `v`, and `v` matters twice — the contract's `ecrecover` with another `v` yields another
//! address (the ticket could never be redeemed), and the signature bytes feed the win draw.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use livepeer_core::crypto::address_of;
use livepeer_core::ticket::is_winning;
use livepeer_core::{Address, H256, Signature, SignatureError, U256};
use secp256k1::PublicKey;

use crate::batch::{TicketHasher, TicketSig};
use crate::error::TicketError;
use crate::params::TicketParams;

/// Tickets per thread at least: a thread costs about twenty microseconds to start, a
/// recovery about forty to sixty.
const PARALLEL_MIN: usize = 4;

/// Tickets a thread takes at a time.
const RUN: usize = 8;

/// Threads a batch is spread over: the machine's parallelism, read once.
fn parallelism() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// A ticket whose signature is the sender's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Checked {
    /// The canonical signature.
    pub sig: Signature,
    /// Whether the ticket wins.
    pub won: bool,
}

/// Checks signatures and draws wins for tickets from one sender under one set of params.
///
/// Holds the recipient's random number; `Debug` does not show it.
#[derive(Clone)]
pub struct TicketVerifier {
    hasher: TicketHasher,
    sender: Address,
    sender_key: Option<PublicKey>,
    recipient_rand: U256,
    win_prob: U256,
}

impl TicketVerifier {
    /// A verifier for tickets from `sender` under `params`, whose recipient's random number
    /// is `recipient_rand`.
    pub fn new(params: &TicketParams, sender: Address, recipient_rand: U256) -> Self {
        TicketVerifier {
            hasher: TicketHasher::new(params, sender),
            sender,
            sender_key: None,
            recipient_rand,
            win_prob: params.win_prob,
        }
    }

    /// Uses `key` as the sender's known public key; a key that is not the sender's is
    /// ignored.
    pub fn with_sender_key(mut self, key: PublicKey) -> Self {
        if address_of(&key) == self.sender {
            self.sender_key = Some(key);
        }
        self
    }

    /// The sender's public key, once a ticket has shown it.
    pub fn sender_key(&self) -> Option<PublicKey> {
        self.sender_key
    }

    /// Checks that the sender signed the ticket of `nonce` with `sig`, and draws its win.
    pub fn check(&self, nonce: u32, sig: &[u8]) -> Result<Checked, TicketError> {
        self.prepare(nonce, sig)
            .and_then(|p| self.recover(p))
            .map(|(c, _)| c)
    }

    /// The cheap half of a check: parse the signature, hash the ticket, draw the win.
    fn prepare(&self, nonce: u32, sig: &[u8]) -> Result<Prepared, TicketError> {
        let sig = Signature::from_slice(sig).map_err(TicketError::InvalidSignature)?;
        let digest = self.hasher.digest(nonce);
        let won = is_winning(&sig, &self.recipient_rand, &self.win_prob);
        Ok(Prepared { sig, digest, won })
    }

    /// The costly half: recover the signer and compare it with the sender. Returns the key
    /// when it had to be checked against the address (it was not the cached one).
    fn recover(&self, p: Prepared) -> Result<(Checked, Option<PublicKey>), TicketError> {
        let key = p
            .sig
            .recover_public_key(&p.digest)
            .map_err(TicketError::InvalidSignature)?;
        let learned = if Some(key) == self.sender_key {
            None
        } else {
            let recovered = address_of(&key);
            if recovered != self.sender {
                return Err(TicketError::InvalidSignature(SignatureError::WrongSigner {
                    expected: self.sender,
                    recovered,
                }));
            }
            Some(key)
        };
        let checked = Checked {
            sig: p.sig,
            won: p.won,
        };
        Ok((checked, learned))
    }

    /// Checks a run of tickets on this thread: all the hashing first, then all the
    /// recoveries, which keeps each loop's code hot.
    fn check_run(
        &self,
        tickets: &[TicketSig],
    ) -> Vec<Result<(Checked, Option<PublicKey>), TicketError>> {
        let prepared: Vec<_> = tickets
            .iter()
            .map(|t| self.prepare(t.nonce, &t.sig))
            .collect();
        prepared
            .into_iter()
            .map(|p| p.and_then(|p| self.recover(p)))
            .collect()
    }

    /// Checks every ticket of `tickets` on the calling thread, and learns the sender's key
    /// from the first good one. Results are in the order of `tickets`.
    pub fn check_all_sequential(
        &mut self,
        tickets: &[TicketSig],
    ) -> Vec<Result<Checked, TicketError>> {
        let results = self.check_run(tickets);
        self.learn(results)
    }

    /// Checks every ticket of `tickets`, spread over the cores when there are several,
    /// and learns the sender's key from the first good one. Results are in the order of
    /// `tickets`.
    pub fn check_all(&mut self, tickets: &[TicketSig]) -> Vec<Result<Checked, TicketError>> {
        let threads = parallelism().min(tickets.len() / PARALLEL_MIN).max(1);
        let results = if threads == 1 {
            self.check_run(tickets)
        } else {
            // The calling thread and scoped threads take small runs off a shared counter
            // until none is left, so a core that runs slower (shared machines) takes fewer.
            // A pool whose workers sleep between sporadic batches wakes them too slowly to
            // help (measured: no speedup over one core), while a spawn costs ~20 µs.
            let runs: Vec<&[TicketSig]> = tickets.chunks(RUN).collect();
            let next = AtomicUsize::new(0);
            let work = || {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(run) = runs.get(i) else { break done };
                    done.push((i, self.check_run(run)));
                }
            };
            let mut done = std::thread::scope(|s| {
                let others: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
                let mut done = work();
                for h in others {
                    match h.join() {
                        Ok(d) => done.extend(d),
                        // A check never panics; should one, the panic is the caller's.
                        Err(p) => std::panic::resume_unwind(p),
                    }
                }
                done
            });
            done.sort_unstable_by_key(|(i, _)| *i);
            done.into_iter().flat_map(|(_, r)| r).collect()
        };
        self.learn(results)
    }

    fn learn(
        &mut self,
        results: Vec<Result<(Checked, Option<PublicKey>), TicketError>>,
    ) -> Vec<Result<Checked, TicketError>> {
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            out.push(r.map(|(checked, learned)| {
                if self.sender_key.is_none() {
                    self.sender_key = learned;
                }
                checked
            }));
        }
        out
    }
}

/// A ticket whose signature parsed, with its digest and win draw.
struct Prepared {
    sig: Signature,
    digest: H256,
    won: bool,
}

impl fmt::Debug for TicketVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketVerifier")
            .field("sender", &self.sender)
            .field("sender_key_cached", &self.sender_key.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ExpirationParams;
    use livepeer_core::{H256, LocalSigner, PixelPrice, Signer};

    fn setup() -> (LocalSigner, TicketParams) {
        let s = LocalSigner::from_bytes(&[7u8; 32]).unwrap();
        let p = TicketParams {
            recipient: Address::repeat_byte(1),
            face_value: U256::from(1000u64),
            win_prob: U256::MAX / 2,
            recipient_rand_hash: H256::repeat_byte(2),
            seed: H256::repeat_byte(3),
            expiration_block: 100,
            price: PixelPrice::per_pixel(1),
            expiration: ExpirationParams::new(4, H256::repeat_byte(4)),
        };
        (s, p)
    }

    #[test]
    fn accepts_the_senders_tickets_and_rejects_others() {
        let (s, p) = setup();
        let rand = U256::from(0xfeed_face_u64);
        let mut v = TicketVerifier::new(&p, s.address(), rand);
        let sig = |n: u32| {
            s.sign_message_hash(&p.ticket(s.address(), n).hash())
                .unwrap()
        };
        let good: Vec<_> = (1..=8)
            .map(|n| TicketSig::new(n, sig(n).as_bytes().to_vec()))
            .collect();
        let res = v.check_all(&good);
        assert!(res.iter().all(Result::is_ok));
        assert!(v.sender_key().is_some());
        for (t, r) in good.iter().zip(&res) {
            let c = r.as_ref().unwrap();
            assert_eq!(c.won, is_winning(&c.sig, &rand, &p.win_prob));
            assert_eq!(v.check(t.nonce, &t.sig).unwrap(), *c);
        }
        // The signature of nonce 1 does not sign nonce 2.
        assert!(matches!(
            v.check(2, &good[0].sig),
            Err(TicketError::InvalidSignature(
                SignatureError::WrongSigner { .. } | SignatureError::Unrecoverable
            ))
        ));
        // Another key.
        let other = LocalSigner::from_bytes(&[8u8; 32]).unwrap();
        let forged = other
            .sign_message_hash(&p.ticket(s.address(), 1).hash())
            .unwrap();
        assert!(matches!(
            v.check(1, forged.as_bytes()),
            Err(TicketError::InvalidSignature(
                SignatureError::WrongSigner { .. }
            ))
        ));
        // Malformed forms.
        let mut wrong_v = *good[0].sig.first_chunk::<65>().unwrap();
        wrong_v[64] = 29;
        assert_eq!(
            v.check(1, &wrong_v),
            Err(TicketError::InvalidSignature(SignatureError::BadV(29)))
        );
        assert_eq!(
            v.check(1, &good[0].sig[..64]),
            Err(TicketError::InvalidSignature(SignatureError::BadLength(64)))
        );
        let dbg = format!("{v:?}");
        assert!(!dbg.contains("feedface") && !dbg.contains("4277009102"));
    }

    #[test]
    fn batch_results_match_single_checks_in_order() {
        let (s, p) = setup();
        let other = LocalSigner::from_bytes(&[8u8; 32]).unwrap();
        let mut tickets: Vec<_> = (1..=40u32)
            .map(|n| {
                let signer = if n % 13 == 0 { &other } else { &s };
                let sig = signer
                    .sign_message_hash(&p.ticket(s.address(), n).hash())
                    .unwrap();
                TicketSig::new(n, sig.as_bytes().to_vec())
            })
            .collect();
        tickets[6].sig[64] = 30;
        tickets[20].sig.truncate(10);
        let single = TicketVerifier::new(&p, s.address(), U256::from(5));
        let want: Vec<_> = tickets
            .iter()
            .map(|t| single.check(t.nonce, &t.sig))
            .collect();
        let mut batch = TicketVerifier::new(&p, s.address(), U256::from(5));
        assert_eq!(batch.check_all(&tickets), want);
        let mut here = TicketVerifier::new(&p, s.address(), U256::from(5));
        assert_eq!(here.check_all_sequential(&tickets), want);
        assert_eq!(want.iter().filter(|r| r.is_err()).count(), 5);
        assert_eq!(batch.sender_key(), Some(s.public_key()));
    }

    #[test]
    fn a_foreign_key_is_not_cached() {
        let (s, p) = setup();
        let other = LocalSigner::from_bytes(&[8u8; 32]).unwrap();
        let v =
            TicketVerifier::new(&p, s.address(), U256::one()).with_sender_key(other.public_key());
        assert!(v.sender_key().is_none());
        let v = v.with_sender_key(s.public_key());
        assert_eq!(v.sender_key(), Some(s.public_key()));
    }
}
