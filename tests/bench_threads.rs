//! The bench drives many connections on a bounded number of threads, as wrk does: 200
//! connections on 2 threads, counted in `/proc/self/task` while the bench runs.
//!
//! One test in this file on purpose: integration test files are processes of their own, and
//! a second test running alongside would add its threads to the count.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wsgi_lab::lab::bench::{BenchConfig, Progress, Stop, run};
use wsgi_lab::{Mode, Options, Server, apps};

/// Threads of this process, from the kernel's own list.
fn threads_now() -> usize {
    std::fs::read_dir("/proc/self/task").expect("Linux's /proc").count()
}

#[test]
fn two_hundred_connections_run_on_two_threads() {
    const CONNECTIONS: usize = 200;
    const THREADS: usize = 2;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options { threads: 4, quiet: true, ..Options::default() };
    let server = Server::from_listener(listener, apps::hello, options, Mode::Pool)
        .unwrap()
        .log_requests(false)
        .spawn();
    // The server's threads all exist once it has answered a request.
    let warm =
        BenchConfig { connections: 1, stop: Stop::Requests(1), ..BenchConfig::new(server.url() + "/") };
    assert_eq!(run(&warm).unwrap().completed, 1);
    let before = threads_now();

    // The progress callback runs on this thread while the bench's threads run: sample there.
    let most = Arc::new(AtomicUsize::new(0));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let (seen, log) = (most.clone(), samples.clone());
    let config = BenchConfig {
        connections: CONNECTIONS,
        threads: THREADS,
        stop: Stop::Duration(Duration::from_secs(1)),
        timeout: Duration::from_secs(5),
        progress: Progress::Callback(Arc::new(move |_| {
            let now = threads_now();
            seen.fetch_max(now, Ordering::Relaxed);
            log.lock().unwrap().push(now);
        })),
        ..BenchConfig::new(server.url() + "/")
    };
    let report = run(&config).unwrap();
    let samples = samples.lock().unwrap().clone();
    assert!(samples.len() >= 3, "sampled while running: {samples:?}");
    let added = most.load(Ordering::Relaxed).saturating_sub(before);
    assert!(
        (1..=THREADS).contains(&added),
        "{CONNECTIONS} connections added {added} threads to {before} (samples {samples:?}); at most {THREADS} expected"
    );
    // And all 200 connections did run: each was accepted, and each completed requests.
    assert_eq!(report.connections, CONNECTIONS);
    assert_eq!(report.fairness.per_connection.len(), CONNECTIONS);
    assert_eq!(report.fairness.starved, 0, "{report}");
    assert_eq!(report.total_errors(), 0, "{report}");
    assert!(server.stats().snapshot().accepted > CONNECTIONS as u64, "200, and the warm-up's one");
    // A joined thread can stay listed for a moment while the kernel finishes its exit.
    let give_up = Instant::now() + Duration::from_secs(3);
    while threads_now() > before && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(threads_now() <= before, "the bench's threads are gone once it returns");
}
