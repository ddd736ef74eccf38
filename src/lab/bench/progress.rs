//! Showing a running bench: an indicatif line on stderr, a callback, or nothing. Progress is
//! decoration: it goes to stderr, draws only on a terminal, and is erased at the end, so the
//! report on stdout is the same with or without it.

use super::Stop;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A moment of a running bench, handed to a progress callback.
///
/// ```
/// use std::time::Duration;
/// let tick = wsgi_lab::lab::bench::Tick { elapsed: Duration::from_secs(2), completed: 900, rate: 450.0 };
/// assert_eq!(tick.completed as f64 / tick.elapsed.as_secs_f64(), tick.rate);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tick {
    /// Time since the clock started.
    pub elapsed: Duration,
    /// Requests completed so far.
    pub completed: u64,
    /// Requests per second since the previous tick.
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
    /// A progress line on stderr (elapsed, requests, current rate), drawn only when stderr is
    /// a terminal and erased at the end.
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
    /// The previous update's time and count, for the current rate.
    last: (Instant, u64),
}

impl<'a> Display<'a> {
    pub(super) fn new(progress: &'a Progress, stop: Stop, start: Instant) -> Self {
        let bar = matches!(progress, Progress::Stderr).then(|| {
            // The bar measures time in duration mode and requests in count mode.
            let length = match stop {
                Stop::Duration(d) => d.as_millis() as u64,
                Stop::Requests(n) => n,
            };
            let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
            bar.set_style(ProgressStyle::with_template("[{bar:30}] {msg}").expect("a valid template"));
            bar
        });
        Display { progress, bar, stop, start, last: (start, 0) }
    }

    pub(super) fn update(&mut self, completed: u64) {
        let now = Instant::now();
        let (then, before) = self.last;
        let rate = completed.saturating_sub(before) as f64 / (now - then).as_secs_f64().max(1e-9);
        self.last = (now, completed);
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

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
