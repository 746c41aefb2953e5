//! The orchestrators' state directories on small disks (tmpfs, root only), the busy one's
//! filled up mid-stream and freed again.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Kill, ok};
use crate::net::{
    Layout, Net, busy_of_two, finish, segments_written, settle_two, stream_until, transcoded,
};

/// A small tmpfs mounted at a directory, unmounted on drop.
struct SmallFs(PathBuf);

impl SmallFs {
    /// Mounts `bytes` of tmpfs at `dir`; `None` where mounting is not allowed (not root).
    fn mount(dir: &Path, bytes: u64) -> Option<SmallFs> {
        std::fs::create_dir_all(dir).ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then(|| SmallFs(dir.to_path_buf()))
    }

    /// Fills the disk with one file, to the last byte; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.0.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let mut byte = [0u8; 1];
        while f.write_all(&byte).is_ok() {
            byte[0] = 1;
        }
        path
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        // Lazily: a node killed a moment ago may still hold a file open.
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_state_disk_loses_no_segment_and_no_winner_and_recovers_when_freed() {
    // Tickets live about two rounds: at 30 one-second blocks a round a winner outlives a
    // disk full for 5 s, as it does by far on a real chain (rounds of a day).
    let layout = Layout {
        round_length: 30,
        ..Layout::loopback(2)
    };
    let Some(net) = Net::with_layout(layout) else {
        return;
    };
    let disks: Vec<SmallFs> = (0..2)
        .filter_map(|i| SmallFs::mount(&net.path(&format!("orch-state-{i}")), 16 << 20))
        .collect();
    if disks.len() < 2 {
        eprintln!("SKIPPED: mounting a small tmpfs needs root");
        return;
    }
    let mut nodes = net.start_two();
    net.wait_active();
    let stream = stream_until(&net, "out", 24, 3);
    let (busy, _) = busy_of_two(&net);
    let idle = 1 - busy;
    let log =
        |i: usize| std::fs::read_to_string(net.path(&format!("n{i}-a.log"))).unwrap_or_default();
    let filler = disks[busy].fill();
    let full = Instant::now();
    let written = segments_written(&net.path("out"));
    // Full for at least 5 s and while three more segments go out (elsewhere, if the busy
    // node cannot take them).
    let limit = Duration::from_secs(60);
    while (segments_written(&net.path("out")) < written + 3
        || full.elapsed() < Duration::from_secs(5))
        && full.elapsed() < limit
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let full_for = full.elapsed();
    std::fs::remove_file(filler).unwrap();
    let (ok_stream, text) = finish(stream, Duration::from_secs(90));
    assert!(ok_stream, "{text}");
    assert!(text.contains("segments: 12 in, 12 out, 0 failed"), "{text}");
    for (i, node) in nodes.iter_mut().enumerate() {
        let node = node.as_mut().unwrap();
        assert!(
            node.0.try_wait().unwrap().is_none(),
            "node {i} exited: {}",
            log(i)
        );
    }
    let store_failures = log(busy).matches("store failed").count();
    eprintln!(
        "disk full for {:.1} s: {store_failures} store failures on the busy node, \
         {} attempts failed over, 0 segments lost",
        full_for.as_secs_f64(),
        text.matches("attempt failed").count()
    );
    // Back by itself: with the other node stopped, the one whose disk filled up serves a
    // whole stream.
    nodes[idle] = None;
    let before = transcoded(&net, &format!("n{busy}-a.log"));
    let o = net.stream("out-after", 6).output().unwrap();
    let text = ok(&o, "stream after the disk was freed");
    assert!(text.contains("segments: 3 in, 3 out, 0 failed"), "{text}");
    assert_eq!(
        transcoded(&net, &format!("n{busy}-a.log")) - before,
        3,
        "{}",
        log(busy)
    );
    // The stopped node comes back to redeem its own winners; none of either is lost.
    let restarted: Kill = net.start_node(idle, &net.rpc(), &format!("n{idle}-b.log"));
    let busy_node = nodes[busy].take().unwrap();
    let busy_log = format!("n{busy}-a.log");
    let idle_log = format!("n{idle}-b.log");
    settle_two(
        &net,
        (busy, busy_node, busy_log.as_str()),
        (idle, restarted, idle_log.as_str()),
    );
    drop(disks);
}
