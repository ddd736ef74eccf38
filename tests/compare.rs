//! `compare`: one row per configuration (a thread count once per engine), a reading that
//! follows the numbers, and the interactive mode driven through a reader, as a pipe would.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;
use wsgi_lab::Engine::{self, Handoff, Shared};
use wsgi_lab::apps::sleep;
use wsgi_lab::lab::bench::{BenchReport, ErrorKind, Fairness, Latency};
use wsgi_lab::lab::compare::{Config, Row, Setup, Workload, compare, cores, interactive, reading, render};

fn workload() -> Workload {
    Workload {
        app: Arc::new(sleep),
        path: "/?ms=20".to_string(),
        connections: 4,
        duration: Duration::from_millis(400),
        progress: false,
    }
}

/// A row that was never measured: `setup` on `engine`, at `rate` requests per second, each of
/// its four connections served.
fn row(setup: Setup, engine: Engine, rate: f64) -> Row {
    let mut row = outcome(setup, &[(200, rate as u64)], &[]);
    row.config = Config::new(setup, engine);
    row.report.requests_per_sec = rate;
    row
}

/// A row that was never measured, of one second: these responses by status, these requests
/// lost by cause.
fn outcome(setup: Setup, statuses: &[(u16, u64)], errors: &[(ErrorKind, u64)]) -> Row {
    let completed = statuses.iter().map(|(_, n)| n).sum();
    let report = BenchReport {
        url: "http://127.0.0.1:1/".into(),
        connections: 4,
        keep_alive: true,
        duration: Duration::from_secs(1),
        completed,
        requests_per_sec: completed as f64,
        latency: Some(Latency { p50_ms: 0.2, p90_ms: 0.4, p99_ms: 1.0, max_ms: 3.5 }),
        statuses: statuses.iter().copied().collect(),
        errors: ErrorKind::ALL.iter().map(|&k| (k, 0)).chain(errors.iter().copied()).collect(),
        first_errors: BTreeMap::new(),
        bytes_received: 0,
        reconnects: 0,
        in_flight: 0,
        fairness: Fairness::from_counts(vec![1; 4]),
    };
    Row { config: Config::from(setup), report }
}

/// Successful rows on the default engine, `(threads, requests per second)`.
fn pools(rates: &[(usize, u64)]) -> Vec<Row> {
    rates.iter().map(|&(n, rate)| outcome(Setup::Threads(n), &[(200, rate)], &[])).collect()
}

#[test]
fn one_row_per_configuration_in_order() {
    let configs: Vec<Config> =
        [Setup::Single, Setup::Threads(1), Setup::Threads(4)].into_iter().map(Config::from).collect();
    let mut out = Vec::new();
    let rows = compare(&workload(), &configs, &mut out, false).unwrap();
    assert_eq!(rows.iter().map(|r| r.config).collect::<Vec<_>>(), configs);
    let text = String::from_utf8(out).unwrap();
    for label in ["single", "1 thread", "4 threads", "req/s", "p99 ms", "starved", "█"] {
        assert!(text.contains(label), "{label} missing from:\n{text}");
    }
    // One engine, the default: the labels do not name it.
    assert!(!text.contains("(shared)"), "{text}");
    // Blocking work: four workers serve four connections about four times as fast as one.
    let rate = |i: usize| rows[i].report.requests_per_sec;
    assert!(rate(2) > 2.5 * rate(1), "4 threads {} vs 1 thread {}", rate(2), rate(1));
    assert!(text.contains("throughput ≈ workers ÷ service time"), "{text}");
}

#[test]
fn each_thread_count_runs_once_per_engine_and_single_once() {
    let setups = [Setup::Single, Setup::Threads(1), Setup::Threads(2)];
    let configs = Config::all(&setups, &[Shared, Handoff, Shared]);
    let labels: Vec<String> = configs.iter().map(Config::to_string).collect();
    assert_eq!(
        labels,
        ["single", "1 thread (shared)", "1 thread (handoff)", "2 threads (shared)", "2 threads (handoff)"]
    );
    assert_eq!(Config::all(&setups, &[]), Config::all(&setups, &[Engine::default()]));
}

