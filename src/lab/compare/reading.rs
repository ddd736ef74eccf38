//! What a table of [`Row`]s says, in sentences: a pure function of the rows, the number of
//! connections and the number of cores (no clock, no server), so a test can hand it rows it
//! made up and a given machine.
//!
//! Three readings, in this order of precedence:
//!
//! 1. **Failures first.** A row with a status other than 2xx/3xx or a transport error is not a
//!    measurement of serving: the reading names what failed and how often, and reads nothing
//!    else ("5 threads: 35,317 of 35,317 responses were 404; check --path").
//! 2. **Engines side by side**, where two engines ran the same number of workers.
//! 3. **Scaling**, within one engine (or one external command, `--cmd`, read like an engine),
//!    against its pool with the fewest workers (single mode is left out: it is another server,
//!    not a pool of one; so is a server at `--url`, whose workers we do not know). Little's law on that baseline gives
//!    the service time: requests in service at once ÷ requests per second. A closed loop of C
//!    connections never has more than C requests in flight, so N workers keep min(N, C) busy
//!    and should serve min(N, C) ÷ service time. Each larger pool is then read for the limit
//!    that applies: the workers (it gains as predicted), the connections (it gains as predicted
//!    but the prediction stopped at C), the cores (a computing workload stops gaining near the
//!    core count), or something else (neither explains the shortfall).

use super::{Row, Setup, labels};
use crate::lab::bench::ErrorKind;
use crate::server::Engine;

/// A gain at least this share of the prediction counts as meeting it: two runs of one
/// configuration differ by up to ~10%, and a loaded machine by more.
const MET: f64 = 0.7;

/// The cores this machine offers (1 if it cannot tell): the third input of [`reading`].
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What the rows say (the module docs of `reading.rs` describe the three readings).
///
/// ```
/// # use std::{collections::BTreeMap, time::Duration};
/// # use wsgi_lab::lab::bench::{BenchReport, Fairness};
/// # use wsgi_lab::lab::compare::{Config, Row, Setup, reading};
/// # let row = |threads, status: u16, n: u64| Row {
/// #     config: Config::from(Setup::Threads(threads)),
/// #     server: None,
/// #     report: BenchReport {
/// #         url: "http://127.0.0.1:1/".into(), connections: 10, keep_alive: true,
/// #         duration: Duration::from_secs(1), completed: n, requests_per_sec: n as f64,
/// #         latency: None, statuses: BTreeMap::from([(status, n)]), errors: BTreeMap::new(),
/// #         first_errors: BTreeMap::new(), bytes_received: 0, reconnects: 0, in_flight: 0,
/// #         fairness: Fairness::from_counts(vec![1; 10]),
/// #     },
/// # };
/// let rows = [row(1, 200, 20), row(5, 404, 35_317)];
/// assert!(reading(&rows, 10, 4).starts_with("5 threads: 35,317 of 35,317 responses were 404; check --path"));
/// ```
pub fn reading(rows: &[Row], connections: usize, cores: usize) -> String {
    let labels = labels(rows);
    let failures: Vec<String> = rows
        .iter()
        .zip(&labels)
        .filter(|(row, _)| row.failed())
        .map(|(row, label)| failure(row, label))
        .collect();
    if !failures.is_empty() {
        let refusal = "no reading of the rates: a row with failures does not measure serving; \
                       fix the cause and run again";
        return failures.into_iter().chain([refusal.to_string()]).collect::<Vec<_>>().join("\n");
    }
    if !rows.iter().any(|r| r.ok_per_sec() > 0.0) {
        return "no request completed: nothing to read".to_string();
    }
    let mut lines: Vec<String> = engine_reading(rows).into_iter().collect();
    lines.extend(scaling_reading(rows, &labels, connections.max(1), cores.max(1)));
    if lines.is_empty() && rows.iter().all(|r| r.server.is_some() && r.config.setup == Setup::Single) {
        // `--url`: its workers are not ours to change, so there is no pool to set beside it.
        lines.push(
            "one server whose workers we do not know: nothing to set beside it; to read its scaling, \
             start it with --cmd at several --threads counts"
                .into(),
        );
    } else if lines.is_empty() {
        lines.push("no two pools on one engine to set side by side: give --threads two thread counts".into());
    }
    let starved: usize = rows.iter().map(|r| r.report.fairness.starved).sum();
    if starved > 0 {
        let last = lines.last_mut().expect("at least one line");
        *last += &format!("; {starved} connections completed nothing (starved)");
    }
    lines.join("\n")
}

