//! Several hosts on one machine: the broadcaster, each orchestrator and each transcoder in a
//! network namespace of its own, joined to this namespace by a veth pair; this namespace
//! routes between them and hosts the chain. Between the broadcaster and the orchestrators
//! runs a UDP path that loses, delays and reorders packets (a relay: the kernel here has no
//! netem), and the busy orchestrator is cut off from everything (its link down) and healed.
//! Needs root; skipped with a message elsewhere.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ethers::signers::{LocalWallet, Signer as _};
use livepeer_contracts::embedded::DEV_KEYS;
use rand::{Rng as _, SeedableRng as _};

use crate::common::{Kill, TRANSCODER, ok};
use crate::net::{
    Layout, Net, Place, busy_of_two, command_in, finish, settle_two, stream_until, transcoded,
};

/// The address this namespace serves the chain at (on its loopback device).
const CHAIN_IP: &str = "10.77.100.1";

/// Network namespaces `10.77.<k+1>.2`, each behind a veth pair whose other end
/// (`10.77.<k+1>.1`) is here; removed on drop.
struct Hosts {
    names: Vec<String>,
    links: Vec<String>,
    forward_before: String,
}

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Hosts {
    fn new(count: usize) -> Option<Hosts> {
        let tag = std::process::id() % 100_000;
        let forward = "/proc/sys/net/ipv4/ip_forward";
        let mut hosts = Hosts {
            names: Vec::new(),
            links: Vec::new(),
            forward_before: std::fs::read_to_string(forward).ok()?.trim().to_string(),
        };
        for k in 0..count {
            let (ns, link) = (format!("lpf{tag}-{k}"), format!("lpf{tag}-{k}"));
            if !sh(&["ip", "netns", "add", &ns]) {
                return None;
            }
            hosts.names.push(ns.clone());
            let (here, there) = (
                format!("10.77.{}.1/24", k + 1),
                format!("10.77.{}.2/24", k + 1),
            );
            let gateway = format!("10.77.{}.1", k + 1);
            let steps: [&[&str]; 7] = [
                &[
                    "ip", "link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns",
                    &ns,
                ],
                &["ip", "addr", "add", &here, "dev", &link],
                &["ip", "link", "set", &link, "up"],
                &["ip", "-n", &ns, "addr", "add", &there, "dev", "eth0"],
                &["ip", "-n", &ns, "link", "set", "eth0", "up"],
                &["ip", "-n", &ns, "link", "set", "lo", "up"],
                &["ip", "-n", &ns, "route", "add", "default", "via", &gateway],
            ];
            for step in steps {
                if !sh(step) {
                    return None;
                }
            }
            hosts.links.push(link);
        }
        let chain = format!("{CHAIN_IP}/32");
        (sh(&["ip", "addr", "add", &chain, "dev", "lo"]) && std::fs::write(forward, "1").is_ok())
            .then_some(hosts)
    }

    fn ns(&self, k: usize) -> &str {
        &self.names[k]
    }

    fn ip(k: usize) -> String {
        format!("10.77.{}.2", k + 1)
    }

    /// Cuts host `k` off from every other (its link down), or joins it again.
    fn set_link(&self, k: usize, up: bool) {
        let state = if up { "up" } else { "down" };
        assert!(sh(&["ip", "link", "set", &self.links[k], state]));
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in &self.names {
            sh(&["ip", "netns", "del", ns]);
        }
        sh(&["ip", "addr", "del", &format!("{CHAIN_IP}/32"), "dev", "lo"]);
        let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", &self.forward_before);
    }
}

/// What a relay does to each datagram.
#[derive(Clone, Copy)]
struct Impair {
    /// Share of datagrams dropped.
    loss: f64,
    /// Fixed one-way delay.
    delay: Duration,
    /// Extra delay, uniform in 0..jitter: datagrams overtake each other.
    jitter: Duration,
}

type Due = Reverse<(Instant, u64, usize, SocketAddr, Vec<u8>)>;

/// A UDP relay that impairs both directions; stops on drop.
struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    passed: Arc<AtomicU64>,
}

struct RelayState {
    queue: Mutex<BinaryHeap<Due>>,
    ready: Condvar,
    /// Socket 0 faces the clients; the others face the upstream, one per client.
    sockets: Mutex<Vec<Arc<UdpSocket>>>,
}

