//! `compare`'s reading, tested against constructed rows: scaling is read against the
//! fewest-workers pool (not single), engines are compared at the same thread count, the limit
//! that applies is named (the connections, the cores or the workers), a grid is read within
//! each connection count, and a row with failures is refused rather than read.

mod common;

use common::rows::{at, outcome, pools, row};
use wsgi_lab::Engine::{Handoff, Shared};
use wsgi_lab::lab::bench::ErrorKind;
use wsgi_lab::lab::compare::{Setup, grid_reading, reading, render};

#[test]
fn the_reading_compares_engines_at_the_same_thread_count() {
    let rows = [
        row(Setup::Threads(1), Shared, 52.0),
        row(Setup::Threads(1), Handoff, 40.0),
        row(Setup::Threads(2), Shared, 100.0),
        row(Setup::Threads(2), Handoff, 130.0),
        row(Setup::Threads(4), Shared, 200.0),
        row(Setup::Threads(4), Handoff, 190.0),
        row(Setup::Threads(8), Handoff, 400.0),
    ];
    let text = reading(&rows, 8, 8);
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        "shared serves ×1.3 the requests of handoff at 1 thread; \
         handoff serves ×1.3 the requests of shared at 2 threads; \
         shared and handoff serve within 10% of each other at 4 threads",
        "8 threads ran on one engine only: {text}"
    );
    // Each engine doubles with its workers: the scaling lines agree, each engine read against
    // its own fewest workers.
    assert!(
        text.contains("against 1 thread (shared)") && text.contains("against 1 thread (handoff)"),
        "{text}"
    );
    assert_eq!(text.matches("throughput ≈ workers ÷ service time").count(), 2, "{text}");
    assert!(!text.contains("(not ×"), "{text}");
}

#[test]
fn the_reading_reads_scaling_within_one_engine() {
    // Handoff is slower than shared throughout but doubles with its workers; set against
    // shared's one worker it would seem to stop helping.
    let rows = [
        row(Setup::Threads(1), Shared, 100.0),
        row(Setup::Threads(1), Handoff, 55.0),
        row(Setup::Threads(2), Shared, 200.0),
        row(Setup::Threads(2), Handoff, 110.0),
    ];
    let text = reading(&rows, 4, 4);
    assert!(!text.contains("(not ×"), "{text}");
    assert!(text.contains("against 1 thread (shared), the pool with the fewest workers: 1 request in service at a time ÷ 100.0 req/s = 10.0 ms"), "{text}");
    assert!(text.contains("against 1 thread (handoff), the pool with the fewest workers: 1 request in service at a time ÷ 55.0 req/s = 18.2 ms"), "{text}");
    // Where one engine does stop gaining, the row that lags is named with its engine.
    let rows = [rows[0].clone(), rows[1].clone(), rows[2].clone(), row(Setup::Threads(2), Handoff, 60.0)];
    let text = reading(&rows, 4, 4);
    assert!(text.contains("2 threads (handoff) ×1.1 (not ×2): neither"), "{text}");
}

#[test]
fn with_one_row_per_engine_the_engine_line_is_the_reading() {
    let rows = [
        row(Setup::Threads(5), Shared, 100.0),
        row(Setup::Threads(5), Handoff, 77.0),
        row(Setup::Single, Shared, 0.0),
    ];
    assert_eq!(reading(&rows, 10, 4), "shared serves ×1.3 the requests of handoff at 5 threads");
    let rows = [row(Setup::Threads(5), Shared, 0.0), row(Setup::Threads(5), Handoff, 77.0)];
    assert_eq!(reading(&rows, 10, 4), "shared completed no request, unlike handoff, at 5 threads");
    // Thread counts in a row with the same verdict share a clause.
    let rows =
        [1, 2, 3].map(|n| [row(Setup::Threads(n), Shared, 100.0), row(Setup::Threads(n), Handoff, 98.0)]);
    assert_eq!(
        reading(rows.as_flattened(), 10, 4).lines().next().unwrap(),
        "shared and handoff serve within 10% of each other at 1 thread, 2 threads and 3 threads"
    );
}

