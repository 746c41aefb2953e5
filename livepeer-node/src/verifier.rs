//! The trusted verifier as a service: watch the chain for the challenges its verifier
//! contract decides, fetch each one's evidence from the broadcaster that serves it, decide
//! with the same checks the broadcaster ran, and vote.
//!
//! [`VerifierNode::builder`] sets it up; [`Judge`] is its one-pass core for callers that
//! drive it themselves.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ethers::providers::Middleware;
use livepeer_contracts::{ChainClient, OpenedChallenge};
use livepeer_core::Address;
use livepeer_core::chain::{ChallengeId, ChallengeState, FaultChallenger, RoundInfo as _};
use livepeer_core::transcode::Transcoder;
use livepeer_verify::net::RemoteEvidence;
use livepeer_verify::openh264::{SoftwareDecoder, SoftwareScaler};
use livepeer_verify::{Checker, Decision, EvidenceSource, EvidenceSources, VerifyConfig};
use tracing::{info, warn};

use crate::error::{NodeError, Result};

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
    node: Arc<livepeer_verify::VerifierNode>,
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
    pub fn new(
        chain: Arc<ChainClient<M>>,
        node: Arc<livepeer_verify::VerifierNode>,
        from: u64,
    ) -> Self {
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
    pub async fn poll(&mut self) -> Result<Vec<Judged>> {
        let (opened, head) = self
            .chain
            .challenges_opened(self.next_block)
            .await
            .map_err(anyhow::Error::from)?;
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

/// Builds a [`VerifierNode`].
pub struct VerifierBuilder<M> {
    chain: Arc<ChainClient<M>>,
    sources: Vec<Arc<dyn EvidenceSource>>,
    config: VerifyConfig,
    reencoder: Option<Arc<dyn Transcoder>>,
    from: Option<u64>,
    every: Duration,
}

impl<M> std::fmt::Debug for VerifierBuilder<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierBuilder")
            .field("sources", &self.sources.len())
            .finish_non_exhaustive()
    }
}

impl<M: Middleware + 'static> VerifierBuilder<M> {
    /// Fetches evidence from the broadcaster `address` serving at `at`, which must prove
    /// that address. Repeat for several broadcasters.
    pub fn evidence_from(mut self, address: Address, at: SocketAddr) -> Result<Self> {
        let remote = RemoteEvidence::new(at, address).map_err(anyhow::Error::from)?;
        self.sources.push(Arc::new(remote));
        Ok(self)
    }

    /// Fetches evidence from any [`EvidenceSource`].
    pub fn evidence_source(mut self, source: Arc<dyn EvidenceSource>) -> Self {
        self.sources.push(source);
        self
    }

    /// The checks' settings; they must be the broadcasters' (default: the defaults).
    pub fn checks(mut self, config: VerifyConfig) -> Self {
        self.config = config;
        self
    }

    /// Re-encodes with `t` (default: the deterministic software transcoder).
    pub fn reencoder(mut self, t: Arc<dyn Transcoder>) -> Self {
        self.reencoder = Some(t);
        self
    }

    /// Looks for challenges from block `b` on (default: the current block).
    pub fn from_block(mut self, b: u64) -> Self {
        self.from = Some(b);
        self
    }

    /// The pause between looks at the chain (default 2 s).
    pub fn every(mut self, d: Duration) -> Self {
        self.every = d;
        self
    }

    /// Checks the settings and reads the chain's block.
    pub async fn build(self) -> Result<VerifierNode<M>> {
        if self.sources.is_empty() {
            return Err(NodeError::Config(
                "no evidence source: a verifier fetches evidence from at least one broadcaster"
                    .into(),
            ));
        }
        let alternate = match self.reencoder {
            Some(_) => None,
            None => crate::alternate_software_transcoder().await?,
        };
        let reencoder: Arc<dyn Transcoder> = match self.reencoder {
            Some(t) => t,
            None => crate::software_transcoder().await?,
        };
        // The trusted verifier decides with its own re-encode, never a hired one; the
        // default one tries both decoders on sources with B slices.
        let mut checker = Checker::new(self.config)
            .with_decoder(Arc::new(SoftwareDecoder::new()), Arc::new(SoftwareScaler))
            .with_reencoder(reencoder);
        if let Some(t) = alternate {
            checker = checker.with_alternate_reencoder(t);
        }
        let node = Arc::new(livepeer_verify::VerifierNode::new(
            self.chain.clone(),
            Arc::new(EvidenceSources(self.sources)),
            checker,
        ));
        let from = match self.from {
            Some(b) => b,
            None => self.chain.current_block().await?,
        };
        Ok(VerifierNode {
            judge: tokio::sync::Mutex::new(Judge::new(self.chain.clone(), node, from)),
            chain: self.chain,
            every: self.every,
        })
    }
}

/// A trusted verifier deciding the challenges of its verifier contract.
pub struct VerifierNode<M> {
    judge: tokio::sync::Mutex<Judge<M>>,
    chain: Arc<ChainClient<M>>,
    every: Duration,
}

impl<M> std::fmt::Debug for VerifierNode<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierNode").finish_non_exhaustive()
    }
}

impl<M: Middleware + 'static> VerifierNode<M> {
    /// A builder over `chain`, whose account votes.
    pub fn builder(chain: Arc<ChainClient<M>>) -> VerifierBuilder<M> {
        VerifierBuilder {
            chain,
            sources: Vec::new(),
            config: VerifyConfig::default(),
            reencoder: None,
            from: None,
            every: Duration::from_secs(2),
        }
    }

    /// The verifier contract it decides for.
    pub fn verifier_contract(&self) -> Address {
        self.chain.addresses().trusted_verifier
    }

    /// One look at the chain: judges the challenges opened since the last look.
    pub async fn poll(&self) -> Result<Vec<Judged>> {
        self.judge.lock().await.poll().await
    }

    /// Judges until SIGTERM or Ctrl-C, calling `on` for each decision. A decision in
    /// progress is finished before it returns.
    pub async fn run_until_signal(&self, mut on: impl FnMut(&Judged)) -> Result<()> {
        let stop = crate::signal::terminated();
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(self.every);
        loop {
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tick.tick() => {}
            }
            match self.poll().await {
                Ok(judged) => judged.iter().for_each(&mut on),
                Err(e) => warn!("watching challenges: {e}"),
            }
        }
    }
}
