//! Faults as an operator meets them, on the real binaries and a real JSON-RPC node (anvil):
//! the only orchestrator killed with SIGKILL and restarted mid-stream, and the chain RPC
//! refusing connections (a TCP proxy in front of anvil, closed and reopened). Checked: no
//! segment lost while a healthy orchestrator exists, nodes that come back by themselves,
//! a broadcaster whose exit status tells whether segments failed, and winners that are
//! redeemed, none expired unredeemed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    missing_docs
)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ethers::signers::{LocalWallet, Signer as _};
use ethers::utils::{Anvil, AnvilInstance};
use livepeer_contracts::embedded::DEV_KEYS;

mod common;
use common::{BCAST, DEVNET, Kill, ORCH, anvil_path, free_udp_port, ok};

const ROUND_LENGTH: u64 = 10;

/// One JSON-RPC call over plain HTTP (the harness needs no runtime).
fn rpc(url: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        .to_string();
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let json = text.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str::<serde_json::Value>(json).unwrap()["result"].clone()
}

/// A chain with the contracts deployed, a funded broadcaster and a bonded, registered
/// orchestrator that is active from the next round.
struct Net {
    anvil: AnvilInstance,
    dir: tempfile::TempDir,
    /// The orchestrators' QUIC ports; orchestrator `i` has key `DEV_KEYS[2 + i]`.
    ports: Vec<u16>,
}

impl Net {
    fn new(orchestrators: usize) -> Option<Net> {
        let Some(anvil) = anvil_path() else {
            eprintln!("SKIPPED: anvil not found (run `npm ci` in contracts/ or set ANVIL_BIN)");
            return None;
        };
        let anvil = Anvil::at(anvil)
            .arg("--hardfork")
            .arg("cancun")
            .block_time(1u64)
            .spawn();
        let net = Net {
            anvil,
            dir: tempfile::tempdir().unwrap(),
            ports: (0..orchestrators).map(|_| free_udp_port()).collect(),
        };
        let grants: Vec<String> = (0..orchestrators)
            .map(|i| {
                let w: LocalWallet = DEV_KEYS[2 + i].parse().unwrap();
                format!("--grant={:?}=100tokens", w.address())
            })
            .collect();
        ok(
            &Command::new(DEVNET)
                .args(["deploy", "--rpc", &net.rpc(), "--chain-id", "31337"])
                .args(["--key-env", "K0", "--write"])
                .arg(net.path("contracts.json"))
                .env("K0", DEV_KEYS[0])
                .args(["--round-length", &ROUND_LENGTH.to_string()])
                .args(&grants)
                .output()
                .unwrap(),
            "deploy",
        );
        ok(
            &net.bcast(&net.rpc())
                .args(["fund", "--deposit", "1eth", "--reserve", "1eth"])
                .output()
                .unwrap(),
            "fund",
        );
        for i in 0..orchestrators {
            ok(
                &net.orch(i, &net.rpc())
                    .args(["bond", "--amount", "50tokens"])
                    .output()
                    .unwrap(),
                "bond",
            );
            let uri = format!("quic://127.0.0.1:{}", net.ports[i]);
            ok(
                &net.orch(i, &net.rpc())
                    .args(["register", "--uri", &uri])
                    .output()
                    .unwrap(),
                "register",
            );
        }
        Some(net)
    }

