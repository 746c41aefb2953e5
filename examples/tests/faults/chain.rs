//! The chain's RPC port refusing connections and coming back.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Kill, ok};
use crate::net::{Net, settle_winners};

/// A TCP proxy in front of the chain's RPC port that can refuse connections (closed: the
/// port is not listening and open connections are cut) and accept them again (reopened), as
/// a node whose RPC port goes away; or freeze (connections are accepted, nothing moves), as
/// a node that hangs.
struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    frozen: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let frozen = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (flag, list, ice) = (open.clone(), conns.clone(), frozen.clone());
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
                        let (a, b) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                        pipe(a, b, ice.clone());
                        pipe(server, client, ice.clone());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy {
            addr,
            open,
            frozen,
            conns,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set_frozen(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::SeqCst);
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

/// Copies `from` to `to` on a thread until either ends, holding every byte while `frozen`.
fn pipe(mut from: TcpStream, mut to: TcpStream, frozen: Arc<AtomicBool>) {
    use std::io::{Read as _, Write as _};
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            while frozen.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

/// A stream of 4 s through `net` during an outage: whatever it manages, the broadcaster's
/// exit status must say whether segments failed. Returns its summary line (or last error).
fn stream_during(net: &Net, out: &str) -> String {
    let o = net.stream(out, 4).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.success(),
        text.contains(", 0 failed"),
        "exit status and failed segments disagree: {text}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    text.lines()
        .find(|l| l.starts_with("segments:"))
        .or_else(|| err.lines().last())
        .unwrap_or("")
        .to_string()
}

/// Holds an RPC outage for `outage` from now with a stream through the node meanwhile
/// ([`stream_during`]), then checks the node is still running. Returns the stream's summary.
fn ride_out(
    net: &Net,
    node: &mut Kill,
    log: &dyn Fn() -> String,
    out: &str,
    outage: Duration,
    what: &str,
) -> String {
    let start = Instant::now();
    let during = stream_during(net, out);
    while start.elapsed() < outage {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        node.0.try_wait().unwrap().is_none(),
        "the node exited while its RPC {what}: {}",
        log()
    );
    during
}

/// Waits until `log` shows more than `before` rewards minted (at most `limit`): the node
/// follows the chain again. Returns how long that took.
fn wait_reward(log: &dyn Fn() -> String, before: usize, limit: Duration) -> Duration {
    let t0 = Instant::now();
    while log().matches("reward minted").count() <= before {
        assert!(t0.elapsed() < limit, "never back on the chain: {}", log());
        std::thread::sleep(Duration::from_millis(200));
    }
    t0.elapsed()
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
    // Meanwhile a stream through the node: whatever it manages, the broadcaster's exit
    // status says whether segments failed.
    ride_out(
        &net,
        &mut node,
        &log,
        "out-down",
        Duration::from_secs(5),
        "refused connections",
    );
    proxy.set_open(true);

    // Back by itself: it follows the chain again (the reward of a later round is minted)
    // and serves a whole stream.
    let back = wait_reward(&log, rewards_before, Duration::from_secs(30));
    eprintln!(
        "rpc refused 5 s: a reward minted {:.1} s after it reopened",
        back.as_secs_f64()
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
fn an_orchestrator_survives_its_chain_rpc_freezing() {
    let Some(net) = Net::new(1) else { return };
    let upstream = SocketAddr::from(([127, 0, 0, 1], net.anvil.port()));
    let proxy = Proxy::start(upstream);
    let mut node = net.start_node(0, &proxy.url(), "orch.log");
    net.wait_active();
    let log = || std::fs::read_to_string(net.path("orch.log")).unwrap_or_default();
    let rewards_before = log().matches("reward minted").count();
    // The RPC accepts connections but answers nothing for 10 s.
    proxy.set_frozen(true);
    let during = ride_out(
        &net,
        &mut node,
        &log,
        "out-frozen",
        Duration::from_secs(10),
        "was frozen",
    );
    proxy.set_frozen(false);
    let back = wait_reward(&log, rewards_before, Duration::from_secs(40));
    eprintln!(
        "rpc frozen 10 s: stream meanwhile {during:?}; a reward minted {:.1} s after it thawed",
        back.as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(3));
    let o = net.stream("out-after", 6).output().unwrap();
    let text = ok(&o, "stream after the freeze");
    assert!(text.contains("segments: 3 in, 3 out, 0 failed"), "{text}");
    assert!(node.0.try_wait().unwrap().is_none(), "node exited");
    settle_winners(&net, vec![(0, node, "orch.log")]);
}
