//! A chain with the contracts deployed and moving on its own, accounts on it, and
//! orchestrators built with the node's builder and registered.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ethers::middleware::SignerMiddleware;
use ethers::providers::Provider;
use ethers::signers::{LocalWallet, Signer as _};
use livepeer_contracts::embedded::DEV_KEYS;
use livepeer_contracts::{
    Addresses, ChainClient, DeployConfig, EmbeddedChain, OrchestratorSetup, deploy,
};
use livepeer_core::chain::ServiceOffer;
use livepeer_core::{LocalSigner, PixelPrice, Region, ServiceId, U256, Wei};
use livepeer_node::{FollowConfig, OrchestratorBuilder, OrchestratorNode};
use livepeer_pm::{QueueConfig, RecipientConfig};
use livepeer_transcode::SoftwareTranscoder;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

pub(crate) type DevClient = ChainClient<SignerMiddleware<Provider<EmbeddedChain>, LocalWallet>>;

pub(crate) struct Net {
    pub(crate) chain: EmbeddedChain,
    pub(crate) addrs: Addresses,
    pub(crate) deployer: Arc<DevClient>,
    clock: tokio::task::JoinHandle<()>,
}

pub(crate) struct Orch {
    pub(crate) node: OrchestratorNode<DevClient>,
    pub(crate) ops: SocketAddr,
    _state: tempfile::TempDir,
}

impl Drop for Net {
    fn drop(&mut self) {
        self.clock.abort();
    }
}

const BLOCK: Duration = Duration::from_millis(200);

impl Net {
    /// Deploys, and moves the chain on: a block each 200 ms, rounds initialized.
    pub(crate) async fn start() -> Net {
        Net::start_with(&DeployConfig::default()).await
    }

    /// As [`Net::start`], on 100-block rounds: params quoted late in a round still leave
    /// their winners time to be redeemed (what go-livepeer's redemption needs).
    pub(crate) async fn start_long_rounds() -> Net {
        let mut deploy = DeployConfig::default();
        deploy.round_length = 100;
        Net::start_with(&deploy).await
    }

