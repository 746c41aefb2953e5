//! The sans-IO [`Scheduler`] on its own: exclusion, suspension of unreachable orchestrators,
//! and generated and arbitrary operation sequences. Whole streams over lossy links, with
//! the real machines on both sides, are simulated in `netsim`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livepeer_core::{Address, PixelPrice, U256};
use livepeer_negotiate::proto::{
    AttemptOutcome, Candidate, DefaultPolicy, SchedEvent, Scheduler, SchedulerConfig, ScoreConfig,
    Scoreboard,
};

const SEG: Duration = Duration::from_secs(2);

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
