//! Lesson 6: one thread against a pool, the same slow requests fired at both at once.
//!
//! wsgiref's `make_server` runs one request at a time; waitress's `serve(app, threads=4)` runs
//! as many as it has workers. Both servers here serve the `sleep` app (`GET /?ms=d` sleeps d
//! milliseconds, the stand-in for a database call); N clients hit each at the same moment. The
//! predictions: one thread needs N × d, a pool of T workers ⌈N / T⌉ × d (T requests per wave).
//!
//! Run it with `cargo run --release --bin lesson-06-concurrency`; the page is
//! `lessons/06_concurrency.md`.

mod common;

use common::{body, flag, heading, secs, status};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};
use wsgi_lab::server::default_threads;
use wsgi_lab::{Mode, Options, apps};

/// The lesson's claims allow the measurement to be this far from the prediction.
const WITHIN: (f64, f64) = (0.8, 1.5);

/// One of the two servers under test.
#[derive(Clone, Copy, PartialEq)]
enum Which {
    Single,
    Pool,
}

/// A response that arrived: from which server, when, and whether it was the expected answer.
struct Done {
    which: Which,
    at: Instant,
    ok: bool,
}

/// How the completions are shown: bars on a terminal, a line per completion otherwise.
enum Show {
    Bars { single: ProgressBar, pool: ProgressBar },
    Lines,
}

impl Show {
    fn new(n: u64, pool_label: &str) -> Show {
        // Bars are decoration: on stderr, and only when someone is watching.
        if !std::io::stderr().is_terminal() {
            return Show::Lines;
        }
        let multi = MultiProgress::new();
        let style = ProgressStyle::with_template("{prefix:<20} [{bar:40}] {pos}/{len}  {msg}")
            .expect("a valid template")
            .progress_chars("█▌ ");
        let bar = |label: &str| {
            let bar = multi.add(ProgressBar::new(n));
            bar.set_style(style.clone());
            bar.set_prefix(label.to_string());
            bar
        };
        Show::Bars { single: bar("single-threaded"), pool: bar(pool_label) }
    }

    fn completed(&self, which: Which, label: &str, count: usize, n: usize, at: Duration) {
        match self {
            Show::Bars { single, pool } => {
                let bar = if which == Which::Single { single } else { pool };
                bar.inc(1);
                bar.set_message(format!("last at {}", secs(at)));
            }
            Show::Lines => println!("  {:>6}  {label:<20} {count}/{n} done", secs(at)),
        }
    }

    fn finish(&self) {
        if let Show::Bars { single, pool } = self {
            single.finish();
            pool.finish();
        }
    }
}

/// `ratio` inside [`WITHIN`], as a verdict line.
fn verdict(ratio: f64, claim: &str) -> bool {
    let ok = (WITHIN.0..=WITHIN.1).contains(&ratio);
    common::check(ok, &format!("{claim} (ratio {ratio:.2}, within {}–{})", WITHIN.0, WITHIN.1))
}

