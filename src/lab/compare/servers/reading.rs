//! What the rows of `compare --server` say, beyond what [`grid_reading`] reads of every
//! server's scaling: a line for each server that runs one row (werkzeug, wsgiref), and for
//! computing work the line that explains Python threads that did not scale, the interpreter
//! lock. A pure function of the rows and the cores, as `compare`'s own reading is.

use super::{Server, Workers};
use crate::lab::compare::reading::and_list;
use crate::lab::compare::{Row, Setup, grid_reading, labels};

/// What the rows of `--server` say: the failures if any (then nothing else); then, for each
/// connection count on its own (as [`grid_reading`] reads them), each server's scaling, a line
/// for each one-row server and, when `computing` (the `cpu` app) and a Python server's threads
/// did not scale where there was room to, the line that says why.
pub fn reading(rows: &[Row], computing: bool, cores: usize) -> String {
    if rows.iter().any(Row::failed) || rows.is_empty() {
        return grid_reading(rows, cores);
    }
    let mut counts: Vec<usize> = rows.iter().map(|r| r.report.connections).collect();
    counts.sort_unstable();
    counts.dedup();
    if let [_] = counts[..] {
        return count_reading(rows, computing, cores);
    }
    let mut out = Vec::new();
    for connections in counts {
        let group: Vec<Row> = rows.iter().filter(|r| r.report.connections == connections).cloned().collect();
        out.push(format!("with {}:", plural(connections, "connection")));
        out.extend(count_reading(&group, computing, cores).lines().map(|line| format!("  {line}")));
    }
    out.join("\n")
}

/// [`reading`] of rows that all ran one connection count.
fn count_reading(rows: &[Row], computing: bool, cores: usize) -> String {
    let pools: Vec<Row> = rows.iter().filter(|r| r.config.setup != Setup::Single).cloned().collect();
    let mut lines: Vec<String> = Vec::new();
    if !pools.is_empty() {
        lines.push(grid_reading(&pools, cores));
    }
    lines.extend(rows.iter().zip(labels(rows)).filter_map(|(row, label)| one_row(row, &label)));
    if computing {
        lines.extend(interpreter_lock(rows, cores));
    }
    lines.join("\n")
}

/// The line for a row of werkzeug or wsgiref, servers whose workers `--threads` does not set:
/// Little's law with the requests they serve at once.
fn one_row(row: &Row, label: &str) -> Option<String> {
    let server = row.server.as_deref()?.parse::<Server>().ok()?;
    let connections = row.report.connections;
    let rate = row.ok_per_sec();
    let (in_service, limit) = match server.workers() {
        Workers::Single => (1, "its one thread is the limit, whatever the connections".to_string()),
        Workers::PerConnection => (
            connections,
            format!(
                "it starts a thread for each connection, so --threads does not apply: its workers, and \
                 its limit, are the {}",
                plural(connections, "connection")
            ),
        ),
        _ => return None,
    };
    if rate == 0.0 {
        return Some(format!("{label}: completed no request"));
    }
    let service_ms = in_service as f64 * 1000.0 / rate;
    let mut line = format!(
        "{label}: {} in service at a time ÷ {rate:.1} req/s = {service_ms:.1} ms per request \
         (Little's law): {limit}",
        plural(in_service, "request")
    );
    if row.report.fairness.starved > 0 {
        line += &format!("; {} connections completed nothing (starved)", row.report.fairness.starved);
    }
    Some(line)
}

/// `1 request`, `4 requests`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// A gain under this, where the cores and the connections left room for at least twice the
/// work, is no gain: threads that compute one at a time.
const NO_GAIN: f64 = 1.3;

/// For computing work: the Python thread servers whose rows did not gain where the cores and
/// the connections left room (at each connection count), in one line that names the
/// interpreter lock, set beside the servers that did gain on the same work. Nothing if no
/// Python thread server shows it.
fn interpreter_lock(rows: &[Row], cores: usize) -> Option<String> {
    // (server, best gain where the room at least doubled, its label): per server and count.
    let mut gains: Vec<(Server, f64, String)> = Vec::new();
    let labels = labels(rows);
    for (i, row) in rows.iter().enumerate() {
        let (Some(name), Setup::Threads(n)) = (row.server.as_deref(), row.config.setup) else { continue };
        // `wsgi-lab (handoff)` is wsgi-lab on an engine.
        let Ok(server) = name.split(" (").next().unwrap_or(name).parse::<Server>() else { continue };
        let same = |r: &&Row| r.server == row.server && r.report.connections == row.report.connections;
        let fewest = rows.iter().filter(same).filter_map(|r| match r.config.setup {
            Setup::Threads(m) => Some((m, r.ok_per_sec())),
            Setup::Single => None,
        });
        let Some((base, base_rate)) = fewest.min_by_key(|(m, _)| *m) else { continue };
        let room = |m: usize| m.min(row.report.connections).min(cores);
        if base_rate == 0.0 || room(n) < 2 * room(base) {
            continue;
        }
        let gain = row.ok_per_sec() / base_rate;
        match gains.iter_mut().find(|(s, _, _)| *s == server) {
            Some(best) if best.1 >= gain => {}
            Some(best) => *best = (server, gain, labels[i].clone()),
            None => gains.push((server, gain, labels[i].clone())),
        }
    }
    let locked: Vec<&(Server, f64, String)> =
        gains.iter().filter(|(s, g, _)| s.workers() == Workers::Threads && *g < NO_GAIN).collect();
    if locked.is_empty() {
        return None;
    }
    let each: Vec<String> = locked.iter().map(|(_, g, label)| format!("{label} ×{g:.1}")).collect();
    let mut line = format!(
        "{}: threads in CPython share one interpreter lock (the GIL), so only one of them runs Python \
         code at a time, and computing work gains nothing from more of them",
        each.join(", ")
    );
    let others: Vec<String> = gains
        .iter()
        .filter(|(s, g, _)| matches!(s.workers(), Workers::Processes | Workers::Ours) && *g >= NO_GAIN)
        .map(|(s, g, label)| match s.workers() {
            Workers::Processes => format!("processes each have their own ({label} ×{g:.1})"),
            _ => format!("wsgi-lab's threads have none ({label} ×{g:.1})"),
        })
        .collect();
    if !others.is_empty() {
        line += &format!("; {}", and_list(&others));
    }
    Some(line)
}
