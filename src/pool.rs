//! The `ThreadPool`: N `Worker` threads taking jobs from one queue, first come first served.
//!
//! This is the pool of the Rust Book's web-server chapter ("Turning Our Single-Threaded Server
//! into a Multithreaded Server", then "Graceful Shutdown and Cleanup"): a `Job` is a boxed
//! closure, `execute` sends it to the workers, each `Worker` thread takes the next one, and
//! dropping the pool closes the queue and joins the workers. What a server needs on top is
//! marked "Server:" in the code:
//!
//! 1. A job that panics does not take its worker down: the pool stays at full size.
//! 2. [`ThreadPool::shutdown`] stops waiting at a deadline, for an app that never returns, and
//!    says how many workers it left running.
//! 3. A job can find out which worker runs it ([`current_worker`]), for per-worker state such as
//!    the live view's.
//! 4. The jobs go through a queue with a condition variable (waitress's), not the Book's
//!    `mpsc` channel behind a `Mutex`, which wakes two workers per job (`src/pool/queue.rs`).
//!
//! The Book's workers print `Worker 0 got a job; executing.`; these do not, as a server would
//! print that for every request.
//!
//! **Fairness.** The queue is first in, first out, and whichever worker is free takes the job
//! at its head. In pool mode a job is one turn of one connection, and a connection has at most
//! one job queued or running at a time (the server sees to it): so a connection waits behind at
//! most one job of each other connection, and none can starve another.

mod queue;

use std::cell::Cell;
use std::num::NonZeroUsize;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use queue::Queue;

/// A fixed set of worker threads running the jobs sent to them, in the order they were sent.
///
/// ```
/// use std::num::NonZeroUsize;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use wsgi_lab::pool::ThreadPool;
///
/// let sum = Arc::new(AtomicUsize::new(0));
/// let pool = ThreadPool::new(NonZeroUsize::new(3).unwrap());
/// for n in 1..=4 {
///     let sum = Arc::clone(&sum);
///     pool.execute(move || {
///         sum.fetch_add(n, Ordering::SeqCst);
///     });
/// }
/// drop(pool); // closes the queue, then waits for the workers: every job has run
/// assert_eq!(sum.load(Ordering::SeqCst), 1 + 2 + 3 + 4);
/// ```
pub struct ThreadPool {
    workers: Vec<Worker>,
    /// The Book keeps `sender: Option<mpsc::Sender<Job>>`, and closes the channel by dropping
    /// the sender; here closing is a call ([`Queue::close`]).
    queue: Arc<Queue>,
}

impl ThreadPool {
    /// Starts `size` workers, named `worker-0`, `worker-1`, … (panic messages, debuggers and
    /// `top -H` show the names). The Book asserts `size > 0`; here a zero-sized pool cannot be
    /// written. Panics if the OS refuses to start a thread.
    pub fn new(size: NonZeroUsize) -> ThreadPool {
        let queue = Arc::new(Queue::new());

        let mut workers = Vec::with_capacity(size.get());
        for id in 0..size.get() {
            workers.push(Worker::new(id, Arc::clone(&queue)));
        }

        ThreadPool { workers, queue }
    }

    /// Queues a job; the first free worker runs it.
    pub fn execute<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        let job = Box::new(f);

        self.queue.send(job);
    }

    /// Server: what `drop` does, but waiting only until `deadline`. Closes the queue; the
    /// workers finish the jobs already queued, then stop. Returns how many were still running
    /// at the deadline: they are left to finish alone (detached), so that one app that never
    /// returns cannot keep the server from stopping.
    ///
    /// ```
    /// use std::{num::NonZeroUsize, sync::mpsc, time::{Duration, Instant}};
    /// use wsgi_lab::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(NonZeroUsize::new(2).unwrap());
    /// let (release, stuck) = mpsc::channel::<()>();
    /// pool.execute(move || {
    ///     let _ = stuck.recv(); // an app that waits for something that does not come
    /// });
    /// pool.execute(|| {});
    /// let left_running = pool.shutdown(Instant::now() + Duration::from_millis(100));
    /// assert_eq!(left_running, 1);
    /// drop(release); // the stuck job returns, and its worker ends
    /// ```
    pub fn shutdown(mut self, deadline: Instant) -> usize {
        self.queue.close();

        let mut still_running = 0;
        for worker in self.workers.drain(..) {
            if !worker.join_until(deadline) {
                still_running += 1;
            }
        }
        // `drop` runs next, with no workers left: it has nothing to wait for.
        still_running
    }
}

impl Drop for ThreadPool {
    /// Closes the queue and waits for every worker, however long their jobs take, like the
    /// Book's (and like tokio's runtime). A drop cannot report what it would leave behind, and a
    /// thread silently left running the app would be a leak no one sees; a server that must
    /// stop in bounded time calls [`ThreadPool::shutdown`], which can say so.
    fn drop(&mut self) {
        self.queue.close();

        for worker in self.workers.drain(..) {
            // An error would mean the worker itself panicked, which catching the jobs' panics
            // rules out; there is nothing a drop could do about it anyway.
            let _ = worker.thread.join();
        }
    }
}

thread_local! {
    /// Which worker this thread is, set once when the worker starts.
    static WORKER_ID: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Server: the id of the worker running the calling job (`0` to `size - 1`), or `None` on a
/// thread that is not a pool's worker. The server uses it to find the worker's cell in the live
/// view.
///
/// ```
/// use std::{num::NonZeroUsize, sync::mpsc};
/// use wsgi_lab::pool::{ThreadPool, current_worker};
///
/// let pool = ThreadPool::new(NonZeroUsize::new(2).unwrap());
/// let (tx, rx) = mpsc::channel();
/// pool.execute(move || tx.send(current_worker()).unwrap());
/// assert!(matches!(rx.recv().unwrap(), Some(0 | 1)));
/// assert_eq!(current_worker(), None); // this thread is not a worker
/// ```
pub fn current_worker() -> Option<usize> {
    WORKER_ID.get()
}

/// One thread of the pool. The Book keeps the worker's `id` here too, to print it; here it is
/// the thread's name, and nothing else reads it.
struct Worker {
    thread: thread::JoinHandle<()>,
}

impl Worker {
    fn new(id: usize, queue: Arc<Queue>) -> Worker {
        let thread = thread::Builder::new()
            .name(format!("worker-{id}"))
            .spawn(move || {
                WORKER_ID.set(Some(id));
                loop {
                    // Server: the Book has `receiver.lock().unwrap().recv()` here, which wakes
                    // two workers per job (`queue.rs` says why). The queue's lock is held only
                    // while a job is taken: not while it runs, nor while a worker waits.
                    let message = queue.recv();

                    match message {
                        Some(job) => {
                            // Server: a panic in a job ends the job, not the worker, so the pool
                            // stays at full size. The panic message is still printed. Unwind
                            // safety: what the job leaves half-done is either its own captures,
                            // dropped with it, or behind a mutex that the panic poisons.
                            let _ = panic::catch_unwind(AssertUnwindSafe(job));
                        }
                        // The queue is closed and empty: the pool is shutting down.
                        None => break,
                    }
                }
            })
            .expect("the OS refused to start a worker thread");

        Worker { thread }
    }

    /// Waits for the thread to end, until `deadline`; returns whether it did. One still running
    /// is detached when its handle is dropped here.
    fn join_until(self, deadline: Instant) -> bool {
        // The standard library has no join with a timeout: poll.
        while !self.thread.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        let finished = self.thread.is_finished();
        if finished {
            let _ = self.thread.join();
        }
        finished
    }
}
