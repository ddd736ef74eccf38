//! Rows for `compare`'s reading, constructed rather than measured: the reading is tested
//! against the numbers it is given, for each case it must tell apart.

use std::collections::BTreeMap;
use std::time::Duration;
use wsgi_lab::Engine;
use wsgi_lab::lab::bench::{BenchReport, ErrorKind, Fairness, Latency};
use wsgi_lab::lab::compare::{Config, Row, Setup};

/// A row that was never measured: `setup` on `engine`, at `rate` requests per second, each of
/// its four connections served.
pub fn row(setup: Setup, engine: Engine, rate: f64) -> Row {
    let mut row = outcome(setup, &[(200, rate as u64)], &[]);
    row.config = Config::new(setup, engine);
    row.report.requests_per_sec = rate;
    row
}

/// A row that was never measured, of one second: these responses by status, these requests
/// lost by cause.
pub fn outcome(setup: Setup, statuses: &[(u16, u64)], errors: &[(ErrorKind, u64)]) -> Row {
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
    Row { config: Config::from(setup), server: None, report }
}

/// Successful rows on the default engine, `(threads, requests per second)`.
pub fn pools(rates: &[(usize, u64)]) -> Vec<Row> {
    rates.iter().map(|&(n, rate)| outcome(Setup::Threads(n), &[(200, rate)], &[])).collect()
}

/// `row` at `connections` connections.
pub fn at(connections: usize, setup: Setup, engine: Engine, rate: f64) -> Row {
    let mut row = row(setup, engine, rate);
    row.report.connections = connections;
    row
}
