//! Lesson 11 (the hand-off) run as its binary in quick mode: it prints the raw counts behind
//! every number, its verdicts are exactly what its claims give on those counts (judged again
//! here with the lesson's own code, `lessons/wake_ups.rs`), the same claims fail on swapped
//! numbers, and the threads it counts are the server's, found by name.
//!
//! Wake-ups are counted on a 2-core machine that other tests share, so the claims that do not
//! depend on how busy the machine is must hold (with margins wider than the lesson's, up to
//! three runs); the throughput comparison only has to agree with its numbers.

mod common;
#[path = "../lessons/wake_ups.rs"]
mod wake_ups;

use std::net::TcpListener;
use std::sync::Mutex;
use wake_ups::{Measured, Verdict};
use wsgi_lab::{Engine, Mode, Options, Server, apps::hello};

/// The lesson and the in-process server take turns: one's threads and load are not the other's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs the lesson with `--quick` and returns its stdout; it must exit 0.
fn run_lesson() -> String {
    common::lessons::run_lesson(env!("CARGO_BIN_EXE_lesson-11-the-handoff"), &["--quick"])
}

/// The one line starting with `prefix`.
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    let found: Vec<&str> = out.lines().filter(|l| l.starts_with(prefix)).collect();
    assert_eq!(found.len(), 1, "one line starting with {prefix:?} expected, found {found:?} in:\n{out}");
    found[0]
}

/// The counts one engine printed for one load (`shared, 1 client, counts: ...`).
fn counts(out: &str, prefix: &str) -> Measured {
    let found = line(out, prefix);
    Measured::parse(found).unwrap_or_else(|| panic!("unreadable counts: {found:?}"))
}

/// Part 3's `name: N jobs, W worker wake-ups, ...` as W / N.
fn per_job(out: &str, name: &str) -> f64 {
    let found = line(out, &format!("{name}: "));
    let n: Vec<f64> = found[name.len()..]
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|w| w.trim_matches('.').parse().ok())
        .collect();
    assert!(n.len() >= 2, "{found:?}");
    n[1] / n[0]
}

/// Every verdict was printed exactly as the claims give it on the printed counts.
fn assert_printed(out: &str, verdicts: &[Verdict]) {
    for verdict in verdicts {
        let expected = verdict.to_string();
        assert!(out.lines().any(|l| l == expected), "the lesson should print {expected:?}:\n{out}");
    }
}

/// What lesson 11 printed, read back.
struct Lesson11 {
    one: (Measured, Measured),
    many: (Measured, Measured),
    book: f64,
    pool: f64,
}

fn read_back(out: &str) -> Lesson11 {
    Lesson11 {
        one: (counts(out, "shared, 1 client, "), counts(out, "handoff, 1 client, ")),
        many: (counts(out, "shared, 10 clients, "), counts(out, "handoff, 10 clients, ")),
        book: per_job(out, "the Book's channel"),
        pool: per_job(out, "wsgi-lab's ThreadPool"),
    }
}

/// The claims that hold however busy the machine is, with margins wider than the lesson's.
fn robust_claims(l: &Lesson11) -> Result<(), String> {
    let check = |ok: bool, why: String| if ok { Ok(()) } else { Err(why) };
    let (shared, handoff) = &l.one;
    check(
        shared.wake_ups() <= 1.75,
        format!("shared, one client: {:.2} wake-ups per request", shared.wake_ups()),
    )?;
    let poller = handoff.server_thread_per_request();
    check((0.6..=1.4).contains(&poller), format!("the poller should wake once per request: {poller:.2}"))?;
    check(
        handoff.wake_ups() >= shared.wake_ups() + 0.5,
        format!("the hand-off adds a wake-up: {:.2} vs {:.2}", handoff.wake_ups(), shared.wake_ups()),
    )?;
    // It wakes on a clock to call spares in (every millisecond at most), not per request.
    check(
        shared.server_thread_per_request() <= 0.05,
        format!("shared's server thread does not wake per request: {shared:?}"),
    )?;
    let (shared, handoff) = &l.many;
    check(
        handoff.wake_ups() > shared.wake_ups(),
        format!(
            "busy, handoff should still wake more: {:.2} vs {:.2}",
            handoff.wake_ups(),
            shared.wake_ups()
        ),
    )?;
    check(l.pool <= 1.5, format!("the ThreadPool wakes one worker per job: {:.2}", l.pool))?;
    check(
        l.book >= l.pool + 0.4,
        format!("the Book's channel wakes more per job: {:.2} vs {:.2}", l.book, l.pool),
    )
}

