//! The trusted-verifier role as a service: watch the chain for the challenges this verifier
//! contract decides, fetch each one's evidence from the broadcaster that serves it, decide
//! with the same checks the broadcaster ran, and vote. Used by `verifier serve` and by
//! devnet.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ethers::providers::Middleware;
use livepeer_contracts::{ChainClient, OpenedChallenge};
use livepeer_core::chain::{ChallengeId, ChallengeState, FaultChallenger};
use livepeer_verify::{Decision, VerifierNode};
use tracing::{info, warn};

/// A challenge this node decided, and how.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Judged {
    /// The challenge.
    pub challenge: OpenedChallenge,
    /// The decision voted.
    pub decision: Decision,
}

/// Watches the chain from a block on and judges every new challenge of its verifier
/// contract that is still open.
pub struct Judge<M> {
    chain: Arc<ChainClient<M>>,
    node: Arc<VerifierNode>,
    next_block: u64,
    seen: HashSet<ChallengeId>,
}

impl<M> std::fmt::Debug for Judge<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judge")
            .field("next_block", &self.next_block)
            .field("seen", &self.seen.len())
            .finish()
    }
}

impl<M: Middleware + 'static> Judge<M> {
    /// Judges through `node` the challenges `chain`'s trusted verifier decides, opened from
    /// block `from` on.
    pub fn new(chain: Arc<ChainClient<M>>, node: Arc<VerifierNode>, from: u64) -> Self {
        Judge {
            chain,
            node,
            next_block: from,
            seen: HashSet::new(),
        }
    }

    /// One pass: reads the challenges opened since the last pass and judges those still
    /// open. A challenge whose evidence cannot be fetched now (a transport failure) is
    /// tried again on the next pass; one already decided (by another voter, or expired) is
    /// skipped.
    pub async fn poll(&mut self) -> anyhow::Result<Vec<Judged>> {
        let (opened, head) = self.chain.challenges_opened(self.next_block).await?;
        let ours = self.chain.addresses().trusted_verifier;
        let mut judged = Vec::new();
        let mut retry_from = None;
        for c in opened.into_iter().filter(|c| c.verifier == ours) {
            if self.seen.contains(&c.id) {
                continue;
            }
            if !matches!(
                self.chain.challenge_state(c.id).await?,
                ChallengeState::Open { .. }
            ) {
                self.seen.insert(c.id);
                continue;
            }
            match self.node.judge(c.id).await {
                Ok((decision, _)) => {
                    info!(challenge = ?c.id.0, orchestrator = ?c.orchestrator, guilty = decision.is_guilty(), "challenge judged");
                    self.seen.insert(c.id);
                    judged.push(Judged {
                        challenge: c,
                        decision,
                    });
                }
                Err(e) => {
                    warn!(challenge = ?c.id.0, "cannot judge yet: {e}");
                    retry_from = Some(retry_from.map_or(c.block, |b: u64| b.min(c.block)));
                }
            }
        }
        self.next_block = retry_from.unwrap_or(head + 1);
        Ok(judged)
    }

    /// Polls every `every` until the process ends, calling `on` for each decision.
    pub async fn run(mut self, every: Duration, mut on: impl FnMut(&Judged)) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match self.poll().await {
                Ok(judged) => judged.iter().for_each(&mut on),
                Err(e) => warn!("watching challenges: {e:#}"),
            }
        }
    }
}