fn main() {
    let quick = common::quick();
    // Bounded load, whatever the flags say: at most 200 requests, and at most 12 s of sleeping
    // for the single thread, so its last client gets an answer within common::get's 15 s.
    let n = flag("--n").unwrap_or(if quick { 6 } else { 20 }).clamp(1, 200) as usize;
    let ms = flag("--ms").unwrap_or(if quick { 150 } else { 250 }).clamp(1, 12_000 / n as u64);
    let threads =
        flag("--threads").map_or(if quick { 3 } else { default_threads() }, |t| t as usize).clamp(1, 64);
    let d = Duration::from_millis(ms);
    let pool_label = format!("pool of {threads}");

    let title = "Lesson 6: one thread against a pool";
    println!("{title}\n{}", "=".repeat(title.chars().count()));
    println!("{n} requests GET /?ms={ms} (the sleep app: each waits {ms} ms, like a slow database call),");
    println!("fired at the same moment at two servers started side by side:");
    println!("  {:<17} Mode::Single, wsgiref's make_server: one request at a time", "single-threaded");
    println!("  {pool_label:<17} Mode::Pool, waitress's serve(app, threads={threads}): {threads} at a time");
    if !quick && flag("--threads").is_none() {
        println!("  ({threads} = default_threads() = 2 × cores + 1 on this machine; lesson 7 says why)");
    }

    let waves = n.div_ceil(threads);
    let predicted_single = d * n as u32;
    let predicted_pool = d * waves as u32;
    heading("Predictions");
    println!("{:<17} {:<18} = {n} × {ms} ms = {}", "single-threaded", "N × d", secs(predicted_single));
    println!(
        "{pool_label:<17} {:<18} = ⌈{n} / {threads}⌉ × {ms} ms = {waves} × {ms} ms = {}",
        "⌈N / threads⌉ × d",
        secs(predicted_pool)
    );

    let single = common::start(apps::sleep, Mode::Single, Options::default());
    let pool = common::start(apps::sleep, Mode::Pool, Options { threads, ..Options::default() });

    heading("Firing");
    let show = Show::new(n as u64, &pool_label);
    if matches!(show, Show::Lines) {
        println!("(one line per response, as it arrives; on a terminal these are progress bars)");
    }
    let (tx, rx) = mpsc::channel::<Done>();
    // Every client waits at the barrier, so all 2N requests leave together; the clock starts
    // just before the main thread lets them go.
    let barrier = Arc::new(Barrier::new(2 * n + 1));
    let path = format!("/?ms={ms}");
    let expected = format!("slept {ms} ms");
    let mut clients = Vec::new();
    for (which, addr) in [(Which::Single, single.addr()), (Which::Pool, pool.addr())] {
        for _ in 0..n {
            let (tx, barrier, path, expected) =
                (tx.clone(), Arc::clone(&barrier), path.clone(), expected.clone());
            clients.push(std::thread::spawn(move || {
                barrier.wait();
                let response = common::get(addr, &path);
                let ok = status(&response) == 200 && body(&response) == expected;
                let _ = tx.send(Done { which, at: Instant::now(), ok });
            }));
        }
    }
    drop(tx);
    let started = Instant::now();
    barrier.wait();

    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut failures = 0;
    for done in rx {
        let at = done.at.saturating_duration_since(started);
        let (index, label) = match done.which {
            Which::Single => (0, "single-threaded"),
            Which::Pool => (1, pool_label.as_str()),
        };
        times[index].push(at);
        failures += usize::from(!done.ok);
        show.completed(done.which, label, times[index].len(), n, at);
    }
    show.finish();
    for client in clients {
        let _ = client.join();
    }
    drop((single, pool));

    heading("Measured");
    let wall = |t: &Vec<Duration>| t.iter().max().copied().unwrap_or_default();
    let (wall_single, wall_pool) = (wall(&times[0]), wall(&times[1]));
    println!("{:<17} {:>9} {:>10} {:>10} {:>6}", "server", "answered", "wall time", "predicted", "ratio");
    for (label, t, predicted) in
        [("single-threaded", &times[0], predicted_single), (pool_label.as_str(), &times[1], predicted_pool)]
    {
        let ratio = wall(t).as_secs_f64() / predicted.as_secs_f64();
        println!(
            "{label:<17} {:>9} {:>10} {:>10} {ratio:>6.2}",
            format!("{}/{n}", t.len()),
            secs(wall(t)),
            secs(predicted)
        );
    }
    println!("\nWhen each response arrived (seconds after the start):");
    for (label, t) in [("single-threaded", &times[0]), (pool_label.as_str(), &times[1])] {
        let mut sorted = t.clone();
        sorted.sort();
        let list: Vec<String> = sorted.iter().map(|d| format!("{:.2}", d.as_secs_f64())).collect();
        println!("  {label:<17} {}", list.join(" "));
    }
    println!(
        "One thread answers them one after another, {ms} ms apart; the pool answers {threads} at a time,"
    );
    println!("in {waves} wave{} of {ms} ms.", if waves == 1 { "" } else { "s" });

    heading("Verdict");
    let ratio_single = wall_single.as_secs_f64() / predicted_single.as_secs_f64();
    let ratio_pool = wall_pool.as_secs_f64() / predicted_pool.as_secs_f64();
    verdict(
        ratio_single,
        &format!(
            "single-threaded took {}, predicted N × d = {}: one request at a time",
            secs(wall_single),
            secs(predicted_single)
        ),
    );
    verdict(
        ratio_pool,
        &format!(
            "pool of {threads} took {}, predicted ⌈N / threads⌉ × d = {}: {threads} requests at a time",
            secs(wall_pool),
            secs(predicted_pool)
        ),
    );
    let speedup = wall_single.as_secs_f64() / wall_pool.as_secs_f64().max(1e-9);
    let predicted_speedup = n as f64 / waves as f64;
    verdict(
        speedup / predicted_speedup,
        &format!(
            "the pool finished {speedup:.1}× sooner, predicted N / ⌈N / threads⌉ = {predicted_speedup:.1}×"
        ),
    );
    if failures == 0 {
        println!("OK: all {} responses were 200 \"slept {ms} ms\"", 2 * n);
    } else {
        println!("NOT AS PREDICTED: {failures} of {} responses were not 200 \"slept {ms} ms\"", 2 * n);
    }
    println!("\nServers stopped.");
}
