//! `wsgi-lab compare`: one workload against several server configurations, side by side.
//!
//! Each configuration gets its own server, started in this process on a free port of
//! 127.0.0.1, measured with the [`bench`](mod@super::bench) and stopped. A configuration is a
//! [`Setup`] (single mode, or a pool of N workers) and, for a pool, the [`Engine`] that runs
//! it. The result is a table, a bar chart of requests per second, and a reading of what the
//! numbers say: how throughput grows with workers (read within one engine), and how the engines
//! compare at the same number of workers.

use super::bench::{self, BenchConfig, BenchReport, Progress, Stop};
use crate::App;
use crate::server::{Engine, Mode, Options, Server, default_threads};
use colored::Colorize;
use std::fmt;
use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// What `--threads` names: wsgiref's single thread, or a pool of N workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Setup {
    /// Single-threaded mode.
    Single,
    /// Pool mode with this many workers.
    Threads(usize),
}

impl FromStr for Setup {
    type Err = String;

    /// `single`, or a number of workers from 1 to 1024.
    fn from_str(text: &str) -> Result<Setup, String> {
        match text.trim() {
            "single" => Ok(Setup::Single),
            n => match n.parse::<usize>() {
                Ok(n) if (1..=1024).contains(&n) => Ok(Setup::Threads(n)),
                _ => Err(format!(
                    "{n:?} is not a configuration: give a number of threads (1 to 1024) or `single`"
                )),
            },
        }
    }
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setup::Single => f.write_str("single"),
            Setup::Threads(1) => f.write_str("1 thread"),
            Setup::Threads(n) => write!(f, "{n} threads"),
        }
    }
}

/// One server to measure: a [`Setup`] and the [`Engine`] that runs it.
///
/// A struct beside [`Setup`] rather than more variants in it: the engine is a second choice,
/// independent of the first (`--threads` × `--engine`), so each flag keeps its own small type
/// and parser, and a plain `Setup` still converts into a configuration on the default engine.
/// Single mode has no engine: [`Config::new`] stores the default one for it, and it is never
/// shown or compared.
///
/// ```
/// use wsgi_lab::Engine;
/// use wsgi_lab::lab::compare::{Config, Setup};
/// assert_eq!(Config::new(Setup::Threads(5), Engine::Handoff).to_string(), "5 threads (handoff)");
/// assert_eq!(Config::new(Setup::Single, Engine::Handoff), Config::from(Setup::Single));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Single mode or a pool of N workers.
    pub setup: Setup,
    /// The pool's engine; the default one in single mode, where it plays no part.
    pub engine: Engine,
}

impl Config {
    /// `setup` on `engine` (on the default engine if `setup` is single mode).
    pub fn new(setup: Setup, engine: Engine) -> Config {
        let engine = if setup == Setup::Single { Engine::default() } else { engine };
        Config { setup, engine }
    }

    /// Every setup on every engine, setup by setup (so the engines of one thread count sit
    /// side by side); single mode once, since it has no engine. Repeated engines count once; no
    /// engine at all means the default one.
    ///
    /// ```
    /// use wsgi_lab::Engine::{Handoff, Shared};
    /// use wsgi_lab::lab::compare::{Config, Setup};
    /// let labels: Vec<String> = Config::all(&[Setup::Single, Setup::Threads(2)], &[Shared, Handoff])
    ///     .iter()
    ///     .map(Config::to_string)
    ///     .collect();
    /// assert_eq!(labels, ["single", "2 threads (shared)", "2 threads (handoff)"]);
    /// ```
    pub fn all(setups: &[Setup], engines: &[Engine]) -> Vec<Config> {
        let engines = if engines.is_empty() { &[Engine::default()][..] } else { engines };
        let mut configs: Vec<Config> = Vec::new();
        for &setup in setups {
            let first = configs.len();
            for &engine in engines {
                // Single mode comes out the same on every engine, so once.
                let config = Config::new(setup, engine);
                if !configs[first..].contains(&config) {
                    configs.push(config);
                }
            }
        }
        configs
    }
}

impl From<Setup> for Config {
    /// The setup on the default engine.
    fn from(setup: Setup) -> Config {
        Config::new(setup, Engine::default())
    }
}

