//! What the server is doing, readable from another thread while it serves: each worker's
//! state, and counters for requests and connections. The live view (`serve --watch`) and the
//! lessons read it; the workers write it.
//!
//! A reading must be true as a whole: `queued + in flight + idle = connections` on every
//! snapshot, `served` never going back, and as many busy workers as requests in flight. So all
//! the totals live in one `Counts` behind one lock and change together at each transition,
//! and a snapshot copies them at one moment. (Separate atomics read one after the other can
//! mix moments: a request counted in flight after its connection was counted closed.)
//!
//! Cost on the hot path: a worker takes its own, uncontended lock and the totals' lock, shortly,
//! at each start and finish of a request; opening, closing, queueing and dequeueing a
//! connection take the totals' lock alone. Nothing is allocated under the totals' lock.
//!
//! Lock order, everywhere: the list of workers, then the workers' cells in worker order, then
//! the totals. A writer holds at most one cell.

use crate::sync::lock;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One worker's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerState {
    /// Waiting for a request.
    Idle,
    /// Running the app for this request line, since then.
    Busy {
        /// `GET /path HTTP/1.1`.
        request_line: String,
        /// When the worker took the request.
        since: Instant,
    },
}

/// The totals that must agree with each other, changed together under one lock.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    connections: usize,
    queued: usize,
    in_flight: usize,
    served: u64,
    accepted: u64,
    queue_counted: bool,
}

/// Live counters of one server. Share it with [`crate::Server::stats`].
///
/// The server calls the transition methods ([`Stats::connection`], [`Stats::queued`],
/// [`Stats::started`], [`Stats::finished`], [`Stats::answered`]); they are public so that a
/// test or a lesson can drive a `Stats` without sockets.
///
/// ```
/// use wsgi_lab::stats::Stats;
/// let stats = Stats::default();
/// let cells = stats.add_workers(1);
/// stats.connection(1);
/// stats.started(&cells[0], "GET / HTTP/1.1".into());
/// let during = stats.snapshot();
/// assert_eq!((during.connections, during.in_flight, during.idle()), (1, 1, 0));
/// stats.finished(&cells[0]);
/// stats.connection(-1);
/// assert_eq!((stats.served(), stats.snapshot().connections), (1, 0));
/// ```
#[derive(Debug, Default)]
pub struct Stats {
    /// Each worker's cell: its state, written by that worker only.
    workers: Mutex<Vec<Arc<Mutex<WorkerState>>>>,
    /// Every total. A change of `in_flight` is made while holding the worker's cell, so a
    /// reader holding all the cells sees as many busy workers as requests in flight.
    counts: Mutex<Counts>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Each worker's state, in worker order (one worker in single-threaded mode).
    pub workers: Vec<WorkerState>,
    /// Requests answered since the server started.
    pub served: u64,
    /// Requests a worker is running now.
    pub in_flight: usize,
    /// Connections the poller found ready (a request's bytes, or the client's close), handed
    /// to the pool and waiting for a free worker. Only the handoff engine has such a queue;
    /// see `queue_counted`.
    pub queued: usize,
    /// Connections open now.
    pub connections: usize,
    /// Connections accepted since the server started.
    pub accepted: u64,
    /// Whether this server counts a queue. The handoff engine does; the shared engine and
    /// single-threaded mode keep none of their own (ready connections wait in epoll or in the
    /// OS backlog, uncounted), and `queued` is 0 there without meaning "nothing waits".
    pub queue_counted: bool,
}

impl Snapshot {
    /// How long each busy worker has been on its request, with its request line.
    pub fn busy(&self) -> Vec<(usize, &str, Duration)> {
        let now = Instant::now();
        (self.workers.iter().enumerate())
            .filter_map(|(i, w)| match w {
                WorkerState::Busy { request_line, since } => {
                    Some((i, request_line.as_str(), now.saturating_duration_since(*since)))
                }
                WorkerState::Idle => None,
            })
            .collect()
    }

    /// Open connections neither queued nor running a request: kept alive between requests,
    /// still sending one, or (where the queue is not counted) ready and waiting for a worker.
    pub fn idle(&self) -> usize {
        // Never saturates on a snapshot from `Stats::snapshot`; a hand-built one may lie.
        self.connections.saturating_sub(self.queued + self.in_flight)
    }
}

impl Stats {
    /// A copy of everything at one moment, for display.
    pub fn snapshot(&self) -> Snapshot {
        let cells = lock(&self.workers);
        // Every cell held, then the totals: no worker is between changing `in_flight` and
        // its state, so the busy cells and `in_flight` agree.
        let mut held = Vec::with_capacity(cells.len());
        held.extend(cells.iter().map(|cell| lock(cell)));
        let counts = *lock(&self.counts);
        let workers = held.iter().map(|state| WorkerState::clone(state)).collect();
        drop(held);
        Snapshot {
            workers,
            served: counts.served,
            in_flight: counts.in_flight,
            queued: counts.queued,
            connections: counts.connections,
            accepted: counts.accepted,
            queue_counted: counts.queue_counted,
        }
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        lock(&self.counts).served
    }

    /// Sets up `n` idle workers and returns their state cells.
    pub fn add_workers(&self, n: usize) -> Vec<Arc<Mutex<WorkerState>>> {
        let cells: Vec<_> = (0..n).map(|_| Arc::new(Mutex::new(WorkerState::Idle))).collect();
        *lock(&self.workers) = cells.clone();
        cells
    }

    /// Declares that this server counts its queue (the handoff engine), so that a reading of
    /// `queued 0` means an empty queue. The first [`Stats::queued`] declares it too.
    pub fn counts_queue(&self) {
        lock(&self.counts).queue_counted = true;
    }

    /// A connection was handed to the pool (`+1`), or a worker took it from there (`-1`).
    pub fn queued(&self, delta: isize) {
        let mut counts = lock(&self.counts);
        counts.queue_counted = true;
        counts.queued = add(counts.queued, delta);
    }

    /// A connection was accepted (`+1`) or closed (`-1`).
    pub fn connection(&self, delta: isize) {
        let mut counts = lock(&self.counts);
        if delta > 0 {
            counts.accepted += delta.unsigned_abs() as u64;
        }
        counts.connections = add(counts.connections, delta);
    }

    /// The worker with this cell began running the app for `request_line`.
    pub fn started(&self, cell: &Mutex<WorkerState>, request_line: String) {
        let busy = WorkerState::Busy { request_line, since: Instant::now() };
        let mut state = lock(cell);
        lock(&self.counts).in_flight += 1;
        let _idle = std::mem::replace(&mut *state, busy);
    }

    /// The worker with this cell finished its request: it is idle again, and one more request
    /// is served.
    pub fn finished(&self, cell: &Mutex<WorkerState>) {
        let mut state = lock(cell);
        {
            let mut counts = lock(&self.counts);
            counts.in_flight = add(counts.in_flight, -1);
            counts.served += 1;
        }
        let busy = std::mem::replace(&mut *state, WorkerState::Idle);
        drop(state);
        // Its request line is freed outside every lock.
        drop(busy);
    }

    /// A request was answered without running the app (refused with an error status).
    pub fn answered(&self) {
        lock(&self.counts).served += 1;
    }
}

/// `count + delta`. Going below zero is a bug in the caller: loud in debug builds, and held
/// at zero in release builds rather than wrapping to a huge reading.
fn add(count: usize, delta: isize) -> usize {
    let sum = count.checked_add_signed(delta);
    debug_assert!(sum.is_some(), "a counter at {count} cannot change by {delta}");
    sum.unwrap_or(0)
}
