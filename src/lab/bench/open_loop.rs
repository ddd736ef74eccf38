//! What an open-loop bench adds to the report: the rate asked for, how well the generator kept
//! its schedule, and latency measured twice, from the time each request was *due* and from
//! the time it was actually *sent*.
//!
//! Why twice: when a server stalls, a closed loop (and an open loop that measures from the
//! send) simply waits, so the requests that would have arrived during the stall are never
//! measured: "coordinated omission". Measured from the schedule, each of them counts the wait
//! a real user arriving at that moment would have had.

use super::BenchReport;
use colored::Colorize;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::fmt;

/// A send this much after its scheduled time counts as late.
pub const LATE_AFTER_MS: f64 = 1.0;

/// The WARNING line appears when more than this fraction of the sends were late (or of the
/// scheduled requests were never sent).
pub const LATE_FRACTION_WARNING: f64 = 0.01;

/// The upper edges of the text histogram's buckets, in microseconds: 1-2-5 steps, so each
/// bucket is about as wide as all the ones below it together (log-scaled).
const EDGES_US: [u64; 16] = [
    100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000,
    2_000_000, 5_000_000, 10_000_000,
];

/// The longest bar of the text histogram, in characters.
const BAR_WIDTH: usize = 40;

/// Latency percentiles, in milliseconds.
///
/// ```
/// let tail = wsgi_lab::lab::bench::Tail { p50_ms: 0.2, p90_ms: 0.4, p99_ms: 1.0, p999_ms: 2.0, max_ms: 3.5 };
/// assert!(tail.p99_ms <= tail.p999_ms);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tail {
    /// Half the requests took at most this long.
    pub p50_ms: f64,
    /// 90 % took at most this long.
    pub p90_ms: f64,
    /// 99 % took at most this long.
    pub p99_ms: f64,
    /// 99.9 % took at most this long.
    pub p999_ms: f64,
    /// The slowest request.
    pub max_ms: f64,
}

impl Tail {
    /// The percentiles of a histogram of microseconds; `None` when it is empty.
    pub(super) fn of(histogram: &Histogram<u64>) -> Option<Tail> {
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        (!histogram.is_empty()).then(|| Tail {
            p50_ms: ms(0.50),
            p90_ms: ms(0.90),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: histogram.max() as f64 / 1000.0,
        })
    }
}

/// One bar of the text histogram: how many requests took at most `up_to_ms` (and more than
/// the previous bucket's edge). `up_to_ms` is `None` for the last bucket, "more than 10 s".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bucket {
    /// The bucket's upper edge, in milliseconds; `None` above the last edge.
    pub up_to_ms: Option<f64>,
    /// Requests in the bucket.
    pub count: u64,
}

/// Counts a histogram of microseconds into the log-scaled buckets, from the first non-empty
/// bucket to the last. Values are compared at the histogram's precision (3 significant
/// digits), so a value within 0.1 % of an edge may land on either side of it.
pub(super) fn buckets(histogram: &Histogram<u64>) -> Vec<Bucket> {
    let mut counts = [0u64; EDGES_US.len() + 1];
    for value in histogram.iter_recorded() {
        let v = histogram.lowest_equivalent(value.value_iterated_to());
        let index = EDGES_US.iter().position(|&edge| v <= edge).unwrap_or(EDGES_US.len());
        counts[index] += value.count_at_value();
    }
    let (Some(first), Some(last)) = (counts.iter().position(|&n| n > 0), counts.iter().rposition(|&n| n > 0))
    else {
        return Vec::new();
    };
    (first..=last)
        .map(|i| Bucket { up_to_ms: EDGES_US.get(i).map(|&us| us as f64 / 1000.0), count: counts[i] })
        .collect()
}

/// What an open-loop bench measured beyond a [`BenchReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenLoop {
    /// The arrival rate asked for, requests per second across all connections.
    pub rate_asked: f64,
    /// Requests whose scheduled time fell inside the measured window.
    pub due: u64,
    /// Requests actually sent (a request whose connection could not be opened is not sent).
    pub sent: u64,
    /// Sends more than [`LATE_AFTER_MS`] after their scheduled time, because the connection
    /// was still waiting for an earlier response (or the generator itself was slow).
    pub late: u64,
    /// Of the late sends, those whose connection already had its previous response by their
    /// scheduled time: the delay was the generator's own (its threads slow to wake or to
    /// get a CPU), not a wait for the server, and the latency from the schedule overstates
    /// the server's by that much.
    pub late_idle: u64,
    /// Requests that were due but whose time had not even been reached by their connection
    /// when the bench ended: they are in no latency figure at all.
    pub never_sent: u64,
    /// Latency from the scheduled time to the response's last byte (corrected for
    /// coordinated omission); `None` when nothing completed.
    pub from_schedule: Option<Tail>,
    /// Latency from the request's first byte sent to the response's last byte (what a
    /// closed loop reports); `None` when nothing completed.
    pub from_send: Option<Tail>,
    /// The text histogram's buckets, of the latency from the schedule.
    pub histogram: Vec<Bucket>,
}