/// What rows of several connection counts say: [`reading`] for each count on its own, since
/// Little's law and the closed-loop limit hold for one count of connections, and a pool with
/// 100 connections read against one with 3 would show a gain the workers never made. The
/// count of each row is the one its bench ran (`report.connections`). Failures still come
/// first, over all the rows: then nothing else is read.
///
/// ```
/// # use std::{collections::BTreeMap, time::Duration};
/// # use wsgi_lab::lab::bench::{BenchReport, Fairness};
/// # use wsgi_lab::lab::compare::{Config, Row, Setup, grid_reading};
/// # let row = |threads, connections, n: u64| Row {
/// #     config: Config::from(Setup::Threads(threads)),
/// #     server: None,
/// #     report: BenchReport {
/// #         url: "http://127.0.0.1:1/".into(), connections, keep_alive: true,
/// #         duration: Duration::from_secs(1), completed: n, requests_per_sec: n as f64,
/// #         latency: None, statuses: BTreeMap::from([(200, n)]), errors: BTreeMap::new(),
/// #         first_errors: BTreeMap::new(), bytes_received: 0, reconnects: 0, in_flight: 0,
/// #         fairness: Fairness::from_counts(vec![1; connections]),
/// #     },
/// # };
/// // Sleeping work of 50 ms: 5 threads gain ×5 with 10 connections, ×1 with 1.
/// let rows = [row(1, 1, 20), row(5, 1, 20), row(1, 10, 20), row(5, 10, 100)];
/// let text = grid_reading(&rows, 2);
/// assert!(text.starts_with("with 1 connection:\n  against 1 thread"));
/// assert!(text.contains("  5 threads ×1.0 (at most ×1 with 1 connection, not ×5)"));
/// assert!(text.contains("with 10 connections:\n  against 1 thread"));
/// assert!(text.contains("  5 threads ×5.0 (×5 predicted)"));
/// ```
pub fn grid_reading(rows: &[Row], cores: usize) -> String {
    let mut counts: Vec<usize> = rows.iter().map(|r| r.report.connections).collect();
    counts.sort_unstable();
    counts.dedup();
    if counts.len() <= 1 || rows.iter().any(Row::failed) {
        return reading(rows, counts.first().copied().unwrap_or(1), cores);
    }
    let mut out = Vec::new();
    for connections in counts {
        // Under the heading, each row is named as in a table of this count alone.
        let group: Vec<Row> = rows.iter().filter(|r| r.report.connections == connections).cloned().collect();
        out.push(format!("with {}:", plural(connections, "connection")));
        out.extend(reading(&group, connections, cores).lines().map(|line| format!("  {line}")));
    }
    out.join("\n")
}

/// One failed row in words, from its counts: what came back instead of a success, and where to
/// look.
fn failure(row: &Row, label: &str) -> String {
    let report = &row.report;
    let mut what = Vec::new();
    let bad: Vec<(u16, u64)> =
        report.statuses.iter().filter(|(s, _)| !(200..400).contains(*s)).map(|(&s, &n)| (s, n)).collect();
    if !bad.is_empty() {
        let statuses = match bad.as_slice() {
            [(status, _)] => status.to_string(),
            _ => {
                let each: Vec<String> = bad.iter().map(|(s, n)| format!("{s} × {}", thousands(*n))).collect();
                format!("not 2xx/3xx ({})", each.join(", "))
            }
        };
        let (failed, completed) = (thousands(row.failed_statuses()), thousands(report.completed));
        what.push(format!("{failed} of {completed} responses were {statuses}"));
    }
    if row.errors() > 0 {
        let kinds: Vec<String> = report
            .errors
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{} {}", k.name(), thousands(*n)))
            .collect();
        what.push(format!("{} requests got no response ({})", thousands(row.errors()), kinds.join(", ")));
    }
    let mut hints = Vec::new();
    if bad.iter().any(|(s, _)| (400..500).contains(s)) {
        hints.push("check --path");
    }
    if bad.iter().any(|(s, _)| *s >= 500) {
        hints.push("the app failed (a 500 is a panic or an error of the app)");
    }
    if bad.iter().any(|(s, _)| *s < 200) {
        hints.push("a 1xx is not a final response");
    }
    for (kind, n) in &report.errors {
        if *n > 0 {
            hints.push(match kind {
                ErrorKind::Connect => "the server refused connections",
                ErrorKind::Timeout => "the server did not answer in time",
                ErrorKind::Reset => "the server closed connections before a response was complete",
                ErrorKind::Malformed => "the server's responses were not valid HTTP",
            });
        }
    }
    format!("{label}: {}; {}", what.join(", and "), hints.join("; "))
}

