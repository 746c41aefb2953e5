//! One stream over both protocols: the broadcaster node's orchestrators over QUIC and a
//! [`LivepeerGateway`]'s go-livepeer orchestrators, ranked together for every segment by
//! one selection policy on one scoreboard, written to one HLS output. A segment that fails
//! on one goes to the next ranked, whichever protocol it speaks.

use std::path::Path;
use std::time::Instant;

use livepeer_core::chain::{RegistryReader, RoundInfo, TicketBrokerReader};
use livepeer_core::transcode::Rendition;
use livepeer_core::{Address, Ladder, Pixels, Wei};
use livepeer_negotiate::StreamSession;
use livepeer_negotiate::proto::Candidate;
use livepeer_transcode::hls::HlsWriter;
use tracing::{Instrument as _, info, info_span, warn};

use super::gateway::{Job, LivepeerGateway, Retry, Sessions, stream_names, wire_ladder};
use crate::broadcaster::BroadcasterNode;
use crate::chain::BroadcasterChain;
use crate::error::{NodeError, Result};
use crate::source::{Progress, SegmentSource};
use crate::stats::StreamStats;

impl<C: BroadcasterChain> BroadcasterNode<C> {
    /// Streams `source` transcoded to `ladder` through this node's orchestrators (QUIC,
    /// our protocol, every result verified as in [`Self::stream`]) and `gateway`'s
    /// go-livepeer orchestrators (their signatures checked, every rendition inspected), and
    /// writes it as HLS under `out`. For each segment the candidates of both kinds are
    /// ranked by `gateway`'s policy; build the gateway with
    /// `.scoreboard(node.broadcaster().scoreboard())` so one history scores them all. A
    /// segment that fails everywhere tried is counted and skipped. An orchestrator that
    /// speaks both is used over QUIC.
    pub async fn stream_mixed<G>(
        &self,
        gateway: &LivepeerGateway<G>,
        source: &mut SegmentSource,
        ladder: &Ladder,
        out: &Path,
        progress: &dyn Progress,
    ) -> Result<StreamStats>
    where
        G: RoundInfo + TicketBrokerReader + RegistryReader + 'static,
    {
        if self.health().is_draining() {
            return Err(NodeError::Draining);
        }
        let profiles = wire_ladder(ladder)?;
        let mut hls = HlsWriter::create(out, ladder).map_err(anyhow::Error::from)?;
        let (stream, manifest) = stream_names(out);
        let span = info_span!("mixed_stream", manifest = %manifest);
        let quic = match self
            .broadcaster()
            .start_stream(stream, ladder.clone())
            .instrument(span.clone())
            .await
        {
            Ok(s) => Some(s),
            Err(e) => {
                info!(error = %e, "no orchestrator over QUIC");
                None
            }
        };
        let mut lp = gateway.discover_all().instrument(span.clone()).await;
        // Whoever speaks both is asked over QUIC, where its results are verified in full.
        if let Some(q) = &quic {
            for a in q.orchestrators() {
                lp.remove(&a);
            }
        }
        if quic.is_none() && lp.is_empty() {
            return Err(NodeError::Config(
                "no orchestrator answered over QUIC or go-livepeer's protocol".into(),
            ));
        }
        let job = Job {
            manifest: &manifest,
            stream,
            ladder,
            profiles: &profiles,
        };
        progress.total(source.known_len());
        let meter = self.meter();
        meter.streams(1.0);
        let t0 = Instant::now();
        let mut st = StreamStats::default();
        let r = async {
            while let Some(seg) = source.next_segment()? {
                if self.health().is_draining() {
                    info!(seq = seg.seq, "draining: the stream ends here");
                    st.drained = true;
                    break;
                }
                st.took(seg.duration, Some(meter));
                let seq = seg.seq;
                let started = Instant::now();
                let done = one_segment(gateway, quic.as_ref(), &mut lp, &job, seg)
                    .instrument(info_span!("segment", seq))
                    .await;
                st.settle(&mut hls, (seq, started), done, progress, Some(meter))?;
            }
            Ok::<_, NodeError>(())
        }
        .instrument(span)
        .await;
        meter.streams(-1.0);
        gateway.close(&lp, stream);
        r?;
        st.wall = t0.elapsed();
        st.master = hls.finish().map_err(anyhow::Error::from)?.master;
        Ok(st)
    }
}

/// One segment on the best ranked orchestrators of both kinds until one's work checks out:
/// who did it, the renditions and the fee at its price.
async fn one_segment<G>(
    gateway: &LivepeerGateway<G>,
    quic: Option<&StreamSession>,
    lp: &mut Sessions,
    job: &Job<'_>,
    seg: livepeer_core::Segment,
) -> Option<(Address, Vec<Rendition>, Wei)>
where
    G: RoundInfo + TicketBrokerReader + RegistryReader + 'static,
{
    let block = gateway.follow_chain().await.unwrap_or(0);
    let over_quic = quic.map(StreamSession::orchestrators).unwrap_or_default();
    let (mut tried, mut again): (Vec<Address>, Vec<Address>) = (Vec::new(), Vec::new());
    for _ in 0..gateway.max_attempts() {
        let mut candidates = gateway.candidates(lp, &tried);
        if let Some(q) = quic {
            candidates.extend(
                over_quic
                    .iter()
                    .filter(|a| !tried.contains(a))
                    .filter_map(|a| q.held_quote(a))
                    .map(|h| Candidate {
                        address: h.quote.orchestrator,
                        price: h.quote.price,
                        stake: h.stake,
                        capacity_pps: h.quote.capacity_pps,
                        quote_rtt: h.rtt,
                    }),
            );
        }
        let &best = gateway.rank(&candidates).first()?;
        let addr = candidates[best].address;
        if lp.contains_key(&addr) {
            match gateway.try_on(lp, addr, job, &seg, block).await {
                Ok((renditions, fee)) => return Some((addr, renditions, fee)),
                // Fresh params came back: once more on those first.
                Err(Retry::Fresh) if !again.contains(&addr) => again.push(addr),
                Err(_) => tried.push(addr),
            }
            continue;
        }
        tried.push(addr);
        let Some(q) = quic else { continue };
        // Only `addr`: the session's own failover is this loop's.
        let others: Vec<Address> = over_quic.iter().copied().filter(|a| *a != addr).collect();
        match q.transcode_excluding(seg.clone(), others).await {
            Ok(r) => {
                let px = r
                    .renditions
                    .iter()
                    .fold(Pixels::ZERO, |a, x| a.saturating_add(x.pixels));
                let fee = q
                    .quote_of(&r.orchestrator)
                    .map_or(Wei::ZERO, |quote| quote.price.fee(px));
                return Some((r.orchestrator, r.renditions, fee));
            }
            Err(e) => warn!(seq = seg.seq, orchestrator = ?addr, "failed over QUIC: {e}"),
        }
    }
    None
}
