//! What the server is doing, readable from another thread while it serves: each worker's
//! state, and counters for requests and connections. The live view (`serve --watch`) and the
//! lessons read it; the workers write it.
//!
//! Cost on the hot path: each worker takes its own, uncontended lock twice per request, and
//! the counters are relaxed atomics. A reader takes each worker's lock for a moment.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
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

/// Live counters of one server. Share it with [`crate::Server::stats`].
#[derive(Debug, Default)]
pub struct Stats {
    workers: Mutex<Vec<Arc<Mutex<WorkerState>>>>,
    served: AtomicU64,
    in_flight: AtomicUsize,
    queued: AtomicUsize,
    connections: AtomicUsize,
    accepted: AtomicU64,
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
    /// Complete requests waiting for a free worker.
    pub queued: usize,
    /// Connections open now.
    pub connections: usize,
    /// Connections accepted since the server started.
    pub accepted: u64,
}

impl Snapshot {
    /// How long each busy worker has been on its request, with its request line.
    pub fn busy(&self) -> Vec<(usize, &str, Duration)> {
        let now = Instant::now();
        (self.workers.iter().enumerate())
            .filter_map(|(i, w)| match w {
                WorkerState::Busy { request_line, since } => Some((i, request_line.as_str(), now - *since)),
                WorkerState::Idle => None,
            })
            .collect()
    }
}

impl Stats {
    /// A copy of everything, for display.
    pub fn snapshot(&self) -> Snapshot {
        let workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        Snapshot {
            workers: workers.iter().map(|w| w.lock().unwrap_or_else(|e| e.into_inner()).clone()).collect(),
            served: self.served.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            queued: self.queued.load(Relaxed),
            connections: self.connections.load(Relaxed),
            accepted: self.accepted.load(Relaxed),
        }
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        self.served.load(Relaxed)
    }

    /// Sets up `n` idle workers and returns their state cells.
    pub(crate) fn add_workers(&self, n: usize) -> Vec<Arc<Mutex<WorkerState>>> {
        let cells: Vec<_> = (0..n).map(|_| Arc::new(Mutex::new(WorkerState::Idle))).collect();
        *self.workers.lock().unwrap_or_else(|e| e.into_inner()) = cells.clone();
        cells
    }

    pub(crate) fn queued(&self, delta: isize) {
        add(&self.queued, delta);
    }

    pub(crate) fn connection(&self, delta: isize) {
        if delta > 0 {
            self.accepted.fetch_add(1, Relaxed);
        }
        add(&self.connections, delta);
    }

    pub(crate) fn started(&self, cell: &Mutex<WorkerState>, request_line: String) {
        self.in_flight.fetch_add(1, Relaxed);
        *cell.lock().unwrap_or_else(|e| e.into_inner()) =
            WorkerState::Busy { request_line, since: Instant::now() };
    }

    pub(crate) fn finished(&self, cell: &Mutex<WorkerState>) {
        *cell.lock().unwrap_or_else(|e| e.into_inner()) = WorkerState::Idle;
        self.in_flight.fetch_sub(1, Relaxed);
        self.served.fetch_add(1, Relaxed);
    }

    pub(crate) fn answered(&self) {
        self.served.fetch_add(1, Relaxed);
    }
}

fn add(counter: &AtomicUsize, delta: isize) {
    if delta >= 0 {
        counter.fetch_add(delta as usize, Relaxed);
    } else {
        counter.fetch_sub(delta.unsigned_abs(), Relaxed);
    }
}
