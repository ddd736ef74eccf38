//! Lesson 7: where "2 × cores + 1 workers" comes from, and when more workers stop helping.
//!
//! The tutorial quotes the rule of thumb: twice the number of CPU cores plus one. It is
//! gunicorn's recommendation for worker *processes*, each a synchronous worker that alternates
//! between computing and waiting on I/O. This lesson measures the two halves of that picture
//! with the lab bench: work that waits (the `sleep` app) scales with workers, as Little's law
//! says; work that computes (the `cpu` app) stops scaling at the number of cores. Then it shows
//! what Python's GIL changes, with a lock that plays the GIL's part, and then (section 4, when
//! the Python environment is there) the GIL itself: waitress's threads against gunicorn's
//! worker processes and ours, on the same two apps.
//!
//! Run it with `cargo run --release --bin lesson-07-workers-formula`; the page is
//! `lessons/07_workers_formula.md`.

mod common;
#[path = "07_workers_formula/python.rs"]
mod python;
mod python_side;

use common::heading;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use wsgi_lab::lab::compare::{Setup, Workload, measure};
use wsgi_lab::server::default_threads;
use wsgi_lab::{App, Body, Environ, StartResponse, apps, testing};

/// How long one request of the cpu app should compute, on one core.
const CPU_SERVICE: Duration = Duration::from_millis(4);

/// Requests per second of `app` at `path` with `workers` workers and `connections` keep-alive
/// connections, measured by the lab bench against a server of its own (0 if the bench failed).
fn throughput(app: &Arc<dyn App>, path: &str, connections: usize, duration: Duration, workers: usize) -> f64 {
    let workload =
        Workload { app: Arc::clone(app), path: path.to_string(), connections, duration, progress: true };
    match measure(&workload, Setup::Threads(workers)) {
        Ok(row) => row.ok_per_sec(),
        Err(e) => {
            println!("(the bench failed: {e})");
            0.0
        }
    }
}

