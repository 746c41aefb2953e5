//! The broadcaster's protocol decisions besides scheduling ([`super::Scheduler`]): which
//! quotes it takes and until when ([`QuoteBook`]), and whether a result is the one it asked
//! for ([`check_result`]). Sans-IO: wall-clock times are passed in as Unix milliseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use livepeer_core::transcode::Rendition;
use livepeer_core::{Address, Domain, H256, Ladder, PixelPrice, Pixels, StreamId, U256, keccak256};
use thiserror::Error;

use super::{Candidate, Quote, ResultHeader};

/// Why a quote or a result was not taken: the peer's fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct Rejected(pub &'static str);

/// Checks a quote is self-consistent, from `orchestrator`, not expired at `now_unix_ms`, and
/// not above `max_price`.
pub fn check_quote(
    orchestrator: Address,
    q: &Quote,
    now_unix_ms: u64,
    max_price: Option<&PixelPrice>,
) -> Result<(), Rejected> {
    if q.orchestrator != orchestrator {
        return Err(Rejected("quote from another orchestrator"));
    }
    if q.ticket_params.recipient != orchestrator {
        return Err(Rejected("ticket params pay another recipient"));
    }
    if q.ticket_params.price != q.price {
        return Err(Rejected("ticket params were issued for another price"));
    }
    if q.expires_unix_ms <= now_unix_ms {
        return Err(Rejected("quote already expired"));
    }
    if let Some(max) = max_price
        && q.price.exceeds_multiple_of(max, 1)
    {
        return Err(Rejected("price above the maximum"));
    }
    Ok(())
}

/// What a result must match: the segment as the broadcaster sent it.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The deployment the receipt must be signed for.
    pub domain: Domain,
    /// The broadcaster (us).
    pub broadcaster: Address,
    /// Who was asked.
    pub orchestrator: Address,
    /// The stream.
    pub stream_id: StreamId,
    /// The segment.
    pub seq: u64,
    /// keccak256 of the body sent.
    pub input_hash: H256,
    /// The renditions asked for.
    pub ladder: &'a Ladder,
}

/// Checks a result against what was sent: the receipt is signed by the orchestrator asked,
/// names this segment and ladder, and every rendition hashes to the receipt's output hash
/// with its pixel count. Returns the renditions in ladder order.
pub fn check_result(
    expected: &Expected<'_>,
    r: &ResultHeader,
    bodies: Vec<Bytes>,
) -> Result<Vec<Rendition>, Rejected> {
    let rcpt = &r.receipt.receipt;
    let profiles = expected.ladder.profiles();
    if r.receipt.verify(&expected.domain).is_err() || rcpt.orchestrator != expected.orchestrator {
        return Err(Rejected("receipt not signed by the orchestrator"));
    }
    if rcpt.broadcaster != expected.broadcaster
        || rcpt.stream_id != expected.stream_id
        || rcpt.seq != expected.seq
        || rcpt.input_hash != expected.input_hash
        || rcpt.profile_ids != expected.ladder.ids()
    {
        return Err(Rejected("receipt is for another segment"));
    }
    if r.renditions.len() != profiles.len()
        || bodies.len() != profiles.len()
        || rcpt.output_hashes.len() != profiles.len()
        || rcpt.pixels.len() != profiles.len()
    {
        return Err(Rejected("wrong number of renditions"));
    }
    let mut renditions = Vec::with_capacity(profiles.len());
    for (k, ((p, m), data)) in profiles.iter().zip(&r.renditions).zip(bodies).enumerate() {
        if H256::from(keccak256(&data)) != rcpt.output_hashes[k] || rcpt.pixels[k] != m.pixels {
            return Err(Rejected("rendition does not match the receipt"));
        }
        renditions.push(Rendition {
            profile: p.clone(),
            data,
            frames: m.frames,
            pixels: Pixels(m.pixels),
            duration: Duration::from_millis(m.duration_ms),
        });
    }
    Ok(renditions)
}

/// One quote held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldQuote {
    /// The quote.
    pub quote: Quote,
    /// The orchestrator's stake, from discovery.
    pub stake: U256,
    /// How long the quote took.
    pub rtt: Duration,
}

/// The quotes a broadcaster holds for one stream, each until it expires: the candidates its
/// scheduler chooses among.
///
/// Feed quotes with [`QuoteBook::handle_quote`]; call [`QuoteBook::handle_timeout`] when
/// [`QuoteBook::poll_timeout`] passes, which drops the expired ones and says whom to ask
/// again.
#[derive(Clone, Debug, Default)]
pub struct QuoteBook {
    max_price: Option<PixelPrice>,
    quotes: BTreeMap<Address, HeldQuote>,
}

impl QuoteBook {
    /// An empty book refusing quotes above `max_price`.
    pub fn new(max_price: Option<PixelPrice>) -> Self {
        QuoteBook {
            max_price,
            quotes: BTreeMap::new(),
        }
    }

    /// A quote (or a pushed update) asked of `orchestrator` arrived at `now_unix_ms`; it
    /// replaces the one held if it checks out.
    pub fn handle_quote(
        &mut self,
        now_unix_ms: u64,
        orchestrator: Address,
        quote: Quote,
        stake: U256,
        rtt: Duration,
    ) -> Result<(), Rejected> {
        check_quote(orchestrator, &quote, now_unix_ms, self.max_price.as_ref())?;
        self.quotes
            .insert(orchestrator, HeldQuote { quote, stake, rtt });
        Ok(())
    }

    /// Drops `orchestrator`'s quote (it refused, is draining, or was not reachable).
    pub fn remove(&mut self, orchestrator: &Address) -> Option<HeldQuote> {
        self.quotes.remove(orchestrator)
    }

    /// Drops the quotes expired at `now_unix_ms`; returns their orchestrators, to ask again.
    pub fn handle_timeout(&mut self, now_unix_ms: u64) -> Vec<Address> {
        let expired: Vec<Address> = self
            .quotes
            .iter()
            .filter(|(_, h)| h.quote.expires_unix_ms <= now_unix_ms)
            .map(|(a, _)| *a)
            .collect();
        for a in &expired {
            self.quotes.remove(a);
        }
        expired
    }

    /// When the next quote expires, Unix milliseconds.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        self.quotes.values().map(|h| h.quote.expires_unix_ms).min()
    }

    /// The quote held for `orchestrator`.
    pub fn get(&self, orchestrator: &Address) -> Option<&HeldQuote> {
        self.quotes.get(orchestrator)
    }

    /// Orchestrators with a quote held.
    pub fn len(&self) -> usize {
        self.quotes.len()
    }

    /// Whether no quote is held.
    pub fn is_empty(&self) -> bool {
        self.quotes.is_empty()
    }

    /// The candidates for the scheduler, one per quote held.
    pub fn candidates(&self) -> Vec<Candidate> {
        self.quotes
            .iter()
            .map(|(a, h)| Candidate {
                address: *a,
                price: h.quote.price,
                stake: h.stake,
                capacity_pps: h.quote.capacity_pps,
                quote_rtt: h.rtt,
            })
            .collect()
    }
}