#[test]
fn the_reading_is_against_the_fewest_workers_pool_not_single() {
    // hello: single mode is another server, and 5 threads gain nothing over 1.
    let mut rows = pools(&[(1, 60_600), (5, 60_800)]);
    rows.insert(0, outcome(Setup::Single, &[(200, 28_300)], &[]));
    let text = reading(&rows, 10, 8);
    assert!(text.contains("against 1 thread, the pool with the fewest workers"), "{text}");
    assert!(text.contains("= 0.017 ms per request (Little's law)"), "{text}");
    assert!(
        text.contains("5 threads ×1.0 (not ×5): neither the 10 connections nor the 8 cores explain it"),
        "{text}"
    );
    assert!(!text.contains("×2.1"), "read against single mode:\n{text}");
}

#[test]
fn the_reading_names_the_connections_as_the_limit() {
    // A closed loop of 10 connections: 20 threads cannot beat 10.
    let text = reading(&pools(&[(1, 20), (10, 198), (20, 199)]), 10, 2);
    assert!(text.contains("10 threads ×9.9 (×10 predicted): throughput ≈ workers ÷ service time"), "{text}");
    assert!(
        text.contains(
            "20 threads ×9.9 (at most ×10 with 10 connections, not ×20): a closed loop of 10 connections"
        ),
        "{text}"
    );
    assert!(text.contains("the connections are the limit") && !text.contains("while workers <"), "{text}");
    // Read against 10 threads, 20 gain nothing, and that is what the connections allow.
    let text = reading(&pools(&[(10, 198), (20, 199)]), 10, 2);
    assert!(text.contains("20 threads ×1.0 (at most ×1 with 10 connections, not ×2)"), "{text}");
}

#[test]
fn the_reading_names_the_cores_as_the_limit() {
    // Computing work on 4 cores with 16 connections: gains stop at about ×4.
    let text = reading(&pools(&[(1, 100), (2, 198), (4, 390), (8, 400), (16, 395)]), 16, 4);
    assert!(text.contains("2 threads ×2.0 (×2 predicted), 4 threads ×3.9 (×4 predicted)"), "{text}");
    assert!(text.contains("the workers are the limit (within the 4 cores"), "{text}");
    assert!(
        text.contains("8 threads ×4.0 (not ×8), 16 threads ×4.0 (not ×16): more workers stop helping near the core count"),
        "{text}"
    );
    assert!(text.contains("this machine has 4: the cores are the limit"), "{text}");
}

#[test]
fn the_reading_names_the_workers_as_the_limit() {
    // Sleeping work on 2 cores: each worker adds its share, well past the cores.
    let text = reading(&pools(&[(1, 20), (5, 99), (10, 197)]), 10, 2);
    assert!(text.contains("1 request in service at a time ÷ 20.0 req/s = 50.0 ms per request"), "{text}");
    assert!(text.contains("5 threads ×5.0 (×5 predicted), 10 threads ×9.8 (×10 predicted)"), "{text}");
    assert!(text.contains("past the 2 cores, so the work waits rather than computes"), "{text}");
    assert_eq!(text.lines().count(), 2, "{text}");
}

