//! Orchestrators with two transcoders each (one in-process, one remote over QUIC), a
//! registry and a broadcaster, all on loopback with port 0.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use livepeer_core::{
    Address, Container, LocalSigner, PixelPrice, Segment, Signer, VideoCodec, Wei,
};
use livepeer_negotiate::PmValidator;
use livepeer_negotiate::proto::SchedulerConfig;
use livepeer_negotiate::quinn::tls;
use livepeer_negotiate::test_utils::{TestPm, TestRegistry, TestTranscoder, TestWinners};
use livepeer_negotiate::{
    Broadcaster, BroadcasterConfig, Orchestrator, OrchestratorConfig, TranscoderNode,
};

pub const TICKET_EV: u128 = 1_000_000;

/// The chain and ticket terms every test shares (no test moves the chain itself).
pub fn pm() -> &'static TestPm {
    static PM: std::sync::OnceLock<TestPm> = std::sync::OnceLock::new();
    PM.get_or_init(|| TestPm::new(Wei::from_u128(TICKET_EV)))
}

/// An orchestrator's payments over [`pm`], and its winners; a lying one issues params paying
/// another address.
pub fn validator(addr: Address, lying: bool) -> (Arc<PmValidator>, Arc<TestWinners>) {
    let issuer = if lying {
        Address::repeat_byte(0xee)
    } else {
        addr
    };
    let (v, w) = pm().validator(issuer);
    (Arc::new(v), w)
}

pub fn key(n: u8) -> Arc<LocalSigner> {
    Arc::new(LocalSigner::from_bytes(&[n; 32]).unwrap())
}

pub struct Node {
    pub orch: Orchestrator,
    pub local: Arc<TestTranscoder>,
    pub remote: Arc<TestTranscoder>,
    pub remote_node: TranscoderNode,
    pub payments: Arc<PmValidator>,
    pub winners: Arc<TestWinners>,
}

pub struct Spec {
    pub n: u8,
    pub price: u64,
    pub delay: Duration,
    pub lying: bool,
    pub config: OrchestratorConfig,
}

impl Spec {
    pub fn new(n: u8, price: u64) -> Self {
        Spec {
            n,
            price,
            delay: Duration::from_millis(10),
            lying: false,
            config: OrchestratorConfig::default(),
        }
    }
}

pub async fn orchestrator(spec: Spec, registry: &TestRegistry) -> Node {
    let signer = key(spec.n);
    let addr = signer.address();
    let (payments, winners) = validator(addr, spec.lying);
    let t_key = key(spec.n + 100);
    let mut config = spec.config;
    config.allowed_transcoders.push(t_key.address());
    let local = Arc::new(TestTranscoder::new(
        &format!("o{}-local", spec.n),
        spec.delay,
    ));
    let orch = Orchestrator::builder(
        signer.clone(),
        livepeer_core::test_utils::test_domain(),
        payments.clone(),
        PixelPrice::per_pixel(spec.price),
    )
    .with_config(config)
    .with_local_transcoder(local.clone(), 200_000_000, 8)
    .start()
    .unwrap();
    let remote = Arc::new(TestTranscoder::new(
        &format!("o{}-remote", spec.n),
        spec.delay,
    ));
    let ep = tls::endpoint("127.0.0.1:0".parse().unwrap(), None).unwrap();
    let remote_node = TranscoderNode::connect(
        &ep,
        orch.local_addr().unwrap(),
        addr,
        t_key,
        remote.clone(),
        200_000_000,
        8,
        None,
    )
    .await
    .unwrap();
    registry.register(TestRegistry::entry(addr, orch.service_uri().unwrap(), 1000));
    Node {
        orch,
        local,
        remote,
        remote_node,
        payments,
        winners,
    }
}

pub fn broadcaster(
    registry: Arc<TestRegistry>,
    config: BroadcasterConfig,
) -> (Broadcaster, Address) {
    let signer = key(200);
    let payments = Arc::new(pm().source(signer.clone()));
    let b = Broadcaster::builder(
        signer.clone(),
        livepeer_core::test_utils::test_domain(),
        registry,
        payments,
    )
    .with_config(config)
    .build()
    .unwrap();
    (b, signer.address())
}

pub fn fast_config(duration: Duration) -> BroadcasterConfig {
    let mut c = BroadcasterConfig::default();
    let mut s = SchedulerConfig::default();
    s.hedge_fraction = Some(0.7);
    s.timeout_factor = 2.0;
    s.min_timeout = duration;
    c.scheduler = s;
    c.quote_timeout = Duration::from_secs(2);
    c
}

pub fn segment(seq: u64, duration: Duration) -> Segment {
    let mut data = format!("segment {seq} ").into_bytes();
    data.resize(100_000 + seq as usize, (seq % 251) as u8);
    Segment {
        seq,
        duration,
        data: Bytes::from(data),
        container: Container::MpegTs,
        codec: VideoCodec::H264,
    }
}

/// Installs a tracing subscriber writing to the test's captured output (once).
pub fn trace() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
}
