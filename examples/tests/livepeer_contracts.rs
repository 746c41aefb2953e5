//! The broadcaster binary on Livepeer's deployed contracts (feature `livepeer`), on anvil
//! with Livepeer's production bytecode found through its Controller: `fund` and `status`
//! move and read the deposit and reserve in Livepeer's TicketBroker, and a stream with no
//! go-livepeer orchestrator in Livepeer's registry is a one-line refusal.

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
use livepeer_contracts_lp::deploy::{DeployConfig, deploy};

mod common;
use common::{BCAST, anvil_path, ok};

#[test]
fn the_broadcaster_funds_and_streams_on_livepeers_contracts() {
    let Some(anvil) = anvil_path() else {
        eprintln!("SKIPPED: anvil not found (run `npm ci` in contracts/ or set ANVIL_BIN)");
        return;
    };
    let anvil = Anvil::at(anvil).arg("--hardfork").arg("cancun").spawn();
    let rpc = anvil.endpoint();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let deployment = rt.block_on(async {
        let provider = Provider::<Http>::try_from(rpc.as_str())
            .unwrap()
            .interval(Duration::from_millis(10));
        let wallet = DEV_KEYS[0]
            .parse::<LocalWallet>()
            .unwrap()
            .with_chain_id(31337u64);
        deploy(
            Arc::new(SignerMiddleware::new(provider, wallet)),
            &DeployConfig::default(),
        )
        .await
        .unwrap()
    });
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
