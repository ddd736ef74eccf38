//! Lesson 6: one thread against a pool, the same slow requests fired at all of them at once.
//!
//! wsgiref's `make_server` runs one request at a time; waitress's `serve(app, threads=4)` runs
//! as many as it has workers, and the tutorial's own `serve(app, threads=1)` one at a time
//! again. The servers here serve the `sleep` app (`GET /?ms=d` sleeps d milliseconds, the
//! stand-in for a database call); N clients hit each at the same moment. The predictions: one
//! thread needs N × d, a pool of T workers ⌈N / T⌉ × d, in ⌈N / T⌉ waves of T responses.
//! With the Python environment (`--no-python` to leave it out), the real waitress gets the same
//! requests with `threads=1` and `threads=T`, and the same verdicts
//! (`lessons/06_concurrency/waitress.rs`).
//!
//! Run it with `cargo run --release --bin lesson-06-concurrency`; the page is
//! `lessons/06_concurrency.md`. `tests/lessons_concurrency.rs` loads this file too, to run
//! [`measure`] and [`judge`] against a pool whose label lies about its size.

mod common;
mod python_side;
#[path = "06_concurrency/waitress.rs"]
mod waitress;

use common::{OrExit, body, flag, heading, secs, status};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};
use wsgi_lab::server::default_threads;
use wsgi_lab::{Mode, Options, apps};

/// How far the wall time may be from the prediction. Below 1.0 × is impossible: every request
/// sleeps d, and a worker starts its next request only after its last one ended. Above 1.15 ×
/// the claim failed: at the lesson's sizes, a pool one worker short of its label is 1.25 ×
/// (⌈20 / 4⌉ waves for ⌈20 / 5⌉) or 1.5 × (`--quick`: ⌈6 / 2⌉ for ⌈6 / 3⌉) late.
/// What a healthy server adds is small: the HTTP round trip (a fraction of a millisecond), and
/// in the `shared` engine the 1–6 ms before a spare worker is called in (src/server/shared.rs),
/// which is why d is at least [`MIN_MS`].
pub const WITHIN: (f64, f64) = (1.0, 1.15);

/// The shortest sleep the lesson accepts: 6 ms of calling in a spare is 4 % of 150 ms, but
/// 30 % of 20 ms, which would fail the claim for a reason that is not the claim.
pub const MIN_MS: u64 = 50;

/// A server the lesson starts, and what it claims about it.
pub struct Setup {
    /// How the server is named in every line: `single-threaded`, `pool of 5`.
    pub label: String,
    pub mode: Mode,
    /// Workers in pool mode (ignored in single-threaded mode).
    pub threads: usize,
    /// How many requests the lesson claims the server runs at a time: the T of ⌈N / T⌉ × d.
    pub claimed: usize,
}

/// What one server did with its N requests.
pub struct Measured {
    /// When each response arrived, after the moment all requests left, sorted.
    pub arrivals: Vec<Duration>,
    /// Responses that were not `200 "slept d ms"`.
    pub failures: usize,
}

impl Measured {
    /// When the last response arrived: the run's wall time.
    pub fn wall(&self) -> Duration {
        self.arrivals.last().copied().unwrap_or_default()
    }

    /// The sizes of the waves, counted from the arrival times: a response more than d / 2 after
    /// the first of its wave starts the next wave. (The responses of one wave arrive within a
    /// few milliseconds of each other, and the next wave d later.)
    pub fn waves(&self, d: Duration) -> Vec<usize> {
        let mut sizes: Vec<usize> = Vec::new();
        let mut wave_start: Option<Duration> = None;
        for &at in &self.arrivals {
            match wave_start {
                Some(start) if at.saturating_sub(start) <= d / 2 => *sizes.last_mut().unwrap() += 1,
                _ => {
                    wave_start = Some(at);
                    sizes.push(1);
                }
            }
        }
        sizes
    }
}

/// The waves the claim predicts: ⌈N / T⌉ waves of T, the last one holding what is left.
pub fn predicted_waves(n: usize, at_a_time: usize) -> Vec<usize> {
    let mut sizes = vec![at_a_time; n / at_a_time];
    if !n.is_multiple_of(at_a_time) {
        sizes.push(n % at_a_time);
    }
    sizes
}

