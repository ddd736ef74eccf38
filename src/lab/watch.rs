//! The live view of `wsgi-lab serve --watch`: the totals first (connections, split into
//! queued, in flight and idle; requests served and the rate), then one line per worker (idle,
//! or busy with which request for how long).
//!
//! Every frame comes from one [`Snapshot`], whose totals add up. On a terminal it redraws ten
//! times a second in place (see `redraw`) and fits the terminal's height (idle workers that
//! do not fit collapse into one line); elsewhere (a pipe, CI) it prints the totals as one plain
//! line each second in which they changed, and a summary when the server stops.

use crate::stats::{Snapshot, Stats, WorkerState};
use crate::sync::lock;
use colored::Colorize;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The room the view has, in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    /// Lines the view may take.
    pub rows: usize,
    /// Characters a line may take.
    pub cols: usize,
}

impl Screen {
    /// The size of the terminal the view draws on (stderr), asked of the terminal itself, so
    /// that a resized window is followed; else `LINES` and `COLUMNS` when the shell exports
    /// them; else the classic 24 × 80. (The view leaves one line for the cursor.)
    pub fn of_terminal() -> Screen {
        let asked =
            rustix::termios::tcgetwinsize(std::io::stderr()).ok().filter(|w| w.ws_row > 0 && w.ws_col > 0);
        let var = |name: &str, default: usize| {
            std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).filter(|n| *n > 0).unwrap_or(default)
        };
        let (rows, cols) = match asked {
            Some(size) => (usize::from(size.ws_row), usize::from(size.ws_col)),
            None => (var("LINES", 24), var("COLUMNS", 80)),
        };
        Screen { rows: rows.saturating_sub(1).max(1), cols }
    }
}

/// The lines of one frame: the totals of `snapshot`, then its workers, at most `screen.rows`
/// lines of at most `screen.cols` characters. `rate` is requests per second lately; `now`
/// dates the busy workers. Busy workers come before idle ones when not all fit; the workers
/// left out are counted on one line.
///
/// ```
/// use std::time::{Duration, Instant};
/// use wsgi_lab::lab::watch::{Screen, layout};
/// use wsgi_lab::stats::{Snapshot, WorkerState};
/// let now = Instant::now();
/// let busy = WorkerState::Busy { request_line: "GET /slow HTTP/1.1".into(), since: now - Duration::from_millis(1500) };
/// let snapshot = Snapshot {
///     workers: vec![WorkerState::Idle, busy],
///     served: 7, in_flight: 1, queued: 2, connections: 4, accepted: 9, queue_counted: true,
/// };
/// let lines = layout(&snapshot, 12.0, Screen { rows: 10, cols: 100 }, now);
/// assert!(lines[0].contains("connections 4: queued 2 · in flight 1 · idle/reading 1"));
/// assert!(lines[0].contains("7 served · 12 req/s"));
/// assert!(lines[1].contains("worker 0") && lines[1].contains("idle"));
/// assert!(lines[2].contains("busy") && lines[2].contains("GET /slow HTTP/1.1  for 1.5 s"));
/// ```
pub fn layout(snapshot: &Snapshot, rate: f64, screen: Screen, now: Instant) -> Vec<String> {
    if screen.rows == 0 {
        return Vec::new();
    }
    let mut lines = vec![fit(&summary(snapshot, rate), screen.cols)];
    let room = screen.rows - 1;
    let workers = &snapshot.workers;
    let line = |i: usize| worker_line(i, &workers[i], screen.cols, now);
    if workers.len() <= room {
        lines.extend((0..workers.len()).map(line));
        if !snapshot.queue_counted && room > workers.len() {
            lines.push(fit(NO_QUEUE, screen.cols));
        }
        return lines;
    }
    if room == 0 {
        return lines;
    }
    // One line counts the workers left out; the rest show busy workers, in worker order.
    let busy: Vec<usize> = (0..workers.len()).filter(|i| workers[*i] != WorkerState::Idle).collect();
    let shown = busy.len().min(room - 1);
    lines.extend(busy[..shown].iter().map(|i| line(*i)));
    let (busy_left, idle_left) = (busy.len() - shown, workers.len() - busy.len());
    let more = if shown == 0 { "" } else { "more " };
    let rest = match (busy_left, idle_left) {
        (0, idle) => format!("… {idle} {more}{} idle", plural(idle, "worker")),
        (busy, 0) => format!("… {busy} {more}{} busy", plural(busy, "worker")),
        (busy, idle) => format!("… {} {more}workers: {busy} busy, {idle} idle", busy + idle),
    };
    lines.push(fit(&rest, screen.cols));
    lines
}