/// The limit that a pool runs into, judged from its gain over the engine's baseline.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// It gains as Little's law predicts for its workers; `true` once it keeps more workers busy
    /// than there are cores, which computing work could not do.
    Workers(bool),
    /// It gains as predicted, but the prediction stopped at the connections.
    Connections,
    /// It falls short, and stops near the core count.
    Cores,
    /// It falls short, and neither the connections nor the cores explain it.
    Elsewhere,
}

/// The scaling lines: per engine with two worker counts, the baseline and its service time,
/// then one line per limit with the rows that run into it.
fn scaling_reading(rows: &[Row], labels: &[String], connections: usize, cores: usize) -> Vec<String> {
    let workers = |row: &Row| match row.config.setup {
        Setup::Single => 0,
        Setup::Threads(n) => n,
    };
    // An external server (`--cmd`) is read like an engine: its rows scale among themselves.
    let server = |row: &Row| (row.server.clone(), row.config.engine);
    let mut servers: Vec<(Option<String>, Engine)> = Vec::new();
    for row in rows.iter().filter(|r| workers(r) > 0) {
        if !servers.contains(&server(row)) {
            servers.push(server(row));
        }
    }
    let mut lines = Vec::new();
    for group in servers {
        let pools: Vec<usize> = (0..rows.len())
            .filter(|&i| workers(&rows[i]) > 0 && server(&rows[i]) == group && rows[i].ok_per_sec() > 0.0)
            .collect();
        let Some(&base) = pools.iter().min_by_key(|&&i| workers(&rows[i])) else { continue };
        let base_workers = workers(&rows[base]);
        if pools.iter().all(|&i| workers(&rows[i]) == base_workers) {
            continue; // one worker count: nothing to scale against
        }
        // Little's law, L = λ·W: requests in service at once = rate × service time.
        let busy = |n: usize| n.min(connections) as f64;
        let base_rate = rows[base].ok_per_sec();
        let service_ms = busy(base_workers) * 1000.0 / base_rate;
        lines.push(format!(
            "against {}, the pool with the fewest workers: {} in service at a time ÷ {base_rate:.1} req/s \
             = {} per request (Little's law)",
            labels[base],
            plural(busy(base_workers) as usize, "request"),
            milliseconds(service_ms)
        ));
        let mut found: Vec<(Limit, Vec<String>)> = Vec::new();
        for &i in pools.iter().filter(|&&i| workers(&rows[i]) > base_workers) {
            let n = workers(&rows[i]);
            let gain = rows[i].ok_per_sec() / base_rate;
            let ideal = busy(n) / busy(base_workers);
            let cores_ideal = busy(n).min(cores as f64) / busy(base_workers).min(cores as f64);
            let uncapped = n as f64 / base_workers as f64;
            let (limit, predicted) = if gain >= MET * ideal && n > connections {
                (
                    Limit::Connections,
                    format!(
                        "at most {} with {}, not {}",
                        times(ideal),
                        plural(connections, "connection"),
                        times(uncapped)
                    ),
                )
            } else if gain >= MET * ideal {
                (Limit::Workers(busy(n) > cores as f64), format!("{} predicted", times(ideal)))
            } else if busy(n) > cores as f64 && gain >= 0.6 * cores_ideal {
                (Limit::Cores, format!("not {}", times(ideal)))
            } else {
                (Limit::Elsewhere, format!("not {}", times(ideal)))
            };
            let text = format!("{} ×{gain:.1} ({predicted})", labels[i]);
            // Rows that gain as predicted share a line; past the cores is the stronger claim.
            let same =
                |l: &Limit| matches!((*l, limit), (Limit::Workers(_), Limit::Workers(_))) || *l == limit;
            match found.iter_mut().find(|(l, _)| same(l)) {
                Some((l, texts)) => {
                    if let (Limit::Workers(past), Limit::Workers(this)) = (&mut *l, limit) {
                        *past |= this;
                    }
                    texts.push(text)
                }
                None => found.push((limit, vec![text])),
            }
        }
        for (limit, texts) in found {
            let why = match limit {
                Limit::Workers(true) => format!(
                    "throughput ≈ workers ÷ service time: the workers are the limit; gains go past the {cores} cores, \
                     so the work waits rather than computes, and more workers help"
                ),
                Limit::Workers(false) => format!(
                    "throughput ≈ workers ÷ service time: the workers are the limit (within the {cores} cores, \
                     where waiting and computing work gain alike)"
                ),
                Limit::Connections => format!(
                    "a closed loop of {} has at most {} in flight, so workers past {connections} wait idle: \
                     the connections are the limit",
                    plural(connections, "connection"),
                    plural(connections, "request"),
                ),
                Limit::Cores => format!(
                    "more workers stop helping near the core count: the work needs a core while it runs, \
                     and this machine has {cores}: the cores are the limit"
                ),
                Limit::Elsewhere => format!(
                    "neither the {connections} connections nor the {cores} cores explain it: the limit is \
                     elsewhere (the server's own work per request, or the bench, which shares these cores)"
                ),
            };
            lines.push(format!("{}: {why}", texts.join(", ")));
        }
    }
    lines
}

