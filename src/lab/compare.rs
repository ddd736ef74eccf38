//! `wsgi-lab compare`: one workload against several server configurations, side by side.
//!
//! Each configuration gets its own server, started in this process on a free port of
//! 127.0.0.1, measured with the [`bench`](mod@super::bench) and stopped. A configuration is a
//! [`Setup`] (single mode, or a pool of N workers) and, for a pool, the [`Engine`] that runs
//! it. The result is a table, a bar chart of successful (2xx/3xx) requests per second, and a
//! reading of what the numbers say: which rows failed (and then nothing more), how the engines
//! compare at the same number of workers, and how throughput grows with workers within one
//! engine and which limit stops it (see [`reading`]).
//!
//! The servers can also be someone else's ([`external`]): a command started once per row
//! (`--cmd`), whose rows scale among themselves as an engine's do, or a server already running
//! at a URL (`--url`), measured as one row; and the real Python servers by name (`--server`,
//! [`servers`]), serving the same app's Python twin beside ours.

use super::bench::{self, BenchConfig, BenchReport, Latency, Progress, Stop};
use crate::app::App;
use crate::server::{Engine, Mode, Options, Server};
use colored::Colorize;
use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod config;
pub mod export;
pub mod external;
mod interactive;
pub mod plot;
mod reading;
pub mod servers;

pub use config::{Config, Setup};
pub use interactive::interactive;
pub use reading::{cores, grid_reading, reading};

/// The workload every configuration gets.
#[derive(Clone)]
pub struct Workload {
    /// The app to serve.
    pub app: Arc<dyn App>,
    /// The path (and query) to request, such as `/?ms=50`.
    pub path: String,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// How long each configuration is measured.
    pub duration: Duration,
    /// Show a progress line on stderr (on a terminal only).
    pub progress: bool,
}

/// One measured configuration.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub config: Config,
    /// The server, if not ours: the command's name (`waitress-serve`) for `--cmd`, whose
    /// `config` then holds its thread count on the default engine, which plays no part; the
    /// URL for `--url`, whose `config` is [`Setup::Single`] (its threads are not ours to know).
    pub server: Option<String>,
    /// What the bench saw.
    pub report: BenchReport,
}

impl Row {
    /// Responses with a 2xx or 3xx status: the requests the server actually served.
    pub fn succeeded(&self) -> u64 {
        self.report.statuses.iter().filter(|(status, _)| (200..400).contains(*status)).map(|(_, n)| n).sum()
    }

    /// Responses with any other status (a 404, a 500...): complete, but not a success.
    pub fn failed_statuses(&self) -> u64 {
        self.report.statuses.iter().filter(|(status, _)| !(200..400).contains(*status)).map(|(_, n)| n).sum()
    }

    /// Requests that got no valid response at all (connect, timeout, reset, malformed).
    pub fn errors(&self) -> u64 {
        self.report.total_errors()
    }

    /// Whether any request failed, by its status or by a transport error: such a row says
    /// nothing about how fast the server serves, and the reading refuses to read it.
    pub fn failed(&self) -> bool {
        self.failed_statuses() + self.errors() > 0
    }

    /// Successful responses per second: the bench's rate of completed responses, scaled by the
    /// share of them that succeeded (so a 404 served fast counts for nothing).
    ///
    /// ```
    /// # use std::{collections::BTreeMap, time::Duration};
    /// # use wsgi_lab::lab::bench::{BenchReport, Fairness};
    /// # use wsgi_lab::lab::compare::{Config, Row, Setup};
    /// let report = BenchReport {
    ///     url: "http://127.0.0.1:1/".into(), connections: 1, keep_alive: true,
    ///     duration: Duration::from_secs(1), completed: 100, requests_per_sec: 100.0,
    ///     latency: None, statuses: BTreeMap::from([(200, 75), (404, 25)]), errors: BTreeMap::new(),
    ///     first_errors: BTreeMap::new(), bytes_received: 0, reconnects: 0, in_flight: 0,
    ///     fairness: Fairness::from_counts(vec![100]),
    /// };
    /// let row = Row { config: Config::from(Setup::Threads(1)), server: None, report };
    /// assert_eq!((row.ok_per_sec(), row.failed_statuses(), row.failed()), (75.0, 25, true));
    /// ```
    pub fn ok_per_sec(&self) -> f64 {
        match self.report.completed {
            0 => 0.0,
            completed => self.report.requests_per_sec * self.succeeded() as f64 / completed as f64,
        }
    }
}

