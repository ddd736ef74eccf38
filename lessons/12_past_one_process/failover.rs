//! Lesson 12, section 3: one process stops in the middle of a run. What the clients see, and
//! how nginx's `max_fails` and `fail_timeout` take the process out of the rotation, first with
//! nginx's retry turned off (the failures reach the clients), then with its default retry.

use crate::balancer::{Balancer, FAIL_TIMEOUT_SECS, Log};
use crate::common::{check, heading};
use crate::{CONNECTIONS, Lesson, bench, failures, now};
use std::time::Duration;

/// One run: the bench's report, nginx's log, when the process was stopped and its port.
struct Stopped {
    report: wsgi_lab::lab::bench::BenchReport,
    log: Log,
    started: f64,
    killed: f64,
    victim: u16,
}

impl Stopped {
    /// Attempts at the stopped process that failed, within `settle` s of the stop (the
    /// requests it had in flight) and later (nginx trying it again).
    fn failed_attempts(&self, settle: f64) -> (usize, usize) {
        let attempts = self
            .log
            .entries
            .iter()
            .filter(|e| e.tried.iter().any(|&(p, s)| p == self.victim && s.is_some_and(|s| s >= 500)));
        let (mut at_stop, mut later) = (0, 0);
        for entry in attempts {
            match entry.at <= self.killed + settle {
                true => at_stop += 1,
                false => later += 1,
            }
        }
        (at_stop, later)
    }

    /// Requests completed per second before the stop and after it (leaving out the moment).
    fn rates(&self) -> (f64, f64) {
        let end = self.log.entries.iter().map(|e| e.at).fold(self.killed, f64::max);
        let count =
            |from: f64, to: f64| self.log.entries.iter().filter(|e| e.at > from && e.at <= to).count();
        let before = count(self.started, self.killed) as f64 / (self.killed - self.started).max(1e-3);
        let after = count(self.killed + 0.2, end) as f64 / (end - self.killed - 0.2).max(1e-3);
        (before, after)
    }
}

/// Starts `n` cpu processes behind nginx (round-robin), runs the bench, and kills the last
/// process a quarter of the way in.
fn run(lesson: &mut Lesson, n: usize, retry: bool, duration: Duration) -> Result<Stopped, String> {
    let ports = (0..n).map(|_| lesson.start("cpu", 0, &[])).collect::<Result<Vec<u16>, String>>()?;
    let victim_index = lesson.fleet.count().0 - 1;
    let nginx = lesson.nginx(Balancer::RoundRobin, &ports, retry)?;
    let url = nginx.url(&lesson.cpu_path(1));
    let label = format!("{n} processes, one stopped · retry {}", if retry { "on" } else { "off" });
    let started = now();
    let fleet = &mut lesson.fleet;
    let (report, killed) = std::thread::scope(|scope| {
        let running = scope.spawn(move || bench(url, CONNECTIONS, duration, label));
        std::thread::sleep(duration / 4);
        fleet.kill(victim_index);
        let killed = now();
        (running.join().unwrap_or_else(|_| Err("the bench panicked".into())), killed)
    });
    let log = nginx.stop();
    Ok(Stopped { report: report?, log, started, killed, victim: ports[n - 1] })
}