    /// As [`Net::start`], deployed with `config`.
    pub(crate) async fn start_with(config: &DeployConfig) -> Net {
        let chain = EmbeddedChain::with_dev_accounts();
        let w = DEV_KEYS[0]
            .parse::<LocalWallet>()
            .unwrap()
            .with_chain_id(chain.chain_id());
        let mw = Arc::new(SignerMiddleware::new(chain.provider(), w));
        let addrs = deploy(mw.clone(), config).await.unwrap();
        let deployer = Arc::new(
            ChainClient::connect(mw, addrs, chain.chain_id())
                .await
                .unwrap(),
        );
        let clock = {
            let d = deployer.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(BLOCK).await;
                    let _ = d.mine(1).await;
                    let _ = d.initialize_round().await;
                }
            })
        };
        Net {
            chain,
            addrs,
            deployer,
            clock,
        }
    }

    /// Dev account `i`'s key and a client acting as it.
    pub(crate) async fn account(&self, i: usize) -> (LocalSigner, Arc<DevClient>) {
        let key = LocalSigner::from_hex(DEV_KEYS[i]).unwrap();
        let w = DEV_KEYS[i]
            .parse::<LocalWallet>()
            .unwrap()
            .with_chain_id(self.chain.chain_id());
        let c = ChainClient::connect(
            Arc::new(SignerMiddleware::new(self.chain.provider(), w)),
            self.addrs,
            self.chain.chain_id(),
        )
        .await
        .unwrap();
        (key, Arc::new(c))
    }

    /// An orchestrator on dev account `i`, built with the builder (metrics and health
    /// served), staked, registered and active.
    pub(crate) async fn orchestrator(&self, i: usize, t: Arc<SoftwareTranscoder>) -> Orch {
        self.orchestrator_with(i, t, |b| b).await
    }

    /// As [`Net::orchestrator`], with more settings made by `more`.
    pub(crate) async fn orchestrator_with(
        &self,
        i: usize,
        t: Arc<SoftwareTranscoder>,
        more: impl FnOnce(OrchestratorBuilder<DevClient>) -> OrchestratorBuilder<DevClient>,
    ) -> Orch {
        self.orchestrator_on(i, t, more, false).await
    }

    /// As [`Net::orchestrator_with`] (which must give it a go-livepeer port), registered
    /// with that port's `https://` URI, as go-livepeer orchestrators are.
    #[cfg(feature = "livepeer")]
    pub(crate) async fn go_livepeer_orchestrator(
        &self,
        i: usize,
        t: Arc<SoftwareTranscoder>,
        more: impl FnOnce(OrchestratorBuilder<DevClient>) -> OrchestratorBuilder<DevClient>,
    ) -> Orch {
        self.orchestrator_on(i, t, more, true).await
    }

    async fn orchestrator_on(
        &self,
        i: usize,
        t: Arc<SoftwareTranscoder>,
        more: impl FnOnce(OrchestratorBuilder<DevClient>) -> OrchestratorBuilder<DevClient>,
        go_livepeer_uri: bool,
    ) -> Orch {
        let (key, client) = self.account(i).await;
        let stake = U256::exp10(19);
        let mut rc = RecipientConfig::default();
        rc.ticket_ev = Wei::from_u128(250_000_000_000_000);
        rc.redeem_gas = 250_000;
        rc.tx_cost_multiplier = 4;
        let mut qc = QueueConfig::default();
        qc.profit_factor_pct = 150;
        let mut follow = FollowConfig::default();
        follow.every = BLOCK;
        let state = tempfile::tempdir().unwrap();
        let builder = OrchestratorNode::builder(client.clone())
            .key(key)
            .price(PixelPrice::per_pixel(10_000_000))
            .tickets(rc)
            .redemption(qc)
            .transcoder(t)
            .state_dir(state.path())
            .follow(follow)
            .keep_rounds(false)
            .ops(([127, 0, 0, 1], 0).into())
            .drain_timeout(Duration::from_secs(60));
        let node = more(builder).build().await.unwrap();
        let uri = match go_livepeer_uri {
            #[cfg(feature = "livepeer")]
            true => node.livepeer().unwrap().uri().to_owned(),
            _ => node.service_uri().unwrap(),
        };
        self.deployer
            .transfer_stake_token(client.account(), stake)
            .await
            .unwrap();
        client
            .join_as_orchestrator(&OrchestratorSetup {
                stake,
                reward_cut_ppm: 100_000,
                fee_share_ppm: 500_000,
                uri: &uri,
                offers: &[ServiceOffer {
                    id: ServiceId::cpu_transcoding(),
                    verifier: self.addrs.trusted_verifier,
                }],
                regions: &[Region::global()],
            })
            .await
            .unwrap();
        self.deployer.advance_round().await.unwrap();
        node.sync().await.unwrap();
        let ops = node.ops_addr().unwrap();
        Orch {
            node,
            ops,
            _state: state,
        }
    }
}

/// A 6 s 426x240 25 fps H.264 MP4 with a key frame every 2 s, as an encoder makes it; `None`
/// without ffmpeg.
pub(crate) fn clip() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("livepeer-node-media");
    let path = dir.join("clip-240p25.mp4");
    if path.exists() {
        return Some(path);
    }
    std::fs::create_dir_all(&dir).ok()?;
    let tmp = dir.join(format!("clip-{}.mp4", std::process::id()));
    let ok = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=426x240:rate=25")
        .args([
            "-t",
            "6",
            "-c:v",
            "libx264",
            "-g",
            "50",
            "-keyint_min",
            "50",
        ])
        .args(["-sc_threshold", "0", "-pix_fmt", "yuv420p"])
        .arg(&tmp)
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    std::fs::rename(&tmp, &path).ok()?;
    Some(path)
}

/// One HTTP GET: the status code and the body.
pub(crate) async fn http_get(at: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(at).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (code, body)
}
