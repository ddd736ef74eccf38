//! Showing a running bench: an indicatif line on stderr, a callback, or nothing. Progress is
//! decoration: it goes to stderr, draws only on a terminal, and is erased at the end, so the
//! report on stdout is the same with or without it.
//!
//! The line names what is being measured (the caller's label, such as `hello · 5 threads ·
//! shared · 10 conns`), so a `compare` that runs a dozen rows says which one is running. Its
//! rate is the completions of the last [`RATE_WINDOW`], a moving window: the rate over the
//! last 100 ms alone jumps with every scheduling hiccup of a 2-core machine and cannot be read.

use super::{BenchConfig, Stop};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The rate shown is measured over this much of the recent past.
pub const RATE_WINDOW: Duration = Duration::from_secs(2);

/// A moment of a running bench, handed to a progress callback.
///
/// ```
/// use std::time::Duration;
/// let tick = wsgi_lab::lab::bench::Tick { elapsed: Duration::from_secs(2), completed: 900, rate: 450.0 };
/// // Over the first 2 s, the moving window is the whole run.
/// assert_eq!(tick.completed as f64 / tick.elapsed.as_secs_f64(), tick.rate);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tick {
    /// Time since the clock started.
    pub elapsed: Duration,
    /// Requests completed so far.
    pub completed: u64,
    /// Requests per second over the last [`RATE_WINDOW`] (since the start, in the first one).
    pub rate: f64,
}

/// How a running bench shows its progress. Quiet by default, so tests and `compare` print
/// nothing.
///
/// ```
/// use std::sync::Arc;
/// use wsgi_lab::lab::bench::{Progress, Tick};
/// let progress = Progress::Callback(Arc::new(|tick: &Tick| eprintln!("{} done", tick.completed)));
/// assert!(matches!(progress, Progress::Callback(_)));
/// ```
#[derive(Clone, Default)]
pub enum Progress {
    /// Nothing.
    #[default]
    Quiet,
    /// A progress line on stderr (the label, elapsed, requests, recent rate), drawn only when
    /// stderr is a terminal and erased at the end.
    Stderr,
    /// Called about ten times a second, on the thread that called [`run`](super::run).
    Callback(Arc<dyn Fn(&Tick) + Send + Sync>),
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Progress::Quiet => "Quiet",
            Progress::Stderr => "Stderr",
            Progress::Callback(_) => "Callback(..)",
        })
    }
}

/// The progress display: an indicatif bar on stderr, a callback, or nothing.
pub(super) struct Display<'a> {
    progress: &'a Progress,
    bar: Option<ProgressBar>,
    stop: Stop,
    start: Instant,
    /// Recent updates' times and counts, oldest first, spanning about [`RATE_WINDOW`]: the
    /// rate is the count gained across them.
    recent: VecDeque<(Instant, u64)>,
}

impl<'a> Display<'a> {
    /// A display for a run that started at `start`, called `label` on its line.
    pub(super) fn new(progress: &'a Progress, stop: Stop, start: Instant, label: String) -> Self {
        let bar = matches!(progress, Progress::Stderr).then(|| {
            // The bar measures time in duration mode and requests in count mode.
            let length = match stop {
                Stop::Duration(d) => d.as_millis() as u64,
                Stop::Requests(n) => n,
            };
            let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {msg}").expect("a valid template"),
            );
            bar.set_prefix(label);
            bar
        });
        Display { progress, bar, stop, start, recent: VecDeque::from([(start, 0)]) }
    }

    pub(super) fn update(&mut self, completed: u64) {
        let now = Instant::now();
        let rate = self.rate(now, completed);
        let tick = Tick { elapsed: now - self.start, completed, rate };
        match (self.progress, &self.bar) {
            (Progress::Callback(callback), _) => callback(&tick),
            (Progress::Stderr, Some(bar)) => {
                bar.set_position(match self.stop {
                    Stop::Duration(_) => tick.elapsed.as_millis() as u64,
                    Stop::Requests(_) => completed,
                });
                bar.set_message(format!(
                    "{:.1} s, {completed} requests, {rate:.0} requests/s",
                    tick.elapsed.as_secs_f64()
                ));
            }
            _ => {}
        }
    }

    /// The rate over the window that ends now, and the window moved on.
    fn rate(&mut self, now: Instant, completed: u64) -> f64 {
        // Keep one sample at or before the window's start, so the window spans all of it.
        while self.recent.len() > 1 && now.duration_since(self.recent[1].0) >= RATE_WINDOW {
            self.recent.pop_front();
        }
        let (then, before) = self.recent.front().copied().unwrap_or((self.start, 0));
        self.recent.push_back((now, completed));
        completed.saturating_sub(before) as f64 / (now - then).as_secs_f64().max(1e-9)
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The progress bar's label when the caller gives none: `http://127.0.0.1:8080/ · 10 conns ·
/// 2 threads` (and the rate of an open loop).
pub(super) fn default_label(config: &BenchConfig, connections: usize, threads: usize) -> String {
    let plural = |n: usize, word: &str| if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") };
    let mut label =
        format!("{} · {} · {}", config.url, plural(connections, "conn"), plural(threads, "thread"));
    if let Some(rate) = config.rate {
        label += &format!(" · {rate}/s");
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_a_moving_window() {
        let progress = Progress::Quiet;
        let start = Instant::now();
        let mut display = Display::new(&progress, Stop::Requests(1), start, "test".into());
        let at = |ms: u64| start + Duration::from_millis(ms);
        // 1,000 requests/s for 3 s, then nothing for 100 ms: a 100 ms rate would say 0.
        for tenth in 1..=30 {
            display.rate(at(tenth * 100), tenth * 100);
        }
        let rate = display.rate(at(3_100), 3_000);
        assert!((900.0..1_000.0).contains(&rate), "{rate}");
        assert!(display.recent.len() <= 22, "the window forgets the old samples");
        // In the first window, the rate is the one since the start.
        let mut display = Display::new(&progress, Stop::Requests(1), start, "test".into());
        assert_eq!(display.rate(at(500), 250), 500.0);
    }
}
