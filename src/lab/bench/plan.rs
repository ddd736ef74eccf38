//! What the bench's threads are given: the [`Plan`] every one reads and nobody changes, the
//! open loop's [`Schedule`], and the little they [`Shared`] while running: a start gate, the
//! tickets of count mode and one progress counter each.

use crate::sync::lock;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// What every thread reads and nobody changes once the bench runs.
pub(super) struct Plan<'a> {
    pub addr: SocketAddr,
    /// The request bytes, serialised once and sent as they are each time.
    pub request: &'a [u8],
    /// `HEAD` responses have no body, whatever their headers say.
    pub head_request: bool,
    pub keep_alive: bool,
    /// How long a connect, or a request from its first byte to its response's last, may take.
    pub timeout: Duration,
    /// Stop after this long (duration mode)...
    pub duration: Option<Duration>,
    /// ...or after this many requests in total across connections (count mode).
    pub requests: Option<u64>,
    /// The open loop's schedule, if any.
    pub schedule: Option<Schedule>,
    /// Stop when this turns true, as when the time is up ([`BenchConfig::cancel`](super::BenchConfig::cancel)).
    pub cancel: Option<&'a AtomicBool>,
    /// Connections in all, and the threads that drive them: connection `i` belongs to thread
    /// `i % threads`, so each thread gets every `threads`-th one.
    pub connections: usize,
    pub threads: usize,
}

impl Plan<'_> {
    /// The connections thread `thread` drives, by their number in the bench.
    pub fn connections_of(&self, thread: usize) -> std::iter::StepBy<std::ops::Range<usize>> {
        (thread..self.connections).step_by(self.threads)
    }
}

/// When each request of an open loop is due. The requests of the whole bench are numbered
/// k = 0, 1, 2... and request k is due k / rate after the start; connection `index` of C
/// sends requests index, index + C, index + 2C..., so each connection gets rate / C of them,
/// evenly staggered.
#[derive(Debug, Clone, Copy)]
pub(super) struct Schedule {
    /// Requests per second, across all connections.
    pub rate: f64,
    pub connections: usize,
}

impl Schedule {
    /// When connection `index`'s `nth` request is due.
    pub fn due(&self, start: Instant, index: usize, nth: u64) -> Instant {
        let k = nth as f64 * self.connections as f64 + index as f64;
        start + Duration::from_secs_f64(k / self.rate)
    }
}

/// What the threads share. Past the start gate everything is atomic, so no thread ever waits
/// for another one.
pub(super) struct Shared {
    /// Requests taken so far in count mode: a connection takes a ticket before it sends,
    /// which is how exactly N requests are sent across all of them.
    pub tickets: AtomicU64,
    /// Opened when every connection has been tried, so setting up C connections is not
    /// part of the measured time.
    pub gate: Gate,
    /// Completed requests per thread, for the progress line (one writer each).
    pub completed: Vec<Counter>,
}

/// The start gate. The coordinator opens it with the start time, or with `None` to send
/// every thread home (when no connection at all could be opened, or a thread failed to start).
#[derive(Default)]
pub(super) struct Gate {
    /// `None` while closed; then `Some(start)`, or `Some(None)` for "go home".
    state: Mutex<Option<Option<Instant>>>,
    opened: Condvar,
}

impl Gate {
    pub fn open(&self, start: Option<Instant>) {
        *lock(&self.state) = Some(start);
        self.opened.notify_all();
    }

    /// Waits until the gate opens; the start time, or `None` to give up.
    pub fn wait(&self) -> Option<Instant> {
        let state = lock(&self.state);
        let state = self.opened.wait_while(state, |s| s.is_none()).unwrap_or_else(|e| e.into_inner());
        state.flatten()
    }
}

/// A counter on a cache line of its own, so that threads each bumping their own do not slow
/// each other down by sharing one line.
#[repr(align(64))]
#[derive(Default)]
pub(super) struct Counter(pub AtomicU64);