impl OpenLoop {
    /// Whether the generator fell behind its schedule enough to say so: more than 1 % of
    /// the sends late, or more than 1 % of the due requests never sent.
    pub fn fell_behind(&self) -> bool {
        self.late as f64 > LATE_FRACTION_WARNING * self.sent as f64
            || self.never_sent as f64 > LATE_FRACTION_WARNING * self.due as f64
    }

    /// The latency lines of the text report (they replace the closed loop's single line).
    pub(super) fn render_latency(&self, color: bool) -> String {
        let (Some(s), Some(f)) = (&self.from_schedule, &self.from_send) else {
            return "  latency    none measured (no request completed)\n".to_string();
        };
        let mut out = format!(
            "  latency    p99 {:.2} ms (from the schedule) · {:.2} ms (from the send)\n",
            s.p99_ms, f.p99_ms
        );
        out += &format!(
            "             from the schedule: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms\n",
            s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms
        );
        out += &format!(
            "             from the send:     p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms\n",
            f.p50_ms, f.p90_ms, f.p99_ms, f.p999_ms, f.max_ms
        );
        out += "  histogram  latency from the schedule, ms (# bars proportional to counts)\n";
        let most = self.histogram.iter().map(|b| b.count).max().unwrap_or(0).max(1);
        let total: u64 = self.histogram.iter().map(|b| b.count).sum();
        let last_edge = EDGES_US[EDGES_US.len() - 1] as f64 / 1000.0;
        for bucket in &self.histogram {
            let label = match bucket.up_to_ms {
                Some(ms) => format!("≤ {ms}"),
                None => format!("> {last_edge}"),
            };
            let bar = "#".repeat((bucket.count as f64 / most as f64 * BAR_WIDTH as f64).round() as usize);
            let share = 100.0 * bucket.count as f64 / total.max(1) as f64;
            out += &format!("    {label:>9}  {bar:<BAR_WIDTH$}  {} ({share:.1} %)\n", bucket.count);
        }
        out += &format!(
            "  schedule   {} sent of {} due; {} sent more than {LATE_AFTER_MS} ms late ({} of them with the connection idle at their time); {} never sent\n",
            self.sent, self.due, self.late, self.late_idle, self.never_sent
        );
        if self.fell_behind() {
            let mut warning = format!(
                "the generator fell behind its schedule: {} of {} requests were sent late; the corrected latencies include that wait",
                self.late, self.sent
            );
            if self.never_sent > 0 {
                warning += &format!(
                    "; {} more were due but never sent before the end, and are in no latency figure",
                    self.never_sent
                );
            }
            if self.late_idle as f64 > LATE_FRACTION_WARNING * self.sent as f64 {
                warning += &format!(
                    "; {} of the late ones found their connection idle, so the generator itself was slow to send them and the latency from the schedule overstates the server's: try a lower rate or fewer connections",
                    self.late_idle
                );
            }
            let word = if color { "WARNING".yellow().bold().to_string() } else { "WARNING".to_string() };
            out += &format!("  {word} {warning}\n");
        }
        out
    }
}

/// The report of an open-loop bench (see [`super::run_open_loop`]): the common part, whose
/// `latency` is measured from the send, and the open loop's own figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenLoopReport {
    /// Counts, statuses, errors and fairness, as in a closed-loop bench.
    pub report: BenchReport,
    /// Rate, schedule keeping and the two latencies.
    pub open_loop: OpenLoop,
}

impl OpenLoopReport {
    /// The report as JSON: the closed loop's fields, plus an `open_loop` object.
    pub fn to_json(&self) -> serde_json::Value {
        let mut json = self.report.to_json();
        json["open_loop"] = serde_json::to_value(&self.open_loop).expect("a report is plain data");
        json
    }

    /// The report as text, with colours if `color`.
    pub fn render(&self, color: bool) -> String {
        self.report.render_with(color, Some(&self.open_loop))
    }
}

impl fmt::Display for OpenLoopReport {
    /// The plain-text report ([`OpenLoopReport::render`] without colour).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values_us: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for &v in values_us {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn buckets_run_from_the_first_non_empty_to_the_last() {
        let b = buckets(&histogram(&[150, 180, 900, 1_000, 4_000, 30_000_000]));
        let edges: Vec<Option<f64>> = b.iter().map(|b| b.up_to_ms).collect();
        assert_eq!(edges[0], Some(0.2));
        assert_eq!(edges[1], Some(0.5));
        assert_eq!(edges.last(), Some(&None), "30 s is above the last edge");
        let counts: Vec<u64> = b.iter().map(|b| b.count).collect();
        assert_eq!(&counts[..4], &[2, 0, 2, 0], "≤0.2: 150 and 180; ≤1: 900 and 1000 (edges inclusive)");
        assert_eq!(counts[4], 1, "≤5: 4000");
        assert_eq!(counts.iter().sum::<u64>(), 6);
        assert!(buckets(&histogram(&[])).is_empty());
    }

    #[test]
    fn the_warning_needs_more_than_one_percent() {
        let open = |late, never_sent| OpenLoop {
            rate_asked: 100.0,
            due: 1000,
            sent: 1000,
            late,
            late_idle: 0,
            never_sent,
            from_schedule: None,
            from_send: None,
            histogram: Vec::new(),
        };
        assert!(!open(10, 0).fell_behind());
        assert!(open(11, 0).fell_behind());
        assert!(open(0, 11).fell_behind());
    }
}
