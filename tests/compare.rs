//! `compare`: one row per configuration (a thread count once per engine), a reading that
//! follows the numbers, and the interactive mode driven through a reader, as a pipe would.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;
use wsgi_lab::Engine::{self, Handoff, Shared};
use wsgi_lab::apps::sleep;
use wsgi_lab::lab::bench::{BenchReport, Fairness};
use wsgi_lab::lab::compare::{Config, Row, Setup, Workload, compare, interactive, reading};

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
    let report = BenchReport {
        url: "http://127.0.0.1:1/".into(),
        connections: 4,
        keep_alive: true,
        duration: Duration::from_secs(1),
        completed: rate as u64,
        requests_per_sec: rate,
        latency: None,
        statuses: BTreeMap::from([(200, rate as u64)]),
        errors: BTreeMap::new(),
        first_errors: BTreeMap::new(),
        bytes_received: 0,
        reconnects: 0,
        in_flight: 0,
        fairness: Fairness::from_counts(vec![1; 4]),
    };
    Row { config: Config::new(setup, engine), report }
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
    for label in ["1 thread (shared)", "1 thread (handoff)", "2 threads (shared)", "2 threads (handoff)"] {
        // Once in the table, once in the chart.
        assert_eq!(text.lines().filter(|l| l.starts_with(label)).count(), 2, "{label}:\n{text}");
    }
    for row in &rows {
        assert!(row.report.completed > 0, "{}: nothing completed\n{text}", row.config);
    }
    // The reading's first line sets the engines side by side at both thread counts.
    let engines = reading(&rows, quick.connections).lines().next().unwrap().to_string();
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
    let text = reading(&rows, 8);
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        "shared serves ×1.3 the requests of handoff at 1 thread; \
         handoff serves ×1.3 the requests of shared at 2 threads; \
         shared and handoff serve within 10% of each other at 4 threads",
        "8 threads ran on one engine only: {text}"
    );
    // Each engine doubles with its workers: the scaling line agrees, with no engine set against
    // the other's baseline.
    assert!(text.lines().nth(1).unwrap().starts_with("throughput ≈ workers ÷ service time"), "{text}");
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
    let text = reading(&rows, 4);
    assert!(!text.contains("stop helping"), "{text}");
    assert!(text.contains("(10.0 ms with shared, 18.2 ms with handoff)"), "{text}");
    // Where one engine does stop gaining, the row that lags is named with its engine.
    let rows = [rows[0].clone(), rows[1].clone(), rows[2].clone(), row(Setup::Threads(2), Handoff, 60.0)];
    let text = reading(&rows, 4);
    assert!(text.contains("more workers stop helping (2 threads (handoff) gains ×1.1, not ×2)"), "{text}");
}

#[test]
fn with_one_row_per_engine_the_engine_line_is_the_reading() {
    let rows = [
        row(Setup::Threads(5), Shared, 100.0),
        row(Setup::Threads(5), Handoff, 77.0),
        row(Setup::Single, Shared, 0.0),
    ];
    assert_eq!(reading(&rows, 10), "shared serves ×1.3 the requests of handoff at 5 threads");
    let rows = [row(Setup::Threads(5), Shared, 0.0), row(Setup::Threads(5), Handoff, 77.0)];
    assert_eq!(reading(&rows, 10), "shared completed no request, unlike handoff, at 5 threads");
    // Thread counts in a row with the same verdict share a clause.
    let rows =
        [1, 2, 3].map(|n| [row(Setup::Threads(n), Shared, 100.0), row(Setup::Threads(n), Handoff, 98.0)]);
    assert_eq!(
        reading(rows.as_flattened(), 10).lines().next().unwrap(),
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
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 8 {
        assert!(reading(&rows, 8).contains("more workers stop helping"), "{}", reading(&rows, 8));
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
