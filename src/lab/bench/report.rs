//! What a bench found, as data (`to_json`, for `--json` and `compare`) and as text for a
//! person (`render`). Colour only decorates: every verdict is also a word (OK, ERROR,
//! STARVED), so the report means the same in a log file or to a reader who cannot see red.

use super::OpenLoop;
use colored::Colorize;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Why a request failed.
///
/// ```
/// use wsgi_lab::lab::bench::ErrorKind;
/// assert_eq!(ErrorKind::Timeout.name(), "timeout");
/// assert_eq!(ErrorKind::ALL.len(), 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// The connection could not be opened (refused, unreachable, timed out).
    Connect,
    /// No complete response within the per-request timeout.
    Timeout,
    /// The connection was reset or closed before the response was complete.
    Reset,
    /// The bytes received are not a valid HTTP/1.x response.
    Malformed,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 4] =
        [ErrorKind::Connect, ErrorKind::Timeout, ErrorKind::Reset, ErrorKind::Malformed];

    /// The kind's position in [`ErrorKind::ALL`].
    ///
    /// ```
    /// use wsgi_lab::lab::bench::ErrorKind;
    /// assert_eq!(ErrorKind::ALL[ErrorKind::Reset.index()], ErrorKind::Reset);
    /// ```
    pub fn index(self) -> usize {
        self as usize
    }

    /// The lowercase name used in the text and JSON reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::Malformed => "malformed",
        }
    }
}

/// Latency of completed requests, in milliseconds, from the request's first byte sent to the
/// response's last byte received.
///
/// ```
/// let latency = wsgi_lab::lab::bench::Latency { p50_ms: 0.2, p90_ms: 0.4, p99_ms: 1.0, max_ms: 3.5 };
/// assert!(latency.p50_ms <= latency.p99_ms);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Half the requests took at most this long.
    pub p50_ms: f64,
    /// 90 % took at most this long.
    pub p90_ms: f64,
    /// 99 % took at most this long: the tail a user notices.
    pub p99_ms: f64,
    /// The slowest request.
    pub max_ms: f64,
}

/// How evenly the server shared itself among the connections: completions per connection.
/// A fair server keeps min, median and max close; a connection with zero completions was
/// starved (it waited the whole run while others were served).
///
/// ```
/// let fairness = wsgi_lab::lab::bench::Fairness::from_counts(vec![5, 0, 7, 6]);
/// assert_eq!((fairness.min, fairness.median, fairness.max, fairness.starved), (0, 5.5, 7, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fairness {
    /// Completed requests of each connection, in connection order.
    pub per_connection: Vec<u64>,
    /// The fewest completions of any connection.
    pub min: u64,
    /// The median (the mean of the two middle values for an even count).
    pub median: f64,
    /// The most completions of any connection.
    pub max: u64,
    /// Connections that completed nothing.
    pub starved: usize,
}

impl Fairness {
    /// The summary of per-connection completion counts.
    pub fn from_counts(per_connection: Vec<u64>) -> Fairness {
        let mut sorted = per_connection.clone();
        sorted.sort_unstable();
        let n = sorted.len();
        let median = match n {
            0 => 0.0,
            _ if n % 2 == 1 => sorted[n / 2] as f64,
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0,
        };
        Fairness {
            min: sorted.first().copied().unwrap_or(0),
            max: sorted.last().copied().unwrap_or(0),
            median,
            starved: sorted.iter().filter(|&&c| c == 0).count(),
            per_connection,
        }
    }
}

/// Everything a bench measured. Build one with [`super::run`]; print it with `{}` or
/// [`BenchReport::render`]; serialise it with [`BenchReport::to_json`].
///
/// ```
/// use std::collections::BTreeMap;
/// use std::time::Duration;
/// use wsgi_lab::lab::bench::{BenchReport, Fairness};
/// let report = BenchReport {
///     url: "http://127.0.0.1:8200/".into(),
///     connections: 2,
///     keep_alive: true,
///     duration: Duration::from_secs(2),
///     completed: 10,
///     requests_per_sec: 5.0,
///     latency: None,
///     statuses: BTreeMap::from([(200, 10)]),
///     errors: BTreeMap::new(),
///     first_errors: BTreeMap::new(),
///     bytes_received: 1000,
///     reconnects: 0,
///     in_flight: 0,
///     fairness: Fairness::from_counts(vec![10, 0]),
/// };
/// assert!(report.to_string().contains("1 of 2 connections STARVED"));
/// assert!(report.render(false).contains("200 × 10 OK"));
/// assert_eq!(report.to_json()["fairness"]["starved"], 1);
/// assert_eq!(report.total_errors(), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// The URL benched.
    pub url: String,
    /// Connections used (each one a thread running a closed loop).
    pub connections: usize,
    /// Whether connections were kept open between requests.
    pub keep_alive: bool,
    /// The measured time: the configured duration, or until the last of N requests ended.
    #[serde(rename = "duration_secs", serialize_with = "as_secs")]
    pub duration: Duration,
    /// Requests that received a complete response in time (any status).
    pub completed: u64,
    /// `completed / duration`.
    pub requests_per_sec: f64,
    /// Latency of the completed requests; `None` when none completed.
    pub latency: Option<Latency>,
    /// How many responses had each status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Failed requests by cause; every kind is present, zero or not.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// The first error of each kind that happened, in words (`"Connection reset by peer"`).
    pub first_errors: BTreeMap<ErrorKind, String>,
    /// Bytes read from the network, response heads included.
    pub bytes_received: u64,
    /// Connections opened again after the server closed one (or after an error). In
    /// no-keep-alive mode that is one per request.
    pub reconnects: u64,
    /// Requests sent but not answered when the time was up; not counted as completed.
    pub in_flight: u64,
    /// Completions per connection, and the starved ones.
    pub fairness: Fairness,
}

