//! Every row of a comparison as data: one [`Record`] per row, written as JSON (`--json FILE`)
//! or CSV (`--csv FILE`) with the same fields in the same order, for a spreadsheet or a script.
//!
//! A record carries what the table prints, unrounded, plus the verdict: a row with failures is
//! exported too, and says `FAILED`, so its rate is never taken for a rate of serving.

use super::{Row, Setup};
use serde::Serialize;

/// One row as data. Single mode has no engine and no pool: `engine` and `threads` are empty
/// (`null` in JSON), never a made-up value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// The configuration, as the table names it with its engine: `5 threads (handoff)`; an
    /// external server's as the table names it: `waitress-serve, 4 threads`, or its URL.
    pub config: String,
    /// The pool's engine; none in single mode and for an external server.
    pub engine: Option<String>,
    /// Concurrent keep-alive connections of the bench.
    pub connections: usize,
    /// The pool's workers; none in single mode.
    pub threads: Option<usize>,
    /// Successful (2xx/3xx) responses per second.
    pub ok_per_sec: f64,
    /// Latency percentiles and maximum, in milliseconds; none if no response came back.
    pub p50_ms: Option<f64>,
    /// See `p50_ms`.
    pub p90_ms: Option<f64>,
    /// See `p50_ms`.
    pub p99_ms: Option<f64>,
    /// See `p50_ms`.
    pub max_ms: Option<f64>,
    /// Responses with a status other than 2xx/3xx.
    pub not_2xx_3xx: u64,
    /// Requests that got no valid response.
    pub errors: u64,
    /// Connections that completed nothing.
    pub starved: usize,
    /// `OK`, or `FAILED` if any request failed.
    pub verdict: &'static str,
}

/// The column names, in the order of [`Record`]'s fields and of each CSV line.
pub const COLUMNS: [&str; 13] = [
    "config",
    "engine",
    "connections",
    "threads",
    "ok_per_sec",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
    "not_2xx_3xx",
    "errors",
    "starved",
    "verdict",
];

impl From<&Row> for Record {
    fn from(row: &Row) -> Record {
        let threads = match row.config.setup {
            Setup::Single => None,
            Setup::Threads(n) => Some(n),
        };
        let latency = row.report.latency;
        Record {
            config: match &row.server {
                Some(server) => super::servers::label(server, row.config.setup),
                None => row.config.to_string(),
            },
            engine: threads.filter(|_| row.server.is_none()).map(|_| row.config.engine.name().to_string()),
            connections: row.report.connections,
            threads,
            ok_per_sec: row.ok_per_sec(),
            p50_ms: latency.map(|l| l.p50_ms),
            p90_ms: latency.map(|l| l.p90_ms),
            p99_ms: latency.map(|l| l.p99_ms),
            max_ms: latency.map(|l| l.max_ms),
            not_2xx_3xx: row.failed_statuses(),
            errors: row.errors(),
            starved: row.report.fairness.starved,
            verdict: if row.failed() { "FAILED" } else { "OK" },
        }
    }
}

/// The rows as a JSON array of [`Record`]s.
pub fn to_json(rows: &[Row]) -> String {
    let records: Vec<Record> = rows.iter().map(Record::from).collect();
    serde_json::to_string_pretty(&records).expect("records are plain data") + "\n"
}

/// The rows as CSV: a line of [`COLUMNS`], then a line per row; an absent value is an empty
/// field. A field with a comma or a quote (an external server's label, a URL) is quoted, its
/// quotes doubled (RFC 4180).
pub fn to_csv(rows: &[Row]) -> String {
    let opt = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
    let mut out = COLUMNS.join(",") + "\n";
    for r in rows.iter().map(Record::from) {
        let fields = [
            quote(r.config),
            r.engine.unwrap_or_default(),
            r.connections.to_string(),
            r.threads.map(|n| n.to_string()).unwrap_or_default(),
            r.ok_per_sec.to_string(),
            opt(r.p50_ms),
            opt(r.p90_ms),
            opt(r.p99_ms),
            opt(r.max_ms),
            r.not_2xx_3xx.to_string(),
            r.errors.to_string(),
            r.starved.to_string(),
            r.verdict.to_string(),
        ];
        out += &(fields.join(",") + "\n");
    }
    out
}

/// `a, b` → `"a, b"`; a field without a comma, quote or line break as it is.
fn quote(field: String) -> String {
    match field.contains([',', '"', '\n', '\r']) {
        true => format!("\"{}\"", field.replace('"', "\"\"")),
        false => field,
    }
}
