//! Properties of [`wsgi_lab::stats::Stats`], the live counters the workers write and the live
//! view reads: whatever the workers do, in whatever interleaving, every snapshot is a reading
//! that can be true. Queued and in-flight connections are among the open ones
//! (`queued + in_flight ≤ connections`), as many workers are busy as requests are in flight,
//! no more connections are open than were accepted, and `served` and `accepted` never go
//! back from one snapshot to the next.
//!
//! Each worker thread plays random connection lives the way the servers do (opened, then
//! turns, then closed), while reader threads take snapshots the whole time.

use proptest::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use wsgi_lab::stats::{Snapshot, Stats, WorkerState};

/// One turn of a worker on a connection.
#[derive(Debug, Clone, Copy)]
enum Turn {
    /// A request run by the app; `queued` first when the handoff engine hands it over.
    Request { queued: bool },
    /// Bytes that were not yet a whole request: handed over and taken back, nothing run.
    Partial,
    /// A request refused with an error status: answered, no app run.
    Refused,
}

/// A connection's turns between its opening and its closing.
type Life = Vec<Turn>;

fn turn() -> impl Strategy<Value = Turn> {
    prop_oneof![
        4 => any::<bool>().prop_map(|queued| Turn::Request { queued }),
        1 => Just(Turn::Partial),
        1 => Just(Turn::Refused),
    ]
}

/// What each worker thread plays: its connections, one after the other.
fn scripts() -> impl Strategy<Value = Vec<Vec<Life>>> {
    prop::collection::vec(prop::collection::vec(prop::collection::vec(turn(), 0..6), 0..12), 1..5)
}

/// Plays one worker's connections on `stats`, with its state cell, as a server would.
fn play(stats: &Stats, cell: &std::sync::Mutex<WorkerState>, lives: &[Life]) {
    for life in lives {
        stats.connection(1);
        for turn in life {
            match *turn {
                Turn::Request { queued } => {
                    if queued {
                        stats.queued(1);
                        std::thread::yield_now();
                        stats.queued(-1);
                    }
                    stats.started(cell, "GET /prop HTTP/1.1".to_string());
                    std::thread::yield_now();
                    stats.finished(cell);
                }
                Turn::Partial => {
                    stats.queued(1);
                    stats.queued(-1);
                }
                Turn::Refused => stats.answered(),
            }
        }
        stats.connection(-1);
    }
}

/// What is wrong with `now`, alone or after `before`, if anything.
fn check(before: Option<&Snapshot>, now: &Snapshot) -> Result<(), String> {
    let busy = now.workers.iter().filter(|w| **w != WorkerState::Idle).count();
    if now.queued + now.in_flight > now.connections {
        return Err(format!("more queued and in flight than open: {now:?}"));
    }
    if busy != now.in_flight {
        return Err(format!("{busy} busy workers but {} in flight: {now:?}", now.in_flight));
    }
    if now.connections as u64 > now.accepted {
        return Err(format!("more open than accepted: {now:?}"));
    }
    if let Some(before) = before
        && (now.served < before.served || now.accepted < before.accepted)
    {
        return Err(format!("a total went back: {before:?} then {now:?}"));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_snapshot_taken_while_workers_write_is_a_true_reading(scripts in scripts()) {
        let stats = Arc::new(Stats::default());
        let cells = stats.add_workers(scripts.len());
        let done = Arc::new(AtomicBool::new(false));
        // Writers and readers start together, so the snapshots fall among the writes.
        let start = Arc::new(Barrier::new(scripts.len() + 2));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (stats, done, start) = (stats.clone(), done.clone(), start.clone());
                std::thread::spawn(move || -> Result<usize, String> {
                    start.wait();
                    let mut before: Option<Snapshot> = None;
                    let mut taken = 0;
                    loop {
                        // Read before the snapshot, so the last one is taken after every write.
                        let last = done.load(Ordering::SeqCst);
                        let now = stats.snapshot();
                        check(before.as_ref(), &now)?;
                        before = Some(now);
                        taken += 1;
                        if last {
                            return Ok(taken);
                        }
                    }
                })
            })
            .collect();
        let writers: Vec<_> = (scripts.iter().zip(&cells))
            .map(|(lives, cell)| {
                let (stats, cell, lives, start) = (stats.clone(), cell.clone(), lives.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    play(&stats, &cell, &lives);
                })
            })
            .collect();
        for writer in writers {
            writer.join().expect("a writer panicked");
        }
        done.store(true, Ordering::SeqCst);
        for reader in readers {
            let taken = reader.join().expect("a reader panicked");
            prop_assert!(taken.is_ok(), "{}", taken.unwrap_err());
        }

        let lives: Vec<&Life> = scripts.iter().flatten().collect();
        let answered = lives.iter().flat_map(|life| life.iter()).filter(|t| !matches!(t, Turn::Partial)).count();
        let end = stats.snapshot();
        prop_assert_eq!((end.connections, end.queued, end.in_flight), (0, 0, 0), "{:?}", end);
        prop_assert_eq!(end.served, answered as u64);
        prop_assert_eq!(end.accepted, lives.len() as u64);
        prop_assert!(end.workers.iter().all(|w| *w == WorkerState::Idle), "{:?}", end);
    }
}
