//! Entry points shared by the fuzz targets and the corpus-replay tests. Not a stable API.

use std::time::{Duration, Instant};

use crate::proto::{FrameDecoder, Message, MessageType, ReadEvent, ReadLimits, StreamReader};

/// Runs the codec on `data`: as a frame stream (every decoded message must re-encode and
/// decode to itself), and through a stream reader fed in small pieces. Never panics.
pub fn decode_all(data: &[u8]) {
    let mut dec = FrameDecoder::new();
    dec.handle_data(data);
    while let Ok(Some(m)) = dec.poll_frame() {
        if let Ok(frame) = m.encode() {
            let mut again = FrameDecoder::new();
            again.handle_data(&frame);
            let back = again.poll_frame();
            assert_eq!(back, Ok(Some(m)), "a decoded message re-encodes to itself");
        }
    }
    let now = Instant::now();
    let mut reader = StreamReader::new(
        now,
        &MessageType::ALL,
        ReadLimits::new(Duration::from_secs(1), Duration::from_secs(10)).with_max_body(1 << 20),
    );
    for (i, piece) in data.chunks(7).enumerate() {
        reader.handle_data(now + Duration::from_millis(i as u64), piece);
        if let Some(ev) = reader.poll_event() {
            if let ReadEvent::Done(a) = ev {
                let _ = Message::encode(&a.head);
            }
            return;
        }
    }
    reader.handle_end(now);
    let _ = reader.poll_event();
}

/// What [`scheduler_ops`] saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedulerOpsReport {
    /// Segments handed to the scheduler.
    pub segments: usize,
    /// Segments completed.
    pub completed: usize,
    /// Segments reported failed.
    pub failed: usize,
    /// Attempts dispatched.
    pub dispatches: usize,
}