impl fmt::Display for Config {
    /// `single`, `1 thread (shared)`, `5 threads (handoff)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.setup {
            Setup::Single => write!(f, "{}", self.setup),
            Setup::Threads(_) => write!(f, "{} ({})", self.setup, self.engine.name()),
        }
    }
}

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
    /// What the bench saw.
    pub report: BenchReport,
}

/// Starts a server for `config` (a [`Config`], or a [`Setup`] on the default engine), runs the
/// workload against it, stops it.
pub fn measure(workload: &Workload, config: impl Into<Config>) -> Result<Row, String> {
    let config = config.into();
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
        ..BenchConfig::new(url)
    };
    let report = bench::run(&bench_config).map_err(|e| e.to_string());
    drop(running);
    Ok(Row { config, report: report? })
}

/// The rows' labels: `5 threads` while every pool runs the default engine (the table reads as
/// it did before there were two), `5 threads (handoff)` as soon as one does not.
fn labels(rows: &[Row]) -> Vec<String> {
    let name_engines =
        rows.iter().any(|r| r.config.setup != Setup::Single && r.config.engine != Engine::default());
    rows.iter()
        .map(|r| if name_engines { r.config.to_string() } else { r.config.setup.to_string() })
        .collect()
}

/// The table and the bar chart, as text.
pub fn render(rows: &[Row], color: bool) -> String {
    let labels = labels(rows);
    let width = labels.iter().map(|l| l.chars().count()).fold(12, usize::max);
    let mut out = format!(
        "{:<width$} {:>10} {:>9} {:>9} {:>8} {:>7}\n",
        "config", "req/s", "p50 ms", "p99 ms", "starved", "errors"
    );
    for (row, label) in rows.iter().zip(&labels) {
        let r = &row.report;
        let (p50, p99) = r.latency.map_or((f64::NAN, f64::NAN), |l| (l.p50_ms, l.p99_ms));
        let starved = r.fairness.starved;
        let starved_text = format!("{starved:>8}");
        let starved_text = if color && starved > 0 { starved_text.red().to_string() } else { starved_text };
        out += &format!(
            "{label:<width$} {:>10.1} {:>9.1} {:>9.1} {starved_text} {:>7}\n",
            r.requests_per_sec,
            p50,
            p99,
            r.total_errors()
        );
    }
    out.push('\n');
    let best = rows.iter().map(|r| r.report.requests_per_sec).fold(0.0, f64::max).max(1e-9);
    for (row, label) in rows.iter().zip(&labels) {
        let rate = row.report.requests_per_sec;
        let bar = "█".repeat(((rate / best) * 40.0).round() as usize);
        let bar = if color { bar.cyan().to_string() } else { bar };
        out += &format!("{label:<width$} {bar} {rate:.1} req/s\n",);
    }
    out
}

/// What the rows say, from their numbers alone (no clock, no server): a pure function, so a
/// test can hand it rows it made up.
///
/// Scaling is read within one engine, like with like: each pool row is set against the row
/// with the fewest workers on the same engine, or against single mode, which has no engine and
/// so serves as the one-worker baseline of every engine. With W workers busy on C connections,
/// at most min(W, C) requests are served at once, so a workload that waits (sleep, I/O) should
/// gain in proportion; a workload that computes stops gaining at the number of cores. The
/// service time comes from Little's law on that first row: requests served at once ÷ requests
/// per second.
///
/// Where two engines ran the same number of workers, a line before that one compares them;
/// when no engine has two rows to set against each other, that line is the whole reading.
pub fn reading(rows: &[Row], connections: usize) -> String {
    if !rows.iter().any(|r| r.report.requests_per_sec > 0.0) {
        return "no request completed: nothing to read".to_string();
    }
    let mut lines: Vec<String> = engine_reading(rows).into_iter().collect();
    let (scaling, compared) = scaling_reading(rows, connections);
    if lines.is_empty() || compared {
        lines.push(scaling);
    }
    let starved: usize = rows.iter().map(|r| r.report.fairness.starved).sum();
    if starved > 0 {
        let last = lines.last_mut().expect("at least one line");
        *last += &format!("; {starved} connections completed nothing (starved)");
    }
    lines.join("\n")
}