#[test]
fn the_reading_refuses_rows_with_failures() {
    let rows = [
        outcome(Setup::Threads(1), &[(200, 20)], &[]),
        outcome(Setup::Threads(5), &[(404, 35_317)], &[]),
        outcome(Setup::Threads(10), &[(200, 75), (500, 20), (503, 5)], &[(ErrorKind::Reset, 3)]),
    ];
    assert_eq!(
        reading(&rows, 10, 2),
        "5 threads: 35,317 of 35,317 responses were 404; check --path\n\
         10 threads: 25 of 100 responses were not 2xx/3xx (500 × 20, 503 × 5), and 3 requests got no \
         response (reset 3); the app failed (a 500 is a panic or an error of the app); the server closed \
         connections before a response was complete\n\
         no reading of the rates: a row with failures does not measure serving; fix the cause and run again"
    );
    // The table counts successes only, and says FAILED in words.
    let table = render(&rows, false);
    let line = |label: &str| table.lines().find(|l| l.starts_with(label)).unwrap().to_string();
    assert!(line("1 thread").ends_with("OK"), "{table}");
    let five: Vec<String> = line("5 threads").split_whitespace().map(String::from).collect();
    assert_eq!(five[2..], ["0.0", "0.20", "0.40", "1.00", "3.50", "35317", "0", "0", "FAILED"], "{table}");
    let ten: Vec<String> = line("10 threads").split_whitespace().map(String::from).collect();
    assert_eq!(ten[2..], ["75.0", "0.20", "0.40", "1.00", "3.50", "25", "3", "0", "FAILED"], "{table}");
    assert!(table.contains("0.0 ok req/s FAILED"), "{table}");
}

#[test]
fn the_grid_reading_reads_scaling_within_one_connection_count() {
    // Sleeping work of 50 ms: with 1 connection 5 threads gain nothing, with 10 they gain ×5.
    // Read together, 10 conns × 5 threads against 1 conn × 1 thread would claim ×5 for the
    // workers and ×1 for the connections alike.
    let rows = [
        at(1, Setup::Threads(1), Handoff, 20.0),
        at(1, Setup::Threads(5), Handoff, 20.0),
        at(10, Setup::Threads(1), Handoff, 20.0),
        at(10, Setup::Threads(5), Handoff, 100.0),
    ];
    let text = grid_reading(&rows, 2);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "with 1 connection:", "{text}");
    assert!(
        lines[2].starts_with("  5 threads (handoff) ×1.0 (at most ×1 with 1 connection, not ×5)"),
        "{text}"
    );
    assert!(lines[2].contains("the connections are the limit"), "{text}");
    assert_eq!(lines[3], "with 10 connections:", "{text}");
    assert!(
        lines[5].starts_with("  5 threads (handoff) ×5.0 (×5 predicted): throughput ≈ workers"),
        "{text}"
    );
    assert_eq!(lines.len(), 6, "{text}");
    // Engines are read within one count too, and so is scaling within one engine.
    let rows = [
        at(4, Setup::Threads(1), Shared, 50.0),
        at(4, Setup::Threads(1), Handoff, 25.0),
        at(8, Setup::Threads(1), Shared, 50.0),
        at(8, Setup::Threads(1), Handoff, 50.0),
        at(8, Setup::Threads(2), Handoff, 100.0),
    ];
    let text = grid_reading(&rows, 2);
    assert!(
        text.contains("with 4 connections:\n  shared serves ×2.0 the requests of handoff at 1 thread"),
        "{text}"
    );
    assert!(
        text.contains("with 8 connections:\n  shared and handoff serve within 10% of each other"),
        "{text}"
    );
    assert!(
        text.contains("  against 1 thread (handoff)") && !text.contains("against 1 thread (shared)"),
        "{text}"
    );
    // One count: the reading of before, with no heading.
    let rows = [at(4, Setup::Threads(1), Shared, 20.0), at(4, Setup::Threads(2), Shared, 40.0)];
    assert_eq!(grid_reading(&rows, 2), reading(&rows, 4, 2));
    // A failure anywhere: no rate is read, at any count.
    let mut failed = outcome(Setup::Threads(2), &[(404, 10)], &[]);
    failed.report.connections = 8;
    let rows = [at(4, Setup::Threads(1), Shared, 20.0), failed];
    let text = grid_reading(&rows, 2);
    assert!(text.starts_with("8 conns, 2 threads: 10 of 10 responses were 404"), "{text}");
    assert!(!text.contains("Little's law") && text.ends_with("fix the cause and run again"), "{text}");
}
