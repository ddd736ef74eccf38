//! The `shared` pool engine: no poller thread and no queue. The workers themselves wait on
//! the one epoll instance; epoll reports a connection's new bytes to exactly one of them, which
//! reads, runs the app and writes. (Linux wakes one waiter per event: `epoll_wait` waits
//! exclusively.)
//!
//! A pool has more workers than cores (2 × cores + 1), so that a worker whose app sleeps or
//! waits does not leave a core idle. But if every free worker waited on epoll, each request
//! would wake a sleeping worker while a running one was about to be free, and the cores would
//! spend their time switching threads. So only as many workers wait as there are cores, plus
//! one for each worker that is blocked inside its app; the others wait as [`Spares`]. (Go's
//! scheduler does the same when a thread blocks in a system call: another takes its place.)
//!
//! A worker is blocked when it has been inside its app for longer than [`BLOCKED_AFTER`] and
//! its thread is not running: it sleeps, or waits for a lock or a socket. The kernel says which
//! (the state in `/proc/self/task/TID/stat`). A thread the scheduler has only set aside for a
//! time slice, to run another program, is not blocked: a spare would only add switching. And a
//! worker that computes for longer than [`COMPUTING_AFTER`] counts too, so that a long request
//! shares the cores with the next ones, as a waitress thread would.
//!
//! Under load, a worker takes up to [`BATCH`] ready connections from one `epoll_wait`, serves
//! the first and leaves the others in a line that every free worker serves from before it asks
//! epoll again: one system call for several requests, as tokio's workers do. It does so only
//! while no other worker sleeps in epoll, which would have taken them at once; and a worker
//! does not go to sleep there while the line holds a connection. So a connection waits in the
//! line no longer than it would have waited in epoll, even behind a slow app.

use super::channel::{After, Channel};
use super::pool::Pool;
use super::serving::Serving;
use crate::pool::{ThreadPool, current_worker};
use crate::shutdown::ShutdownHandle;
use crate::stats::WorkerState;
use crate::sync::lock;
use rustix::time::Timespec;
use std::collections::VecDeque;
use std::io;
use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a worker may be inside its app, not running, before a spare takes its place.
const BLOCKED_AFTER: Duration = Duration::from_millis(1);

/// How long a worker may be inside its app, running, before a spare joins it: a few of the
/// scheduler's time slices, longer than another program's turn on the core.
const COMPUTING_AFTER: Duration = Duration::from_millis(10);

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
    let thread_ids: Arc<[AtomicI32]> = (0..threads.get()).map(|_| AtomicI32::new(0)).collect();
    let workers = ThreadPool::new(threads);
    for _ in 0..threads.get() {
        let (pool, spares, thread_ids) = (pool.clone(), spares.clone(), thread_ids.clone());
        workers.execute(move || {
            let id = rustix::thread::gettid().as_raw_nonzero().get();
            thread_ids[current_worker().unwrap_or(0)].store(id, Ordering::Relaxed);
            work(&pool, &spares)
        });
    }
    let mut tick = BLOCKED_AFTER;
    while !shutdown.wait_for(tick) {
        let blocked = count_blocked(&pool.cells, &thread_ids);
        // Every millisecond while a worker is blocked; otherwise less and less often, down to
        // every 5 ms: each look wakes this thread, which takes a core from the workers.
        tick = if blocked > 0 { BLOCKED_AFTER } else { (tick * 2).min(Duration::from_millis(5)) };
        spares.allow(cores + blocked);
    }
    // Every spare back to epoll, where the shutdown waker ends it.
    spares.allow(usize::MAX);
    pool.finish(workers);
    Ok(())
}

/// How many times a free worker looks at epoll without sleeping before it waits there (about
/// 10 µs in all). Under load the next request is often that close, and each sleep costs a
/// wake-up: looking first served 2–5 % more requests with 10 connections, and changed nothing
/// at 100 or when idle (README, "Measured"). The lab's bench does the same for its responses,
/// and tokio's workers look for work before they park.
const LOOKS: u32 = 20;

/// How many events a worker takes from epoll at once. More than one only while no other
/// worker sleeps there (it would take them at once): the turns it does not serve itself wait
/// in line ([`Seats::line`]) for the next free worker, and each of them saved a call to epoll.
const BATCH: usize = 16;