/// `4 waves of 5` when they are equal, else `3 waves (4, 4, 2)`.
fn describe_waves(sizes: &[usize]) -> String {
    let plural = if sizes.len() == 1 { "" } else { "s" };
    match sizes.first() {
        Some(&first) if sizes.iter().all(|&s| s == first) => {
            format!("{} wave{plural} of {first}", sizes.len())
        }
        _ => {
            let list: Vec<String> = sizes.iter().map(usize::to_string).collect();
            format!("{} wave{plural} ({})", sizes.len(), list.join(", "))
        }
    }
}

/// The prediction for a setup: ⌈N / T⌉ × d.
pub fn predicted(setup: &Setup, n: usize, d: Duration) -> Duration {
    d * n.div_ceil(setup.claimed) as u32
}

/// Starts every setup's server, fires `n` requests of `d` at each at the same moment, and
/// returns when each response arrived, one [`Measured`] per setup. The servers are stopped
/// before it returns.
pub fn measure(setups: &[Setup], n: usize, d: Duration) -> Vec<Measured> {
    let servers: Vec<_> = setups
        .iter()
        .map(|s| common::start(apps::sleep, s.mode, Options { threads: s.threads, ..Options::default() }))
        .collect();
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr()).collect();
    let measured = fire(setups, &addrs, n, d);
    drop(servers);
    measured
}

/// Fires `n` requests of `d` at each address (the server of the setup at the same index) at
/// the same moment, and returns when each response arrived, sorted, one [`Measured`] per
/// server. Any server will do: the lesson's own, or waitress (`06_concurrency/waitress.rs`).
pub fn fire(setups: &[Setup], addrs: &[SocketAddr], n: usize, d: Duration) -> Vec<Measured> {
    let labels: Vec<&str> = setups.iter().map(|s| s.label.as_str()).collect();
    let show = Show::new(n as u64, &labels);
    if matches!(show, Show::Lines) {
        println!("(one line per response, as it arrives; on a terminal these are progress bars)");
    }
    let (tx, rx) = mpsc::channel::<(usize, Instant, bool)>();
    // Every client waits at the barrier, so all requests leave together; the clock starts just
    // before the main thread lets them go.
    let barrier = Arc::new(Barrier::new(setups.len() * n + 1));
    let path = format!("/?ms={}", d.as_millis());
    let expected = format!("slept {} ms", d.as_millis());
    let mut clients = Vec::new();
    for (index, &addr) in addrs.iter().enumerate() {
        for _ in 0..n {
            let (tx, barrier, path, expected) =
                (tx.clone(), Arc::clone(&barrier), path.clone(), expected.clone());
            clients.push(std::thread::spawn(move || {
                barrier.wait();
                let response = common::get(addr, &path);
                let ok = status(&response) == 200 && body(&response) == expected;
                let _ = tx.send((index, Instant::now(), ok));
            }));
        }
    }
    drop(tx);
    let started = Instant::now();
    barrier.wait();

    let mut measured: Vec<Measured> =
        setups.iter().map(|_| Measured { arrivals: Vec::new(), failures: 0 }).collect();
    for (index, at, ok) in rx {
        let at = at.saturating_duration_since(started);
        let m = &mut measured[index];
        m.arrivals.push(at);
        m.failures += usize::from(!ok);
        show.completed(index, labels[index], m.arrivals.len(), n, at);
    }
    show.finish();
    for client in clients {
        let _ = client.join();
    }
    for m in &mut measured {
        m.arrivals.sort();
    }
    measured
}

/// The verdicts on one server, as lines that start `OK: ` or `NOT AS PREDICTED: `: its wall
/// time within [`WITHIN`] of ⌈N / T⌉ × d, and its waves as predicted.
pub fn judge(setup: &Setup, measured: &Measured, n: usize, d: Duration) -> Vec<String> {
    let (label, t) = (&setup.label, setup.claimed);
    let expected = predicted(setup, n, d);
    let ratio = measured.wall().as_secs_f64() / expected.as_secs_f64();
    let formula = if t == 1 { "N × d".to_string() } else { "⌈N / threads⌉ × d".to_string() };
    let at_a_time =
        if t == 1 { "one request at a time".to_string() } else { format!("{t} requests at a time") };
    let timed = format!(
        "{label} took {}, predicted {formula} = {}: {at_a_time} (ratio {ratio:.2}, within {:.2}–{:.2})",
        secs(measured.wall()),
        secs(expected),
        WITHIN.0,
        WITHIN.1
    );
    let (seen, claimed) = (measured.waves(d), predicted_waves(n, t));
    let waves =
        format!("{label} answered in {}, predicted {}", describe_waves(&seen), describe_waves(&claimed));
    vec![
        verdict_line((WITHIN.0..=WITHIN.1).contains(&ratio), &timed),
        verdict_line(seen == claimed && measured.failures == 0, &waves),
    ]
}

