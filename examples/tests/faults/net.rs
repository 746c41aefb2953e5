//! The network the fault tests run on: anvil with the contracts deployed, a funded
//! broadcaster, bonded and registered orchestrators, and helpers to stream and to settle.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ethers::signers::{LocalWallet, Signer as _};
use ethers::utils::{Anvil, AnvilInstance};
use livepeer_contracts::embedded::DEV_KEYS;

use crate::common::{BCAST, DEVNET, Kill, ORCH, anvil_path, free_udp_port, ok};

pub(crate) const ROUND_LENGTH: u64 = 10;

/// One JSON-RPC call over plain HTTP (the harness needs no runtime).
pub(crate) fn rpc(url: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
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

/// Where one orchestrator runs.
#[derive(Clone, Debug)]
pub(crate) struct Place {
    /// The network namespace it runs in; `None`: this one.
    pub(crate) ns: Option<String>,
    /// Where it listens, IP:PORT.
    pub(crate) listen: String,
    /// The URI it registers (where broadcasters reach it).
    pub(crate) uri: String,
}

/// Where the processes run: everything on loopback, or hosts in network namespaces.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// The address the nodes reach the chain's RPC at; anvil then listens on every address.
    pub(crate) chain_host: Option<String>,
    /// The orchestrators.
    pub(crate) orchestrators: Vec<Place>,
    /// The broadcaster's network namespace.
    pub(crate) broadcaster_ns: Option<String>,
    /// Blocks a round (anvil mines one a second).
    pub(crate) round_length: u64,
}

impl Layout {
    /// `orchestrators` on loopback, each on a free port.
    pub(crate) fn loopback(orchestrators: usize) -> Layout {
        Layout {
            chain_host: None,
            orchestrators: (0..orchestrators)
                .map(|_| {
                    let addr = format!("127.0.0.1:{}", free_udp_port());
                    Place {
                        ns: None,
                        uri: format!("quic://{addr}"),
                        listen: addr,
                    }
                })
                .collect(),
            broadcaster_ns: None,
            round_length: ROUND_LENGTH,
        }
    }
}

/// `bin`, run in network namespace `ns` if given.
pub(crate) fn command_in(ns: Option<&str>, bin: &str) -> Command {
    match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, bin]);
            c
        }
        None => Command::new(bin),
    }
}

/// A chain with the contracts deployed, a funded broadcaster and a bonded, registered
/// orchestrator that is active from the next round.
pub(crate) struct Net {
    pub(crate) anvil: AnvilInstance,
    dir: tempfile::TempDir,
    /// Where the processes run; orchestrator `i` has key `DEV_KEYS[2 + i]`.
    pub(crate) layout: Layout,
}

impl Net {
    pub(crate) fn new(orchestrators: usize) -> Option<Net> {
        Net::with_layout(Layout::loopback(orchestrators))
    }

    pub(crate) fn with_layout(layout: Layout) -> Option<Net> {
        let Some(anvil) = anvil_path() else {
            eprintln!("SKIPPED: anvil not found (run `npm ci` in contracts/ or set ANVIL_BIN)");
            return None;
        };
        let mut anvil = Anvil::at(anvil)
            .arg("--hardfork")
            .arg("cancun")
            .block_time(1u64);
        if layout.chain_host.is_some() {
            anvil = anvil.arg("--host").arg("0.0.0.0");
        }
        let orchestrators = layout.orchestrators.len();
        let net = Net {
            anvil: anvil.spawn(),
            dir: tempfile::tempdir().unwrap(),
            layout,
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
                .args(["--round-length", &net.layout.round_length.to_string()])
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
            ok(
                &net.orch(i, &net.rpc())
                    .args(["register", "--uri", &net.layout.orchestrators[i].uri])
                    .output()
                    .unwrap(),
                "register",
            );
        }
        Some(net)
    }

    /// The chain's RPC, as this process reaches it.
    pub(crate) fn rpc(&self) -> String {
        self.anvil.endpoint()
    }