pub fn one_process_stops(lesson: &mut Lesson) -> Result<(), String> {
    heading("3. One process stops in the middle of a run");
    let n = if lesson.quick { 2 } else { 4 };
    let duration = Duration::from_secs_f64(if lesson.quick { 3.0 } else { 6.0 });
    let after = duration.as_secs_f64() * 3.0 / 4.0;
    let timeout = FAIL_TIMEOUT_SECS as f64;
    println!(
        "{n} processes behind nginx (round-robin), each listed with max_fails=1 fail_timeout={FAIL_TIMEOUT_SECS}s:\n\
         one failed attempt takes a process out for {FAIL_TIMEOUT_SECS} s, then nginx tries it again with one\n\
         request (nginx notes the failure's time in whole seconds, so \"{FAIL_TIMEOUT_SECS} s\" lasts {FAIL_TIMEOUT_SECS} to {} s).\n\
         A bench of {CONNECTIONS} connections runs {:.0} s; a quarter of the way in, the lesson kills one\n\
         process (SIGKILL, as a crash or the OOM killer would). nginx's access log tells, for every\n\
         request, which processes it tried and what each answered.",
        FAIL_TIMEOUT_SECS + 1,
        duration.as_secs_f64()
    );

    println!("\n(a) proxy_next_upstream off: nginx does not retry, so clients see every failure");
    let off = run(lesson, n, false, duration)?;
    let (at_stop, later) = off.failed_attempts(0.2);
    let got_502 = off.report.statuses.get(&502).copied().unwrap_or(0);
    let after_stop = off.log.entries.iter().filter(|e| e.at > off.killed).count();
    println!(
        "clients: {} requests completed, {got_502} of them 502 Bad Gateway, {} transport errors\n\
         failed attempts at the stopped process: {at_stop} at the stop (the requests it had in flight),\n\
         {later} in the {after:.1} s after it (nginx trying it again); {after_stop} requests were made after the stop",
        off.report.completed,
        off.report.total_errors()
    );
    check(got_502 > 0, &format!("the stop reached the clients: {got_502} got 502"));
    // After the first failures nginx tries it again once every 1 to 2 fail_timeouts.
    let (low, high) = ((after / (timeout + 1.0)).floor(), (after / timeout).floor() + 1.0);
    let share = after_stop / n;
    let words = format!(
        "max_fails took it out: {later} failed attempts after the stop, predicted one every {FAIL_TIMEOUT_SECS} to {} s, {low}–{high} (not the ~{share} of a process's turn)",
        FAIL_TIMEOUT_SECS + 1
    );
    check((low..=high).contains(&(later as f64)), &words);

    println!(
        "\n(b) nginx's default, proxy_next_upstream error timeout: a failed attempt is retried elsewhere"
    );
    let on = run(lesson, n, true, duration)?;
    let (at_stop, later) = on.failed_attempts(0.2);
    println!(
        "clients: {} requests completed, {} failed; nginx retried {} requests on another process\n\
         ({at_stop} at the stop, {later} after it)",
        on.report.completed,
        failures(&on.report),
        on.log.retried()
    );
    let words = format!(
        "no client saw the stop: {} failed requests, {} retried by nginx (predicted 0 failed, at least 1 retried)",
        failures(&on.report),
        on.log.retried()
    );
    check(failures(&on.report) == 0 && on.log.retried() > 0, &words);

    let (before, after_rate) = on.rates();
    let predicted = (n - 1).min(lesson.cores) as f64 / n.min(lesson.cores) as f64;
    let measured = after_rate / before.max(1e-9);
    let (low, high) = (0.75 * predicted, 1.25 * predicted);
    println!(
        "throughput: {before:.0} requests/s before the stop, {after_rate:.0} after: ×{measured:.2}. Prediction:\n\
         the cores the processes can keep busy after the stop, min({}, {} cores), over before it,\n\
         min({n}, {} cores): ×{predicted:.2}. A lost process costs a core's work only if the processes\n\
         left cannot keep every core busy.",
        n - 1,
        lesson.cores,
        lesson.cores
    );
    let words = format!(
        "after the stop: ×{measured:.2} of the throughput before, predicted ×{predicted:.2} (within ×{low:.2}–×{high:.2})"
    );
    check((low..=high).contains(&measured), &words);
    println!(
        "GET is idempotent, so nginx may send it again; a POST that reached the process is not\n\
         retried (nginx's rule since 1.9.13), and its client gets the 502. A graceful stop\n\
         (Ctrl+C to wsgi-lab serve, SIGTERM to gunicorn) finishes the requests it accepted; the\n\
         connections it had not accepted yet are refused, and nginx retries those elsewhere."
    );
    Ok(())
}
