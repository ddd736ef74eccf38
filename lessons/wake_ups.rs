//! Counting wake-ups, for lesson 11: which threads of this process are the server's, how often
//! each one went to sleep (its context switches, from `/proc`), and the lesson's claims judged
//! on the numbers. `tests/lessons_engines.rs` loads this file too: it judges the claims again
//! on the numbers the lesson printed, and on swapped numbers that must fail them.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::time::{Duration, Instant};

/// One thread of this process, as `/proc/self/task/TID/` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub tid: u32,
    /// `comm`: the name the thread was given (at most 15 bytes); a thread started without one
    /// carries the name of the thread that started it.
    pub name: String,
}

/// The threads of this process, in id order.
pub fn threads() -> Vec<Thread> {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else { return Vec::new() };
    let mut found: Vec<Thread> = tasks
        .filter_map(|entry| {
            let tid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let name = fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
            Some(Thread { tid, name: name.trim_end().to_string() })
        })
        .collect();
    found.sort_by_key(|t| t.tid);
    found
}

/// The ids of the threads running now: taken before starting something, to tell its threads
/// from the ones that were already there.
pub fn thread_ids() -> BTreeSet<u32> {
    threads().iter().map(|t| t.tid).collect()
}

/// How often threads stopped running. `voluntary`: they went to sleep by themselves (waiting
/// on epoll, on a queue, on a lock, on a socket), and each such sleep ends in a wake-up.
/// `nonvoluntary`: the scheduler took the core away while they could still run (preempted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Switches {
    pub voluntary: u64,
    pub nonvoluntary: u64,
}

impl Switches {
    /// The counters of one thread of this process; zero once it has ended.
    pub fn of(tid: u32) -> Switches {
        let status = fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap_or_default();
        let field = |name: &str| -> u64 {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap_or_default();
            line.get(name.len()..).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
        };
        Switches {
            voluntary: field("voluntary_ctxt_switches:"),
            nonvoluntary: field("nonvoluntary_ctxt_switches:"),
        }
    }

    /// The counters of several threads, added up.
    pub fn of_all(threads: &[Thread]) -> Switches {
        threads.iter().map(|t| Switches::of(t.tid)).fold(Switches::default(), Switches::add)
    }

    /// What happened between `before` and `self`.
    pub fn since(self, before: Switches) -> Switches {
        Switches {
            voluntary: self.voluntary.saturating_sub(before.voluntary),
            nonvoluntary: self.nonvoluntary.saturating_sub(before.nonvoluntary),
        }
    }

    pub fn add(self, other: Switches) -> Switches {
        Switches {
            voluntary: self.voluntary + other.voluntary,
            nonvoluntary: self.nonvoluntary + other.nonvoluntary,
        }
    }
}

/// The threads started since `before` whose names start with `prefix`, once there are
/// `count` of them (waits up to 2 s for them to start); `None` if there never are exactly
/// `count`. Threads are told apart by name: the server's are `server` (the thread running
/// `serve_forever`, named by `Server::spawn`) and `worker-0`, `worker-1`, … (named by the
/// `ThreadPool`); the bench's are `bench-0`, `bench-1`, …
pub fn new_threads(before: &BTreeSet<u32>, prefix: &str, count: usize) -> Option<Vec<Thread>> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let found: Vec<Thread> = threads()
            .into_iter()
            .filter(|t| !before.contains(&t.tid) && t.name.starts_with(prefix))
            .collect();
        if found.len() == count {
            return Some(found);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What one engine did under one load: requests served, how many the bench counted in its
/// window, and the context switches of the server's threads meanwhile. Integers only, so that
/// a test can read them back from the lesson's output and judge them exactly as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    /// Requests the server answered between the two readings of the counters.
    pub requests: u64,
    /// Requests the bench completed within its window, and the window in microseconds.
    pub completed: u64,
    pub window_us: u64,
    /// The thread running `serve_forever`: the poller in the handoff engine; in the shared
    /// engine it only waits for the shutdown.
    pub server_thread: Switches,
    /// The workers, added up.
    pub workers: Switches,
}

impl Measured {
    /// Requests per second, as the bench measured them.
    pub fn requests_per_sec(&self) -> f64 {
        self.completed as f64 / (self.window_us.max(1) as f64 / 1e6)
    }

    /// Wake-ups per request of the server thread.
    pub fn server_thread_per_request(&self) -> f64 {
        self.server_thread.voluntary as f64 / self.requests.max(1) as f64
    }

    /// Wake-ups per request of the workers.
    pub fn workers_per_request(&self) -> f64 {
        self.workers.voluntary as f64 / self.requests.max(1) as f64
    }

    /// Wake-ups per request of all the server's threads together.
    pub fn wake_ups(&self) -> f64 {
        self.server_thread_per_request() + self.workers_per_request()
    }

    /// Preemptions per request of all the server's threads.
    pub fn preempted(&self) -> f64 {
        (self.server_thread.nonvoluntary + self.workers.nonvoluntary) as f64 / self.requests.max(1) as f64
    }

    /// The raw counts in one line: `counts: 20955 requests; ...`, as [`Measured::parse`] reads it.
    pub fn counts(&self) -> String {
        format!(
            "counts: {} requests; voluntary switches: server thread {}, workers {}; preempted: \
             server thread {}, workers {}; bench: {} completed in {} µs",
            self.requests,
            self.server_thread.voluntary,
            self.workers.voluntary,
            self.server_thread.nonvoluntary,
            self.workers.nonvoluntary,
            self.completed,
            self.window_us
        )
    }

