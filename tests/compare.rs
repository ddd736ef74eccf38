//! `compare`: one row per configuration, a reading that follows the numbers, and the
//! interactive mode driven through a reader, as a pipe would.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;
use wsgi_lab::apps::sleep;
use wsgi_lab::lab::compare::{Setup, Workload, compare, interactive, reading};

fn workload() -> Workload {
    Workload {
        app: Arc::new(sleep),
        path: "/?ms=20".to_string(),
        connections: 4,
        duration: Duration::from_millis(400),
        progress: false,
    }
}

#[test]
fn one_row_per_configuration_in_order() {
    let setups = [Setup::Single, Setup::Threads(1), Setup::Threads(4)];
    let mut out = Vec::new();
    let rows = compare(&workload(), &setups, &mut out, false).unwrap();
    assert_eq!(rows.iter().map(|r| r.setup).collect::<Vec<_>>(), setups);
    let text = String::from_utf8(out).unwrap();
    for label in ["single", "1 thread", "4 threads", "req/s", "p99 ms", "starved", "█"] {
        assert!(text.contains(label), "{label} missing from:\n{text}");
    }
    // Blocking work: four workers serve four connections about four times as fast as one.
    let rate = |i: usize| rows[i].report.requests_per_sec;
    assert!(rate(2) > 2.5 * rate(1), "4 threads {} vs 1 thread {}", rate(2), rate(1));
    assert!(text.contains("throughput ≈ workers ÷ service time"), "{text}");
}

#[test]
fn interactive_mode_reads_thread_counts_until_q() {
    let mut input = Cursor::new("2\nnot-a-number\nsingle\nq\n3\n");
    let mut out = Vec::new();
    let rows = interactive(&workload(), &mut input, &mut out, false).unwrap();
    // The rows are kept sorted; the line after `q` is never read.
    assert_eq!(rows.iter().map(|r| r.setup).collect::<Vec<_>>(), [Setup::Single, Setup::Threads(2)]);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\"not-a-number\" is not a configuration"), "{text}");
    assert_eq!(text.matches("threads (a number").count(), 4, "one prompt per line read:\n{text}");
}

#[test]
fn interactive_mode_ends_at_end_of_input() {
    let rows = interactive(&workload(), &mut Cursor::new("1\n"), &mut Vec::new(), false).unwrap();
    assert_eq!(rows.len(), 1);
}

#[test]
fn the_reading_says_when_work_does_not_scale() {
    // CPU-bound work on a 2-core machine: 8 workers cannot be 8 times one worker.
    let cpu = Workload { app: Arc::new(wsgi_lab::apps::cpu), path: "/?n=3000000".into(), ..workload() };
    let setups = [Setup::Threads(1), Setup::Threads(8)];
    let rows = compare(&Workload { connections: 8, ..cpu }, &setups, &mut Vec::new(), false).unwrap();
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
