//! Our gateway for go-livepeer orchestrators ([`LivepeerGateway`], feature `livepeer`)
//! streaming a file to two orchestrator nodes through their go-livepeer ports only (the
//! bytes go-livepeer and the Python SDK read and write), on the embedded chain: the cheaper
//! one ranked first, every segment written as HLS at the asked size, tickets paid and
//! winners persisted; when the first starts refusing mid-stream, the rest goes to the
//! other and no segment is lost. And one stream over both protocols, QUIC and go-livepeer's,
//! ranked together.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livepeer_core::chain::{
    ChainError, OrchestratorEntry, RegistryReader, RoundInfo, SenderInfo, TicketBrokerReader,
    TicketFunding as _,
};
use livepeer_core::ticket::WinningTicket;
use livepeer_core::verify::FaultReport;
use livepeer_core::{Address, H256, Ladder, PixelPrice, U256, Wei};
use livepeer_negotiate::proto::{Candidate, Scoreboard, SelectionPolicy};
use livepeer_node::livepeer::{LivepeerConfig, LivepeerGateway};
use livepeer_node::{BroadcasterNode, Health, NodeError, Progress, SegmentSource};
use livepeer_transcode::{InputLimits, inspect};

use crate::net::{Net, clip};

/// Ranks by price alone, so which orchestrator goes first does not hang on round trips
/// measured on a loaded machine.
struct PriceOnly;

impl SelectionPolicy for PriceOnly {
    fn rank(&self, _: Instant, candidates: &[Candidate], board: &Scoreboard) -> Vec<usize> {
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        let now = Instant::now();
        order.sort_by(|&a, &b| {
            let (a, b) = (&candidates[a], &candidates[b]);
            let suspended = |c: &Candidate| board.is_suspended(&c.address, now);
            suspended(a)
                .cmp(&suspended(b))
                .then((a.price.wei * b.price.pixels).cmp(&(b.price.wei * a.price.pixels)))
        });
        order
    }
}

/// Drains one node's health after the first segment it did.
struct DrainAfterFirst {
    target: Address,
    health: Arc<Health>,
    done: AtomicBool,
    seen: Mutex<Vec<(u64, Address)>>,
}

impl DrainAfterFirst {
    fn new(node: &livepeer_node::OrchestratorNode<crate::net::DevClient>) -> Self {
        DrainAfterFirst {
            target: node.address(),
            health: node.health().clone(),
            done: AtomicBool::new(false),
            seen: Mutex::new(Vec::new()),
        }
    }
}

impl Progress for DrainAfterFirst {
    fn stage(&self, _: &str) {}
    fn total(&self, _: Option<u64>) {}
    fn segment(&self, seq: u64, orchestrator: Address, _: Duration) {
        self.seen.lock().unwrap().push((seq, orchestrator));
        if orchestrator == self.target && !self.done.swap(true, Ordering::SeqCst) {
            self.health.set_draining();
        }
    }
    fn fault(&self, _: &FaultReport) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_gateway_streams_to_go_livepeer_ports_and_fails_over() {
    let Some(input) = clip() else {
        eprintln!("skipped: no ffmpeg to make the input clip");
        return;
    };
    let net = Net::start_long_rounds().await;
    let port = || LivepeerConfig::new(([127, 0, 0, 1], 0).into());
    let cheap = net
        .orchestrator_with(3, super::software(false), |b| {
            b.livepeer(port()).price(PixelPrice::per_pixel(5_000_000))
        })
        .await;
    let dear = net
        .orchestrator_with(4, super::software(false), |b| b.livepeer(port()))
        .await;
    let uri = |n: &livepeer_node::OrchestratorNode<_>| n.livepeer().unwrap().uri().to_owned();
    let uris = [
        uri(&cheap.node),
        uri(&dear.node),
        // Nobody listens here: left out at discovery.
        "https://127.0.0.1:9".to_owned(),
    ];

    let (key, chain) = net.account(5).await;
    let e = LivepeerGateway::builder(chain.clone())
        .key(key.clone())
        .orchestrators(uris.clone())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(e, NodeError::Unfunded(_)), "{e}");
    let eth = Wei(U256::exp10(19));
    chain.fund_deposit_and_reserve(eth, eth).await.unwrap();
    // The orchestrators read a refused sender's funds again after 2 s.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let gateway = LivepeerGateway::builder(chain)
        .key(key)
        .policy(Arc::new(PriceOnly))
        .orchestrators(uris)
        .segment_timeout(Duration::from_secs(60))
        .build()
        .await
        .unwrap();