impl Relay {
    fn start(bind: &str, upstream: SocketAddr, imp: Impair, seed: u64) -> Relay {
        let front = Arc::new(UdpSocket::bind(bind).unwrap());
        front
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let relay = Relay {
            addr: front.local_addr().unwrap(),
            stop: Arc::new(AtomicBool::new(false)),
            dropped: Arc::new(AtomicU64::new(0)),
            passed: Arc::new(AtomicU64::new(0)),
        };
        let state = Arc::new(RelayState {
            queue: Mutex::new(BinaryHeap::new()),
            ready: Condvar::new(),
            sockets: Mutex::new(vec![front.clone()]),
        });
        let rng = Arc::new(Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)));
        let order = Arc::new(AtomicU64::new(0));
        // Schedules one datagram out of socket `via` to `to`, or drops it.
        let schedule = {
            let (state, rng, order) = (state.clone(), rng.clone(), order.clone());
            let (dropped, passed) = (relay.dropped.clone(), relay.passed.clone());
            move |via: usize, to: SocketAddr, data: Vec<u8>| {
                let (lost, extra) = {
                    let mut r = rng.lock().unwrap();
                    (
                        r.random_bool(imp.loss),
                        imp.jitter.mul_f64(r.random::<f64>()),
                    )
                };
                if lost {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                passed.fetch_add(1, Ordering::Relaxed);
                let at = Instant::now() + imp.delay + extra;
                let n = order.fetch_add(1, Ordering::Relaxed);
                state
                    .queue
                    .lock()
                    .unwrap()
                    .push(Reverse((at, n, via, to, data)));
                state.ready.notify_one();
            }
        };
        // Clients to the upstream, each client through a socket of its own.
        {
            let (stop, state, schedule) = (relay.stop.clone(), state.clone(), schedule.clone());
            std::thread::spawn(move || {
                let mut clients: HashMap<SocketAddr, usize> = HashMap::new();
                let mut buf = vec![0u8; 65_536];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = front.recv_from(&mut buf) else {
                        continue;
                    };
                    let via = *clients.entry(from).or_insert_with(|| {
                        let back = Arc::new(UdpSocket::bind("0.0.0.0:0").unwrap());
                        back.set_read_timeout(Some(Duration::from_millis(50)))
                            .unwrap();
                        let via = {
                            let mut socks = state.sockets.lock().unwrap();
                            socks.push(back.clone());
                            socks.len() - 1
                        };
                        let (stop, schedule) = (stop.clone(), schedule.clone());
                        // The upstream's answers, back to this client.
                        std::thread::spawn(move || {
                            let mut buf = vec![0u8; 65_536];
                            while !stop.load(Ordering::Relaxed) {
                                if let Ok((n, _)) = back.recv_from(&mut buf) {
                                    schedule(0, from, buf[..n].to_vec());
                                }
                            }
                        });
                        via
                    });
                    schedule(via, upstream, buf[..n].to_vec());
                }
            });
        }
        // Sends each datagram when it is due.
        {
            let stop = relay.stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut q = state.queue.lock().unwrap();
                    let now = Instant::now();
                    match q.peek() {
                        Some(Reverse((at, ..))) if *at <= now => {
                            let Some(Reverse((_, _, via, to, data))) = q.pop() else {
                                continue;
                            };
                            drop(q);
                            let sock = state.sockets.lock().unwrap()[via].clone();
                            let _ = sock.send_to(&data, to);
                        }
                        Some(Reverse((at, ..))) => {
                            let wait = *at - now;
                            drop(state.ready.wait_timeout(q, wait).unwrap());
                        }
                        None => {
                            let wait = Duration::from_millis(50);
                            drop(state.ready.wait_timeout(q, wait).unwrap());
                        }
                    }
                }
            });
        }
        relay
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The last lines of `log` of `net`.
fn tail(net: &Net, log: &str) -> String {
    let text = std::fs::read_to_string(net.path(log)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Waits until `log` of `net` holds `what` at least `count` times; false after `limit`.
fn wait_log(net: &Net, log: &str, what: &str, count: usize, limit: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        let text = std::fs::read_to_string(net.path(log)).unwrap_or_default();
        if text.matches(what).count() >= count {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn hosts_in_namespaces_ride_out_loss_jitter_and_a_partition_with_nothing_lost() {
    // Hosts: 0 the broadcaster, 1 and 2 the orchestrators, 3 and 4 their transcoders.
    let Some(hosts) = Hosts::new(5) else {
        eprintln!("SKIPPED: network namespaces need root (ip netns, veth, ip_forward)");
        return;
    };
    const PORT: u16 = 8935;
    let impair = Impair {
        loss: 0.01,
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(5),
    };
    let relays: Vec<Relay> = (0..2)
        .map(|i| {
            let upstream: SocketAddr = format!("{}:{PORT}", Hosts::ip(1 + i)).parse().unwrap();
            Relay::start(&format!("{CHAIN_IP}:0"), upstream, impair, 7 + i as u64)
        })
        .collect();
    let layout = Layout {
        chain_host: Some(CHAIN_IP.into()),
        orchestrators: (0..2)
            .map(|i| Place {
                ns: Some(hosts.ns(1 + i).into()),
                listen: format!("{}:{PORT}", Hosts::ip(1 + i)),
                uri: format!("quic://{}", relays[i].addr),
            })
            .collect(),
        broadcaster_ns: Some(hosts.ns(0).into()),
        // Tickets live about two rounds: at 30 one-second blocks a round, a winner outlives
        // the 15 s partition, as it does by far on a real chain (rounds of a day).
        round_length: 30,
    };
    let Some(net) = Net::with_layout(layout) else {
        return;
    };
    // Orchestrator i has key K(2+i); its transcoder K(4+i).
    let address = |k: usize| {
        let w: LocalWallet = DEV_KEYS[k].parse().unwrap();
        format!("{:?}", w.address())
    };
    let mut nodes: Vec<Option<Kill>> = (0..2)
        .map(|i| {
            let allow = address(4 + i);
            let extra = ["--transcoders", "0", "--allow-transcoder", &allow];
            let log = format!("n{i}-a.log");
            Some(net.start_node_with(i, &net.node_rpc(), &log, &extra))
        })
        .collect();
    let _transcoders: Vec<Kill> = (0..2)
        .map(|i| {
            let log = std::fs::File::create(net.path(&format!("t{i}.log"))).unwrap();
            Kill(
                command_in(Some(hosts.ns(3 + i)), TRANSCODER)
                    .args(["-v", "join", "--orchestrator"])
                    .arg(format!("{}:{PORT}", Hosts::ip(1 + i)))
                    .args(["--orchestrator-address", &address(2 + i)])
                    .args(["--key-env", &format!("K{}", 4 + i)])
                    .env(format!("K{}", 4 + i), DEV_KEYS[4 + i])
                    .env_remove("RUST_LOG")
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    for i in 0..2 {
        let log = format!("n{i}-a.log");
        assert!(
            wait_log(&net, &log, "joined the pool", 1, Duration::from_secs(30)),
            "transcoder {i} never joined"
        );
    }
    net.wait_active();

    // A stream over the lossy path; the busy orchestrator is cut off for 15 s mid-stream.
    let t0 = Instant::now();
    let stream = stream_until(&net, "out", 30, 3);
    let (busy, counts) = busy_of_two(&net);
    let idle = 1 - busy;
    hosts.set_link(1 + busy, false);
    let cut = Instant::now();
    std::thread::sleep(Duration::from_secs(15));
    hosts.set_link(1 + busy, true);
    let healed = Instant::now();
    // Back by itself: its transcoder rejoins (if the cut outlasted the connection) and it
    // follows the chain again; the stream goes on meanwhile.
    let busy_log = format!("n{busy}-a.log");
    let lost = |net: &Net| {
        std::fs::read_to_string(net.path(&format!("t{busy}.log")))
            .unwrap_or_default()
            .contains("lost the orchestrator")
    };
    let limit = Duration::from_secs(30);
    let rejoined = !lost(&net) || wait_log(&net, &busy_log, "joined the pool", 2, limit);
    assert!(rejoined, "the transcoder never rejoined");
    let rejoin = healed.elapsed();
    let (ok_stream, text) = finish(stream, Duration::from_secs(120));
    let media_done = t0.elapsed();
    assert!(ok_stream, "{text}");
    assert!(text.contains("segments: 15 in, 15 out, 0 failed"), "{text}");
    nodes[idle] = None;
    let before = transcoded(&net, &busy_log);
    let o = net.stream("out-after", 6).output().unwrap();
    let after = ok(&o, "stream after the partition healed");
    assert!(after.contains("segments: 3 in, 3 out, 0 failed"), "{after}");
    assert_eq!(transcoded(&net, &busy_log) - before, 3);
    let (dropped, passed) = relays.iter().fold((0, 0), |(d, p), r| {
        (
            d + r.dropped.load(Ordering::Relaxed),
            p + r.passed.load(Ordering::Relaxed),
        )
    });
    eprintln!(
        "{}\nnamespaces: segments per node at the cut {counts:?}; {dropped} of {} datagrams dropped, 20-25 ms each way; busy orchestrator \
         cut off {:.1} s: 15/15 segments in {:.1} s ({} attempts failed over), 0 lost; \
         its transcoder back {:.1} s after the link came up, then 3/3 on it alone",
        text.lines()
            .find(|l| l.starts_with("segments:"))
            .unwrap_or(""),
        dropped + passed,
        (healed - cut).as_secs_f64(),
        media_done.as_secs_f64(),
        text.matches("attempt failed").count(),
        rejoin.as_secs_f64()
    );
    // The stopped orchestrator comes back; its transcoder, waiting all along, rejoins it by
    // itself, and it redeems its own winners.
    let allow = address(4 + idle);
    let restarted = net.start_node_with(
        idle,
        &net.node_rpc(),
        &format!("n{idle}-b.log"),
        &["--transcoders", "0", "--allow-transcoder", &allow],
    );
    let back = Instant::now();
    let t_log = format!("t{idle}.log");
    assert!(
        wait_log(
            &net,
            &t_log,
            "rejoined the pool",
            1,
            Duration::from_secs(30)
        ),
        "the transcoder never rejoined its restarted orchestrator\n--- {t_log}:\n{}\n--- n{idle}-b.log:\n{}",
        tail(&net, &t_log),
        tail(&net, &format!("n{idle}-b.log"))
    );
    eprintln!(
        "namespaces: the transcoder rejoined its restarted orchestrator {:.1} s after it started",
        back.elapsed().as_secs_f64()
    );
    let busy_node = nodes[busy].take().unwrap();
    let idle_log = format!("n{idle}-b.log");
    settle_two(
        &net,
        (busy, busy_node, busy_log.as_str()),
        (idle, restarted, idle_log.as_str()),
    );
    drop(relays);
}