#[test]
fn engines_side_by_side_name_the_engine_in_each_row() {
    // `compare --engine shared,handoff --threads 1,2`, in-process and short.
    let quick = Workload { duration: Duration::from_millis(150), ..workload() };
    let configs = Config::all(&[Setup::Threads(1), Setup::Threads(2)], &[Shared, Handoff]);
    let mut out = Vec::new();
    let rows = compare(&quick, &configs, &mut out, false).unwrap();
    assert_eq!(rows.iter().map(|r| r.config).collect::<Vec<_>>(), configs);
    let text = String::from_utf8(out).unwrap();
    let blocks: Vec<&str> = text.split("\n\n").collect();
    for label in ["1 thread (shared)", "1 thread (handoff)", "2 threads (shared)", "2 threads (handoff)"] {
        // Once in the table, once in the chart.
        for block in &blocks[..2] {
            assert_eq!(block.lines().filter(|l| l.starts_with(label)).count(), 1, "{label}:\n{text}");
        }
    }
    for row in &rows {
        assert!(row.report.completed > 0, "{}: nothing completed\n{text}", row.config);
    }
    // The reading's first line sets the engines side by side at both thread counts.
    let engines = reading(&rows, quick.connections, 2).lines().next().unwrap().to_string();
    for word in ["shared", "handoff", "1 thread", "2 threads"] {
        assert!(engines.contains(word), "{word} missing from {engines:?}");
    }
    assert!(text.contains(&engines), "{text}");
}

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
fn interactive_mode_reads_thread_counts_until_q() {
    let mut input = Cursor::new("2\nnot-a-number\nsingle\nq\n3\n");
    let mut out = Vec::new();
    let rows = interactive(&workload(), &[Engine::default()], &mut input, &mut out, false).unwrap();
    // The rows are kept sorted; the line after `q` is never read.
    let setups: Vec<Setup> = rows.iter().map(|r| r.config.setup).collect();
    assert_eq!(setups, [Setup::Single, Setup::Threads(2)]);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\"not-a-number\" is not a configuration"), "{text}");
    assert_eq!(text.matches("threads (a number").count(), 4, "one prompt per line read:\n{text}");
}

#[test]
fn interactive_mode_measures_each_thread_count_on_each_engine() {
    let quick = Workload { duration: Duration::from_millis(150), ..workload() };
    let mut out = Vec::new();
    let rows =
        interactive(&quick, &[Handoff, Shared], &mut Cursor::new("2\nsingle\n"), &mut out, false).unwrap();
    let labels: Vec<String> = rows.iter().map(|r| r.config.to_string()).collect();
    assert_eq!(labels, ["single", "2 threads (handoff)", "2 threads (shared)"]);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("2 threads (handoff)"), "{text}");
}

#[test]
fn interactive_mode_ends_at_end_of_input() {
    let rows = interactive(&workload(), &[Shared], &mut Cursor::new("1\n"), &mut Vec::new(), false).unwrap();
    assert_eq!(rows.len(), 1);
}

#[test]
fn the_reading_says_when_work_does_not_scale() {
    // CPU-bound work on a 2-core machine: 8 workers cannot be 8 times one worker.
    let cpu = Workload { app: Arc::new(wsgi_lab::apps::cpu), path: "/?n=3000000".into(), ..workload() };
    let configs = [Setup::Threads(1), Setup::Threads(8)].map(Config::from);
    let rows = compare(&Workload { connections: 8, ..cpu }, &configs, &mut Vec::new(), false).unwrap();
    let cores = cores();
    if cores < 8 {
        let text = reading(&rows, 8, cores);
        assert!(text.contains("8 threads ×") && text.contains("(not ×8)"), "{text}");
    }
}

#[test]
fn configurations_parse_from_the_command_line_words() {
    assert_eq!("single".parse::<Setup>(), Ok(Setup::Single));
    assert_eq!(" 5 ".parse::<Setup>(), Ok(Setup::Threads(5)));
    for bad in ["0", "-1", "many", "2000"] {
        assert!(bad.parse::<Setup>().unwrap_err().contains("not a configuration"), "{bad}");
    }
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
fn a_path_that_is_not_found_is_a_failure_not_a_rate() {
    // `compare --app files --path /nope`, in-process and short.
    let files = wsgi_lab::apps::by_name("files").unwrap();
    let quick =
        Workload { app: files, path: "/nope".into(), duration: Duration::from_millis(150), ..workload() };
    let mut out = Vec::new();
    let rows = compare(&quick, &[Config::from(Setup::Threads(1))], &mut out, false).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(rows[0].failed() && rows[0].ok_per_sec() == 0.0, "{text}");
    let n = rows[0].report.statuses[&404];
    assert!(text.contains(&format!(" of {} responses were 404; check --path", thousands(n))), "{text}");
    assert!(text.contains("FAILED") && !text.contains("Little's law"), "{text}");
}

/// `35317` → `35,317`, as the reading writes counts.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
