//! The `ThreadPool`: N `Worker` threads taking jobs from one queue, first come first served.
//!
//! This is the Rust Book's pool, with two changes a server needs: the queue is a plain
//! `VecDeque` under a mutex (so the poller can count what waits, and shutdown can say what was
//! left), and a panicking job does not take its worker down. In pool mode a job is one
//! complete request on its connection (see the `poller` module); because a connection has at most one
//! job queued or running at a time, a FIFO queue is what makes the pool fair.

use crate::stats::Stats;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// A fixed set of worker threads running jobs of type `T` with one function.
///
/// ```
/// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
/// use wsgi_lab::{pool::ThreadPool, stats::Stats};
///
/// let done = Arc::new(AtomicUsize::new(0));
/// let counter = done.clone();
/// let pool = ThreadPool::new(3, Arc::new(Stats::default()), move |_worker, n: usize, _queue| {
///     counter.fetch_add(n, Ordering::SeqCst);
/// });
/// for n in 1..=4 {
///     pool.execute(n);
/// }
/// let still_running = pool.join(std::time::Instant::now() + std::time::Duration::from_secs(5));
/// assert_eq!((still_running, done.load(Ordering::SeqCst)), (0, 10));
/// ```
pub struct ThreadPool<T> {
    queue: JobQueue<T>,
    workers: Vec<Worker>,
}

/// Where jobs wait: the pool's side and the submitters' side of it. Cloning gives another
/// handle to the same queue.
pub struct JobQueue<T> {
    queue: Arc<Queue<T>>,
    stats: Arc<Stats>,
}

impl<T> Clone for JobQueue<T> {
    fn clone(&self) -> Self {
        JobQueue { queue: self.queue.clone(), stats: self.stats.clone() }
    }
}

impl<T> JobQueue<T> {
    /// Queues a job; the first idle worker takes it.
    pub fn execute(&self, job: T) {
        self.execute_all(vec![job]);
    }

    /// Queues several jobs at once, in order, under one lock.
    pub fn execute_all(&self, new: Vec<T>) {
        if new.is_empty() {
            return;
        }
        self.stats.queued(new.len() as isize);
        let mut jobs = self.queue.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.waiting.extend(new);
        // Waking a worker costs a system call and two context switches: only for jobs no
        // awake worker will take.
        let wake = jobs.waiting.len().min(jobs.sleeping);
        drop(jobs);
        for _ in 0..wake {
            self.queue.ready.notify_one();
        }
    }
}

/// One thread of the pool.
struct Worker {
    thread: JoinHandle<()>,
}

struct Queue<T> {
    jobs: Mutex<Jobs<T>>,
    /// Signalled when a job arrives or the queue closes.
    ready: Condvar,
}

struct Jobs<T> {
    waiting: VecDeque<T>,
    closed: bool,
    /// Workers waiting on `ready`: waking one costs a system call, so only when one sleeps.
    sleeping: usize,
}

impl<T: Send + 'static> ThreadPool<T> {
    /// Starts `size` workers, each running `work(worker_id, job, queue)` for the jobs it takes
    /// (a job may queue another).
    pub fn new(
        size: usize,
        stats: Arc<Stats>,
        work: impl Fn(usize, T, &JobQueue<T>) + Send + Sync + 'static,
    ) -> Self {
        let jobs = Mutex::new(Jobs { waiting: VecDeque::new(), closed: false, sleeping: 0 });
        let queue = JobQueue { queue: Arc::new(Queue { jobs, ready: Condvar::new() }), stats };
        let work = Arc::new(work);
        let workers = (0..size.max(1))
            .map(|id| {
                let (queue, work) = (queue.clone(), work.clone());
                let thread = std::thread::Builder::new()
                    .name(format!("worker-{id}"))
                    .spawn(move || {
                        while let Some(job) = queue.queue.take() {
                            queue.stats.queued(-1);
                            // The app's panics are caught closer to it; this keeps the pool at full
                            // size even if something else goes wrong in a job.
                            let _ = catch_unwind(AssertUnwindSafe(|| work(id, job, &queue)));
                        }
                    })
                    .expect("the OS refused to start a worker thread");
                Worker { thread }
            })
            .collect();
        ThreadPool { queue, workers }
    }

    /// Queues a job; the first idle worker takes it.
    pub fn execute(&self, job: T) {
        self.queue.execute(job);
    }

    /// A handle for queueing jobs from elsewhere.
    pub fn queue(&self) -> JobQueue<T> {
        self.queue.clone()
    }

    /// How many workers the pool has.
    pub fn size(&self) -> usize {
        self.workers.len()
    }

    /// Closes the queue: workers finish the jobs already queued, then stop. Waits for them until
    /// `deadline` and returns how many were still running then (they are left to finish alone).
    pub fn join(self, deadline: Instant) -> usize {
        self.queue.queue.jobs.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.queue.queue.ready.notify_all();
        let mut still_running = 0;
        for worker in self.workers {
            while !worker.thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            if worker.thread.is_finished() {
                let _ = worker.thread.join();
            } else {
                still_running += 1;
            }
        }
        still_running
    }
}

impl<T> Queue<T> {
    /// The next job, waiting for one; `None` once the queue is closed and empty.
    fn take(&self) -> Option<T> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(job) = jobs.waiting.pop_front() {
                return Some(job);
            }
            if jobs.closed {
                return None;
            }
            jobs.sleeping += 1;
            jobs = self.ready.wait(jobs).unwrap_or_else(|e| e.into_inner());
            jobs.sleeping -= 1;
        }
    }
}
