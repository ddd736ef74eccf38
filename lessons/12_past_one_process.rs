//! Lesson 12: past one process. Several `wsgi-lab serve` processes behind a real nginx
//! `upstream` block, as gunicorn's workers or a row of machines stand behind a load balancer:
//! throughput and fairness for 1, 2 and 4 processes (round-robin, then `least_conn`), what
//! clients see when one process stops, and the same processes sharing one port with
//! `--reuse-port` and no proxy at all. See `lessons/12_past_one_process.md`.
//!
//! `cargo build --release && cargo run --release --bin lesson-12-past-one-process` (the lesson
//! runs the `wsgi-lab` binary beside its own; `--quick`: 1 and 2 processes, shorter runs).

#[path = "12_past_one_process/balancer.rs"]
mod balancer;
mod common;
#[path = "12_past_one_process/failover.rs"]
mod failover;
#[path = "12_past_one_process/processes.rs"]
mod processes;
#[path = "12_past_one_process/reuse_port.rs"]
mod reuse_port;
#[allow(
    dead_code,
    reason = "of lesson 10's proxies, only `find_nginx` and its `Nginx`, started from this lesson's template"
)]
mod reverse_proxy;

use balancer::{Balancer, Log, Nginx};
use common::{check, heading};
use processes::Fleet;
use std::path::PathBuf;
use std::time::Duration;
use wsgi_lab::lab::bench::{self, BenchConfig, BenchReport, Progress, Stop};

/// Client connections of a bench through nginx: twice the most processes, so that every
/// process always has a request waiting.
const CONNECTIONS: usize = 8;

/// How long one request of the cpu app should compute, on one core (as in lesson 7).
const SERVICE: Duration = Duration::from_millis(4);

/// What every section needs: the processes started so far, nginx, the machine.
pub struct Lesson {
    pub quick: bool,
    pub cores: usize,
    pub fleet: Fleet,
    pub nginx: Option<PathBuf>,
    /// nginx runs started (each stopped before the next section).
    pub nginx_runs: usize,
    /// Steps of the cpu app that compute for about [`SERVICE`].
    pub steps: u64,
}

