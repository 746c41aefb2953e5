//! The scenarios: many broadcasters under loss, an outage and a drain; one broadcaster's
//! tail latency with and without hedging; determinism.

use std::time::Duration;

use livepeer_negotiate::proto::ErrorCode;

use super::{Params, SEG, Trace, run};

#[test]
fn real_machines_lose_no_segment_under_loss_an_outage_and_a_drain() {
    let p = Params::new(7, 0.05, 60);
    let t = run(&p);
    assert!(t.failed.is_empty(), "failed: {:?}", t.failed);
    assert!(t.tickets >= 180, "paid with real tickets: {}", t.tickets);
    // Nothing comes back from the unreachable one while it is out.
    assert!(
        !t.done
            .iter()
            .any(|d| d.2 == 3 && (20_100..60_000).contains(&d.3)),
        "a result from an unreachable orchestrator"
    );
    // Quotes nobody could refresh (the unreachable one's) were dropped at their expiry, not
    // later.
    assert!(t.expired.iter().any(|e| e.1 == 3), "{:?}", t.expired);
    assert!(t.expired.iter().all(|e| e.3 <= 1), "{:?}", t.expired);
    // The drained one quotes nothing after the drain and takes no new stream, but serves
    // the streams it took before until their quotes run out.
    let drain_ms = 32_000;
    assert!(t.quoted.iter().all(|&(o, at)| o != 0 || at < drain_ms));
    assert!(t.admitted.get(&(0, 0)).is_some_and(|&at| at < drain_ms));
    assert!(
        !t.admitted.contains_key(&(0, 2)),
        "a new stream admitted while draining"
    );
    assert!(
        !t.refused
            .iter()
            .any(|&(o, b, code)| o == 0 && b != 2 && code == ErrorCode::Draining),
        "a segment of an admitted stream refused while draining"
    );
    assert!(
        t.done.iter().any(|d| d.2 == 0 && d.3 > drain_ms),
        "admitted streams still served while draining"
    );
    assert!(
        t.done.iter().any(|d| d.0 == 2),
        "the late stream went elsewhere"
    );
}

fn one_stream(seed: u64, hedge: Option<f64>, loss: f64, segments: u64) -> Params {
    Params {
        drain: None,
        starts: vec![Duration::ZERO],
        hedge,
        ..Params::new(seed, loss, segments)
    }
}

/// Five minutes of one stream: the cheapest orchestrator dies for 40 s, one is slower than
/// real time, and 5 % of messages are lost. No segment is lost, the tail stays within a
/// segment's duration, the dead one costs nothing while down and is used again once its
/// quote and its standing come back, and the slow one never wins.
#[test]
fn no_segment_lost_under_loss_death_and_a_slow_orchestrator() {
    let t = run(&one_stream(7, Some(0.7), 0.05, 150));
    assert!(t.failed.is_empty(), "failed: {:?}", t.failed);
    let within = t.done.iter().filter(|d| d.4 <= SEG.as_millis()).count();
    assert!(
        within * 100 >= 95 * 150,
        "only {within}/150 within one segment duration"
    );
    assert!(
        t.done.iter().all(|d| d.4 <= 3 * SEG.as_millis()),
        "a segment took over 3 durations"
    );
    // By the segment's start time (one every 2 s, the first at 1 s).
    let cheap = |from: u64, to: u64| {
        t.done
            .iter()
            .filter(|d| d.2 == 3 && (from..to).contains(&(1 + d.1 * 2)))
            .count()
    };
    assert!(cheap(0, 20) > 0, "used before going down");
    assert_eq!(cheap(22, 60), 0, "nothing completes while it is down");
    assert!(cheap(120, 300) > 0, "back in use");
    assert!(!t.done.iter().any(|d| d.2 == 2), "the slow one never wins");
    assert!(
        t.latency_ratio[0][2].unwrap_or(0.0) > 0.5,
        "its latency shows: {:?}",
        t.latency_ratio
    );
}

#[test]
fn hedging_beats_waiting_for_the_timeout() {
    let hedged = run(&one_stream(11, Some(0.7), 0.05, 100));
    let plain = run(&one_stream(11, None, 0.05, 100));
    let pct = |t: &Trace, p: usize| {
        let mut v: Vec<u128> = t.done.iter().map(|d| d.4).collect();
        v.sort();
        v[v.len() * p / 100 - 1]
    };
    assert!(hedged.failed.is_empty() && plain.failed.is_empty());
    let (h, p) = (
        (pct(&hedged, 95), pct(&hedged, 99)),
        (pct(&plain, 95), pct(&plain, 99)),
    );
    assert!(
        h.0 <= SEG.as_millis() && h.0 < p.0 && h.1 < p.1,
        "hedged p95/p99 {h:?} ms, plain {p:?} ms"
    );
}

#[test]
fn real_machines_same_seed_same_trace() {
    let a = run(&Params::new(3, 0.1, 30));
    let b = run(&Params::new(3, 0.1, 30));
    assert_eq!(a, b);
    let c = run(&Params::new(4, 0.1, 30));
    assert_ne!(a.dispatches, c.dispatches);
}
