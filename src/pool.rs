//! The `ThreadPool`: N `Worker` threads taking jobs from one channel, first come first served.
//!
//! This is the pool of the Rust Book's web-server chapter ("Turning Our Single-Threaded Server
//! into a Multithreaded Server", then "Graceful Shutdown and Cleanup"): a `Job` is a boxed
//! closure, `execute` sends it down an `mpsc` channel, each `Worker` thread takes the next one
//! from the receiver they share, and dropping the pool closes the channel and joins the workers.
//! What a server needs on top is marked "Server:" in the code:
//!
//! 1. A job that panics does not take its worker down: the pool stays at full size.
//! 2. [`ThreadPool::shutdown`] stops waiting at a deadline, for an app that never returns, and
//!    says how many workers it left running.
//! 3. A job can queue another ([`ThreadPool::executor`]), and find out which worker runs it
//!    ([`current_worker`]), for per-worker state such as the live view's.
//!
//! The Book's workers print `Worker 0 got a job; executing.`; these do not, as a server would
//! print that for every request.
//!
//! **Fairness.** The channel is first in, first out, and whichever worker is free takes the job
//! at its head. In pool mode a job is one turn of one connection, and a connection has at most
//! one job queued or running at a time (the server sees to it): so a connection waits behind at
//! most one job of each other connection, and none can starve another.

use std::cell::Cell;
use std::num::NonZeroUsize;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send + 'static>;

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
/// drop(pool); // closes the channel, then waits for the workers: every job has run
/// assert_eq!(sum.load(Ordering::SeqCst), 1 + 2 + 3 + 4);
/// ```
pub struct ThreadPool {
    workers: Vec<Worker>,
    /// `None` once the pool is shutting down: dropping the sender is what closes the channel.
    sender: Option<mpsc::Sender<Job>>,
}

impl ThreadPool {
    /// Starts `size` workers, named `worker-0`, `worker-1`, … (panic messages, debuggers and
    /// `top -H` show the names). The Book asserts `size > 0`; here a zero-sized pool cannot be
    /// written. Panics if the OS refuses to start a thread.
    pub fn new(size: NonZeroUsize) -> ThreadPool {
        let (sender, receiver) = mpsc::channel();
        let receiver = Arc::new(Mutex::new(receiver));

        let mut workers = Vec::with_capacity(size.get());
        for id in 0..size.get() {
            workers.push(Worker::new(id, Arc::clone(&receiver)));
        }

        ThreadPool { workers, sender: Some(sender) }
    }

    /// Queues a job; the first free worker runs it.
    pub fn execute<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        let job = Box::new(f);
        // The sender is `None` only inside `drop` and `shutdown`, and the workers hold the
        // receiver until every sender is gone: neither unwrap can fail.
        self.sender.as_ref().unwrap().send(job).unwrap();
    }

    /// Server: a handle that queues jobs on this pool from anywhere, such as from inside a job
    /// (a connection that needs another turn). It is another sender of the channel: the workers
    /// stop only once it is dropped too, so drop it before the pool.
    ///
    /// ```
    /// use std::{num::NonZeroUsize, sync::mpsc};
    /// use wsgi_lab::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(NonZeroUsize::MIN);
    /// let (done, finished) = mpsc::channel();
    /// let again = pool.executor();
    /// pool.execute(move || again.execute(move || done.send("second job").unwrap()));
    /// drop(pool);
    /// assert_eq!(finished.recv().unwrap(), "second job");
    /// ```
    pub fn executor(&self) -> Executor {
        Executor { sender: self.sender.clone().unwrap() }
    }

    /// How many workers the pool has.
    ///
    /// ```
    /// # use std::num::NonZeroUsize;
    /// # use wsgi_lab::pool::ThreadPool;
    /// assert_eq!(ThreadPool::new(NonZeroUsize::new(4).unwrap()).size(), 4);
    /// ```
    pub fn size(&self) -> usize {
        self.workers.len()
    }

    /// Server: what `drop` does, but waiting only until `deadline`. Closes the channel; the
    /// workers finish the jobs already queued, then stop. Returns how many were still running
    /// at the deadline: they are left to finish alone (detached), so that one app that never
    /// returns cannot keep the server from stopping.
    ///
    /// Idle workers stop once every sender is gone: an [`Executor`] still held elsewhere, even
    /// by a running job, keeps them waiting for its jobs, and they count as still running.
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
        drop(self.sender.take());

        let mut still_running = 0;
        for worker in self.workers.drain(..) {
            if !worker.join_until(deadline) {
                still_running += 1;
            }
        }
        // `drop` runs next, with no sender and no workers left: it has nothing to do.
        still_running
    }
}

impl Drop for ThreadPool {
    /// Closes the channel and waits for every worker, however long their jobs take, like the
    /// Book's (and like tokio's runtime). A drop cannot report what it would leave behind, and a
    /// thread silently left running the app would be a leak no one sees; a server that must
    /// stop in bounded time calls [`ThreadPool::shutdown`], which can say so.
    fn drop(&mut self) {
        drop(self.sender.take());

        for worker in self.workers.drain(..) {
            // An error would mean the worker itself panicked, which catching the jobs' panics
            // rules out; there is nothing a drop could do about it anyway.
            let _ = worker.thread.join();
        }
    }
}

/// Server: a handle to queue jobs on a [`ThreadPool`] from other threads, or from a job. Cloning
/// gives another handle to the same channel.
#[derive(Clone)]
pub struct Executor {
    sender: mpsc::Sender<Job>,
}

impl Executor {
    /// Queues a job, as [`ThreadPool::execute`] does.
    ///
    /// ```
    /// # use std::num::NonZeroUsize;
    /// # use wsgi_lab::pool::ThreadPool;
    /// let pool = ThreadPool::new(NonZeroUsize::MIN);
    /// let executor = pool.executor();
    /// std::thread::spawn(move || executor.execute(|| println!("queued from another thread")))
    ///     .join()
    ///     .unwrap();
    /// ```
    pub fn execute<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        // The workers hold the receiver until every sender, this one included, is gone.
        self.sender.send(Box::new(f)).unwrap();
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
    fn new(id: usize, receiver: Arc<Mutex<mpsc::Receiver<Job>>>) -> Worker {
        let thread = thread::Builder::new()
            .name(format!("worker-{id}"))
            .spawn(move || {
                WORKER_ID.set(Some(id));
                loop {
                    // The lock guard is a temporary of this statement, so the lock is released
                    // before the job runs and the next free worker can take the next job (a
                    // `while let` would hold it for the whole job). It is never poisoned: only
                    // `recv` runs under it, and `recv` does not panic.
                    let message = receiver.lock().unwrap().recv();

                    match message {
                        Ok(job) => {
                            // Server: a panic in a job ends the job, not the worker, so the pool
                            // stays at full size. The panic message is still printed. Unwind
                            // safety: what the job leaves half-done is either its own captures,
                            // dropped with it, or behind a mutex that the panic poisons.
                            let _ = panic::catch_unwind(AssertUnwindSafe(job));
                        }
                        // Every sender is gone and the queue is empty: the pool is shutting down.
                        Err(_) => break,
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
