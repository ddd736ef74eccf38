//! `wsgi-lab compare`: one workload against several server configurations, side by side.
//!
//! Each configuration gets its own server, started in this process on a free port of
//! 127.0.0.1, measured with the [`bench`](mod@super::bench) and stopped. The result is a table, a
//! bar chart of requests per second, and a one-line reading of what the numbers say.

use super::bench::{self, BenchConfig, BenchReport, Progress, Stop};
use crate::App;
use crate::server::{Mode, Options, Server, default_threads};
use colored::Colorize;
use std::fmt;
use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// One server configuration: wsgiref's single thread, or a pool of N workers.
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
    pub setup: Setup,
    /// What the bench saw.
    pub report: BenchReport,
}

/// Starts a server for `setup`, runs the workload against it, stops it.
pub fn measure(workload: &Workload, setup: Setup) -> Result<Row, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    let (mode, threads) = match setup {
        Setup::Single => (Mode::Single, 1),
        Setup::Threads(n) => (Mode::Pool, n),
    };
    let options = Options { threads, quiet: true, ..Options::default() };
    let server =
        Server::from_listener(listener, workload.app.clone(), options, mode).map_err(|e| e.to_string())?;
    let running = server.spawn();
    let url = format!("{}{}", running.url(), workload.path);
    let config = BenchConfig {
        connections: workload.connections,
        stop: Stop::Duration(workload.duration),
        progress: if workload.progress { Progress::Stderr } else { Progress::Quiet },
        ..BenchConfig::new(url)
    };
    let report = bench::run(&config).map_err(|e| e.to_string());
    drop(running);
    Ok(Row { setup, report: report? })
}

/// The table and the bar chart, as text.
pub fn render(rows: &[Row], color: bool) -> String {
    let mut out = format!(
        "{:<12} {:>10} {:>9} {:>9} {:>8} {:>7}\n",
        "config", "req/s", "p50 ms", "p99 ms", "starved", "errors"
    );
    for row in rows {
        let r = &row.report;
        let (p50, p99) = r.latency.map_or((f64::NAN, f64::NAN), |l| (l.p50_ms, l.p99_ms));
        let starved = r.fairness.starved;
        let starved_text = format!("{starved:>8}");
        let starved_text = if color && starved > 0 { starved_text.red().to_string() } else { starved_text };
        out += &format!(
            "{:<12} {:>10.1} {:>9.1} {:>9.1} {starved_text} {:>7}\n",
            row.setup.to_string(),
            r.requests_per_sec,
            p50,
            p99,
            r.total_errors()
        );
    }
    out.push('\n');
    let best = rows.iter().map(|r| r.report.requests_per_sec).fold(0.0, f64::max).max(1e-9);
    for row in rows {
        let rate = row.report.requests_per_sec;
        let bar = "█".repeat(((rate / best) * 40.0).round() as usize);
        let bar = if color { bar.cyan().to_string() } else { bar };
        out += &format!("{:<12} {bar} {rate:.1} req/s\n", row.setup.to_string());
    }
    out
}

/// One line that says what the rows show. Each row is set against the one with the fewest
/// workers: with W workers busy on C connections, at most min(W, C) requests are served at
/// once, so a workload that waits (sleep, I/O) should gain in proportion; a workload that
/// computes stops gaining at the number of cores. The service time comes from Little's law on
/// that first row: requests served at once ÷ requests per second.
pub fn reading(rows: &[Row], connections: usize) -> String {
    let busy = |s: Setup| match s {
        Setup::Single => 1,
        Setup::Threads(n) => n.min(connections),
    };
    let Some(base) = rows.iter().filter(|r| r.report.requests_per_sec > 0.0).min_by_key(|r| busy(r.setup))
    else {
        return "no request completed: nothing to read".to_string();
    };
    let service_ms = busy(base.setup) as f64 * 1000.0 / base.report.requests_per_sec;
    let lagging: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let ideal = busy(r.setup) as f64 / busy(base.setup) as f64;
            let gain = r.report.requests_per_sec / base.report.requests_per_sec;
            (gain < 0.7 * ideal).then(|| format!("{} gains ×{gain:.1}, not ×{ideal:.0}", r.setup))
        })
        .collect();
    let mut line = if lagging.is_empty() {
        format!(
            "throughput ≈ workers ÷ service time ({service_ms:.1} ms) while workers < connections ({connections}): \
             more workers help as long as the work waits rather than computes"
        )
    } else {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        format!(
            "more workers stop helping ({}): the work needs a core while it runs, and this machine has {cores}",
            lagging.join("; ")
        )
    };
    let starved: usize = rows.iter().map(|r| r.report.fairness.starved).sum();
    if starved > 0 {
        line += &format!("; {starved} connections completed nothing (starved)");
    }
    line
}

/// Measures every setup in turn, printing the table, the chart and the reading at the end.
pub fn compare(
    workload: &Workload,
    setups: &[Setup],
    out: &mut dyn Write,
    color: bool,
) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for &setup in setups {
        rows.push(measure(workload, setup)?);
    }
    write!(out, "{}\n{}\n", render(&rows, color), reading(&rows, workload.connections))
        .map_err(|e| e.to_string())?;
    Ok(rows)
}

/// The interactive loop: reads a thread count, `single` or `q` per line, measures it, adds a
/// row and redraws. Works the same with a pipe as with a person at the keyboard.
pub fn interactive(
    workload: &Workload,
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
                rows.push(measure(workload, setup)?);
                rows.sort_by_key(|r| r.setup);
                write!(out, "\n{}\n{}\n\n", render(&rows, color), reading(&rows, workload.connections))
                    .map_err(io)?;
            }
            Err(message) => writeln!(out, "{message}").map_err(io)?,
        }
    }
}