#[test]
fn lesson_11_judges_its_claims_on_the_numbers_it_prints() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut misses = Vec::new();
    for _ in 0..3 {
        let out = run_lesson();
        for heading in ["1. One client", "2. 10 clients", "3. Why a job wakes one worker", "The reading"] {
            assert!(out.contains(heading), "{heading:?} missing:\n{out}");
        }
        assert!(out.contains("worker-0 … worker-4"), "the lesson names the threads it counts:\n{out}");
        let l = read_back(&out);
        // Not hard-coded: each verdict is what the claims give on the counts printed above it,
        // and the lesson prints one line per claim.
        let one = wake_ups::judge_one_client(&l.one.0, &l.one.1);
        let many = wake_ups::judge_many_clients((&l.one.0, &l.one.1), (&l.many.0, &l.many.1));
        let queues = wake_ups::judge_queues(l.book, l.pool);
        for verdicts in [&one, &many, &queues] {
            assert_printed(&out, verdicts);
        }
        let printed =
            out.lines().filter(|l| l.starts_with("OK: ") || l.starts_with("NOT AS PREDICTED: ")).count();
        assert_eq!(printed, one.len() + many.len() + queues.len(), "{out}");
        // The table shows the same numbers.
        let row = |first: &str, nth: usize| -> Vec<String> {
            out.lines()
                .filter(|l| l.split_whitespace().next() == Some(first))
                .nth(nth)
                .unwrap_or_else(|| panic!("no row {nth} for {first}:\n{out}"))
                .split_whitespace()
                .map(str::to_string)
                .collect()
        };
        assert_eq!(row("handoff", 0)[3], format!("{:.2}", l.one.1.wake_ups()), "{out}");
        assert_eq!(row("shared", 1)[2], format!("{:.1}", l.many.0.requests_per_sec()), "{out}");
        match robust_claims(&l) {
            Ok(()) => return,
            Err(miss) => {
                eprintln!("lesson 11 missed a claim, running it again: {miss}\n{out}");
                misses.push(miss);
            }
        }
    }
    panic!("lesson 11 missed its claims three times: {misses:#?}");
}

/// Counts from a run of the lesson (the page's transcript): the claims hold on them, and fail
/// on the same counts with the engines swapped.
#[test]
fn the_claims_fail_when_the_engines_numbers_are_swapped() {
    let parse = |line: &str| Measured::parse(line).unwrap();
    let one_shared = parse(
        "counts: 20000 requests; voluntary switches: server thread 0, workers 20200; preempted: server \
         thread 0, workers 5000; bench: 19990 completed in 1000000 µs",
    );
    let one_handoff = parse(
        "counts: 18000 requests; voluntary switches: server thread 18700, workers 19400; preempted: \
         server thread 4000, workers 12000; bench: 17990 completed in 1000000 µs",
    );
    let many_shared = parse(
        "counts: 140000 requests; voluntary switches: server thread 0, workers 14000; preempted: server \
         thread 0, workers 40000; bench: 139990 completed in 2000000 µs",
    );
    let many_handoff = parse(
        "counts: 96000 requests; voluntary switches: server thread 46000, workers 20000; preempted: \
         server thread 900, workers 35000; bench: 95990 completed in 2000000 µs",
    );
    let all_ok = |verdicts: Vec<Verdict>| verdicts.iter().all(|v| v.ok && v.to_string().starts_with("OK: "));
    assert!(all_ok(wake_ups::judge_one_client(&one_shared, &one_handoff)));
    assert!(all_ok(wake_ups::judge_many_clients((&one_shared, &one_handoff), (&many_shared, &many_handoff))));
    assert!(all_ok(wake_ups::judge_queues(1.99, 1.00)));

    // Swapped: shared measured as if it were handoff, and the other way round.
    let swapped = wake_ups::judge_one_client(&one_handoff, &one_shared);
    let failed: Vec<&Verdict> = swapped.iter().filter(|v| !v.ok).collect();
    assert_eq!(failed.len(), 3, "{swapped:#?}");
    assert!(failed.iter().all(|v| v.to_string().starts_with("NOT AS PREDICTED: ")));
    let swapped = wake_ups::judge_many_clients((&one_handoff, &one_shared), (&many_handoff, &many_shared));
    assert!(!swapped[1].ok && !swapped[2].ok, "{swapped:#?}");
    let swapped = wake_ups::judge_queues(1.00, 1.99);
    assert!(swapped.iter().any(|v| !v.ok), "{swapped:#?}");
    // A count the lesson printed reads back the same.
    assert_eq!(Measured::parse(&format!("shared, 1 client, {}", one_shared.counts())), Some(one_shared));
}

/// The lesson counts the right threads: a spawned server in pool mode has `WORKERS` threads
/// named `worker-N` and one named `server`, on both engines; in shared, the server thread
/// wakes on its clock (to call spare workers in, at most every millisecond), not per request,
/// and in handoff it wakes for the requests (it is the poller).
#[test]
fn a_spawned_servers_threads_are_found_by_name() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for engine in Engine::ALL {
        let before = wake_ups::thread_ids();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let options = Options { threads: 3, engine, quiet: true, ..Options::default() };
        let running = Server::from_listener(listener, hello, options, Mode::Pool).unwrap().spawn();
        let workers = wake_ups::new_threads(&before, "worker-", 3).expect("three workers");
        let server = wake_ups::new_threads(&before, "server", 1).expect("one thread named server");
        let before_requests = wake_ups::Switches::of_all(&server);
        let started = std::time::Instant::now();
        for _ in 0..50 {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(running.addr()).unwrap();
            stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        }
        let woken = wake_ups::Switches::of_all(&server).since(before_requests).voluntary;
        let elapsed = started.elapsed();
        running.stop().unwrap();
        let names: Vec<&str> = workers.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["worker-0", "worker-1", "worker-2"], "{engine:?}");
        match engine {
            Engine::Shared => {
                let clock = elapsed.as_millis() as u64 + 2;
                assert!(
                    woken <= clock.min(25),
                    "shared: the server thread woke {woken} times in {elapsed:?}, more than its clock"
                )
            }
            Engine::Handoff => {
                assert!(woken >= 25, "handoff: the poller woke only {woken} times for 50 requests")
            }
        }
    }
}