    fn rpc(&self) -> String {
        self.anvil.endpoint()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `bin` on `rpc` with the key in the environment variable `key`.
    fn cmd(&self, bin: &str, key: &str, rpc: &str) -> Command {
        let mut c = Command::new(bin);
        c.args(["--rpc", rpc, "--chain-id", "31337", "--contracts"])
            .arg(self.path("contracts.json"))
            .args(["--key-env", key])
            .env("K0", DEV_KEYS[0])
            .env("K1", DEV_KEYS[1])
            .env("K2", DEV_KEYS[2])
            .env("K3", DEV_KEYS[3])
            .env_remove("RUST_LOG");
        c
    }

    fn orch(&self, i: usize, rpc: &str) -> Command {
        self.cmd(ORCH, &format!("K{}", 2 + i), rpc)
    }

    fn bcast(&self, rpc: &str) -> Command {
        self.cmd(BCAST, "K1", rpc)
    }

    /// Starts orchestrator `i` on `rpc`, its log in `log`, and waits until it serves.
    fn start_node(&self, i: usize, rpc: &str, log: &str) -> Kill {
        let path = self.path(log);
        let file = std::fs::File::create(&path).unwrap();
        let mut node = Kill(
            self.orch(i, rpc)
                .arg("-v")
                .args(["start", "--listen", &format!("127.0.0.1:{}", self.ports[i])])
                .args(["--price", "200000000", "--ticket-ev", "0.001eth"])
                // Face value four times the EV (above the redemption cost): about one ticket in
                // four wins, so the checks that no winner is lost have winners to check.
                .args(["--max-face-value", "0.004eth"])
                .arg("--state-dir")
                .arg(self.path(&format!("orch-state-{i}")))
                // The per-segment line tells the tests which node is busy.
                .env(
                    "RUST_LOG",
                    "info,livepeer_negotiate::quinn::orchestrator=debug",
                )
                .stdout(Stdio::null())
                .stderr(file)
                .spawn()
                .unwrap(),
        );
        let t0 = Instant::now();
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.contains("orchestrator running") {
                return node;
            }
            assert!(
                node.0.try_wait().unwrap().is_none() && t0.elapsed() < Duration::from_secs(30),
                "the node did not start: {text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Mines to the next round and waits until the nodes are active in it.
    fn wait_active(&self) {
        let block = rpc(&self.rpc(), "eth_blockNumber", serde_json::json!([]));
        let block =
            u64::from_str_radix(block.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        let to_next = ROUND_LENGTH - block % ROUND_LENGTH;
        rpc(
            &self.rpc(),
            "anvil_mine",
            serde_json::json!([format!("{to_next:#x}")]),
        );
        let t0 = Instant::now();
        loop {
            let s: String = (0..self.ports.len())
                .map(|i| {
                    ok(
                        &self.orch(i, &self.rpc()).arg("status").output().unwrap(),
                        "status",
                    )
                })
                .collect();
            if s.matches("active: true").count() == self.ports.len() {
                // The node initializes the round at its next chain step (every second) and
                // only then quotes params of the new round.
                std::thread::sleep(Duration::from_secs(2));
                return;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "never active: {s}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// `broadcaster stream` of `seconds` of test pattern into `out`.
    fn stream(&self, out: &str, seconds: u64) -> Command {
        let mut c = self.bcast(&self.rpc());
        c.arg("stream")
            .arg("--out")
            .arg(self.path(out))
            .args(["--profiles", "240p", "--verification-rate", "1000"])
            .args(["--pattern-seconds", &seconds.to_string()])
            .arg("--state-dir")
            .arg(self.path("b-state"))
            .args([
                "--evidence-listen",
                &format!("127.0.0.1:{}", free_udp_port()),
            ]);
        c
    }

    /// Lists the winners of a stopped node `i`: (redeemed, pending, failed).
    fn tickets(&self, i: usize) -> (usize, usize, usize) {
        let listed = ok(
            &self
                .orch(i, &self.rpc())
                .args(["tickets", "--state-dir"])
                .arg(self.path(&format!("orch-state-{i}")))
                .arg("list")
                .output()
                .unwrap(),
            "tickets list",
        );
        let count = |state: &str| {
            listed
                .lines()
                .filter(|l| l.trim_end().ends_with(state))
                .count()
        };
        (count(" redeemed"), count(" pending"), count(" failed"))
    }
}

/// HLS segments written so far under `out`.
fn segments_written(out: &Path) -> usize {
    let Ok(dirs) = std::fs::read_dir(out) else {
        return 0;
    };
    dirs.flatten()
        .filter(|d| d.path().is_dir())
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
        .filter(|f| f.path().extension().is_some_and(|e| e == "ts"))
        .count()
}

/// Waits for the nodes' winners to be settled, then stops them and checks that none expired
/// or is left pending: `(index, node, log file)` each.
fn settle_winners(net: &Net, nodes: Vec<(usize, Kill, &str)>) {
    // Params expire a few blocks after they are quoted; the nodes then redeem.
    std::thread::sleep(Duration::from_secs(2 * ROUND_LENGTH / 5 + 6));
    for (i, node, log) in nodes {
        drop(node);
        let (redeemed, pending, failed) = net.tickets(i);
        let log = std::fs::read_to_string(net.path(log)).unwrap_or_default();
        assert_eq!(failed, 0, "winners of node {i} lost: {log}");
        assert_eq!(
            pending, 0,
            "winners of node {i} still pending ({redeemed} redeemed): {log}"
        );
        eprintln!("node {i}: winners redeemed: {redeemed}");
    }
}

/// Waits for a stream to end (at most `limit`); returns its output and exit status.
fn finish(mut stream: Kill, limit: Duration) -> (bool, String) {
    let t0 = Instant::now();
    let done = loop {
        if let Some(st) = stream.0.try_wait().unwrap() {
            break st;
        }
        assert!(t0.elapsed() < limit, "stream stalled");
        std::thread::sleep(Duration::from_millis(100));
    };
    (done.success(), stream.wait_with_output_ref())
}

/// Starts a stream of `seconds` into `out` and waits until `segments` are written.
fn stream_until(net: &Net, out: &str, seconds: u64, segments: usize) -> Kill {
    let mut stream = Kill(
        net.stream(out, seconds)
            // Failed attempts and failovers, for the stall figures.
            .env("RUST_LOG", "warn,livepeer_negotiate::quinn::session=debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let t0 = Instant::now();
    while segments_written(&net.path(out)) < segments {
        if t0.elapsed() > Duration::from_secs(60) || stream.0.try_wait().unwrap().is_some() {
            let _ = stream.0.kill();
            panic!("no segment out: {}", stream.wait_with_output_ref());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stream
}

/// Segments orchestrator log `log` says it transcoded.
fn transcoded(net: &Net, log: &str) -> usize {
    std::fs::read_to_string(net.path(log))
        .unwrap_or_default()
        .matches("segment transcoded")
        .count()
}

#[test]
fn the_busy_one_of_two_orchestrators_killed_loses_no_segment_and_no_winner() {
    let Some(net) = Net::new(2) else { return };
    let mut nodes = vec![
        Some(net.start_node(0, &net.rpc(), "n0-a.log")),
        Some(net.start_node(1, &net.rpc(), "n1-a.log")),
    ];
    net.wait_active();
    let stream = stream_until(&net, "out", 24, 3);
    let busy = usize::from(transcoded(&net, "n1-a.log") > transcoded(&net, "n0-a.log"));
    let idle = 1 - busy;
    let before = transcoded(&net, &format!("n{idle}-a.log"));
    nodes[busy] = None;
    let killed = Instant::now();
    // It stays down for the rest of the stream, then comes back to redeem its winners.
    let (ok, text) = finish(stream, Duration::from_secs(90));
    let done = killed.elapsed().as_secs_f64();
    let failed_attempts = text.matches("attempt failed").count();
    let restarted = net.start_node(busy, &net.rpc(), &format!("n{busy}-b.log"));
    assert!(ok, "{text}");
    assert!(text.contains("segments: 12 in, 12 out, 0 failed"), "{text}");
    eprintln!(
        "kill of the busy one of two: stream done {done:.1} s after the kill; \
         the other took {} segments; {failed_attempts} attempts failed",
        transcoded(&net, &format!("n{idle}-a.log")) - before
    );
    // The attempt in flight at the kill, and at most one probe when its first suspension
    // ends while it is still down.
    assert!(failed_attempts <= 2, "{text}");
    // A dead orchestrator costs one attempt timeout, once: the scheduler does not go back to
    // it while it is down, so the remaining ten or so segments (20 s of media) finish well
    // within their own real time plus one stall.
    assert!(
        done < 40.0,
        "second stall: stream done {done:.1} s after the kill"
    );
    let idle_node = nodes[idle].take().unwrap();
    let (a, b) = if busy == 0 {
        ((0, restarted, "n0-b.log"), (1, idle_node, "n1-a.log"))
    } else {
        ((0, idle_node, "n0-a.log"), (1, restarted, "n1-b.log"))
    };
    settle_winners(&net, vec![a, b]);
}

#[test]
fn the_only_orchestrator_killed_and_restarted_loses_no_segment() {
    let Some(net) = Net::new(1) else { return };
    let node = net.start_node(0, &net.rpc(), "orch1.log");
    net.wait_active();

    let stream = stream_until(&net, "out", 10, 2);
    // SIGKILL: no chance to close anything.
    drop(node);
    let killed = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let node = net.start_node(0, &net.rpc(), "orch2.log");
    let (ok, text) = finish(stream, Duration::from_secs(60));
    assert!(ok, "{text}");
    assert!(text.contains("segments: 5 in, 5 out, 0 failed"), "{text}");
    eprintln!(
        "restart: stream done {:.1} s after the kill",
        killed.elapsed().as_secs_f64()
    );
    settle_winners(&net, vec![(0, node, "orch2.log")]);
}

/// A TCP proxy in front of the chain's RPC port that can refuse connections (closed: the
/// port is not listening and open connections are cut) and accept them again (reopened), as
/// a node whose RPC port goes away.
struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (flag, list) = (open.clone(), conns.clone());
        std::thread::spawn(move || {
            let mut listener = Some(listener);
            loop {
                if !flag.load(Ordering::SeqCst) {
                    listener = None;
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                let l = match &listener {
                    Some(l) => l,
                    None => match TcpListener::bind(addr) {
                        Ok(l) => listener.insert(l),
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                    },
                };
                l.set_nonblocking(true).unwrap();
                match l.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(upstream) else {
                            continue;
                        };
                        let mut held = list.lock().unwrap();
                        held.push(client.try_clone().unwrap());
                        held.push(server.try_clone().unwrap());
                        pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                        pipe(server, client);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy { addr, open, conns }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
        if !open {
            for c in self.conns.lock().unwrap().drain(..) {
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// Copies `from` to `to` on a thread until either ends.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

#[test]
fn an_orchestrator_survives_its_chain_rpc_refusing_connections() {
    let Some(net) = Net::new(1) else { return };
    let upstream = SocketAddr::from(([127, 0, 0, 1], net.anvil.port()));
    let proxy = Proxy::start(upstream);
    let mut node = net.start_node(0, &proxy.url(), "orch.log");
    net.wait_active();

    // The RPC port refuses connections for 5 s (the node syncs every second).
    let log = || std::fs::read_to_string(net.path("orch.log")).unwrap_or_default();
    let rewards_before = log().matches("reward minted").count();
    proxy.set_open(false);
    let down = Instant::now();
    // Meanwhile a stream through the node: whatever it manages, the broadcaster's exit
    // status says whether segments failed.
    let o = net.stream("out-down", 4).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.success(),
        text.contains(", 0 failed"),
        "exit status and failed segments disagree: {text}"
    );
    while down.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        node.0.try_wait().unwrap().is_none(),
        "the node exited while its RPC refused connections: {}",
        log()
    );
    proxy.set_open(true);

    // Back by itself: it follows the chain again (the reward of a later round is minted)
    // and serves a whole stream.
    let t0 = Instant::now();
    while log().matches("reward minted").count() <= rewards_before {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "never back on the chain: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "rpc refused 5 s: a reward minted {:.1} s after it reopened",
        t0.elapsed().as_secs_f64()
    );
    // That step may have been waiting for its receipt through the outage: the next one
    // (a second later) brings the node's block, and so its quotes, up to date.
    std::thread::sleep(Duration::from_secs(3));
    // `orchestrator status | grep -q active`: the reader is gone before anything is written.
    let mut status = net
        .orch(0, &net.rpc())
        .arg("status")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(status.stdout.take());
    let o = status.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && !err.contains("panicked"),
        "status into a closed pipe: {err}"
    );
    let o = net.stream("out-up", 6).output().unwrap();
    let text = ok(&o, "stream after the outage");
    assert!(text.contains("segments: 3 in, 3 out, 0 failed"), "{text}");
    assert!(node.0.try_wait().unwrap().is_none(), "node exited");
    settle_winners(&net, vec![(0, node, "orch.log")]);
}

#[test]
fn the_proxy_refuses_connections_while_closed() {
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = Proxy::start(upstream.local_addr().unwrap());
    assert!(TcpStream::connect(proxy.addr).is_ok());
    proxy.set_open(false);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        TcpStream::connect(proxy.addr).is_err(),
        "accepted while closed"
    );
    proxy.set_open(true);
    std::thread::sleep(Duration::from_millis(100));
    assert!(TcpStream::connect(proxy.addr).is_ok());
}

#[test]
fn a_killed_broadcaster_resumes_into_its_own_output() {
    let Some(net) = Net::new(1) else { return };
    let node = net.start_node(0, &net.rpc(), "orch.log");
    net.wait_active();
    // SIGKILL the broadcaster once two segments are out.
    drop(stream_until(&net, "out", 10, 2));
    // A plain rerun refuses the directory and says how to go on.
    let refused = net.stream("out", 10).output().unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--resume"), "{err}");
    // --resume goes on after the last whole segment: nothing written twice, nothing lost.
    let resumed = Kill(
        net.stream("out", 10)
            .arg("--resume")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (ok, text) = finish(resumed, Duration::from_secs(60));
    assert!(ok, "{text}");
    assert!(text.contains(" 0 failed"), "{text}");
    let media = std::fs::read_to_string(net.path("out").join("240p").join("index.m3u8")).unwrap();
    assert_eq!(media.matches("#EXTINF").count(), 5, "{media}");
    assert!(!media.contains("DISCONTINUITY"), "{media}");
    assert!(media.contains("#EXT-X-ENDLIST"), "{media}");
    settle_winners(&net, vec![(0, node, "orch.log")]);
}