/// `OK: claim` or `NOT AS PREDICTED: claim`.
fn verdict_line(ok: bool, claim: &str) -> String {
    format!("{}{claim}", if ok { "OK: " } else { "NOT AS PREDICTED: " })
}

/// How the completions are shown: a bar per server on a terminal, a line per response otherwise.
enum Show {
    Bars(Vec<ProgressBar>),
    Lines,
}

impl Show {
    fn new(n: u64, labels: &[&str]) -> Show {
        // Bars are decoration: on stderr, and only when someone is watching.
        if !std::io::stderr().is_terminal() {
            return Show::Lines;
        }
        let multi = MultiProgress::new();
        let style = ProgressStyle::with_template("{prefix:<20} [{bar:40}] {pos}/{len}  {msg}")
            .expect("a valid template")
            .progress_chars("█▌ ");
        let bars = labels
            .iter()
            .map(|label| {
                let bar = multi.add(ProgressBar::new(n));
                bar.set_style(style.clone());
                bar.set_prefix(label.to_string());
                bar
            })
            .collect();
        Show::Bars(bars)
    }

    fn completed(&self, index: usize, label: &str, count: usize, n: usize, at: Duration) {
        match self {
            Show::Bars(bars) => {
                bars[index].inc(1);
                bars[index].set_message(format!("last at {}", secs(at)));
            }
            Show::Lines => println!("  {:>6}  {label:<20} {count}/{n} done", secs(at)),
        }
    }

    fn finish(&self) {
        if let Show::Bars(bars) = self {
            bars.iter().for_each(ProgressBar::finish);
        }
    }
}

