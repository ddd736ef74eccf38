//! The `shared` pool engine: no poller thread and no queue. The workers themselves wait on
//! the one epoll instance; epoll reports a connection's new bytes to exactly one of them, which
//! reads, runs the app and writes. (Linux wakes one waiter per event: `epoll_wait` waits
//! exclusively.)
//!
//! A pool has more workers than cores (2 × cores + 1), so that a worker whose app sleeps or
//! waits does not leave a core idle. But if every free worker waited on epoll, each request
//! would wake a sleeping worker while a running one was about to be free, and the cores would
//! spend their time switching threads. So only as many workers wait as there are cores, plus
//! one for each worker that has been inside its app for longer than [`BLOCKED_AFTER`]; the
//! others wait as [`Spares`]. (Go's scheduler does the same when a thread blocks in a system
//! call: another takes its place.)

use super::pool::{Pool, lock};
use super::serving::Serving;
use crate::pool::ThreadPool;
use crate::shutdown::ShutdownHandle;
use crate::stats::WorkerState;
use std::io;
use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a worker may be inside its app before a spare takes its place.
const BLOCKED_AFTER: Duration = Duration::from_millis(1);

/// Serves in pool mode with `threads` workers waiting on epoll until shutdown. The calling
/// thread calls spares in while workers are blocked.
pub(super) fn serve(
    serving: Serving,
    threads: NonZeroUsize,
    listener: Arc<TcpListener>,
    shutdown: &ShutdownHandle,
) -> io::Result<()> {
    let pool = Arc::new(Pool::new(serving, threads, listener, shutdown)?);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let spares = Arc::new(Spares::new(threads.get(), cores));
    let workers = ThreadPool::new(threads);
    for _ in 0..threads.get() {
        let (pool, spares) = (pool.clone(), spares.clone());
        workers.execute(move || work(&pool, &spares));
    }
    loop {
        let (busy, long) = count_blocked(&pool.cells);
        // Look often while an app runs, rarely while all is quiet.
        let tick = if busy > 0 { BLOCKED_AFTER } else { Duration::from_millis(5) };
        spares.allow(cores + long);
        if shutdown.wait_for(tick) {
            break;
        }
    }
    // Every spare back to epoll, where the shutdown waker ends it.
    spares.allow(usize::MAX);
    pool.finish(workers);
    Ok(())
}

/// One worker: wait, then do what the event asks (serving a turn itself), until shutdown.
fn work(pool: &Pool, spares: &Spares) {
    // One event at a time: the others stay in epoll for the workers that are free.
    let mut events = Vec::with_capacity(1);
    loop {
        spares.take_turn();
        match pool.poll(&mut events, |token, channel| pool.serve(token, channel)) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                pool.serving.log.info(&format!("a worker stopped: waiting on epoll failed: {e}"));
                return;
            }
        }
    }
}

/// How many workers are inside the app, and how many of them for longer than [`BLOCKED_AFTER`].
fn count_blocked(cells: &[Arc<Mutex<WorkerState>>]) -> (usize, usize) {
    let (mut busy, mut long) = (0, 0);
    let now = Instant::now();
    for cell in cells {
        if let WorkerState::Busy { since, .. } = &*lock(cell) {
            busy += 1;
            long += usize::from(now.duration_since(*since) > BLOCKED_AFTER);
        }
    }
    (busy, long)
}

/// The workers that may take requests now (`active`, waiting on epoll or serving), and how
/// many may. A worker over the number waits on a condition variable, as a spare, until it is
/// allowed back.
struct Spares {
    seats: Mutex<Seats>,
    called: Condvar,
}

struct Seats {
    active: usize,
    allowed: usize,
}

impl Spares {
    fn new(workers: usize, allowed: usize) -> Spares {
        Spares { seats: Mutex::new(Seats { active: workers, allowed }), called: Condvar::new() }
    }

    /// Before a worker waits on epoll: if more workers are active than allowed, it steps out
    /// and waits to be called back.
    fn take_turn(&self) {
        let mut seats = lock(&self.seats);
        if seats.active > seats.allowed {
            seats.active -= 1;
            let wait = self.called.wait_while(seats, |seats| seats.active >= seats.allowed);
            seats = wait.unwrap_or_else(|e| e.into_inner());
            seats.active += 1;
        }
    }

    /// Sets how many workers may be active, and calls spares in if more are.
    fn allow(&self, allowed: usize) {
        let mut seats = lock(&self.seats);
        seats.allowed = allowed;
        if seats.active < allowed {
            self.called.notify_all();
        }
    }
}
