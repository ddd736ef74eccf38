//! The live view of `wsgi-lab serve --watch`: one line per worker (idle, or busy with which
//! request for how long), then the queue, the open connections and the request rate.
//!
//! On a terminal it redraws ten times a second with indicatif; elsewhere (a pipe, CI) it prints
//! a plain status line every two seconds, and a summary when the server stops.

use crate::stats::{Snapshot, Stats, WorkerState};
use colored::Colorize;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The lines of the view for one snapshot; `rate` is requests per second lately.
///
/// ```
/// use wsgi_lab::lab::watch::render;
/// use wsgi_lab::stats::{Snapshot, WorkerState};
/// let snapshot = Snapshot {
///     workers: vec![WorkerState::Idle, WorkerState::Busy { request_line: "GET /slow HTTP/1.1".into(), since: std::time::Instant::now() }],
///     served: 7, in_flight: 1, queued: 2, connections: 3, accepted: 4,
/// };
/// let lines = render(&snapshot, 12.0);
/// assert!(lines[0].contains("worker 0") && lines[0].contains("idle"));
/// assert!(lines[1].contains("busy") && lines[1].contains("GET /slow HTTP/1.1"));
/// assert!(lines[2].contains("queued 2") && lines[2].contains("connections 3") && lines[2].contains("12 req/s"));
/// ```
pub fn render(snapshot: &Snapshot, rate: f64) -> Vec<String> {
    let now = Instant::now();
    let mut lines: Vec<String> = (snapshot.workers.iter().enumerate())
        .map(|(i, state)| match state {
            WorkerState::Idle => format!("worker {i:<2} {}", "idle".green()),
            WorkerState::Busy { request_line, since } => {
                let secs = now.saturating_duration_since(*since).as_secs_f64();
                format!("worker {i:<2} {}  {request_line}  for {secs:.1} s", "busy".yellow().bold())
            }
        })
        .collect();
    lines.push(summary(snapshot, rate));
    lines
}

fn summary(s: &Snapshot, rate: f64) -> String {
    format!(
        "queued {} · in flight {} · connections {} · {:.0} req/s · {} served",
        s.queued, s.in_flight, s.connections, rate, s.served
    )
}

/// A running live view. Dropping it (or [`Watch::stop`]) ends it.
pub struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watch {
    /// Starts drawing `stats` on stderr.
    pub fn start(stats: Arc<Stats>) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let terminal = std::io::stderr().is_terminal();
        let thread =
            std::thread::spawn(move || if terminal { draw(&stats, &flag) } else { print(&stats, &flag) });
        Watch { stop, thread: Some(thread) }
    }

    /// Stops the view and waits for its last line.
    pub fn stop(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Requests per second over the last interval.
struct Rate {
    served: u64,
    at: Instant,
}

impl Rate {
    fn update(&mut self, served: u64) -> f64 {
        let now = Instant::now();
        let secs = now.duration_since(self.at).as_secs_f64().max(1e-3);
        let rate = served.saturating_sub(self.served) as f64 / secs;
        (self.served, self.at) = (served, now);
        rate
    }
}

fn draw(stats: &Stats, stop: &AtomicBool) {
    let view = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
    let style = ProgressStyle::with_template("{msg}").expect("a fixed template");
    let mut bars: Vec<ProgressBar> = Vec::new();
    let mut rate = Rate { served: stats.served(), at: Instant::now() };
    let mut shown = 0.0;
    while !stop.load(Ordering::SeqCst) {
        let snapshot = stats.snapshot();
        if rate.at.elapsed() >= Duration::from_secs(1) {
            shown = rate.update(snapshot.served);
        }
        let lines = render(&snapshot, shown);
        while bars.len() < lines.len() {
            bars.push(view.add(ProgressBar::new_spinner().with_style(style.clone())));
        }
        for (bar, line) in bars.iter().zip(lines) {
            bar.set_message(line);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bars.iter().for_each(ProgressBar::finish);
}

fn print(stats: &Stats, stop: &AtomicBool) {
    let mut rate = Rate { served: stats.served(), at: Instant::now() };
    let started = Instant::now();
    let mut next = Instant::now() + Duration::from_secs(2);
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
        if Instant::now() >= next {
            let snapshot = stats.snapshot();
            eprintln!("{}", summary(&snapshot, rate.update(snapshot.served)));
            next += Duration::from_secs(2);
        }
    }
    let snapshot = stats.snapshot();
    let average = snapshot.served as f64 / started.elapsed().as_secs_f64().max(1e-3);
    eprintln!(
        "watch summary: {} served, {} connections accepted, {average:.0} req/s on average",
        snapshot.served, snapshot.accepted
    );
}