fn as_secs<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

impl BenchReport {
    /// The report as JSON, for `--json` and for tools that compare runs.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a report is plain data")
    }

    /// Failed requests of all kinds.
    pub fn total_errors(&self) -> u64 {
        self.errors.values().sum()
    }

    /// The report as text, with colours if `color` (and if the `colored` crate agrees:
    /// it honours `NO_COLOR` and stays plain when stdout is not a terminal).
    pub fn render(&self, color: bool) -> String {
        self.render_with(color, None)
    }

    /// The text report; an open-loop bench's latency lines replace the single one.
    pub(super) fn render_with(&self, color: bool, open: Option<&OpenLoop>) -> String {
        let paint = |text: &str, good: bool| match (color, good) {
            (false, _) => text.to_string(),
            (true, true) => text.green().bold().to_string(),
            (true, false) => text.red().bold().to_string(),
        };
        let mode = if self.keep_alive { "keep-alive" } else { "a new connection per request" };
        let (open_mode, asked) = match open {
            Some(o) => (
                format!(", open loop at {:.1} requests/s", o.rate_asked),
                format!(" (asked {:.1})", o.rate_asked),
            ),
            None => (String::new(), String::new()),
        };
        let mut out = format!(
            "Bench of {}: {} connections, {mode}{open_mode}, {:.2} s\n",
            self.url,
            self.connections,
            self.duration.as_secs_f64()
        );
        out += &format!(
            "  requests   {} completed, {:.1} requests/s{asked}; {} still in flight at the end (not counted)\n",
            self.completed, self.requests_per_sec, self.in_flight
        );
        out += &match (open, &self.latency) {
            (Some(o), _) => o.render_latency(color),
            (None, Some(l)) => format!(
                "  latency    p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n",
                l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
            ),
            (None, None) => "  latency    none measured (no request completed)\n".to_string(),
        };
        let statuses: Vec<String> = (self.statuses.iter())
            .map(|(status, n)| {
                let word = if *status < 400 { paint("OK", true) } else { paint("ERROR", false) };
                format!("{status} × {n} {word}")
            })
            .collect();
        let statuses = if statuses.is_empty() { "none".to_string() } else { statuses.join(", ") };
        out += &format!("  statuses   {statuses}\n");
        let errors = if self.total_errors() == 0 {
            format!("none {}", paint("OK", true))
        } else {
            let kinds: Vec<String> = (self.errors.iter())
                .filter(|(_, n)| **n > 0)
                .map(|(kind, n)| format!("{} {n}", kind.name()))
                .collect();
            format!("{} {}", kinds.join(", "), paint("ERROR", false))
        };
        out += &format!("  errors     {errors}\n");
        for (kind, words) in &self.first_errors {
            out += &format!("             first {}: {words}\n", kind.name());
        }
        out += &format!(
            "  received   {} ({}/s), {} reconnects\n",
            bytes(self.bytes_received as f64),
            bytes(self.bytes_received as f64 / self.duration.as_secs_f64().max(1e-9)),
            self.reconnects
        );
        let f = &self.fairness;
        let verdict = if f.starved == 0 {
            paint("OK, none starved", true)
        } else {
            let starved = format!("{} of {} connections STARVED", f.starved, f.per_connection.len());
            format!("{} (completed nothing)", paint(&starved, false))
        };
        out += &format!(
            "  fairness   per connection min {}, median {}, max {}: {verdict}\n",
            f.min, f.median, f.max
        );
        out
    }
}

impl fmt::Display for BenchReport {
    /// The plain-text report ([`BenchReport::render`] without colour).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// `1536` → `1.5 KiB`.
fn bytes(n: f64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{value:.0} {}", UNITS[0]) } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0), "3.0 MiB");
    }

    #[test]
    fn fairness_of_no_connections_is_zero() {
        let f = Fairness::from_counts(vec![]);
        assert_eq!((f.min, f.median, f.max, f.starved), (0, 0.0, 0, 0));
    }
}