/// Why `queued` shows no number where the queue is not counted.
const NO_QUEUE: &str = "queued —: this server keeps no queue of its own; ready connections wait in epoll or the OS backlog, uncounted";

fn plural(n: usize, word: &str) -> String {
    if n == 1 { word.to_string() } else { format!("{word}s") }
}

/// The totals on one line. Where the queue is counted, the three parts add up to the
/// connections; elsewhere the connections not running a request are one part.
fn summary(s: &Snapshot, rate: f64) -> String {
    let split = if s.queue_counted {
        format!("queued {} · in flight {} · idle/reading {}", s.queued, s.in_flight, s.idle())
    } else {
        format!("queued — · in flight {} · not running {}", s.in_flight, s.idle())
    };
    format!("connections {}: {split} │ {} served · {rate:.0} req/s", s.connections, s.served)
}

/// `worker 3  busy  GET /x HTTP/1.1  for 1.2 s`, the request line cut to fit `cols`; the state
/// word in colour.
fn worker_line(i: usize, state: &WorkerState, cols: usize, now: Instant) -> String {
    let prefix = format!("worker {i:<2} ");
    let (word, rest) = match state {
        WorkerState::Idle => ("idle", String::new()),
        WorkerState::Busy { request_line, since } => {
            let secs = now.saturating_duration_since(*since).as_secs_f64();
            let tail = format!("  for {secs:.1} s");
            let room = cols.saturating_sub(prefix.len() + 4 + 2 + tail.chars().count());
            ("busy", format!("  {}{tail}", fit(request_line, room)))
        }
    };
    let plain = fit(&format!("{prefix}{word}{rest}"), cols);
    // Colour only when the word survived the cut whole (the prefix and word are ASCII).
    if !plain.get(prefix.len()..).is_some_and(|rest| rest.starts_with(word)) {
        return plain;
    }
    let painted = if word == "idle" { word.green() } else { word.yellow().bold() };
    let after = &plain[prefix.len() + word.len()..];
    format!("{prefix}{painted}{after}")
}

