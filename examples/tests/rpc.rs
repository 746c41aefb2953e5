//! The binaries on a real JSON-RPC node (anvil): deploy, fund, bond, register, run an
//! orchestrator, stream through it, list its tickets; and every refusal (wrong chain, wrong
//! contracts, unreachable node, wrong password) is one line and a non-zero exit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ethers::signers::{LocalWallet, Signer as _};
use ethers::utils::{Anvil, AnvilInstance};
use livepeer_contracts::embedded::DEV_KEYS;
use livepeer_core::{
    Address, AddressExt as _, Container, Domain, H256, Ladder, LocalSigner, Receipt, SignedReceipt,
    Signer as _, StreamId, keccak256,
};

mod common;
#[cfg(feature = "livepeer")]
use common::free_tcp_port;
use common::{BCAST, DEVNET, Kill, ORCH, TRANSCODER, VERIFIER, anvil_path, free_udp_port, ok};

struct Net {
    _anvil: AnvilInstance,
    rpc: String,
    dir: tempfile::TempDir,
}

impl Net {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `bin` with the chain options and `key` options.
    fn run(&self, bin: &str, key: &[&str], args: &[&str]) -> Output {
        Command::new(bin)
            .args(["--rpc", &self.rpc, "--chain-id", "31337"])
            .arg("--contracts")
            .arg(self.path("contracts.json"))
            .args(key)
            .args(args)
            .env("K0", DEV_KEYS[0])
            .env("LIVEPEER_PASSWORD", "correct horse")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }
}

fn one_line_error(o: &Output, what: &str, needle: &str) {
    assert!(!o.status.success(), "{what}: accepted");
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<_> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 1, "{what}: {err}");
    assert!(lines[0].contains(needle), "{what}: {err}");
}

