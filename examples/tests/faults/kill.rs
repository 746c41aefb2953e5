//! SIGKILL: the busy one of two orchestrators, the only orchestrator, the broadcaster.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::Kill;
use crate::net::{Net, busy_of_two, finish, settle_winners, stream_until, transcoded};

#[test]
fn the_busy_one_of_two_orchestrators_killed_loses_no_segment_and_no_winner() {
    let Some(net) = Net::new(2) else { return };
    let mut nodes = net.start_two();
    net.wait_active();
    let stream = stream_until(&net, "out", 24, 3);
    let (busy, _) = busy_of_two(&net);
    let idle = 1 - busy;
    let before = transcoded(&net, &format!("n{idle}-a.log"));
    nodes[busy] = None;
    let killed = Instant::now();
    // Down for 3 s (the stream goes on elsewhere), then back to redeem its winners while
    // their tickets are still valid (rounds of 10 one-second blocks here).
    std::thread::sleep(Duration::from_secs(3));
    let restarted = net.start_node(busy, &net.rpc(), &format!("n{busy}-b.log"));
    let (ok, text) = finish(stream, Duration::from_secs(90));
    let done = killed.elapsed().as_secs_f64();
    let failed_attempts = text.matches("attempt failed").count();
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
    if done > 25.0 {
        eprintln!("{text}");
    }
    // A dead orchestrator costs one attempt timeout (30 s in the binary), once: the
    // scheduler does not go back to it while it is down, so a second stall would take the
    // stream past a minute.
    assert!(
        done < 55.0,
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

/// The only orchestrator SIGKILLed three times at seeded random moments of one stream (the
/// seed is printed; `FAULT_SEED` repeats a run), restarted a second later each time.
#[test]
fn the_only_orchestrator_killed_at_random_moments_loses_nothing() {
    use rand::{Rng as _, SeedableRng as _};
    let seed = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("random kills: FAULT_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let Some(net) = Net::new(1) else { return };
    let mut node = net.start_node(0, &net.rpc(), "orch-0.log");
    net.wait_active();
    let stream = stream_until(&net, "out", 20, 1);
    let t0 = Instant::now();
    let mut log = "orch-0.log".to_string();
    for k in 1..=3 {
        std::thread::sleep(Duration::from_millis(rng.random_range(200..3000)));
        drop(node);
        std::thread::sleep(Duration::from_secs(1));
        log = format!("orch-{k}.log");
        node = net.start_node(0, &net.rpc(), &log);
    }
    let (ok, text) = finish(stream, Duration::from_secs(120));
    assert!(ok, "FAULT_SEED={seed}: {text}");
    assert!(
        text.contains("segments: 10 in, 10 out, 0 failed"),
        "FAULT_SEED={seed}: {text}"
    );
    eprintln!(
        "random kills: three kills, 10/10 segments; stream done {:.1} s after the first",
        t0.elapsed().as_secs_f64()
    );
    settle_winners(&net, vec![(0, node, log.as_str())]);
}