    /// The chain's RPC, as the nodes reach it from where they run.
    pub(crate) fn node_rpc(&self) -> String {
        match &self.layout.chain_host {
            Some(h) => format!("http://{h}:{}", self.anvil.port()),
            None => self.rpc(),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `bin` on `rpc` with the key in the environment variable `key`.
    pub(crate) fn cmd(&self, bin: &str, key: &str, rpc: &str) -> Command {
        self.cmd_in(None, bin, key, rpc)
    }

    /// `bin` in network namespace `ns`, on `rpc` with the key in the variable `key`.
    pub(crate) fn cmd_in(&self, ns: Option<&str>, bin: &str, key: &str, rpc: &str) -> Command {
        let mut c = command_in(ns, bin);
        c.args(["--rpc", rpc, "--chain-id", "31337", "--contracts"])
            .arg(self.path("contracts.json"))
            .args(["--key-env", key])
            .env("K0", DEV_KEYS[0])
            .env("K1", DEV_KEYS[1])
            .env("K2", DEV_KEYS[2])
            .env("K3", DEV_KEYS[3])
            .env("K4", DEV_KEYS[4])
            .env("K5", DEV_KEYS[5])
            .env_remove("RUST_LOG");
        c
    }

    pub(crate) fn orch(&self, i: usize, rpc: &str) -> Command {
        self.cmd(ORCH, &format!("K{}", 2 + i), rpc)
    }

    pub(crate) fn bcast(&self, rpc: &str) -> Command {
        self.cmd(BCAST, "K1", rpc)
    }

    /// Starts orchestrators 0 and 1 on loopback, logs `n0-a.log` and `n1-a.log`.
    pub(crate) fn start_two(&self) -> [Option<Kill>; 2] {
        [
            Some(self.start_node(0, &self.rpc(), "n0-a.log")),
            Some(self.start_node(1, &self.rpc(), "n1-a.log")),
        ]
    }

    /// Starts orchestrator `i` on `rpc`, its log in `log`, and waits until it serves.
    pub(crate) fn start_node(&self, i: usize, rpc: &str, log: &str) -> Kill {
        self.start_node_with(i, rpc, log, &[])
    }

    /// [`Net::start_node`] where it is placed, with `extra` arguments to `start`.
    pub(crate) fn start_node_with(&self, i: usize, rpc: &str, log: &str, extra: &[&str]) -> Kill {
        let path = self.path(log);
        let file = std::fs::File::create(&path).unwrap();
        let place = &self.layout.orchestrators[i];
        let mut node = Kill(
            self.cmd_in(place.ns.as_deref(), ORCH, &format!("K{}", 2 + i), rpc)
                .arg("-v")
                .args(["start", "--listen", &place.listen])
                .args(extra)
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
    pub(crate) fn wait_active(&self) {
        let block = rpc(&self.rpc(), "eth_blockNumber", serde_json::json!([]));
        let block =
            u64::from_str_radix(block.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        let round = self.layout.round_length;
        let to_next = round - block % round;
        rpc(
            &self.rpc(),
            "anvil_mine",
            serde_json::json!([format!("{to_next:#x}")]),
        );
        let t0 = Instant::now();
        loop {
            let s: String = (0..self.layout.orchestrators.len())
                .map(|i| {
                    ok(
                        &self.orch(i, &self.rpc()).arg("status").output().unwrap(),
                        "status",
                    )
                })
                .collect();
            if s.matches("active: true").count() == self.layout.orchestrators.len() {
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
    pub(crate) fn stream(&self, out: &str, seconds: u64) -> Command {
        let ns = self.layout.broadcaster_ns.as_deref();
        let mut c = self.cmd_in(ns, BCAST, "K1", &self.node_rpc());
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
    pub(crate) fn tickets(&self, i: usize) -> (usize, usize, usize) {
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
pub(crate) fn segments_written(out: &Path) -> usize {
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
pub(crate) fn settle_winners(net: &Net, nodes: Vec<(usize, Kill, &str)>) {
    // Params expire a few blocks after they are quoted; the nodes then redeem.
    std::thread::sleep(Duration::from_secs(2 * net.layout.round_length / 5 + 6));
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
pub(crate) fn finish(mut stream: Kill, limit: Duration) -> (bool, String) {
    let t0 = Instant::now();
    let done = loop {
        if let Some(st) = stream.0.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > limit {
            let _ = stream.0.kill();
            panic!("stream stalled: {}", stream.wait_with_output_ref());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    (done.success(), stream.wait_with_output_ref())
}

/// Starts a stream of `seconds` into `out` and waits until `segments` are written.
pub(crate) fn stream_until(net: &Net, out: &str, seconds: u64, segments: usize) -> Kill {
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
            for e in std::fs::read_dir(net.path(".")).unwrap().flatten() {
                if e.path().extension().is_some_and(|x| x == "log") {
                    eprintln!(
                        "==== {:?}\n{}",
                        e.path(),
                        std::fs::read_to_string(e.path()).unwrap_or_default()
                    );
                }
            }
            panic!("no segment out: {}", stream.wait_with_output_ref());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stream
}

/// Segments orchestrator log `log` says it transcoded.
pub(crate) fn transcoded(net: &Net, log: &str) -> usize {
    std::fs::read_to_string(net.path(log))
        .unwrap_or_default()
        .matches("segment transcoded")
        .count()
}

/// [`settle_winners`] for the two nodes of a test: `(index, node, log)` each, in any order.
pub(crate) fn settle_two(net: &Net, a: (usize, Kill, &str), b: (usize, Kill, &str)) {
    let mut nodes = vec![a, b];
    nodes.sort_by_key(|(i, _, _)| *i);
    settle_winners(net, nodes);
}

/// Which of two nodes (logs `n0-a.log`, `n1-a.log`) transcoded more so far: `(busy, counts)`.
pub(crate) fn busy_of_two(net: &Net) -> (usize, [usize; 2]) {
    let counts = [transcoded(net, "n0-a.log"), transcoded(net, "n1-a.log")];
    (usize::from(counts[1] > counts[0]), counts)
}