impl Lesson {
    /// `wsgi-lab serve --app APP --threads 1 --quiet` plus `extra`, on `port` (0: a free one);
    /// returns the port it listens on. One worker thread: one request at a time, the
    /// throughput of one GIL-bound Python process.
    pub fn start(&mut self, app: &str, port: u16, extra: &[&str]) -> Result<u16, String> {
        let mut args: Vec<String> =
            ["--app", app, "--threads", "1", "--quiet", "--port"].iter().map(|s| s.to_string()).collect();
        args.push(port.to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        let index = self.fleet.start(&args)?;
        Ok(self.fleet.get(index).port)
    }

    /// Starts nginx in front of `ports`, with nginx's default retry unless `retry` is false.
    pub fn nginx(&mut self, balancer: Balancer, ports: &[u16], retry: bool) -> Result<Nginx, String> {
        let binary = self.nginx.as_deref().ok_or("nginx is not installed")?;
        self.nginx_runs += 1;
        Nginx::start(binary, balancer, ports, retry)
    }

    /// `/?n=STEPS`: a request that computes for about [`SERVICE`], or `times` as long.
    pub fn cpu_path(&self, times: u64) -> String {
        format!("/?n={}", self.steps * times)
    }
}

/// A closed-loop bench of `connections` keep-alive connections for `duration`, on one thread
/// (the processes need the cores more than the client does).
pub fn bench(
    url: String,
    connections: usize,
    duration: Duration,
    label: String,
) -> Result<BenchReport, String> {
    let config = BenchConfig {
        connections,
        threads: 1,
        stop: Stop::Duration(duration),
        progress: Progress::Stderr,
        label: Some(label),
        ..BenchConfig::new(url)
    };
    bench::run(&config).map_err(|e| format!("the bench could not run: {e}"))
}

/// Failed requests: transport errors and statuses other than 2xx.
pub fn failures(report: &BenchReport) -> u64 {
    report.total_errors() + report.statuses.iter().filter(|(s, _)| **s >= 300).map(|(_, n)| n).sum::<u64>()
}

/// Seconds since the Unix epoch, nginx's clock in its access log (`$msec`).
pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

fn main() {
    let title = "Lesson 12: past one process";
    println!("{title}\n{}", "=".repeat(title.chars().count()));
    if let Err(e) = run() {
        // Every process started is stopped by now: `run` dropped the fleet and any nginx.
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut lesson = Lesson {
        quick: common::quick(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        fleet: Fleet::new()?,
        nginx: reverse_proxy::find_nginx(),
        nginx_runs: 0,
        steps: 0,
    };
    println!(
        "This machine: {} cores.\n\
         Server processes: `wsgi-lab serve --threads 1` ({}): one request at a time\n\
         each, like one CPython process whose GIL lets one thread compute at a time.",
        lesson.cores,
        lesson.fleet.binary.display()
    );
    match lesson.nginx.clone() {
        Some(nginx) => {
            println!(
                "nginx: {} (each run in a temporary directory of its own, stopped after it)",
                nginx.display()
            );
            behind_nginx(&mut lesson)?;
            when_requests_differ(&mut lesson)?;
            failover::one_process_stops(&mut lesson)?;
        }
        None => println!(
            "nginx not found: apt-get install nginx to run sections 1 to 3, which need a real load\n\
             balancer. Section 4 needs none."
        ),
    }
    reuse_port::one_port(&mut lesson)?;
    across_machines();

    lesson.fleet.stop_all();
    let (started, running) = lesson.fleet.count();
    println!(
        "\nStopped: {started} wsgi-lab processes started, {running} still running; {} nginx runs, each stopped.",
        lesson.nginx_runs
    );
    Ok(())
}

/// How many steps of the cpu app take [`SERVICE`] in a wsgi-lab process of this build: the
/// fastest of three requests of 1,000,000 steps, less the fastest of three of none.
fn calibrate(port: u16) -> u64 {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let fastest = |path: &str| {
        (0..3).map(|_| common::timed(|| common::get(addr, path)).1).min().unwrap_or_default().as_secs_f64()
    };
    let per_step = (fastest("/?n=1000000") - fastest("/?n=0")).max(1e-6) / 1e6;
    ((SERVICE.as_secs_f64() / per_step) as u64).clamp(1_000, 100_000_000)
}

/// `"es"` after "process" for more than one.
fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "es" }
}

/// The load average of the last minute (Linux): how many processes wanted a core, on average.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// One measured configuration of section 1.
struct Row {
    processes: usize,
    balancer: Balancer,
    report: BenchReport,
    /// Each process's share of the requests nginx sent, from its access log.
    shares: Vec<f64>,
}

fn behind_nginx(lesson: &mut Lesson) -> Result<(), String> {
    heading("1. One process, two, four: nginx in front");
    let counts: &[usize] = if lesson.quick { &[1, 2] } else { &[1, 2, 4] };
    let (rounds, duration) = (3, Duration::from_secs_f64(if lesson.quick { 0.4 } else { 1.0 }));
    let most = counts[counts.len() - 1];
    let ports = (0..most).map(|_| lesson.start("cpu", 0, &[])).collect::<Result<Vec<u16>, String>>()?;
    lesson.steps = calibrate(ports[0]);
    let path = lesson.cpu_path(1);
    println!(
        "{most} processes of the cpu app, on ports {ports:?}; GET {path} computes about {} ms.\n\
         An nginx for each row lists the first 1, 2{} of them in its upstream block. A bench sends\n\
         {CONNECTIONS} keep-alive connections to nginx; each row is the best of {rounds} runs of {} s, taken in\n\
         turn, so that a moment's noise on the machine does not decide it. Prediction: each process\n\
         computes on one core, so N processes serve ×min(N, cores) of one process: more processes\n\
         than cores only take turns.",
        SERVICE.as_millis(),
        if most > 2 { ", 4" } else { "" },
        duration.as_secs_f64()
    );
    // One process leaves nginx nothing to choose: one row.
    let setups: Vec<(usize, Balancer)> = (counts.iter())
        .flat_map(|&n| match n {
            1 => vec![(n, Balancer::RoundRobin)],
            _ => vec![(n, Balancer::RoundRobin), (n, Balancer::LeastConn)],
        })
        .collect();
    let proxies = (setups.iter())
        .map(|&(n, balancer)| lesson.nginx(balancer, &ports[..n], true))
        .collect::<Result<Vec<Nginx>, String>>()?;
    let mut best: Vec<Option<BenchReport>> = vec![None; setups.len()];
    for round in 1..=rounds {
        for ((&(n, balancer), nginx), best) in setups.iter().zip(&proxies).zip(&mut best) {
            let label = format!("{n} process{} · {} · run {round} of {rounds}", plural(n), balancer.name());
            let report = bench(nginx.url(&path), CONNECTIONS, duration, label)?;
            if best.as_ref().is_none_or(|b| report.requests_per_sec > b.requests_per_sec) {
                *best = Some(report);
            }
        }
    }
    let rows: Vec<Row> = (setups.iter().zip(proxies).zip(best))
        .map(|((&(n, balancer), nginx), report)| Row {
            processes: n,
            balancer,
            shares: shares(&nginx.stop(), &ports[..n]),
            report: report.expect("every setup ran"),
        })
        .collect();
    let one = rows[0].report.requests_per_sec.max(1e-9);
    println!(
        "\n{:>9}  {:<11}  {:>8}  {:>11}  {:>9}  {:<23}  {:<21}  {:>6}",
        "processes",
        "balancer",
        "req/s",
        "× 1 process",
        "predicted",
        "share of each process",
        "per connection",
        "failed"
    );
    for row in &rows {
        let f = &row.report.fairness;
        let shares: Vec<String> = row.shares.iter().map(|s| format!("{:.1}%", s * 100.0)).collect();
        println!(
            "{:>9}  {:<11}  {:>8.1}  {:>11}  {:>9}  {:<23}  {:<21}  {:>6}",
            row.processes,
            row.balancer.name(),
            row.report.requests_per_sec,
            format!("×{:.2}", row.report.requests_per_sec / one),
            format!("×{}", row.processes.min(lesson.cores)),
            shares.join(" "),
            format!("min {} med {} max {}", f.min, f.median, f.max),
            failures(&row.report)
        );
    }
    println!("(per connection: requests each bench connection completed, the fewest, the median, the most)");

    let mut missed = false;
    for row in rows.iter().filter(|r| r.processes > 1) {
        let (n, k) = (row.processes, row.processes.min(lesson.cores) as f64);
        let measured = row.report.requests_per_sec / one;
        let (low, high) = (0.7 * k, 1.3 * k);
        let words = format!(
            "{n} processes, {}: ×{measured:.2} of one process, predicted ×{k} = min({n} processes, {} cores) (within ×{low:.2}–×{high:.2})",
            row.balancer.name(),
            lesson.cores
        );
        missed |= !check((low..=high).contains(&measured), &words);
    }
    if let Some(load) = load_average().filter(|_| missed) {
        println!(
            "(the load average of the last minute is {load:.1} on {} cores: other programs took cores from the processes)",
            lesson.cores
        );
    }
    let round_robin: Vec<&Row> =
        rows.iter().filter(|r| r.processes > 1 && r.balancer == Balancer::RoundRobin).collect();
    let worst = round_robin
        .iter()
        .flat_map(|r| r.shares.iter().map(move |s| (s - 1.0 / r.processes as f64).abs()))
        .fold(0.0, f64::max);
    let words = format!(
        "round-robin gave each process its turn: every share within {:.1} points of 1/N (predicted within 2)",
        worst * 100.0
    );
    check(worst <= 0.02, &words);
    let worst = rows
        .iter()
        .map(|r| r.report.fairness.min as f64 / r.report.fairness.median.max(1e-9))
        .fold(f64::INFINITY, f64::min);
    let starved: usize = rows.iter().map(|r| r.report.fairness.starved).sum();
    let words = format!(
        "every connection was served in every row: {starved} starved, the fewest completions at least {worst:.2} × the median (predicted 0 and at least 0.5)"
    );
    check(starved == 0 && worst >= 0.5, &words);
    println!(
        "With identical processes and identical requests the two balancers should measure the\n\
         same. Where least_conn came out ahead, one process was slower for a while (another\n\
         program took its core) and least_conn sent it less, while round-robin kept sending it\n\
         its turn. Section 2 makes that happen on purpose."
    );
    Ok(())
}

/// Each process's share of the requests nginx sent in `log`, in the order of `ports`.
fn shares(log: &Log, ports: &[u16]) -> Vec<f64> {
    let sent: Vec<usize> = ports.iter().map(|&p| log.sent_to(p)).collect();
    let total = sent.iter().sum::<usize>().max(1) as f64;
    sent.iter().map(|&s| s as f64 / total).collect()
}

fn when_requests_differ(lesson: &mut Lesson) -> Result<(), String> {
    heading("2. When requests differ: round-robin against least_conn");
    let duration = Duration::from_secs_f64(if lesson.quick { 1.5 } else { 3.0 });
    let ports = [lesson.start("sleep", 0, &[])?, lesson.start("sleep", 0, &[])?];
    let (fast_ms, slow_ms) = (SERVICE.as_millis(), 10 * SERVICE.as_millis());
    let (fast, slow) = (format!("/?ms={fast_ms}"), format!("/?ms={slow_ms}"));
    println!(
        "Two processes of the sleep app (requests that wait, as on a database, so that the cores\n\
         do not blur the picture); two clients at once, each one connection: one asks for fast\n\
         requests (GET {fast}), the other for slow ones (GET {slow}). Prediction: round-robin\n\
         sends every other request to the next process, busy or not, so about half the fast\n\
         requests wait behind a slow one; least_conn sends each to the process with fewer\n\
         requests in flight, the one without the slow request."
    );
    let mut p90 = Vec::new();
    for balancer in [Balancer::RoundRobin, Balancer::LeastConn] {
        let nginx = lesson.nginx(balancer, &ports, true)?;
        let (fast_report, slow_report) = std::thread::scope(|scope| {
            let slow_url = nginx.url(&slow);
            let slow = scope.spawn(move || bench(slow_url, 1, duration, "slow requests".into()));
            let fast = bench(nginx.url(&fast), 1, duration, format!("fast requests · {}", balancer.name()));
            (fast, slow.join().unwrap_or_else(|_| Err("the bench panicked".into())))
        });
        nginx.stop();
        let (fast_report, slow_report) = (fast_report?, slow_report?);
        let l = fast_report.latency.ok_or("no fast request completed")?;
        println!(
            "{:<12} fast requests: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms ({:.0}/s); slow requests: {:.0}/s",
            balancer.name(),
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            fast_report.requests_per_sec,
            slow_report.requests_per_sec
        );
        p90.push(l.p90_ms);
    }
    let words = format!(
        "round-robin: fast requests waited behind slow ones: p90 {:.1} ms, predicted above 3 × {fast_ms} ms",
        p90[0]
    );
    check(p90[0] > 3.0 * fast_ms as f64, &words);
    let words = format!(
        "least_conn: fast p90 {:.1} ms, predicted below half of round-robin's {:.1} ms",
        p90[1], p90[0]
    );
    check(p90[1] < 0.5 * p90[0], &words);
    println!(
        "nginx counts the requests it has in flight at each process; least_conn picks the smallest\n\
         count. It needs no knowledge of the app, only of what it sent and what came back."
    );
    Ok(())
}

fn across_machines() {
    heading("5. The same picture across machines");
    println!(
        "Nothing above depends on the processes sharing a machine. Put other hosts in the\n\
         upstream block and nginx balances machines the same way, with the same turns, the same\n\
         max_fails and fail_timeout:\n\
         \n    upstream wsgi_lab {{\n        least_conn;\n        server 10.0.0.11:8000 max_fails=1 fail_timeout=1s;\n        server 10.0.0.12:8000 max_fails=1 fail_timeout=1s;\n    }}\n\n\
         Each machine then runs its own processes (gunicorn -w 5, or several waitress-serve), bound\n\
         to an address the balancer can reach and nobody else (lesson 10). --reuse-port shares a\n\
         port on one machine only: across machines it is a load balancer's work (nginx, HAProxy,\n\
         a cloud's), or DNS.\n\
         \n\
         What to take from it. In lesson 7, threads scaled work that waits, and a GIL stood in the\n\
         way of work that computes: two threads under one lock served what one did. Processes do\n\
         not share a GIL: each has its own interpreter, so N processes compute on N cores, as\n\
         section 1 measured, and machines add cores past one box. That is gunicorn's model\n\
         (2 × cores + 1 worker processes) and why a CPU-bound Flask app is scaled out with\n\
         processes and machines behind a balancer, not with more threads. What it costs: a\n\
         balancer in front, a process per core's worth of memory, and state that no longer lives\n\
         in one process (sessions, caches: in a database or Redis, shared by all)."
    );
}