/// One worker: serve a turn from the line, or wait on epoll and do what the events ask, until
/// shutdown.
fn work(pool: &Pool, spares: &Spares) {
    let (mut one, mut batch, mut taken) = (Vec::with_capacity(1), Vec::with_capacity(BATCH), Vec::new());
    let no_wait = Timespec { tv_sec: 0, tv_nsec: 0 };
    let mut looks = 0;
    loop {
        let sleep = looks >= LOOKS;
        let events = {
            let mut seats = spares.take_turn();
            if let Some((token, channel)) = seats.line.pop_front() {
                drop(seats);
                pool.serve(token, channel);
                looks = 0;
                continue;
            }
            // Counted under the lock: a worker sleeps in epoll only while the line is empty.
            seats.sleeping += usize::from(sleep);
            // A batch only while no other worker sleeps there ([`BATCH`]).
            if seats.sleeping > usize::from(sleep) { &mut one } else { &mut batch }
        };
        let wait = (!sleep).then_some(&no_wait);
        let polled = pool.poll(events, wait, |token, channel| taken.push((token, channel)));
        let mut taken = taken.drain(..);
        let first = taken.next();
        if sleep || taken.len() > 0 {
            let mut seats = lock(&spares.seats);
            seats.sleeping -= usize::from(sleep);
            seats.line.extend(taken);
            // Nothing waits in line while workers sleep in epoll. Some may have begun to sleep
            // while these were taken: a turn for each, put back in epoll, wakes them.
            let back: Vec<_> = (0..seats.sleeping).map_while(|_| seats.line.pop_front()).collect();
            drop(seats);
            for (token, channel) in back {
                pool.put_back(token, channel, After::Requeue);
            }
        }
        if let Some((token, channel)) = first {
            pool.serve(token, channel);
        }
        match polled {
            // Nothing yet: one look more. Something: the next wait starts with looks again.
            Ok(true) => looks = if events.is_empty() { looks + 1 } else { 0 },
            Ok(false) => break,
            Err(e) => {
                pool.serving.log.info(&format!("a worker stopped: waiting on epoll failed: {e}"));
                break;
            }
        }
    }
    // Shutdown: the turns in line are served, so that the pool can finish.
    loop {
        let Some((token, channel)) = lock(&spares.seats).line.pop_front() else { break };
        pool.serve(token, channel);
    }
}

/// How many workers are blocked inside the app (or computing long).
fn count_blocked(cells: &[Arc<Mutex<WorkerState>>], thread_ids: &[AtomicI32]) -> usize {
    let mut blocked = 0;
    let now = Instant::now();
    for (cell, thread_id) in cells.iter().zip(thread_ids) {
        let WorkerState::Busy { since, .. } = *lock(cell) else { continue };
        let inside = now.duration_since(since);
        // Read only past BLOCKED_AFTER, when there is a decision to make.
        blocked += usize::from(
            inside > COMPUTING_AFTER
                || (inside > BLOCKED_AFTER && !is_running(thread_id.load(Ordering::Relaxed))),
        );
    }
    blocked
}

/// Whether the kernel has this thread of ours running or ready to run (state `R`), rather than
/// asleep or waiting. The state is the first field after the thread's name, in parentheses.
fn is_running(thread_id: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{thread_id}/stat")).unwrap_or_default();
    stat.rsplit_once(") ").is_some_and(|(_, fields)| fields.starts_with('R'))
}

/// What the workers share besides epoll, behind one lock ([`Seats`]). A worker over the
/// number allowed waits on a condition variable, as a spare, until it is allowed back.
struct Spares {
    seats: Mutex<Seats>,
    called: Condvar,
}

struct Seats {
    /// The workers that may take requests now (waiting on epoll or serving), and how many may.
    active: usize,
    allowed: usize,
    /// How many of them sleep in epoll.
    sleeping: usize,
    /// Turns taken from epoll in a batch, for the next free worker.
    line: VecDeque<(usize, Box<Channel>)>,
}

impl Spares {
    fn new(workers: usize, allowed: usize) -> Spares {
        let seats = Seats { active: workers, allowed, sleeping: 0, line: VecDeque::new() };
        Spares { seats: Mutex::new(seats), called: Condvar::new() }
    }

    /// Before a worker looks for work: if more workers are active than allowed, it steps out
    /// and waits to be called back. Returns the seats, locked.
    fn take_turn(&self) -> MutexGuard<'_, Seats> {
        let mut seats = lock(&self.seats);
        if seats.active > seats.allowed {
            seats.active -= 1;
            let wait = self.called.wait_while(seats, |seats| seats.active >= seats.allowed);
            seats = wait.unwrap_or_else(|e| e.into_inner());
            seats.active += 1;
        }
        seats
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

#[cfg(test)]
mod tests {
    use super::is_running;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    fn thread_id() -> i32 {
        rustix::thread::gettid().as_raw_nonzero().get()
    }

    #[test]
    fn a_waiting_thread_is_not_running_and_the_calling_one_is() {
        assert!(is_running(thread_id()), "the calling thread runs");
        let (tell, told) = mpsc::channel();
        let (wake, wait) = mpsc::channel::<()>();
        let waiting = std::thread::spawn(move || {
            tell.send(thread_id()).unwrap();
            let _ = wait.recv(); // until the sender is dropped
        });
        let id = told.recv().unwrap();
        let give_up = Instant::now() + Duration::from_secs(5);
        while is_running(id) {
            assert!(Instant::now() < give_up, "a thread waiting on a channel still reads as running");
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(wake);
        waiting.join().unwrap();
        assert!(!is_running(id), "a thread that has ended is not running");
    }
}