/// The path `compare` asks for when none is given: 50 ms of sleep per request for the `sleep`
/// app (the README's figures), and `/` for any other app, as wrk or curl would ask (its
/// parameters keep their own defaults).
pub fn default_path(app: &str) -> &'static str {
    if app == "sleep" { "/?ms=50" } else { "/" }
}

/// Starts a server for `config` (a [`Config`], or a [`Setup`] on the default engine), runs the
/// workload against it, stops it.
pub fn measure(workload: &Workload, config: impl Into<Config>) -> Result<Row, String> {
    let row = measure_until(workload, config.into(), None)?;
    Ok(row.expect("nothing cancels a row without a cancel flag"))
}

/// [`measure`], cut short once `cancel` turns true: then `None`, since a row stopped at an
/// arbitrary moment is not a measurement of the configuration.
fn measure_until(
    workload: &Workload,
    config: Config,
    cancel: Option<Arc<AtomicBool>>,
) -> Result<Option<Row>, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    let (mode, threads) = match config.setup {
        Setup::Single => (Mode::Single, 1),
        Setup::Threads(n) => (Mode::Pool, n),
    };
    let options = Options { threads, engine: config.engine, quiet: true, ..Options::default() };
    let server =
        Server::from_listener(listener, workload.app.clone(), options, mode).map_err(|e| e.to_string())?;
    let running = server.spawn();
    let url = format!("{}{}", running.url(), workload.path);
    let bench_config = BenchConfig {
        connections: workload.connections,
        stop: Stop::Duration(workload.duration),
        progress: if workload.progress { Progress::Stderr } else { Progress::Quiet },
        cancel: cancel.clone(),
        label: Some(format!("{config} · {} conns", workload.connections)),
        ..BenchConfig::new(url)
    };
    let report = bench::run(&bench_config).map_err(|e| e.to_string());
    drop(running);
    let report = report?;
    match cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
        true => Ok(None),
        false => Ok(Some(Row { config, server: None, report })),
    }
}

/// The rows' labels: `5 threads` while every pool runs the default engine (the table reads as
/// it did before there were two), `5 threads (handoff)` as soon as one does not; prefixed with
/// the connections (`100 conns, 5 threads`, `1 conn, 5 threads`) as soon as the rows ran more than one count.
fn labels(rows: &[Row]) -> Vec<String> {
    let name_engines = rows.iter().any(|r| {
        r.server.is_none() && r.config.setup != Setup::Single && r.config.engine != Engine::default()
    });
    let name_connections = rows.iter().any(|r| r.report.connections != rows[0].report.connections);
    rows.iter()
        .map(|r| {
            let config = match (&r.server, r.config.setup) {
                (Some(server), setup) => servers::label(server, setup),
                (None, _) if name_engines => r.config.to_string(),
                (None, _) => r.config.setup.to_string(),
            };
            match name_connections {
                true => format!("{}, {config}", conns(r.report.connections)),
                false => config,
            }
        })
        .collect()
}

/// `1 conn`, `10 conns`: the connections in a label, short beside the configuration.
fn conns(n: usize) -> String {
    if n == 1 { "1 conn".to_string() } else { format!("{n} conns") }
}