/// Engines side by side: at each thread count that ran on two engines, how many times the
/// requests of the slower the faster served (a mean, if one was measured twice). Differences
/// under 10% are called the same: two runs of one configuration differ that much. Thread counts
/// in a row with the same verdict share one clause.
fn engine_reading(rows: &[Row]) -> Option<String> {
    let mut setups: Vec<Setup> =
        rows.iter().map(|r| r.config.setup).filter(|&s| s != Setup::Single).collect();
    setups.sort_unstable();
    setups.dedup();
    let mut clauses: Vec<(String, Vec<String>)> = Vec::new();
    for setup in setups {
        let rates: Vec<(&str, f64)> = Engine::ALL
            .into_iter()
            .filter_map(|engine| {
                let same = rows
                    .iter()
                    .filter(|r| r.server.is_none() && r.config == super::Config::new(setup, engine));
                let measured: Vec<f64> = same.map(Row::ok_per_sec).collect();
                let mean = || measured.iter().sum::<f64>() / measured.len() as f64;
                (!measured.is_empty()).then(|| (engine.name(), mean()))
            })
            .collect();
        let (Some(&(fast, fast_rate)), Some(&(slow, slow_rate))) = (
            rates.iter().max_by(|a, b| a.1.total_cmp(&b.1)),
            rates.iter().min_by(|a, b| a.1.total_cmp(&b.1)),
        ) else {
            continue;
        };
        if rates.len() < 2 || fast_rate == 0.0 {
            continue;
        }
        let ratio = fast_rate / slow_rate;
        let verdict = if slow_rate == 0.0 {
            format!("{slow} completed no request, unlike {fast},")
        } else if ratio < 1.1 {
            let names: Vec<&str> = rates.iter().map(|(name, _)| *name).collect();
            format!("{} serve within 10% of each other", names.join(" and "))
        } else {
            format!("{fast} serves ×{ratio:.1} the requests of {slow}")
        };
        match clauses.last_mut() {
            Some((last, counts)) if *last == verdict => counts.push(setup.to_string()),
            _ => clauses.push((verdict, vec![setup.to_string()])),
        }
    }
    let clauses: Vec<String> =
        clauses.into_iter().map(|(verdict, counts)| format!("{verdict} at {}", and_list(&counts))).collect();
    (!clauses.is_empty()).then(|| clauses.join("; "))
}

/// `a`, `a and b`, `a, b and c`.
pub(super) fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `35317` → `35,317`.
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

/// `×5`, `×2.5`: a ratio of worker counts, whole when it is.
fn times(x: f64) -> String {
    if (x - x.round()).abs() < 0.05 { format!("×{:.0}", x.round()) } else { format!("×{x:.1}") }
}

/// `10.0 ms`, `0.017 ms`: three decimals below a millisecond, where one would round to 0.
fn milliseconds(ms: f64) -> String {
    if ms < 1.0 { format!("{ms:.3} ms") } else { format!("{ms:.1} ms") }
}

/// `1 request`, `4 requests`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

#[cfg(test)]
mod tests;
