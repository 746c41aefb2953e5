//! The broadcaster binary on Livepeer's deployed contracts (feature `livepeer`), on anvil
//! with Livepeer's production bytecode found through its Controller: `fund` and `status`
//! move and read the deposit and reserve in Livepeer's TicketBroker, a stream with no
//! go-livepeer orchestrator in Livepeer's registry is a one-line refusal; then our
//! `orchestrator` binary, staked in Livepeer's BondingManager, starts on those contracts,
//! registers its go-livepeer port in Livepeer's registry, and the broadcaster binary finds
//! it there and streams through it.

#![cfg(feature = "livepeer")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use ethers::middleware::SignerMiddleware;
use ethers::providers::{Http, Provider};
use ethers::signers::{LocalWallet, Signer as _};
use ethers::utils::Anvil;
use livepeer_contracts::embedded::DEV_KEYS;
use livepeer_contracts_lp::LivepeerChain;
use livepeer_contracts_lp::deploy::{DeployConfig, OrchestratorSetup, deploy, setup_orchestrator};
use livepeer_core::U256;
use livepeer_core::chain::RegistryReader as _;

mod common;
use common::{BCAST, Kill, ORCH, anvil_path, free_tcp_port, free_udp_port, ok};

#[test]
fn the_broadcaster_funds_and_streams_on_livepeers_contracts() {
    let Some(anvil) = anvil_path() else {
        eprintln!("SKIPPED: anvil not found (run `npm ci` in contracts/ or set ANVIL_BIN)");
        return;
    };
    let anvil = Anvil::at(anvil)
        .arg("--hardfork")
        .arg("cancun")
        .block_time(1u64)
        .spawn();
    let rpc = anvil.endpoint();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let provider = Provider::<Http>::try_from(rpc.as_str())
        .unwrap()
        .interval(Duration::from_millis(10));
    let as_account = |i: usize| {
        let wallet = DEV_KEYS[i]
            .parse::<LocalWallet>()
            .unwrap()
            .with_chain_id(31337u64);
        Arc::new(SignerMiddleware::new(provider.clone(), wallet))
    };
    let mut dc = DeployConfig::default();
    dc.round_length = 20;
    let deployment = rt.block_on(deploy(as_account(0), &dc)).unwrap();
    let controller = format!("{:?}", deployment.addresses.controller);
    let run = |args: &[&str]| -> Output {
        Command::new(BCAST)
            .args(["--rpc", &rpc, "--chain-id", "31337"])
            .args(["--livepeer-controller", &controller, "--key-env", "K1"])
            .args(args)
            .env("K1", DEV_KEYS[1])
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };

    let funded = ok(
        &run(&["fund", "--deposit", "1eth", "--reserve", "0.5eth"]),
        "fund",
    );
    assert!(funded.contains("funded"), "{funded}");
    let status = ok(&run(&["status"]), "status");
    assert!(
        status.contains("deposit: 1000000000000000000 wei"),
        "{status}"
    );
    assert!(
        status.contains("reserve: 500000000000000000 wei"),
        "{status}"
    );

    // Nobody in Livepeer's registry here: one line, a failure, nothing written.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run(&[
        "stream",
        "--out",
        out.to_str().unwrap(),
        "--profiles",
        "240p",
        "--pattern-seconds",
        "2",
    ]);
    assert!(!o.status.success(), "streamed with no orchestrator");
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<_> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("no go-livepeer orchestrator"), "{err}");

    // Our orchestrator binary on Livepeer's contracts: staked there (as Livepeer's tools
    // would), it registers its go-livepeer port at start.
    let (deployer, orch) = rt.block_on(async {
        let c = deployment.addresses.controller;
        let d = LivepeerChain::connect(as_account(0), c).await.unwrap();
        let o = LivepeerChain::connect(as_account(2), c).await.unwrap();
        setup_orchestrator(
            &d,
            &o,
            &OrchestratorSetup::new(U256::exp10(21), "https://placeholder:1"),
        )
        .await
        .unwrap();
        (d, o)
    });
    let go_port = free_tcp_port();
    let state = dir.path().join("orch-state");
    let _node = Kill(
        Command::new(ORCH)
            .args(["--rpc", &rpc, "--chain-id", "31337"])
            .args(["--livepeer-controller", &controller, "--key-env", "K2"])
            .args(["start", "--register-uri", "--listen"])
            .arg(format!("127.0.0.1:{}", free_udp_port()))
            .arg("--livepeer-listen")
            .arg(format!("127.0.0.1:{go_port}"))
            .arg("--state-dir")
            .arg(&state)
            .env("K2", DEV_KEYS[2])
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let uri = format!("https://127.0.0.1:{go_port}");
    let t0 = std::time::Instant::now();
    while rt.block_on(deployer.service_uri(orch.account())).unwrap() != uri {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "never registered {uri}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let found = rt.block_on(deployer.orchestrators()).unwrap();
    assert!(
        found.iter().any(|e| e.service_uri == uri && e.active),
        "{found:?}"
    );
    let streamed = ok(
        &run(&[
            "stream",
            "--out",
            out.to_str().unwrap(),
            "--profiles",
            "240p",
            "--pattern-seconds",
            "4",
        ]),
        "stream through Livepeer's registry",
    );
    assert!(
        streamed.contains("segments: 2 in, 2 out, 0 failed"),
        "{streamed}"
    );
    assert!(out.join("240p").join("index.m3u8").exists());

    // A Controller that is not one: refused, naming it.
    let o = Command::new(BCAST)
        .args(["--rpc", &rpc, "--chain-id", "31337"])
        .args([
            "--livepeer-controller",
            "0x0000000000000000000000000000000000000001",
        ])
        .args(["--key-env", "K1", "status"])
        .env("K1", DEV_KEYS[1])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Controller"), "{err}");
}