/// The load in one line, printed before the table: the app, the path, the connections, the
/// time per row, the engines (if any pool runs) and the cores, such as `hello at /, 10
/// keep-alive connections, 2 s per row, engine handoff, 2 cores`.
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use wsgi_lab::{Engine, apps};
/// use wsgi_lab::lab::compare::{Config, Setup, Workload, header};
/// let workload = Workload {
///     app: Arc::new(apps::hello), path: "/".into(), connections: 10,
///     duration: Duration::from_secs(2), progress: false,
/// };
/// let configs = [Config::new(Setup::Threads(2), Engine::Handoff)];
/// assert_eq!(
///     header("hello", &workload, &[10], &configs, 2),
///     "hello at /, 10 keep-alive connections, 2 s per row, engine handoff, 2 cores"
/// );
/// ```
pub fn header(
    app: &str,
    workload: &Workload,
    connections: &[usize],
    configs: &[Config],
    cores: usize,
) -> String {
    let counts: Vec<String> = connections.iter().map(usize::to_string).collect();
    let connections = match connections {
        [1] => "1 keep-alive connection".to_string(),
        _ => format!("{} keep-alive connections", reading::and_list(&counts)),
    };
    let duration = time(workload.duration);
    let mut engines: Vec<String> = Vec::new();
    for config in configs.iter().filter(|c| c.setup != Setup::Single) {
        if !engines.contains(&config.engine.name().to_string()) {
            engines.push(config.engine.name().to_string());
        }
    }
    let engines = match engines.len() {
        0 => String::new(),
        1 => format!(", engine {}", engines[0]),
        _ => format!(", engines {}", reading::and_list(&engines)),
    };
    let cores = if cores == 1 { "1 core".to_string() } else { format!("{cores} cores") };
    format!("{app} at {}, {connections}, {duration} per row{engines}, {cores}", workload.path)
}

/// `100 ms`, `2 s`, `2.5 s`: a row's duration as the header and the prompts say it.
fn time(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 1.0 {
        format!("{} ms", (secs * 1000.0).round())
    } else {
        format!("{} s", (secs * 1000.0).round() / 1000.0)
    }
}

/// The table and the bar chart, as text. Rates count successful responses only (2xx and 3xx,
/// see [`Row::ok_per_sec`]); a row with any other status or any transport error says `FAILED`
/// in words, and its latencies are those of the responses it did get, failures included.
pub fn render(rows: &[Row], color: bool) -> String {
    let labels = labels(rows);
    let width = labels.iter().map(|l| l.chars().count()).fold(12, usize::max);
    let mut out = format!(
        "{:<width$} {:>10} {:>8} {:>8} {:>8} {:>8} {:>12} {:>7} {:>8}  verdict\n",
        "config", "ok req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "not 2xx/3xx", "errors", "starved"
    );
    let red = |text: String, bad: bool| if color && bad { text.red().bold().to_string() } else { text };
    for (row, label) in rows.iter().zip(&labels) {
        let r = &row.report;
        let l = r.latency.unwrap_or(Latency {
            p50_ms: f64::NAN,
            p90_ms: f64::NAN,
            p99_ms: f64::NAN,
            max_ms: f64::NAN,
        });
        let starved = red(format!("{:>8}", r.fairness.starved), r.fairness.starved > 0);
        let verdict = red(if row.failed() { "FAILED" } else { "OK" }.to_string(), row.failed());
        out += &format!(
            "{label:<width$} {:>10.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>12} {:>7} {starved}  {verdict}\n",
            row.ok_per_sec(),
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.max_ms,
            row.failed_statuses(),
            row.errors(),
        );
    }
    out.push('\n');
    let best = rows.iter().map(Row::ok_per_sec).fold(0.0, f64::max).max(1e-9);
    for (row, label) in rows.iter().zip(&labels) {
        let rate = row.ok_per_sec();
        let bar = "█".repeat(((rate / best) * 40.0).round() as usize);
        let bar = if color { bar.cyan().to_string() } else { bar };
        let failed = if row.failed() { red(" FAILED".to_string(), true) } else { String::new() };
        out += &format!("{label:<width$} {bar} {rate:.1} ok req/s{failed}\n");
    }
    out
}

/// Measures every configuration in turn, printing the table, the chart and the reading at the
/// end.
pub fn compare(
    workload: &Workload,
    configs: &[Config],
    out: &mut dyn Write,
    color: bool,
) -> Result<Vec<Row>, String> {
    compare_grid(workload, &[workload.connections], configs, out, color)
}

/// [`compare`] for every connection count in turn: a row per (connections, configuration),
/// connection count by connection count, and a reading that reads each count on its own
/// (see [`grid_reading`]).
pub fn compare_grid(
    workload: &Workload,
    connections: &[usize],
    configs: &[Config],
    out: &mut dyn Write,
    color: bool,
) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for &connections in connections {
        let workload = Workload { connections, ..workload.clone() };
        for &config in configs {
            rows.push(measure(&workload, config)?);
        }
    }
    write!(out, "{}\n{}\n", render(&rows, color), grid_reading(&rows, cores())).map_err(|e| e.to_string())?;
    Ok(rows)
}