    let ladder = Ladder::parse(
        r#"[{"name":"P144p25fps16x9","width":256,"height":144,"bitrate":"400k","fps":25}]"#,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let progress = DrainAfterFirst::new(&cheap.node);
    let mut source = SegmentSource::open(Some(&input), Duration::from_secs(2), (0, 0), 0).unwrap();
    let stats = gateway
        .stream(&mut source, &ladder, &out, &progress)
        .await
        .unwrap();

    // Every segment written; the cheaper orchestrator did the first, the other the rest.
    assert!(stats.segments_in >= 3, "{stats:?}");
    assert_eq!(stats.segments_out, stats.segments_in, "{stats:?}");
    assert_eq!(stats.segments_failed, 0);
    let seen = progress.seen.lock().unwrap().clone();
    assert_eq!(seen[0].1, cheap.node.address(), "{seen:?}");
    assert!(
        seen[1..].iter().all(|(_, o)| *o == dear.node.address()),
        "{seen:?}"
    );
    assert_eq!(stats.per_orchestrator[&cheap.node.address()], 1);
    assert!(stats.wei_expected > U256::zero());

    // The HLS output: a master playlist, a media playlist with every segment, renditions
    // at the asked size.
    assert!(stats.master.exists());
    let rung = out.join("P144p25fps16x9");
    let playlist = std::fs::read_to_string(rung.join("index.m3u8")).unwrap();
    let segments: Vec<&str> = playlist.lines().filter(|l| l.ends_with(".ts")).collect();
    assert_eq!(segments.len() as u64, stats.segments_out, "{playlist}");
    for name in segments {
        let data = std::fs::read(rung.join(name)).unwrap();
        let seg = livepeer_core::Segment {
            seq: 0,
            duration: Duration::from_secs(2),
            data: data.into(),
            container: livepeer_core::Container::MpegTs,
            codec: livepeer_core::VideoCodec::H264,
        };
        let got = inspect(&seg, InputLimits::default()).unwrap();
        assert_eq!((got.width, got.height), (256, 144));
        assert!(got.frames >= 40, "{got:?}");
    }

    // Paid with tickets: at least one for each orchestrator's session.
    assert!(gateway.tickets_sent() >= 2, "{}", gateway.tickets_sent());
    eprintln!(
        "{} segments by {seen:?}, {} tickets",
        stats.segments_out,
        gateway.tickets_sent()
    );
}

/// One stream over both protocols: an orchestrator registered with its QUIC URI and one
/// registered with its go-livepeer port's, ranked together; the cheaper go-livepeer one
/// (found in the registry by its https URI) does the first
/// segment, then refuses, and the rest goes over QUIC into the same HLS output, verified,
/// with no fault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stream_ranks_quic_and_go_livepeer_orchestrators_together() {
    let Some(input) = clip() else {
        eprintln!("skipped: no ffmpeg to make the input clip");
        return;
    };
    let net = Net::start_long_rounds().await;
    let quic = net.orchestrator(1, super::software(false)).await;
    let go = net
        .go_livepeer_orchestrator(3, super::software(false), |b| {
            b.livepeer(LivepeerConfig::new(([127, 0, 0, 1], 0).into()))
                .price(PixelPrice::per_pixel(1_000_000))
        })
        .await;

    let (key, chain) = net.account(5).await;
    let eth = Wei(U256::exp10(19));
    chain.fund_deposit_and_reserve(eth, eth).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let node = BroadcasterNode::builder(chain.clone())
        .key(key.clone())
        .state_dir(dir.path())
        .build()
        .await
        .unwrap();
    // No URIs given: the registry's active orchestrators with an https:// URI.
    let gateway = LivepeerGateway::builder(chain)
        .key(key)
        .policy(Arc::new(PriceOnly))
        .scoreboard(node.broadcaster().scoreboard())
        .segment_timeout(Duration::from_secs(60))
        .build()
        .await
        .unwrap();

    let progress = DrainAfterFirst::new(&go.node);
    let out = dir.path().join("out");
    let mut source = SegmentSource::open(Some(&input), Duration::from_secs(2), (0, 0), 0).unwrap();
    let ladder = Ladder::parse("240p").unwrap();
    let stats = node
        .stream_mixed(&gateway, &mut source, &ladder, &out, &progress)
        .await
        .unwrap();
    let seen = progress.seen.lock().unwrap().clone();
    assert!(stats.segments_in >= 3, "{stats:?}");
    assert_eq!(stats.segments_out, stats.segments_in, "{stats:?}");
    assert_eq!(stats.segments_failed, 0);
    assert_eq!(seen[0].1, go.node.address(), "{seen:?}");
    assert!(
        seen[1..].iter().all(|(_, o)| *o == quic.node.address()),
        "{seen:?}"
    );
    assert!(stats.master.exists());
    let playlist = std::fs::read_to_string(out.join("240p").join("index.m3u8")).unwrap();
    let segments = playlist.lines().filter(|l| l.ends_with(".ts")).count();
    assert_eq!(segments as u64, stats.segments_out, "{playlist}");
    assert!(gateway.tickets_sent() >= 1 && node.tickets_sent() >= 1);
    assert!(
        node.ledger().all().unwrap().is_empty(),
        "honest work is no fault"
    );
    node.shutdown().await.unwrap();
    eprintln!("{} segments by {seen:?}", stats.segments_out);
}

/// The gateway's chain as a gateway on a lagging RPC node sees it: `lag` blocks behind.
struct Lagging {
    inner: Arc<crate::net::DevClient>,
    lag: AtomicU64,
}

