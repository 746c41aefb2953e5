//! A deterministic simulation of selection and failover: the sans-IO [`Scheduler`] against
//! simulated orchestrators over a lossy link, on a simulated clock. Five minutes of 2 s
//! segments run in milliseconds, and the same seed gives the same trace.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livepeer_core::{Address, PixelPrice, U256};
use livepeer_negotiate::proto::{
    AttemptId, AttemptOutcome, Candidate, DefaultPolicy, SchedEvent, Scheduler, SchedulerConfig,
    ScoreConfig, Scoreboard,
};
use livepeer_negotiate::test_utils::LossyLink;

const SEG: Duration = Duration::from_secs(2);

struct SimOrch {
    address: Address,
    price: u64,
    work: Duration,
    /// Down (no answer at all) in this window of simulated time.
    down: Option<(Duration, Duration)>,
    queue: Vec<(Instant, AttemptId)>,
}

#[derive(Debug, Default, PartialEq)]
struct Trace {
    /// seq → (who finished it, latency).
    done: Vec<(u64, Address, Duration)>,
    failed: Vec<u64>,
    dispatches: Vec<(u64, Address, Duration)>,
}

fn run(
    seed: u64,
    hedge: Option<f64>,
    loss: f64,
    segments: u64,
) -> (Trace, Arc<Mutex<Scoreboard>>, Vec<Address>) {
    let t0 = Instant::now();
    let mut orchs: Vec<SimOrch> = [
        (1u8, 5u64, 300u64, None),
        (2, 6, 350, None),
        (3, 4, 3_000, None),               // slow: longer than a segment
        (4, 1, 250, Some((20u64, 60u64))), // the cheapest; down from 20 s to 60 s
        (5, 8, 400, None),
    ]
    .into_iter()
    .map(|(n, price, work, down)| SimOrch {
        address: Address::repeat_byte(n),
        price,
        work: Duration::from_millis(work),
        down: down.map(|(a, b)| (Duration::from_secs(a), Duration::from_secs(b))),
        queue: Vec::new(),
    })
    .collect();
    let addrs: Vec<Address> = orchs.iter().map(|o| o.address).collect();
    let board = Arc::new(Mutex::new(Scoreboard::new(ScoreConfig::default())));
    let mut config = SchedulerConfig::default();
    config.hedge_fraction = hedge;
    config.min_timeout = SEG;
    let mut sched = Scheduler::new(config, Arc::new(DefaultPolicy::default()), board.clone());
    sched.set_candidates(
        orchs
            .iter()
            .map(|o| Candidate {
                address: o.address,
                price: PixelPrice::per_pixel(o.price),
                stake: U256::from(100),
                capacity_pps: 1,
                quote_rtt: Duration::from_millis(20),
            })
            .collect(),
    );
    // Requests and replies each cross a lossy link with 20-40 ms one way.
    let mut up: LossyLink<(AttemptId, usize)> = LossyLink::new(
        Duration::from_millis(20),
        Duration::from_millis(20),
        loss,
        seed,
    );
    let mut down: LossyLink<AttemptId> = LossyLink::new(
        Duration::from_millis(20),
        Duration::from_millis(20),
        loss,
        seed ^ 0x5555,
    );
    let mut started: HashMap<u64, Instant> = HashMap::new();
    let mut trace = Trace::default();
    let mut now = t0;
    let mut next_seg = 0u64;
    let end = t0 + SEG * (segments as u32) + Duration::from_secs(30);
    while now < end {
        // Inputs due now.
        if next_seg < segments && t0 + SEG * next_seg as u32 <= now {
            started.insert(next_seg, now);
            sched.handle_segment(now, next_seg, SEG);
            next_seg += 1;
        }
        while let Some((attempt, i)) = up.poll_deliver(now) {
            let o = &mut orchs[i];
            let t = now - t0;
            let is_down = o.down.is_some_and(|(a, b)| t >= a && t < b);
            if !is_down {
                o.queue.push((now + o.work, attempt));
            }
        }
        for o in orchs.iter_mut() {
            let (ready, rest): (Vec<_>, Vec<_>) = o.queue.drain(..).partition(|(t, _)| *t <= now);
            o.queue = rest;
            for (_, attempt) in ready {
                let _ = down.handle_send(now, attempt);
            }
        }
        while let Some(attempt) = down.poll_deliver(now) {
            sched.handle_outcome(now, attempt, AttemptOutcome::Success);
        }
        sched.handle_timeout(now);
        // Outputs: drain until idle.
        while let Some(ev) = sched.poll_event() {
            match ev {
                SchedEvent::Dispatch {
                    seq,
                    attempt,
                    orchestrator,
                    ..
                } => {
                    trace.dispatches.push((seq, orchestrator, now - t0));
                    let i = addrs.iter().position(|a| *a == orchestrator).unwrap();
                    let _ = up.handle_send(now, (attempt, i));
                }
                SchedEvent::Completed {
                    seq, orchestrator, ..
                } => {
                    trace.done.push((seq, orchestrator, now - started[&seq]));
                }
                SchedEvent::Failed { seq, .. } => trace.failed.push(seq),
                _ => {}
            }
        }
        // Advance the simulated clock to the next thing that happens.
        let mut next = [
            sched.poll_timeout(),
            up.poll_timeout(),
            down.poll_timeout(),
            (next_seg < segments).then(|| t0 + SEG * next_seg as u32),
            orchs
                .iter()
                .flat_map(|o| o.queue.iter().map(|(t, _)| *t))
                .min(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(end);
        if next <= now {
            next = now + Duration::from_millis(1);
        }
        now = next;
    }
    (trace, board, addrs)
}

#[test]
fn no_segment_lost_under_loss_death_and_a_slow_orchestrator() {
    let (trace, board, addrs) = run(7, Some(0.7), 0.05, 150);
    assert!(trace.failed.is_empty(), "failed: {:?}", trace.failed);
    let mut seqs: Vec<u64> = trace.done.iter().map(|d| d.0).collect();
    seqs.sort();
    assert_eq!(
        seqs,
        (0..150).collect::<Vec<_>>(),
        "every segment exactly once"
    );
    let within = trace.done.iter().filter(|d| d.2 <= SEG).count();
    assert!(
        within * 100 >= 95 * 150,
        "only {within}/150 within one segment duration"
    );
    assert!(
        trace.done.iter().all(|d| d.2 <= SEG * 3),
        "a segment took over 3 durations"
    );
    // The cheapest one is used before it goes down, not while down, and again after its
    // suspension really expires.
    let cheap = addrs[3];
    let by = |from: u64, to: u64| {
        trace
            .done
            .iter()
            .filter(|d| d.1 == cheap && (from..to).contains(&(d.0 * 2)))
            .count()
    };
    assert!(by(0, 20) > 0, "used before going down");
    assert_eq!(by(22, 60), 0, "nothing completes while it is down");
    assert!(by(120, 300) > 0, "back in use after its suspension expired");
    // The slow one never wins, and its latency shows in the shared scoreboard.
    let slow = addrs[2];
    assert!(!trace.done.iter().any(|d| d.1 == slow));
    let b = board.lock().unwrap();
    assert!(b.stats(&slow).and_then(|s| s.latency_ratio).unwrap_or(0.0) > 0.5);
}

#[test]
fn hedging_beats_waiting_for_the_timeout() {
    let (hedged, _, _) = run(11, Some(0.7), 0.05, 100);
    let (plain, _, _) = run(11, None, 0.05, 100);
    let pct = |t: &Trace, p: usize| {
        let mut v: Vec<Duration> = t.done.iter().map(|d| d.2).collect();
        v.sort();
        v[v.len() * p / 100 - 1]
    };
    assert!(hedged.failed.is_empty() && plain.failed.is_empty());
    let (h, p) = (
        (pct(&hedged, 95), pct(&hedged, 99)),
        (pct(&plain, 95), pct(&plain, 99)),
    );
    assert!(
        h.0 <= SEG && h.0 < p.0 && h.1 < p.1,
        "hedged p95/p99 {h:?}, plain {p:?}"
    );
}

#[test]
fn same_seed_same_trace() {
    let (a, _, _) = run(3, Some(0.7), 0.1, 60);
    let (b, _, _) = run(3, Some(0.7), 0.1, 60);
    assert_eq!(a, b);
    let (c, _, _) = run(4, Some(0.7), 0.1, 60);
    assert_ne!(a.dispatches, c.dispatches);
}

/// A segment sent "excluding" an orchestrator never reaches it, not even on retries after
/// every other one failed; with nobody else left it fails rather than going there.
/// Candidates at `addrs`, the first the cheapest (so the policy ranks it first).
fn first_cheapest(addrs: &[Address]) -> Vec<Candidate> {
    addrs
        .iter()
        .enumerate()
        .map(|(i, a)| Candidate {
            address: *a,
            price: PixelPrice::per_pixel(if i == 0 { 1 } else { 5 }),
            stake: U256::from(100),
            capacity_pps: 1,
            quote_rtt: Duration::from_millis(20),
        })
        .collect()
}

#[test]
fn excluded_orchestrators_never_get_the_segment() {
    let addrs: Vec<Address> = (1..=3u64).map(Address::from_low_u64_be).collect();
    let board = Arc::new(Mutex::new(Scoreboard::new(ScoreConfig::default())));
    let mut config = SchedulerConfig::default();
    config.hedge_fraction = None;
    config.max_attempts = 6;
    let mut sched = Scheduler::new(config, Arc::new(DefaultPolicy::default()), board);
    // The excluded one is the cheapest, so the policy would rank it first.
    sched.set_candidates(first_cheapest(&addrs));
    let now = Instant::now();
    sched.handle_segment_excluding(now, 7, SEG, vec![addrs[0]]);
    let mut sent = Vec::new();
    let mut failed = false;
    for _ in 0..10 {
        let mut progressed = false;
        while let Some(ev) = sched.poll_event() {
            match ev {
                SchedEvent::Dispatch {
                    attempt,
                    orchestrator,
                    ..
                } => {
                    sent.push(orchestrator);
                    sched.handle_outcome(now, attempt, AttemptOutcome::Failed);
                    progressed = true;
                }
                SchedEvent::Failed { .. } => failed = true,
                _ => {}
            }
        }
        if !progressed {
            break;
        }
    }
    assert!(!sent.is_empty());
    assert!(!sent.contains(&addrs[0]), "{sent:?}");
    assert!(failed);
}

/// A dead orchestrator costs one attempt, not one per segment: once found unreachable it is
/// suspended at once, the following segments go to the others, and it is tried again only
/// when its suspension ends.
#[test]
fn an_unreachable_orchestrator_gets_no_later_segment_while_suspended() {
    let addrs: Vec<Address> = (1..=2u64).map(Address::from_low_u64_be).collect();
    let board = Arc::new(Mutex::new(Scoreboard::new(ScoreConfig::default())));
    let mut config = SchedulerConfig::default();
    config.hedge_fraction = None;
    let mut sched = Scheduler::new(config, Arc::new(DefaultPolicy::default()), board.clone());
    // The dead one is the cheapest, so the policy would rank it first.
    sched.set_candidates(first_cheapest(&addrs));
    let t0 = Instant::now();
    let mut sent = Vec::new();
    for seq in 0..10u64 {
        let now = t0 + SEG * u32::try_from(seq).unwrap_or(0);
        sched.handle_segment(now, seq, SEG);
        while let Some(ev) = sched.poll_event() {
            if let SchedEvent::Dispatch {
                attempt,
                orchestrator,
                ..
            } = ev
            {
                sent.push((seq, orchestrator));
                let outcome = if orchestrator == addrs[0] {
                    AttemptOutcome::Unreachable
                } else {
                    AttemptOutcome::Success
                };
                sched.handle_outcome(now, attempt, outcome);
            }
        }
    }
    let to_dead: Vec<u64> = sent
        .iter()
        .filter(|(_, o)| *o == addrs[0])
        .map(|(s, _)| *s)
        .collect();
    // Tried on segment 0, suspended for 10 s (five segments), tried again on segment 5 and
    // then suspended for 20 s: two attempts in ten segments, each retried elsewhere.
    assert_eq!(to_dead, vec![0, 5], "{sent:?}");
    assert_eq!(sent.len(), 12, "{sent:?}");
    let b = board.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(b.stats(&addrs[0]).map(|s| s.failures), Some(2));
    assert!(b.is_suspended(&addrs[0], t0 + Duration::from_secs(29)));
}

/// The scheduler's operation-sequence harness (the `scheduler_ops` fuzz target's) on
/// workloads a seeded generator writes: mostly segments, answers and time, with failures,
/// faults, unreachable nodes and candidate changes among them. Every promise holds, and the
/// runs did complete, fail and retry segments.
#[test]
fn generated_scheduler_workloads_keep_every_promise() {
    use livepeer_negotiate::fuzz_entry::scheduler_ops;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut totals = (0, 0, 0);
    for flags in 0..8u8 {
        let mut ops = vec![flags];
        for _ in 0..300 {
            let r = next();
            // Op codes: 0-1 segment, 2 outcome, 3-4 time, 5 candidates, 6 deadline, 7 answer.
            let code = match r % 20 {
                0..=4 => 0,
                5..=9 => 7,
                10..=13 => 3,
                14..=15 => 2,
                16 => 5,
                _ => 6,
            } as u8;
            ops.push(((r >> 8) as u8 & 0xf8) | code);
            ops.push((r >> 16) as u8);
        }
        let report = scheduler_ops(&ops);
        assert!(report.segments >= 60, "{report:?}");
        totals.0 += report.completed;
        totals.1 += report.failed;
        totals.2 += report.dispatches;
    }
    let (completed, failed, dispatches) = totals;
    assert!(completed > failed && failed > 0, "{totals:?}");
    assert!(
        dispatches > completed + failed,
        "retries and hedges: {totals:?}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Arbitrary bytes as scheduler operations.
    #[test]
    fn arbitrary_scheduler_operations_keep_every_promise(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
    ) {
        livepeer_negotiate::fuzz_entry::scheduler_ops(&data);
    }
}
