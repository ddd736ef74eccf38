//! The `ThreadPool` (src/pool.rs): the Rust Book's pool, plus what a server needs. Jobs run in
//! the order sent, on every worker; a panicking job costs no worker; dropping the pool, even on
//! an early `?`, waits for every job and every worker; `shutdown` gives up at its deadline and
//! says how many workers it left running.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::num::{NonZeroUsize, ParseIntError};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};
use wsgi_lab::pool::{ThreadPool, current_worker};

fn pool(size: usize) -> ThreadPool {
    ThreadPool::new(NonZeroUsize::new(size).unwrap())
}

/// Sends `n` jobs that each wait (up to 5 s) until all `n` have started, then report the thread
/// they ran on and run `then`. Only `n` workers at once can start them all together: with fewer,
/// the last job runs after the others gave up, on a thread that already reported.
fn on_n_workers_at_once(
    pool: &ThreadPool,
    n: usize,
    then: impl Fn() + Clone + Send + 'static,
) -> mpsc::Receiver<String> {
    let started = Arc::new(AtomicUsize::new(0));
    let (report, reports) = mpsc::channel();
    for _ in 0..n {
        let (started, report, then) = (started.clone(), report.clone(), then.clone());
        pool.execute(move || {
            started.fetch_add(1, SeqCst);
            let give_up = Instant::now() + Duration::from_secs(5);
            while started.load(SeqCst) < n && Instant::now() < give_up {
                thread::sleep(Duration::from_millis(1));
            }
            let name = thread::current().name().unwrap_or("unnamed").to_string();
            assert_eq!(name, format!("worker-{}", current_worker().unwrap()));
            // The caller may have stopped listening (an early return): `then` runs regardless.
            let _ = report.send(name);
            then();
        });
    }
    reports
}

/// The names of the threads that ran `n` jobs started together (see `on_n_workers_at_once`).
fn workers_at_once(
    pool: &ThreadPool,
    n: usize,
    then: impl Fn() + Clone + Send + 'static,
) -> BTreeSet<String> {
    let reports = on_n_workers_at_once(pool, n, then);
    (0..n).map(|_| reports.recv_timeout(Duration::from_secs(20)).expect("every job ran")).collect()
}

fn names(n: usize) -> BTreeSet<String> {
    (0..n).map(|id| format!("worker-{id}")).collect()
}

#[test]
fn jobs_start_in_the_order_they_were_sent() {
    // One worker, so the order the jobs start in is the order they are seen in: with several,
    // jobs still leave the queue in order, but two workers race to write down theirs.
    let pool = pool(1);
    let seen = Arc::new(Mutex::new(Vec::new()));
    for n in 0..100 {
        let seen = seen.clone();
        pool.execute(move || seen.lock().unwrap().push(n));
    }
    drop(pool);
    assert_eq!(*seen.lock().unwrap(), (0..100).collect::<Vec<_>>());
}

#[test]
fn every_worker_takes_jobs() {
    let pool = pool(4);
    assert_eq!(workers_at_once(&pool, 4, || {}), names(4));
}

#[test]
fn a_panicking_job_leaves_the_pool_at_full_size() {
    let pool = pool(3);
    // One panic on each worker...
    assert_eq!(workers_at_once(&pool, 3, || panic!("a job panics (expected by this test)")), names(3));
    // ...and all three still take jobs, together.
    assert_eq!(workers_at_once(&pool, 3, || {}), names(3));
}

#[test]
fn dropping_the_pool_waits_for_every_job() {
    let pool = pool(3);
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..12 {
        let done = done.clone();
        pool.execute(move || {
            thread::sleep(Duration::from_millis(10));
            done.fetch_add(1, SeqCst);
        });
    }
    drop(pool);
    assert_eq!(done.load(SeqCst), 12);
}

#[test]
fn shutdown_runs_what_was_queued_and_reports_no_one_left() {
    let pool = pool(2);
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..6 {
        let done = done.clone();
        pool.execute(move || {
            thread::sleep(Duration::from_millis(10));
            done.fetch_add(1, SeqCst);
        });
    }
    assert_eq!(pool.shutdown(Instant::now() + Duration::from_secs(10)), 0);
    assert_eq!(done.load(SeqCst), 6);
}

#[test]
fn shutdown_gives_up_on_a_stuck_job_at_its_deadline() {
    let pool = pool(3);
    let (release, stuck) = mpsc::channel::<()>();
    pool.execute(move || {
        let _ = stuck.recv_timeout(Duration::from_secs(60));
    });
    pool.execute(|| {});
    let start = Instant::now();
    let left_running = pool.shutdown(start + Duration::from_millis(200));
    let took = start.elapsed();
    assert_eq!(left_running, 1, "the stuck job's worker, and only it");
    assert!(took >= Duration::from_millis(200), "gave up before the deadline: {took:?}");
    assert!(took < Duration::from_secs(5), "waited past the deadline: {took:?}");
    drop(release); // lets the stuck job, and its detached worker, end
}

/// Counts a thread's end: kept in a thread-local, it is dropped as the thread exits.
struct OnThreadExit(Arc<AtomicUsize>);

impl Drop for OnThreadExit {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

thread_local! {
    static ON_EXIT: RefCell<Option<OnThreadExit>> = const { RefCell::new(None) };
}

/// A caller that starts a pool, gives it work, then fails before any shutdown call.
fn start_then_fail(exited: &Arc<AtomicUsize>) -> Result<(), ParseIntError> {
    let pool = pool(3);
    let exited = exited.clone();
    // One job on each worker, each arming its thread's exit counter.
    let _reports = on_n_workers_at_once(&pool, 3, move || {
        ON_EXIT.with(|slot| *slot.borrow_mut() = Some(OnThreadExit(exited.clone())));
    });
    let _port: u16 = "not a port".parse()?;
    Ok(())
}

#[test]
fn a_pool_dropped_by_an_early_return_joins_its_workers() {
    let exited = Arc::new(AtomicUsize::new(0));
    assert!(start_then_fail(&exited).is_err());
    // Dropping the pool closed the queue and joined the workers: all three threads have
    // ended (without the join, they would still be waiting for jobs).
    assert_eq!(exited.load(SeqCst), 3);
}

#[test]
fn current_worker_is_none_off_the_pool() {
    assert_eq!(current_worker(), None);
}