#[async_trait::async_trait]
impl RoundInfo for Lagging {
    async fn current_block(&self) -> Result<u64, ChainError> {
        let b = self.inner.current_block().await?;
        Ok(b.saturating_sub(self.lag.load(Ordering::SeqCst)))
    }
    async fn current_round(&self) -> Result<u64, ChainError> {
        self.inner.current_round().await
    }
    async fn last_initialized_round(&self) -> Result<u64, ChainError> {
        self.inner.last_initialized_round().await
    }
    async fn block_hash_for_round(&self, round: u64) -> Result<H256, ChainError> {
        self.inner.block_hash_for_round(round).await
    }
    async fn round_length(&self) -> Result<u64, ChainError> {
        self.inner.round_length().await
    }
}

#[async_trait::async_trait]
impl TicketBrokerReader for Lagging {
    async fn sender_info(&self, sender: Address) -> Result<SenderInfo, ChainError> {
        self.inner.sender_info(sender).await
    }
    async fn claimed_reserve(&self, sender: Address, claimant: Address) -> Result<Wei, ChainError> {
        self.inner.claimed_reserve(sender, claimant).await
    }
    async fn is_ticket_used(&self, ticket: &WinningTicket) -> Result<bool, ChainError> {
        self.inner.is_ticket_used(ticket).await
    }
    async fn ticket_validity_period(&self) -> Result<u64, ChainError> {
        self.inner.ticket_validity_period().await
    }
    async fn unlock_period(&self) -> Result<u64, ChainError> {
        self.inner.unlock_period().await
    }
    async fn reserve_pool_size(&self) -> Result<u64, ChainError> {
        self.inner.reserve_pool_size().await
    }
}

#[async_trait::async_trait]
impl RegistryReader for Lagging {
    async fn orchestrators(&self) -> Result<Vec<OrchestratorEntry>, ChainError> {
        self.inner.orchestrators().await
    }
    async fn orchestrator(
        &self,
        address: Address,
    ) -> Result<Option<OrchestratorEntry>, ChainError> {
        self.inner.orchestrator(address).await
    }
}

/// After the first segment, the gateway's chain falls far behind and the params it holds
/// expire on the orchestrator's: the orchestrator refuses the next segment
/// (`TicketParamsExpired`), the gateway takes fresh params and asks it again, and no
/// segment is lost though it is the only orchestrator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_for_expired_params_is_retried_on_fresh_ones() {
    let Some(input) = clip() else {
        eprintln!("skipped: no ffmpeg to make the input clip");
        return;
    };
    let net = Net::start_long_rounds().await;
    // Each segment's fee is above a ticket's EV, so every segment brings tickets (and the
    // orchestrator checks their params).
    let orch = net
        .orchestrator_with(3, super::software(false), |b| {
            b.livepeer(LivepeerConfig::new(([127, 0, 0, 1], 0).into()))
                .price(PixelPrice::per_pixel(200_000_000))
                .params_validity_blocks(10)
        })
        .await;
    let (key, chain) = net.account(5).await;
    let eth = Wei(U256::exp10(19));
    chain.fund_deposit_and_reserve(eth, eth).await.unwrap();
    let lagging = Arc::new(Lagging {
        inner: chain,
        lag: AtomicU64::new(0),
    });
    let gateway = LivepeerGateway::builder(lagging.clone())
        .key(key)
        .orchestrators([orch.node.livepeer().unwrap().uri().to_owned()])
        .segment_timeout(Duration::from_secs(60))
        .build()
        .await
        .unwrap();

    /// Freezes the gateway's view after the first segment and lets the real chain pass
    /// the params' expiration (10 blocks of 200 ms).
    struct Freeze(Arc<Lagging>, AtomicBool);
    impl Progress for Freeze {
        fn stage(&self, _: &str) {}
        fn total(&self, _: Option<u64>) {}
        fn segment(&self, _: u64, _: Address, _: Duration) {
            if !self.1.swap(true, Ordering::SeqCst) {
                self.0.lag.store(1_000, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(3_000));
            }
        }
        fn fault(&self, _: &FaultReport) {}
    }
    let dir = tempfile::tempdir().unwrap();
    let mut source = SegmentSource::open(Some(&input), Duration::from_secs(2), (0, 0), 0).unwrap();
    let ladder = Ladder::parse(
        r#"[{"name":"P144p25fps16x9","width":256,"height":144,"bitrate":"400k","fps":25}]"#,
    )
    .unwrap();
    let stats = gateway
        .stream(
            &mut source,
            &ladder,
            &dir.path().join("out"),
            &Freeze(lagging, AtomicBool::new(false)),
        )
        .await
        .unwrap();
    assert!(stats.segments_in >= 3, "{stats:?}");
    assert_eq!(stats.segments_out, stats.segments_in, "{stats:?}");
    let board = gateway.scoreboard();
    let s = board.stats(&orch.node.address()).unwrap();
    assert!(
        s.failures >= 1,
        "the stale params were never refused: {s:?}"
    );
    assert_eq!(s.successes, stats.segments_out);
}
