//! What each bench thread counts while it runs, and how the threads' counts are added up
//! into one [`BenchReport`] (and the open loop's [`OpenLoop`]) at the end. Each thread owns
//! its tally outright, so counting is plain arithmetic: no lock, no atomic, no shared line.

use super::open_loop::{self, OpenLoop, Tail};
use super::report::{BenchReport, ErrorKind, Fairness, Latency};
use super::{BenchConfig, Stop};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

/// What one thread saw, over all its connections.
pub(super) struct Tally {
    /// Completed requests of each of the thread's connections, in the thread's order.
    pub per_connection: Vec<u64>,
    /// How many responses had each status code (indexed by the code, 0..=999).
    pub statuses: Vec<u64>,
    /// Errors, indexed by [`ErrorKind::index`].
    pub errors: [u64; ErrorKind::ALL.len()],
    /// The first error of each kind, in words, indexed the same way.
    pub first_errors: [Option<String>; ErrorKind::ALL.len()],
    pub received: u64,
    pub reconnects: u64,
    /// Requests still unanswered when the time was up.
    pub in_flight: u64,
    /// Latency of completed requests, in microseconds, from the send.
    pub latency: Histogram<u64>,
    /// Open loop only: latency of completed requests from their scheduled time.
    pub from_schedule: Option<Histogram<u64>>,
    /// Open loop only: scheduled requests whose time came before the end (each one sent, or
    /// counted as a connect error).
    pub taken: u64,
    /// Open loop only: requests sent, and of those, sent late.
    pub sent: u64,
    pub late: u64,
    /// Open loop only: late sends whose connection had its previous response by their
    /// scheduled time, so the delay was the generator's own, not a wait for the server.
    pub late_idle: u64,
}

impl Tally {
    /// An empty tally for `connections` connections.
    pub fn new(connections: usize, open_loop: bool) -> Self {
        Tally {
            per_connection: vec![0; connections],
            statuses: vec![0; 1000],
            errors: [0; ErrorKind::ALL.len()],
            first_errors: Default::default(),
            received: 0,
            reconnects: 0,
            in_flight: 0,
            latency: new_histogram(),
            from_schedule: open_loop.then(new_histogram),
            taken: 0,
            sent: 0,
            late: 0,
            late_idle: 0,
        }
    }

    /// Counts an error, keeping the words of the first one of its kind. The words are made
    /// only for the first, so a flood of errors allocates nothing.
    pub fn error(&mut self, kind: ErrorKind, words: impl FnOnce() -> String) {
        self.errors[kind.index()] += 1;
        self.first_errors[kind.index()].get_or_insert_with(words);
    }
}

/// A latency histogram in microseconds: 1 µs to 1 hour at 3 significant digits, about
/// 180 KiB, allocated once per thread.
pub(super) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Adds the threads' tallies (thread `t`'s at index `t`) up into the report.
pub(super) fn add_up(
    config: &BenchConfig,
    connections: usize,
    elapsed: Duration,
    tallies: &[Tally],
) -> (BenchReport, Option<OpenLoop>) {
    let mut latency = new_histogram();
    let mut from_schedule = new_histogram();
    let (mut taken, mut sent, mut late, mut late_idle) = (0, 0, 0, 0);
    let mut statuses = BTreeMap::new();
    let mut errors: BTreeMap<ErrorKind, u64> = ErrorKind::ALL.iter().map(|&k| (k, 0)).collect();
    let mut first_errors = BTreeMap::new();
    let (mut bytes_received, mut reconnects, mut in_flight) = (0, 0, 0);
    for tally in tallies {
        add_histogram(&mut latency, &tally.latency);
        if let Some(h) = &tally.from_schedule {
            add_histogram(&mut from_schedule, h);
        }
        (taken, sent) = (taken + tally.taken, sent + tally.sent);
        (late, late_idle) = (late + tally.late, late_idle + tally.late_idle);
        for (status, &n) in tally.statuses.iter().enumerate().filter(|(_, n)| **n > 0) {
            *statuses.entry(status as u16).or_insert(0) += n;
        }
        for kind in ErrorKind::ALL {
            *errors.entry(kind).or_insert(0) += tally.errors[kind.index()];
            if let Some(words) = &tally.first_errors[kind.index()] {
                first_errors.entry(kind).or_insert_with(|| words.clone());
            }
        }
        bytes_received += tally.received;
        reconnects += tally.reconnects;
        in_flight += tally.in_flight;
    }
    // Connection i was the (i / threads)-th of thread i % threads: put them back in order.
    let threads = tallies.len().max(1);
    let per_connection = (0..connections).map(|i| tallies[i % threads].per_connection[i / threads]).collect();
    let fairness = Fairness::from_counts(per_connection);
    let completed = fairness.per_connection.iter().sum();
    let ms = |micros: u64| micros as f64 / 1000.0;
    let open_loop = config.rate.map(|rate| {
        let due = match config.stop {
            // Request k is due at k / rate: those with k < rate × duration fall inside.
            Stop::Duration(d) => (rate * d.as_secs_f64()).ceil() as u64,
            Stop::Requests(n) => n,
        };
        OpenLoop {
            rate_asked: rate,
            due,
            sent,
            late,
            late_idle,
            never_sent: due.saturating_sub(taken),
            from_schedule: Tail::of(&from_schedule),
            from_send: Tail::of(&latency),
            histogram: open_loop::buckets(&from_schedule),
        }
    });
    let report = BenchReport {
        url: config.url.clone(),
        connections,
        keep_alive: !config.no_keep_alive,
        duration: elapsed,
        completed,
        requests_per_sec: completed as f64 / elapsed.as_secs_f64().max(1e-9),
        latency: (!latency.is_empty()).then(|| Latency {
            p50_ms: ms(latency.value_at_quantile(0.50)),
            p90_ms: ms(latency.value_at_quantile(0.90)),
            p99_ms: ms(latency.value_at_quantile(0.99)),
            max_ms: ms(latency.max()),
        }),
        statuses,
        errors,
        first_errors,
        bytes_received,
        reconnects,
        in_flight,
        fairness,
    };
    (report, open_loop)
}

fn add_histogram(total: &mut Histogram<u64>, one: &Histogram<u64>) {
    total.add(one).expect("every tally's histogram has the same bounds");
}