#[test]
fn the_binaries_run_a_stream_on_anvil() {
    let Some(anvil) = anvil_path() else {
        eprintln!("SKIPPED: anvil not found (run `npm ci` in contracts/ or set ANVIL_BIN)");
        return;
    };
    let anvil = Anvil::at(anvil)
        .arg("--hardfork")
        .arg("cancun")
        .block_time(1u64)
        .spawn();
    let net = Net {
        rpc: anvil.endpoint(),
        _anvil: anvil,
        dir: tempfile::tempdir().unwrap(),
    };
    // The orchestrator's key in an encrypted keystore, the broadcaster's in a key file.
    let orch_wallet: LocalWallet = DEV_KEYS[2].parse().unwrap();
    LocalWallet::encrypt_keystore(
        net.dir.path(),
        &mut ethers::core::rand::thread_rng(),
        hex::decode(&DEV_KEYS[2][2..]).unwrap(),
        "correct horse",
        Some("orchestrator.json"),
    )
    .unwrap();
    let keystore = net.path("orchestrator.json");
    let orch_key = ["--keystore", keystore.to_str().unwrap()];
    std::fs::write(net.path("b.key"), DEV_KEYS[1]).unwrap();
    let b_key_path = net.path("b.key");
    let b_key = ["--key-file", b_key_path.to_str().unwrap()];
    let d_key = ["--key-env", "K0"];

    let contracts = net.path("contracts.json");
    let grant = format!("{:?}=100tokens", orch_wallet.address());
    let deployed = Command::new(DEVNET)
        .args(["deploy", "--rpc", &net.rpc, "--chain-id", "31337"])
        .args(d_key)
        .arg("--write")
        .arg(&contracts)
        .args(["--round-length", "10", "--grant", &grant])
        .env("K0", DEV_KEYS[0])
        .output()
        .unwrap();
    ok(&deployed, "deploy");
    ok(
        &net.run(
            BCAST,
            &b_key,
            &["fund", "--deposit", "1eth", "--reserve", "1eth"],
        ),
        "fund",
    );
    ok(
        &net.run(ORCH, &orch_key, &["bond", "--amount", "50tokens"]),
        "bond",
    );
    let port = free_udp_port();
    let uri = format!("quic://127.0.0.1:{port}");
    ok(
        &net.run(ORCH, &orch_key, &["register", "--uri", &uri]),
        "register",
    );

    let state = net.path("orch-state");
    let mut orch = Command::new(ORCH);
    orch.args(["--rpc", &net.rpc, "--chain-id", "31337", "--contracts"])
        .arg(&contracts)
        .args(orch_key)
        .args([
            "start",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--price",
            "1000000",
        ])
        .arg("--state-dir")
        .arg(&state)
        .args(["--ticket-ev", "0.001eth"]);
    // The go-livepeer port beside QUIC, where the binary has it.
    #[cfg(feature = "livepeer")]
    let go_port = {
        let p = free_tcp_port();
        orch.args(["--livepeer-listen", &format!("127.0.0.1:{p}")]);
        p
    };
    let child = orch
        .env("LIVEPEER_PASSWORD", "correct horse")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut node = Kill(child);
    // Active from the round after bonding; the node initializes rounds as blocks pass.
    let t0 = Instant::now();
    loop {
        let s = ok(&net.run(ORCH, &orch_key, &["status"]), "status");
        if s.contains("active: true") {
            assert!(s.contains(&uri), "{s}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "never active: {s}");
        std::thread::sleep(Duration::from_secs(1));
    }

    // A trusted verifier watching the chain, ready to fetch the broadcaster's evidence.
    let evidence_port = free_udp_port();
    let b_address = DEV_KEYS[1].parse::<LocalWallet>().unwrap().address();
    let mut verifier = Kill(
        Command::new(VERIFIER)
            .args(["--rpc", &net.rpc, "--chain-id", "31337", "--contracts"])
            .arg(&contracts)
            .args(d_key)
            .args(["serve", "--poll-seconds", "0.5", "--evidence"])
            .arg(format!("{b_address:?}@127.0.0.1:{evidence_port}"))
            .env("K0", DEV_KEYS[0])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(verifier.0.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    assert!(first.contains("deciding for"), "{first}");

    let out = net.path("out");
    let evidence_at = format!("127.0.0.1:{evidence_port}");
    let streamed = ok(
        &net.run(
            BCAST,
            &b_key,
            &[
                "stream",
                "--out",
                out.to_str().unwrap(),
                "--profiles",
                "240p",
                "--pattern-seconds",
                "6",
                "--state-dir",
                net.path("b-state").to_str().unwrap(),
                "--evidence-listen",
                &evidence_at,
            ],
        ),
        "stream",
    );
    assert!(
        streamed.contains(&format!("evidence served at {}", b_address.checksummed())),
        "{streamed}"
    );
    assert!(
        streamed.contains("segments: 3 in, 3 out, 0 failed"),
        "{streamed}"
    );
    assert!(out.join("index.m3u8").exists());
    // A go-livepeer gateway on the broadcaster's funded key discovers the same node on its
    // go-livepeer port: certificate pinned, the node's address, ticket params for it.
    #[cfg(feature = "livepeer")]
    {
        use livepeer_interop_net::{CertPins, OrchestratorClient, RequestSigner};
        let gateway: std::sync::Arc<dyn livepeer_core::Signer> =
            std::sync::Arc::new(LocalSigner::from_hex(DEV_KEYS[1]).unwrap());
        let rt = tokio::runtime::Runtime::new().unwrap();
        let info = rt
            .block_on(OrchestratorClient::new(CertPins::new()).discover(
                &format!("https://127.0.0.1:{go_port}"),
                &RequestSigner::Local(gateway),
                None,
                Some(orch_wallet.address()),
            ))
            .unwrap();
        assert_eq!(info.transcoder, format!("https://127.0.0.1:{go_port}"));
        assert!(info.ticket_params.is_some() && info.price_info.is_some());
        // Our broadcaster binary streams through that port alone, as a gateway.
        let lp_out = net.path("out-livepeer");
        let streamed = ok(
            &net.run(
                BCAST,
                &b_key,
                &[
                    "stream",
                    "--livepeer-only",
                    "--livepeer-orchestrator",
                    &info.transcoder,
                    "--out",
                    lp_out.to_str().unwrap(),
                    "--profiles",
                    "240p",
                    "--pattern-seconds",
                    "4",
                ],
            ),
            "stream --livepeer-orchestrator",
        );
        assert!(
            streamed.contains("segments: 2 in, 2 out, 0 failed"),
            "{streamed}"
        );
        assert!(lp_out.join("240p").join("index.m3u8").exists());
        // Mixed: the registry's orchestrators over QUIC and that port, ranked together; the
        // node speaks both, so it is used over QUIC and verified there.
        let mixed_out = net.path("out-mixed");
        let streamed = ok(
            &net.run(
                BCAST,
                &b_key,
                &[
                    "stream",
                    "--livepeer-orchestrator",
                    &info.transcoder,
                    "--out",
                    mixed_out.to_str().unwrap(),
                    "--profiles",
                    "240p",
                    "--pattern-seconds",
                    "4",
                    "--state-dir",
                    net.path("b-state-mixed").to_str().unwrap(),
                    "--evidence-listen",
                    "127.0.0.1:0",
                ],
            ),
            "stream mixed",
        );
        assert!(
            streamed.contains("segments: 2 in, 2 out, 0 failed"),
            "{streamed}"
        );
    }
    let status = ok(&net.run(BCAST, &b_key, &["status"]), "status");
    assert!(status.contains("deposit:"), "{status}");

    // The winners are listed once the node has stopped (it holds its store while running).
    let _ = node.0.kill();
    drop(verifier);
    let _ = node.0.wait();
    let listed = ok(
        &net.run(
            ORCH,
            &orch_key,
            &["tickets", "--state-dir", state.to_str().unwrap(), "list"],
        ),
        "tickets list",
    );
    assert!(listed.contains("pending face value"), "{listed}");

    // Refusals: one line each.
    let o = Command::new(BCAST)
        .args(["--rpc", &net.rpc, "--chain-id", "5", "--contracts"])
        .arg(&contracts)
        .args(b_key)
        .arg("status")
        .output()
        .unwrap();
    one_line_error(&o, "wrong chain", "not the expected 5");
    let o = Command::new(BCAST)
        .args(["--rpc", "http://127.0.0.1:1", "--contracts"])
        .arg(&contracts)
        .args(b_key)
        .arg("status")
        .output()
        .unwrap();
    one_line_error(&o, "unreachable node", "cannot reach");
    let bogus = net.path("bogus.json");
    let mut swapped: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&contracts).unwrap()).unwrap();
    // The ticket broker pointed at the stake token: code that is not the TicketBroker.
    swapped["ticketBroker"] = swapped["stakeToken"].clone();
    std::fs::write(&bogus, swapped.to_string()).unwrap();
    let o = Command::new(BCAST)
        .args(["--rpc", &net.rpc, "--contracts"])
        .arg(&bogus)
        .args(b_key)
        .arg("status")
        .output()
        .unwrap();
    one_line_error(&o, "wrong contracts", "TicketBroker");
    let o = Command::new(ORCH)
        .args(["--rpc", &net.rpc, "--contracts"])
        .arg(&contracts)
        .args(orch_key)
        .arg("status")
        .env("LIVEPEER_PASSWORD", "wrong")
        .output()
        .unwrap();
    one_line_error(&o, "wrong password", "wrong password");
}

/// `verifier check` on files at hand, with no receipt: an honest rendition made by
/// `transcoder local` from an x264 clip passes, and the same file held to a rung it was not
/// made for is a fault (exit status 2); with a receipt, one signed for the deployment given
/// passes and one signed for another chain is a bad signature. Skipped without ffmpeg.
#[test]
fn verifier_check_judges_files_at_hand_without_a_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    let made = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=640x360:rate=25")
        .args([
            "-t", "4", "-c:v", "libx264", "-g", "50", "-pix_fmt", "yuv420p",
        ])
        .arg(&input)
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: no ffmpeg to make the clip");
        return;
    }
    let out = dir.path().join("out");
    let o = Command::new(TRANSCODER)
        .args(["local", "--profiles", "240p", "--keep-source", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    ok(&o, "transcoder local");
    let source = out.join("source").join("0.ts");
    let rendition = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("source"))
        .map(|p| p.join("0.ts"))
        .find(|p| p.exists())
        .expect("a rendition of segment 0");
    let check = |profile: &str| {
        Command::new(VERIFIER)
            .args(["check", "--profile", profile, "--source"])
            .arg(&source)
            .arg("--rendition")
            .arg(&rendition)
            .output()
            .unwrap()
    };
    let honest = check("240p");
    let text = ok(&honest, "verifier check 240p");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["result"]["verdict"], "pass", "{text}");
    assert_eq!(v["receipt_checked"], false, "{text}");
    let wrong = check("360p");
    assert_eq!(
        wrong.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&wrong.stdout)
    );
    let w: serde_json::Value = serde_json::from_slice(&wrong.stdout).unwrap();
    assert_eq!(w["result"]["verdict"], "fault", "{w}");

    // With a receipt: checked for the deployment named by --chain-id and --contracts. One
    // signed for that deployment passes; the same receipt signed for another chain is a bad
    // signature.
    let addresses = livepeer_contracts::Addresses {
        rounds_manager: Address::repeat_byte(1),
        stake_token: Address::repeat_byte(2),
        bonding_manager: Address::repeat_byte(3),
        service_registry: Address::repeat_byte(4),
        ticket_broker: Address::repeat_byte(5),
        fault_verifier: Address::repeat_byte(6),
        trusted_verifier: Address::repeat_byte(7),
    };
    let contracts = dir.path().join("contracts.json");
    std::fs::write(&contracts, serde_json::to_vec(&addresses).unwrap()).unwrap();
    let rendition_bytes = std::fs::read(&rendition).unwrap();
    let mut profile = Ladder::parse("240p").unwrap().profiles()[0].clone();
    profile.container = Container::MpegTs;
    let info = livepeer_verify::inspect(&rendition_bytes, Container::MpegTs).unwrap();
    let orchestrator = LocalSigner::from_bytes(&[0x42; 32]).unwrap();
    let receipt = Receipt {
        orchestrator: orchestrator.address(),
        broadcaster: Address::repeat_byte(0xbb),
        stream_id: StreamId::from_name("check"),
        seq: 0,
        input_hash: H256::from(keccak256(std::fs::read(&source).unwrap())),
        profile_ids: vec![profile.id()],
        output_hashes: vec![H256::from(keccak256(&rendition_bytes))],
        pixels: vec![info.pixels()],
    };
    let domain = addresses.signing_domain(31337);
    let with_receipt = |signed: &SignedReceipt| {
        let path = dir.path().join("receipt.json");
        std::fs::write(&path, serde_json::to_vec(signed).unwrap()).unwrap();
        Command::new(VERIFIER)
            .args(["--chain-id", "31337", "--contracts"])
            .arg(&contracts)
            .args(["check", "--profile", "240p", "--source"])
            .arg(&source)
            .arg("--rendition")
            .arg(&rendition)
            .arg("--receipt")
            .arg(&path)
            .output()
            .unwrap()
    };
    let here = receipt.clone().sign(&orchestrator, &domain).unwrap();
    let text = ok(&with_receipt(&here), "verifier check --receipt");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["result"]["verdict"], "pass", "{text}");
    assert_eq!(v["receipt_checked"], true, "{text}");
    let elsewhere = Domain::new(1, domain.verifying_contract);
    let replayed = with_receipt(&receipt.sign(&orchestrator, &elsewhere).unwrap());
    assert_eq!(replayed.status.code(), Some(2));
    let r: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
    assert_eq!(r["result"]["kind"], "BadReceiptSignature", "{r}");
}