/// The time of the fastest of three in-process calls of the cpu app with `n` steps.
fn cpu_time(n: u64) -> Duration {
    let path = format!("/?n={n}");
    (0..3)
        .map(|_| {
            let started = Instant::now();
            let _ = testing::get(&apps::cpu, &path);
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// How many steps of the cpu app take about [`CPU_SERVICE`] on this machine and this build
/// (a debug build computes several times slower than `--release`).
fn calibrate() -> (u64, Duration) {
    let probe = 200_000;
    let per_step = cpu_time(probe).as_secs_f64() / probe as f64;
    let n = ((CPU_SERVICE.as_secs_f64() / per_step.max(1e-12)) as u64).clamp(1_000, 1_000_000_000);
    (n, cpu_time(n))
}

/// The load average of the last minute, where the OS tells it (Linux): how many processes
/// wanted a core, on average. Above the number of cores, the lesson's servers share them.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// Other programs computing at the same time take cores from the servers: the likeliest reason
/// for a CPU row to miss, so say so when one did and the load average (read before the sweep)
/// was high.
fn explain_miss(cpu_ok: bool, load_before: Option<f64>, cores: usize) {
    if let Some(load) = load_before.filter(|&load| !cpu_ok && load > 0.75 * cores as f64) {
        println!(
            "(The load average was {load:.1} on {cores} cores before this sweep: other programs, or a run"
        );
        println!(" that just ended, were computing, so fewer cores were free than the prediction assumes.)");
    }
}

fn main() {
    let quick = common::quick();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let title = "Lesson 7: where 2 × cores + 1 comes from";
    println!("{title}\n{}", "=".repeat(title.chars().count()));
    println!("The tutorial: \"the recommended number of workers is twice the number of CPU cores + 1,");
    println!("so in the case of a server with 6 CPU cores would be 13 workers.\"");
    println!("This machine: {cores} cores (std::thread::available_parallelism),");
    println!("so default_threads() = 2 × {cores} + 1 = {}.", default_threads());
    println!();
    println!("The rule is gunicorn's, for worker processes. A synchronous worker either computes or waits");
    println!("on I/O (a database, a disk, another service). Two per core keep the core busy: while one");
    println!("waits, the other computes; the + 1 covers the moments when all of them wait at once.");
    println!("It is a place to start measuring, not a law. The two sweeps below show why.");
    println!();
    println!("wsgi-lab's pool keeps the rule as its default number of threads (the project's brief asks");
    println!("for it, and `serve --help` says so). waitress's default is 4 threads, whatever the cores:");
    println!("`serve(app)` is `serve(app, threads=4)`.");

    // ---------------------------------------------------------------- blocking work
    let sleep_ms: u64 = if quick { 20 } else { 40 };
    // Fifteen (thirty) service times and a half: the clock stops between two waves of
    // completions, not on one, which would count or drop a whole wave by chance.
    let duration = Duration::from_millis(sleep_ms) * if quick { 31 } else { 61 } / 2;
    let connections = (4 * cores).max(8);
    let mut sweep = vec![1, 2, default_threads(), connections, 2 * connections];
    sweep.sort_unstable();
    sweep.dedup();
    heading(&format!(
        "1. Blocking work: the sleep app, GET /?ms={sleep_ms}, {connections} keep-alive connections, {:.2} s per row",
        duration.as_secs_f64()
    ));
    println!("Little's law: throughput = requests in service ÷ service time,");
    println!("and at most min(workers, connections) requests are in service at once.");
    println!(
        "{:>8} {:>11} {:>16} {:>15} {:>19}",
        "workers", "in service", "predicted req/s", "measured req/s", "measured÷predicted"
    );
    let sleep_app: Arc<dyn App> = Arc::new(apps::sleep);
    let mut ratios = Vec::new();
    let mut rates = Vec::new();
    for &workers in &sweep {
        let busy = workers.min(connections);
        let predicted = busy as f64 * 1000.0 / sleep_ms as f64;
        let measured = throughput(&sleep_app, &format!("/?ms={sleep_ms}"), connections, duration, workers);
        let ratio = measured / predicted;
        println!("{workers:>8} {busy:>11} {predicted:>16.1} {measured:>15.1} {ratio:>19.2}");
        ratios.push(ratio);
        rates.push(measured);
    }
    let lowest = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = ratios.iter().copied().fold(0.0, f64::max);
    let gain = rates[rates.len() - 1] / rates[0].max(1e-9);
    let mut all_ok = common::check(
        lowest >= 0.75 && highest <= 1.25,
        &format!(
            "blocking work scales with workers up to the connections: measured÷predicted between {lowest:.2} \
             and {highest:.2} on every row (within 0.75–1.25); 1 → {} workers gained ×{gain:.1}, predicted ×{connections}",
            sweep[sweep.len() - 1]
        ),
    );
    println!(
        "The {} workers past {connections} connections add nothing: no more than {connections} requests arrive at once.",
        2 * connections
    );

    // ---------------------------------------------------------------- CPU-bound work
    // Read before the sweep: during it, the lesson's own computing workers raise the load.
    let load_before = load_average();
    let (n, one) = calibrate();
    let cpu_duration = Duration::from_millis(if quick { 150 } else { 400 });
    let rounds = if quick { 4 } else { 5 };
    heading(&format!(
        "2. CPU-bound work: the cpu app, GET /?n={n}, {connections} keep-alive connections, best of {rounds} × {:.2} s per row",
        cpu_duration.as_secs_f64()
    ));
    println!(
        "Calibrated: n = {n} steps take {:.1} ms on one core (called in-process, no server).",
        one.as_secs_f64() * 1e3
    );
    println!("A computing request holds a core the whole time, so at most {cores} run at once (the cores),");
    println!("whatever the number of workers: the prediction is ×min(workers, cores) of one worker.");
    let cpu_app: Arc<dyn App> = Arc::new(apps::cpu);
    // The GIL's part, played by one lock around the computation: only one worker computes at a
    // time, however many there are (CPython's GIL is finer-grained, but the throughput is the same).
    let gil = Arc::new(Mutex::new(()));
    let with_gil: Arc<dyn App> = Arc::new(move |environ: &Environ, start_response: StartResponse| -> Body {
        let _held = gil.lock().unwrap_or_else(PoisonError::into_inner);
        apps::cpu(environ, start_response)
    });
    let path = format!("/?n={n}");
    // (label, app, workers, predicted multiple of one worker)
    let rows: [(String, &Arc<dyn App>, usize, String); 4] = [
        ("1".to_string(), &cpu_app, 1, "×1.0".to_string()),
        (cores.to_string(), &cpu_app, cores, format!("×{cores}.0")),
        ((4 * cores).to_string(), &cpu_app, 4 * cores, format!("×{cores}.0 (not ×{})", 4 * cores)),
        (format!("{cores}, GIL stand-in"), &with_gil, cores, "×1.0".to_string()),
    ];
    // The rounds go through every row in turn, so a slow moment of the machine hits one round of
    // each row rather than every round of one row; each row keeps its best round.
    let mut best = [0.0f64; 4];
    for _ in 0..rounds {
        for (i, (_, app, workers, _)) in rows.iter().enumerate() {
            best[i] = best[i].max(throughput(app, &path, connections, cpu_duration, *workers));
        }
    }
    println!("{:<20} {:>15} {:>15} {:>11}", "workers", "predicted", "measured req/s", "× 1 worker");
    let base = best[0].max(1e-9);
    for ((label, _, _, predicted), measured) in rows.iter().zip(best) {
        println!("{label:<20} {predicted:>15} {measured:>15.1} {:>11}", format!("×{:.1}", measured / base));
    }
    let multiples: Vec<f64> = best.iter().map(|b| b / base).collect();
    let gil_multiple = multiples[3];
    let (at_cores, beyond) = (multiples[1], multiples[2]);
    let c = cores as f64;
    let mut cpu_ok = common::check(
        (0.7 * c..=1.3 * c).contains(&at_cores),
        &format!(
            "{cores} workers ≈ {cores} × 1 worker on CPU work: measured ×{at_cores:.2} (within ×{:.1}–×{:.1}): \
             {cores} cores compute {cores} requests at once",
            0.7 * c,
            1.3 * c
        ),
    );
    cpu_ok &= common::check(
        (0.7 * c..=1.5 * c).contains(&beyond),
        &format!(
            "{} workers ≈ {cores} × 1 worker, not {} ×: measured ×{beyond:.2} (within ×{:.1}–×{:.1}): \
             there is no core for the extra workers to compute on",
            4 * cores,
            4 * cores,
            0.7 * c,
            1.5 * c
        ),
    );
    cpu_ok &= common::check(
        (0.6..=1.4).contains(&gil_multiple),
        &format!(
            "with one lock around the computation (a GIL stand-in), {cores} workers ≈ 1 worker: measured \
             ×{gil_multiple:.2} (within ×0.6–×1.4)"
        ),
    );

    explain_miss(cpu_ok, load_before, cores);
    all_ok &= cpu_ok;

    heading("3. What Python's GIL changes");
    println!("In CPython one lock, the GIL, lets only one thread run Python bytecode at a time. A thread");
    println!("that waits (sleep, a socket, a database driver) lets go of it, so section 1 looks the same");
    println!("under waitress: its threads help with waiting. Section 2 does not: for CPU-bound Python code");
    println!("more threads give about ×1, as the GIL stand-in row shows, even up to the core count. Hence");
    println!("gunicorn counts processes, each with its own interpreter and its own GIL, and the rule");
    println!("2 × cores + 1 is about processes. Rust threads have no GIL: the cpu app's workers compute");
    println!(
        "on all {cores} cores at once, which is why CPU work here scales to the core count, and no further."
    );
    println!("(CPython 3.13 and later also come in an optional free-threaded build without the GIL.)");

    // The real servers, when the environment is there: the GIL itself rather than a stand-in.
    if let Some(python) = python_side::enabled() {
        let load_before = load_average();
        match python::the_gil_measured(&python, quick, cores, n, connections) {
            Ok((sleep_ok, cpu_ok)) => {
                explain_miss(cpu_ok, load_before, cores);
                all_ok &= sleep_ok && cpu_ok;
            }
            Err(why) => {
                println!("(Python side: not run: {why})");
                all_ok = false;
            }
        }
    }

    println!("\nServers stopped.{}", if all_ok { "" } else { " Some claims were NOT AS PREDICTED." });
}