/// The scaling line, and whether some engine had two rows to set against each other.
fn scaling_reading(rows: &[Row], connections: usize) -> (String, bool) {
    let labels = labels(rows);
    let mut engines: Vec<Engine> = Vec::new();
    for row in rows.iter().filter(|r| r.config.setup != Setup::Single) {
        if !engines.contains(&row.config.engine) {
            engines.push(row.config.engine);
        }
    }
    if engines.is_empty() {
        engines.push(Engine::default()); // single mode alone: one group, its rows
    }
    let rate = |i: usize| rows[i].report.requests_per_sec;
    // Requests served at once: one in single mode, else one per worker up to one per connection.
    let busy = |i: usize| match rows[i].config.setup {
        Setup::Single => 1.0,
        Setup::Threads(n) => n.min(connections) as f64,
    };
    let (mut service, mut lagging, mut compared) = (Vec::new(), Vec::new(), false);
    for engine in engines {
        // This engine's pools, and single mode: the one-worker baseline of every engine.
        let measured: Vec<usize> = (0..rows.len())
            .filter(|&i| rows[i].config.setup == Setup::Single || rows[i].config.engine == engine)
            .filter(|&i| rate(i) > 0.0)
            .collect();
        let Some(&base) = measured.iter().min_by(|&&a, &&b| busy(a).total_cmp(&busy(b))) else { continue };
        compared |= measured.len() > 1;
        service.push((format!("{:.1} ms", busy(base) * 1000.0 / rate(base)), engine.name()));
        for &i in &measured {
            let (ideal, gain) = (busy(i) / busy(base), rate(i) / rate(base));
            if gain < 0.7 * ideal && !lagging.iter().any(|(j, _)| *j == i) {
                lagging.push((i, format!("{} gains ×{gain:.1}, not ×{ideal:.0}", labels[i])));
            }
        }
    }
    let line = if lagging.is_empty() {
        // One engine, or engines that share their baseline (single mode): one time, unnamed.
        let service = match service.as_slice() {
            [(time, _), rest @ ..] if rest.iter().all(|(t, _)| t == time) => time.clone(),
            _ => service
                .iter()
                .map(|(time, engine)| format!("{time} with {engine}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        format!(
            "throughput ≈ workers ÷ service time ({service}) while workers < connections ({connections}): \
             more workers help as long as the work waits rather than computes"
        )
    } else {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let lagging: Vec<String> = lagging.into_iter().map(|(_, text)| text).collect();
        format!(
            "more workers stop helping ({}): the work needs a core while it runs, and this machine has {cores}",
            lagging.join("; ")
        )
    };
    (line, compared)
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
                let same = rows.iter().filter(|r| r.config == Config::new(setup, engine));
                let measured: Vec<f64> = same.map(|r| r.report.requests_per_sec).collect();
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
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Measures every configuration in turn, printing the table, the chart and the reading at the
/// end.
pub fn compare(
    workload: &Workload,
    configs: &[Config],
    out: &mut dyn Write,
    color: bool,
) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for &config in configs {
        rows.push(measure(workload, config)?);
    }
    write!(out, "{}\n{}\n", render(&rows, color), reading(&rows, workload.connections))
        .map_err(|e| e.to_string())?;
    Ok(rows)
}

/// The interactive loop: reads a thread count, `single` or `q` per line, measures it (a thread
/// count once on each of `engines`), adds the rows and redraws. Works the same with a pipe as
/// with a person at the keyboard.
pub fn interactive(
    workload: &Workload,
    engines: &[Engine],
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    color: bool,
) -> Result<Vec<Row>, String> {
    let io = |e: std::io::Error| e.to_string();
    let mut rows: Vec<Row> = Vec::new();
    loop {
        write!(out, "threads (a number, `single`, or q to quit; default {})> ", default_threads())
            .map_err(io)?;
        out.flush().map_err(io)?;
        let mut line = String::new();
        if input.read_line(&mut line).map_err(io)? == 0 || line.trim() == "q" {
            writeln!(out).map_err(io)?;
            return Ok(rows);
        }
        let text =
            if line.trim().is_empty() { default_threads().to_string() } else { line.trim().to_string() };
        match text.parse::<Setup>() {
            Ok(setup) => {
                for config in Config::all(&[setup], engines) {
                    rows.push(measure(workload, config)?);
                }
                // A stable sort: the engines of one thread count stay in the order given.
                rows.sort_by_key(|r| r.config.setup);
                write!(out, "\n{}\n{}\n\n", render(&rows, color), reading(&rows, workload.connections))
                    .map_err(io)?;
            }
            Err(message) => writeln!(out, "{message}").map_err(io)?,
        }
    }
}