    /// Reads back a line made by [`Measured::counts`] (the text before `counts:` is ignored).
    pub fn parse(line: &str) -> Option<Measured> {
        let counts = &line[line.find("counts: ")?..];
        let n: Vec<u64> = counts
            .split(|c: char| !c.is_ascii_digit())
            .filter(|w| !w.is_empty())
            .map(|w| w.parse().ok())
            .collect::<Option<_>>()?;
        let [requests, sv, wv, sn, wn, completed, window_us] = n[..] else { return None };
        Some(Measured {
            requests,
            completed,
            window_us,
            server_thread: Switches { voluntary: sv, nonvoluntary: sn },
            workers: Switches { voluntary: wv, nonvoluntary: wn },
        })
    }
}

/// A claim and whether the numbers bear it out; printed as the lessons print verdicts.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub ok: bool,
    pub text: String,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let word = if self.ok { "OK" } else { "NOT AS PREDICTED" };
        write!(f, "{word}: {}", self.text)
    }
}

fn verdict(ok: bool, text: String) -> Verdict {
    Verdict { ok, text }
}

/// One client: the shared engine wakes about once per request, at most this often.
pub const SHARED_AT_MOST: f64 = 1.5;
/// A queue with a condition variable wakes one worker per job, at most this often.
pub const CONDVAR_AT_MOST: f64 = 1.25;
/// One client: the poller wakes once per request, between these.
pub const POLLER_BETWEEN: (f64, f64) = (0.75, 1.25);
/// One client: the hand-off adds one wake-up per request (the poller's), at least this many.
pub const HANDOFF_ADDS: f64 = 0.75;
/// The Book's channel wakes at least this many times more per job than a condition variable.
pub const LOCK_ADDS: f64 = 0.7;

/// Part 1, one client: what one request costs on each engine. Nothing here knows which numbers
/// came from which engine: swap them, and the claims fail.
pub fn judge_one_client(shared: &Measured, handoff: &Measured) -> Vec<Verdict> {
    let (s, h) = (shared.wake_ups(), handoff.wake_ups());
    let poller = handoff.server_thread_per_request();
    vec![
        verdict(
            s <= SHARED_AT_MOST,
            format!(
                "shared: {s:.2} wake-ups per request (predicted: about one or fewer, at most {SHARED_AT_MOST})"
            ),
        ),
        verdict(
            (POLLER_BETWEEN.0..=POLLER_BETWEEN.1).contains(&poller),
            format!(
                "handoff: the poller wakes {poller:.2} times per request (predicted: once, between {} and {})",
                POLLER_BETWEEN.0, POLLER_BETWEEN.1
            ),
        ),
        verdict(
            h >= s + HANDOFF_ADDS,
            format!(
                "handoff: {h:.2} wake-ups per request, {:+.2} on shared's {s:.2} (predicted: the hand-off \
                 adds the poller's, at least {HANDOFF_ADDS})",
                h - s
            ),
        ),
    ]
}

/// Part 2, many clients: wake-ups fall as work waits, the hand-off still costs more, and the
/// engine with fewer wake-ups serves more.
pub fn judge_many_clients(one: (&Measured, &Measured), many: (&Measured, &Measured)) -> Vec<Verdict> {
    let ((one_s, one_h), (s, h)) = (one, many);
    let (rs, rh) = (s.requests_per_sec(), h.requests_per_sec());
    vec![
        verdict(
            s.wake_ups() < one_s.wake_ups() && h.wake_ups() < one_h.wake_ups(),
            format!(
                "busy, both wake less per request: shared {:.2} (one client: {:.2}), handoff {:.2} (one \
                 client: {:.2}) (predicted: fewer, as threads find work waiting)",
                s.wake_ups(),
                one_s.wake_ups(),
                h.wake_ups(),
                one_h.wake_ups()
            ),
        ),
        verdict(
            h.wake_ups() > s.wake_ups(),
            format!(
                "busy, handoff still wakes more: {:.2} vs shared's {:.2} per request (predicted: more)",
                h.wake_ups(),
                s.wake_ups()
            ),
        ),
        verdict(
            rs > rh,
            format!(
                "busy, shared serves {rs:.0} requests/s, handoff {rh:.0}: shared/handoff = {:.2} (predicted: \
                 above 1)",
                rs / rh.max(1e-9)
            ),
        ),
    ]
}

/// Part 3: jobs handed one at a time to the Book's channel and to wsgi-lab's `ThreadPool` (a
/// queue with a condition variable); worker wake-ups per job.
pub fn judge_queues(book: f64, pool: f64) -> Vec<Verdict> {
    vec![
        verdict(
            pool <= CONDVAR_AT_MOST,
            format!(
                "wsgi-lab's ThreadPool: {pool:.2} worker wake-ups per job (predicted: one, at most {CONDVAR_AT_MOST})"
            ),
        ),
        verdict(
            book >= pool + LOCK_ADDS,
            format!(
                "the Book's channel: {book:.2} worker wake-ups per job, {:+.2} on the ThreadPool's (predicted: \
                 the lock in front of the channel adds one, at least {LOCK_ADDS})",
                book - pool
            ),
        ),
    ]
}