/// `text` cut to `cols` characters, an ellipsis marking the cut.
fn fit(text: &str, cols: usize) -> String {
    if text.chars().count() <= cols {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(cols.saturating_sub(1)).collect();
    if cols > 0 {
        cut.push('…');
    }
    cut
}

/// A running live view. Dropping it (or [`Watch::stop`]) draws a last frame and ends it.
pub struct Watch {
    inner: Arc<Inner>,
}

/// Stops a [`Watch`] from another thread (a Ctrl+C handler, say), so that the last frame is
/// drawn before the shutdown lines are printed below it.
#[derive(Clone)]
pub struct WatchStopper {
    inner: Arc<Inner>,
}

struct Inner {
    stop: AtomicBool,
    /// Taken by the first to stop the view; whoever comes later waits on the lock until the
    /// thread has drawn its last frame.
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Inner {
    fn finish(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let mut thread = lock(&self.thread);
        if let Some(thread) = thread.take() {
            let _ = thread.join();
        }
    }
}

impl Watch {
    /// Starts drawing `stats` on stderr.
    pub fn start(stats: Arc<Stats>) -> Watch {
        let inner = Arc::new(Inner { stop: AtomicBool::new(false), thread: Mutex::new(None) });
        let terminal = std::io::stderr().is_terminal();
        let view = inner.clone();
        let thread =
            std::thread::spawn(
                move || {
                    if terminal { draw(&stats, &view.stop) } else { print(&stats, &view.stop) }
                },
            );
        *lock(&inner.thread) = Some(thread);
        Watch { inner }
    }

    /// Stops the view and waits for its last frame (or, off a terminal, its summary line).
    pub fn stop(self) {
        self.inner.finish();
    }

    /// A handle that stops the view from elsewhere, as [`Watch::stop`] does.
    pub fn stopper(&self) -> WatchStopper {
        WatchStopper { inner: self.inner.clone() }
    }
}

impl WatchStopper {
    /// Stops the view and waits for its last frame; at once if it is stopped already.
    pub fn stop(&self) {
        self.inner.finish();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.inner.finish();
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

/// What replaces a frame of `drawn` lines, drawn by the previous call, with `lines`; the
/// first frame has `drawn` 0.
///
/// The cursor rests at the start of the line below the frame. It must not rest at the end of
/// the frame's last line (where indicatif leaves it, the line padded to the terminal's width):
/// the terminal echoes a Ctrl+C as `^C` at the cursor, which at the right margin wraps onto a
/// new line, so the next frame would go up one line too few and leave the old totals line
/// above it, on screen twice. Below the frame, the echo stays on the cursor's line, and the
/// next frame erases it.
fn redraw(drawn: usize, lines: &[String]) -> String {
    // Up to the first line of the old frame.
    let mut frame = if drawn == 0 { "\r".to_string() } else { format!("\r\x1b[{drawn}A") };
    // No autowrap while drawing: a line wider than the terminal is cut at its edge instead of
    // taking a second row that `drawn` would not count.
    frame += "\x1b[?7l";
    for line in lines {
        // Overwritten in place, then the rest of the old line erased (`K`): erasing first would
        // flash a blank line.
        frame += line;
        frame += "\x1b[K\n";
    }
    // Erase below (`J`): the lines of a taller old frame, and a `^C` echoed there.
    frame += "\x1b[J\x1b[?7h";
    frame
}

fn draw(stats: &Stats, stop: &AtomicBool) {
    let mut rate = Rate { served: stats.served(), at: Instant::now() };
    let (mut shown, mut drawn) = (0.0, 0);
    loop {
        // Read before the snapshot: a stop seen here still gets this last frame drawn.
        let last = stop.load(Ordering::SeqCst);
        let snapshot = stats.snapshot();
        if rate.at.elapsed() >= Duration::from_secs(1) {
            shown = rate.update(snapshot.served);
        }
        let lines = layout(&snapshot, shown, Screen::of_terminal(), Instant::now());
        // One write under the lock (stderr has no buffer): no other line lands inside a frame.
        let _ = std::io::stderr().lock().write_all(redraw(drawn, &lines).as_bytes());
        drawn = lines.len();
        if last {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn print(stats: &Stats, stop: &AtomicBool) {
    let mut rate = Rate { served: stats.served(), at: Instant::now() };
    let started = Instant::now();
    let mut next = Instant::now() + Duration::from_secs(1);
    let mut printed: Option<Snapshot> = None;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
        if Instant::now() >= next {
            let snapshot = stats.snapshot();
            let per_second = rate.update(snapshot.served);
            // A line per second in which the totals moved: an idle server does not fill a log.
            if printed.as_ref().is_none_or(|p| totals(p) != totals(&snapshot)) {
                eprintln!("{}", summary(&snapshot, per_second));
                printed = Some(snapshot);
            }
            next += Duration::from_secs(1);
        }
    }
    let snapshot = stats.snapshot();
    let average = snapshot.served as f64 / started.elapsed().as_secs_f64().max(1e-3);
    eprintln!(
        "watch summary: {} served, {} connections accepted, {average:.0} req/s on average",
        snapshot.served, snapshot.accepted
    );
}

/// The numbers of a reading, without the workers' clocks.
fn totals(s: &Snapshot) -> (usize, usize, usize, u64, u64) {
    (s.connections, s.queued, s.in_flight, s.served, s.accepted)
}

#[cfg(test)]
mod tests;