/// Runs `data` as a sequence of operations on one stream's
/// [`Scheduler`](crate::proto::Scheduler) with four
/// orchestrators, then a calm phase where every candidate is back and answers at once, and
/// checks the scheduler's promises: every segment ends in exactly one `Completed` or
/// `Failed` (none lost, none stuck, none ended twice); a dispatch goes only to a current
/// candidate, under a fresh attempt id, for a segment still open; a completion names an
/// attempt dispatched for that segment to that orchestrator; and in the calm phase every
/// segment sent to a healthy orchestrator completes. Each byte pair is one operation, by the
/// low three bits of the first byte: a new segment (1-4 s), an outcome (success, failure,
/// unreachable, rejected input, proven fault) for one of the attempts in flight, time passing
/// (0-12.75 s) or up to the scheduler's next deadline, a new candidate set (any subset, empty
/// included), or the oldest attempt answering. The first byte also picks redundancy,
/// hedging and whether losers finish. At most 400 operations are read. Panics on a broken
/// promise.
#[allow(clippy::expect_used)] // a broken promise is the verdict: a panic, as fuzzing wants.
pub fn scheduler_ops(data: &[u8]) -> SchedulerOpsReport {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Arc, Mutex};

    use livepeer_core::{Address, PixelPrice, U256};

    use crate::proto::{
        AttemptId, AttemptOutcome, Candidate, DefaultPolicy, SchedEvent, Scheduler,
        SchedulerConfig, ScoreConfig, Scoreboard,
    };

    let flags = data.first().copied().unwrap_or(0);
    let config = SchedulerConfig {
        redundancy: 1 + usize::from(flags & 1),
        hedge_fraction: (flags & 2 == 0).then_some(0.7),
        finish_losers: flags & 4 == 0,
        ..SchedulerConfig::default()
    };
    let board = Arc::new(Mutex::new(Scoreboard::new(ScoreConfig::default())));
    let mut sched = Scheduler::new(config, Arc::new(DefaultPolicy::default()), board);
    let orchs: Vec<Address> = (1..=4u8).map(Address::repeat_byte).collect();
    let candidates = |mask: u8| -> Vec<Candidate> {
        orchs
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(i, a)| Candidate {
                address: *a,
                price: PixelPrice::per_pixel(1 + i as u64),
                stake: U256::from(100),
                capacity_pps: 1,
                quote_rtt: Duration::from_millis(20),
            })
            .collect()
    };
    let mut current: Vec<Address> = orchs.clone();
    sched.set_candidates(candidates(0xf));

    #[derive(Default)]
    struct Book {
        report: SchedulerOpsReport,
        /// Every attempt dispatched: its segment and orchestrator.
        dispatched: HashMap<AttemptId, (u64, Address)>,
        /// Attempts in flight, oldest first.
        live: BTreeMap<AttemptId, ()>,
        /// Segments handed over, and whether each ended (true: completed).
        ended: BTreeMap<u64, Option<bool>>,
    }
    let drain = |sched: &mut Scheduler, book: &mut Book, current: &[Address]| {
        while let Some(e) = sched.poll_event() {
            match e {
                SchedEvent::Dispatch {
                    seq,
                    attempt,
                    orchestrator,
                    ..
                } => {
                    assert!(
                        current.contains(&orchestrator),
                        "dispatch to a non-candidate"
                    );
                    assert_eq!(
                        book.ended.get(&seq),
                        Some(&None),
                        "dispatch of a closed segment"
                    );
                    let fresh = book.dispatched.insert(attempt, (seq, orchestrator));
                    assert!(fresh.is_none(), "attempt id {attempt} reused");
                    book.live.insert(attempt, ());
                    book.report.dispatches += 1;
                }
                SchedEvent::Cancel { attempt, .. } => {
                    assert!(book.dispatched.contains_key(&attempt), "cancel of nothing");
                    book.live.remove(&attempt);
                }
                SchedEvent::Completed {
                    seq,
                    attempt,
                    orchestrator,
                } => {
                    assert_eq!(book.dispatched.get(&attempt), Some(&(seq, orchestrator)));
                    let state = book.ended.get_mut(&seq).expect("a known segment");
                    assert_eq!(*state, None, "segment {seq} ended twice");
                    *state = Some(true);
                    book.report.completed += 1;
                }
                SchedEvent::Failed { seq, .. } => {
                    let state = book.ended.get_mut(&seq).expect("a known segment");
                    assert_eq!(*state, None, "segment {seq} ended twice");
                    *state = Some(false);
                    book.report.failed += 1;
                }
            }
        }
    };
    let t0 = Instant::now();
    let mut now = t0;
    let mut book = Book::default();
    let mut next_seq = 0u64;
    let outcomes = [
        AttemptOutcome::Success,
        AttemptOutcome::Failed,
        AttemptOutcome::Unreachable,
        AttemptOutcome::InputRejected,
        AttemptOutcome::Fault,
    ];
    for op in data.get(1..).unwrap_or(&[]).chunks(2).take(400) {
        let (code, arg) = (op[0] & 7, op.get(1).copied().unwrap_or(0));
        match code {
            0 | 1 => {
                book.ended.insert(next_seq, None);
                book.report.segments += 1;
                let duration = Duration::from_secs(1 + u64::from(arg % 4));
                sched.handle_segment(now, next_seq, duration);
                next_seq += 1;
            }
            2 => {
                let live: Vec<AttemptId> = book.live.keys().copied().collect();
                if !live.is_empty() {
                    let id = live[usize::from(arg) % live.len()];
                    book.live.remove(&id);
                    let outcome = outcomes[usize::from(op[0] >> 3) % outcomes.len()];
                    sched.handle_outcome(now, id, outcome);
                }
            }
            3 | 4 => {
                now += Duration::from_millis(50 * u64::from(arg));
                sched.handle_timeout(now);
            }
            5 => {
                let mask = arg & 0xf;
                current = candidates(mask).iter().map(|c| c.address).collect();
                sched.set_candidates(candidates(mask));
            }
            6 => {
                if let Some(t) = sched.poll_timeout() {
                    now = now.max(t);
                    sched.handle_timeout(now);
                }
            }
            _ => {
                if let Some((&id, _)) = book.live.iter().next() {
                    book.live.remove(&id);
                    sched.handle_outcome(now, id, AttemptOutcome::Success);
                }
            }
        }
        drain(&mut sched, &mut book, &current);
    }
    // Calm: every orchestrator is a candidate and answers at once. Suspensions from the
    // faults above still hold, so segments may still fail for want of candidates, but
    // always say so; time runs past every suspension.
    current = orchs.clone();
    sched.set_candidates(candidates(0xf));
    let calm_from = next_seq;
    for i in 0..4u64 {
        book.ended.insert(next_seq, None);
        book.report.segments += 1;
        sched.handle_segment(now, next_seq, Duration::from_secs(1 + i % 2));
        next_seq += 1;
        drain(&mut sched, &mut book, &current);
    }
    for _ in 0..10_000 {
        let live: Vec<AttemptId> = book.live.keys().copied().collect();
        for id in live {
            book.live.remove(&id);
            sched.handle_outcome(now, id, AttemptOutcome::Success);
        }
        drain(&mut sched, &mut book, &current);
        if sched.in_flight() == 0 {
            break;
        }
        match sched.poll_timeout() {
            Some(t) => now = now.max(t),
            None => now += Duration::from_secs(1),
        }
        sched.handle_timeout(now);
        drain(&mut sched, &mut book, &current);
    }
    assert_eq!(sched.in_flight(), 0, "segments stuck in the scheduler");
    for (seq, state) in &book.ended {
        assert!(state.is_some(), "segment {seq} never ended");
    }
    // A calm segment that reached an orchestrator completed: the answer came at once.
    for (attempt, (seq, _)) in &book.dispatched {
        if *seq >= calm_from {
            assert_eq!(
                book.ended.get(seq),
                Some(&Some(true)),
                "calm segment {seq} (attempt {attempt}) not completed"
            );
        }
    }
    book.report
}