fn main() {
    let quick = common::quick();
    // Bounded load, whatever the flags say: at most 200 requests, and at most 12 s of sleeping
    // for the single thread, so its last client gets an answer within common::get's 15 s.
    let n = flag("--n").unwrap_or(if quick { 6 } else { 20 }).clamp(1, 200) as usize;
    let ms =
        flag("--ms").unwrap_or(if quick { 150 } else { 250 }).clamp(MIN_MS, (12_000 / n as u64).max(MIN_MS));
    let threads =
        flag("--threads").map_or(if quick { 3 } else { default_threads() }, |t| t as usize).clamp(1, 64);
    let d = Duration::from_millis(ms);

    let mut setups = vec![
        Setup { label: "single-threaded".into(), mode: Mode::Single, threads: 1, claimed: 1 },
        Setup { label: "pool of 1".into(), mode: Mode::Pool, threads: 1, claimed: 1 },
        Setup { label: format!("pool of {threads}"), mode: Mode::Pool, threads, claimed: threads },
    ];

    let title = "Lesson 6: one thread against a pool";
    println!("{title}\n{}", "=".repeat(title.chars().count()));
    println!("{n} requests GET /?ms={ms} (the sleep app: each waits {ms} ms, like a slow database call),");
    println!("fired at the same moment at three servers started side by side:");
    println!("  {:<18} Mode::Single, wsgiref's make_server: one request at a time", "single-threaded");
    println!("  {:<18} Mode::Pool, the tutorial's serve(app, threads=1): one at a time too", "pool of 1");
    println!(
        "  {:<18} Mode::Pool, waitress's serve(app, threads={threads}): {threads} at a time",
        setups[2].label
    );
    if !quick && flag("--threads").is_none() {
        println!("  ({threads} = default_threads() = 2 × cores + 1 on this machine; lesson 7 says why)");
    }
    // The tutorial's threads=1 is a claim about waitress: the real one gets the same requests.
    let python = python_side::enabled();
    if python.is_some() {
        setups.extend(waitress::setups(threads));
        println!("then at the real waitress (the Python environment), the same way, two servers:");
        println!(
            "  {:<18} waitress-serve --threads=1: the tutorial's own server, one at a time",
            setups[3].label
        );
        println!("  {:<18} waitress-serve --threads={threads}: {threads} at a time", setups[4].label);
    }

    heading("Predictions");
    for setup in &setups {
        let (t, waves) = (setup.claimed, n.div_ceil(setup.claimed));
        let arithmetic = if t == 1 {
            format!("{:<18} = {n} × {ms} ms", "N × d")
        } else {
            format!("{:<18} = ⌈{n} / {t}⌉ × {ms} ms = {waves} × {ms} ms", "⌈N / threads⌉ × d")
        };
        println!(
            "{:<18} {arithmetic} = {}, in {}",
            setup.label,
            secs(predicted(setup, n, d)),
            describe_waves(&predicted_waves(n, t))
        );
    }

    heading("Firing");
    let mut measured = measure(&setups[..3], n, d);
    let mut queues = Vec::new();
    if let Some(python) = &python {
        println!("\nThen waitress, in examples/python, with the environment's waitress-serve:");
        let runs = waitress::measure(python, &setups[3..], n, d).or_exit("cannot run waitress-serve");
        for run in runs {
            measured.push(run.measured);
            queues.push(run.deepest_queue);
        }
    }

    heading("Measured");
    println!(
        "{:<18} {:>9} {:>10} {:>10} {:>6}  waves",
        "server", "answered", "wall time", "predicted", "ratio"
    );
    for (setup, m) in setups.iter().zip(&measured) {
        let expected = predicted(setup, n, d);
        println!(
            "{:<18} {:>9} {:>10} {:>10} {:>6.2}  {}",
            setup.label,
            format!("{}/{n}", m.arrivals.len()),
            secs(m.wall()),
            secs(expected),
            m.wall().as_secs_f64() / expected.as_secs_f64(),
            describe_waves(&m.waves(d))
        );
    }
    println!("\nWhen each response arrived (seconds after the start):");
    for (setup, m) in setups.iter().zip(&measured) {
        let list: Vec<String> = m.arrivals.iter().map(|d| format!("{:.2}", d.as_secs_f64())).collect();
        println!("  {:<18} {}", setup.label, list.join(" "));
    }
    println!("A wave is the responses that arrive together: a new one starts when a response comes more");
    println!(
        "than d / 2 = {} ms after the first of the last wave. One thread answers one per wave, {ms} ms",
        ms / 2
    );
    println!("apart, and so does the pool of 1; the pool of {threads} answers {threads} per wave.");
    if python.is_some() {
        println!(
            "The waitress rows read the same way: threads=1 one per wave, threads={threads} {threads} per wave."
        );
        waitress::describe_queues(&setups[3..], &queues, n);
    }

    heading("Verdict");
    for (setup, m) in setups.iter().zip(&measured) {
        for line in judge(setup, m, n, d) {
            println!("{line}");
        }
    }
    speedup(&format!("the pool of {threads}"), "one thread", &measured[0], &measured[2], n, threads);
    if python.is_some() {
        let (one, many) = (&setups[3].label, &setups[4].label);
        speedup(many, one, &measured[3], &measured[4], n, threads);
    }
    let failures: usize = measured.iter().map(|m| m.failures).sum();
    let total = setups.len() * n;
    if failures == 0 {
        println!("OK: all {total} responses were 200 \"slept {ms} ms\"");
    } else {
        println!("NOT AS PREDICTED: {failures} of {total} responses were not 200 \"slept {ms} ms\"");
    }
    println!("\nServers stopped.");
}

/// The verdict on how much sooner `pool` (with `threads`) finished than `one` (one thread).
fn speedup(pool_label: &str, one_label: &str, one: &Measured, pool: &Measured, n: usize, threads: usize) {
    let speedup = one.wall().as_secs_f64() / pool.wall().as_secs_f64().max(1e-9);
    let predicted_speedup = n as f64 / n.div_ceil(threads) as f64;
    let ratio = speedup / predicted_speedup;
    // Both times are within 1.00–1.15 × of their predictions, so their ratio is within 1 / 1.15–1.15.
    let window = (1.0 / WITHIN.1, WITHIN.1);
    common::check(
        (window.0..=window.1).contains(&ratio),
        &format!(
            "{pool_label} finished {speedup:.1}× sooner than {one_label}, predicted N / ⌈N / threads⌉ = \
             {predicted_speedup:.1}× (ratio {ratio:.2}, within {:.2}–{:.2})",
            window.0, window.1
        ),
    );
}
