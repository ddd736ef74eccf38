//! Lesson 11: the hand-off. The same loads on both pool engines: `shared` (the workers wait on
//! epoll themselves) and `handoff` (waitress's design: a poller waits on epoll and hands each
//! ready connection to a worker through a queue). What each thread does per request, counted as
//! wake-ups (voluntary context switches in `/proc/self/task/*/status`), the requests per second
//! side by side, and why the pool's queue is not the Rust Book's channel. See
//! `lessons/11_the_handoff.md`.
//!
//! `cargo run --release --bin lesson-11-the-handoff` (add `--quick` for a short run).

mod common;

use common::OrExit;
mod wake_ups;

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;
use wake_ups::{Measured, Switches, Verdict};
use wsgi_lab::lab::bench::{self, BenchConfig, Stop};
use wsgi_lab::pool::ThreadPool;
use wsgi_lab::{Engine, Mode, Options, apps::hello};

/// Workers in both engines, and in both queues of part 3.
const WORKERS: usize = 5;
/// Keep-alive connections of the busy load (part 2).
const MANY: usize = 10;
/// Part 3's pause between two jobs.
const PAUSE: Duration = Duration::from_micros(50);

/// The lesson's sizes.
struct Plan {
    one_client: Duration,
    many_clients: Duration,
    jobs: u64,
}

fn main() {
    let plan = if common::quick() {
        Plan { one_client: Duration::from_millis(400), many_clients: Duration::from_millis(600), jobs: 3_000 }
    } else {
        Plan { one_client: Duration::from_secs(1), many_clients: Duration::from_secs(2), jobs: 10_000 }
    };
    println!("Lesson 11: the hand-off");
    if common::quick() {
        println!("(quick mode: shorter loads, {} jobs in part 3)", plan.jobs);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "Both pool engines serve the hello app with {WORKERS} workers on 127.0.0.1; the lab's bench loads\n\
         them from this same process, so on this machine's {cores} cores the clients compete with the\n\
         server for the CPU.\n\
         - shared: the workers wait on epoll themselves; the one woken serves the request\n\
         - handoff: waitress's design, a poller waits on epoll and queues each ready connection\n\
         \x20 for a worker\n\
         A wake-up is one voluntary context switch of a server thread (it slept, waiting on epoll,\n\
         a queue or a lock, and was woken), read from /proc/self/task/TID/status before and after\n\
         the load. The server's threads are told apart by name: worker-0 … worker-{}, and the\n\
         thread running serve_forever (\"server\", the poller in handoff); the bench's are bench-N.",
        WORKERS - 1
    );

    common::heading("1. One client: the price of one request");
    println!(
        "One keep-alive connection sends the next request as soon as the last is answered, for {}:\n\
         between two requests the server has nothing else to do.",
        common::secs(plan.one_client)
    );
    println!(
        "Prediction: shared, at most about 1 wake-up per request (the worker epoll wakes; fewer\n\
         when the next request comes while it still looks, before it sleeps; at most 1.5).\n\
         handoff: the poller once, then a worker: about 2, at least 0.75 more than shared.\n\
         (One worker per job, not two: part 3.)"
    );
    let one_shared = measure(Engine::Shared, 1, plan.one_client);
    let one_handoff = measure(Engine::Handoff, 1, plan.one_client);
    table(&[("shared", &one_shared), ("handoff", &one_handoff)]);
    print_counts("1 client", &one_shared, &one_handoff);
    print_verdicts(wake_ups::judge_one_client(&one_shared, &one_handoff));

    common::heading(&format!("2. {MANY} clients: a busy server"));
    println!(
        "{MANY} keep-alive connections, each sending its next request as soon as the last is answered,\n\
         for {}: as many requests per second as this machine gives.",
        common::secs(plan.many_clients)
    );
    println!(
        "Prediction: fewer wake-ups per request on both, since a thread that finishes finds the next\n\
         request already waiting and does not sleep; handoff still more than shared; and shared\n\
         serves more requests per second."
    );
    let many_shared = measure(Engine::Shared, MANY, plan.many_clients);
    let many_handoff = measure(Engine::Handoff, MANY, plan.many_clients);
    table(&[("shared", &many_shared), ("handoff", &many_handoff)]);
    print_counts(&format!("{MANY} clients"), &many_shared, &many_handoff);
    print_verdicts(wake_ups::judge_many_clients((&one_shared, &one_handoff), (&many_shared, &many_handoff)));

    common::heading("3. Why a job wakes one worker");
    println!(
        "{} jobs, handed one at a time (each once the last is done, and {} µs later, so that it\n\
         finds the workers asleep) to {WORKERS} workers of two queues:\n\
         - the Rust Book's ThreadPool channel (in this file): the idle workers line up at a Mutex\n\
         \x20 around the channel's receiver; the one holding it waits in recv\n\
         - wsgi-lab's ThreadPool (src/pool.rs), what the handoff engine uses: a queue with a\n\
         \x20 condition variable, as waitress's ThreadedTaskDispatcher: every idle worker waits on\n\
         \x20 the condition, and each job wakes one",
        plan.jobs,
        PAUSE.as_micros()
    );
    println!(
        "Prediction: wsgi-lab's pool, 1 wake-up per job. The Book's channel, 2: the worker in recv\n\
         wakes with the job and lets go of the lock, which wakes the next worker in line, to take\n\
         its place in recv."
    );
    let book = per_job("the Book's channel", plan.jobs, book_channel);
    let pool = per_job("wsgi-lab's ThreadPool", plan.jobs, thread_pool);
    print_verdicts(wake_ups::judge_queues(book, pool));

    common::heading("The reading");
    let extra = one_handoff.wake_ups() - one_shared.wake_ups();
    let ratio = many_shared.requests_per_sec() / many_handoff.requests_per_sec().max(1e-9);
    println!(
        "On this machine the hand-off cost {extra:.2} wake-ups per request with one client, and the\n\
         shared engine served {ratio:.2} × handoff's requests per second with {MANY} clients, for an\n\
         app that does nothing. What handoff buys is not speed: one thread sees every ready\n\
         connection, so there is a queue to count (the live view's \"queued\"), and one that\n\
         could be limited or ordered.\n\
         In this crate both engines' workers read and write the sockets themselves (non-blocking);\n\
         only waitress goes further, reading every request in its main thread (see the page)."
    );
}

/// Starts the hello app on `engine`, loads it with `connections` keep-alive connections for
/// `duration`, and counts the context switches of the server's threads meanwhile.
fn measure(engine: Engine, connections: usize, duration: Duration) -> Measured {
    let before = wake_ups::thread_ids();
    let options = Options { threads: WORKERS, engine, ..Options::default() };
    let running = common::start(hello, Mode::Pool, options);
    // The server's threads, by name; the bench's threads (bench-N) start later.
    let workers = wake_ups::new_threads(&before, "worker-", WORKERS).expect("worker-0 … worker-4");
    let server = wake_ups::new_threads(&before, "server", 1).expect("the thread named server");
    let config = BenchConfig {
        connections,
        stop: Stop::Duration(duration),
        ..BenchConfig::new(format!("{}/", running.url()))
    };
    let served = running.stats().served();
    let (server0, workers0) = (Switches::of_all(&server), Switches::of_all(&workers));
    let report = bench::run(&config).or_exit("the bench could not run");
    let (server1, workers1) = (Switches::of_all(&server), Switches::of_all(&workers));
    let requests = running.stats().served() - served;
    running.stop().or_exit("the server did not stop cleanly");
    assert_eq!(report.total_errors(), 0, "the bench saw errors: {report}");
    Measured {
        requests,
        completed: report.completed,
        window_us: report.duration.as_micros() as u64,
        server_thread: server1.since(server0),
        workers: workers1.since(workers0),
    }
}

/// The side-by-side table.
fn table(rows: &[(&str, &Measured)]) {
    println!(
        "\n{:<8} {:>9} {:>11} {:>9} {:>14} {:>8} {:>10}",
        "engine", "requests", "requests/s", "wake-ups", "server thread", "workers", "preempted"
    );
    for (name, m) in rows {
        println!(
            "{name:<8} {:>9} {:>11.1} {:>9.2} {:>14.2} {:>8.2} {:>10.2}",
            m.requests,
            m.requests_per_sec(),
            m.wake_ups(),
            m.server_thread_per_request(),
            m.workers_per_request(),
            m.preempted()
        );
    }
    println!("(wake-ups = server thread + workers; these and preempted are per request)");
}

/// The raw numbers behind the table, one line per engine (a test reads them back).
fn print_counts(load: &str, shared: &Measured, handoff: &Measured) {
    println!("shared, {load}, {}", shared.counts());
    println!("handoff, {load}, {}", handoff.counts());
}

fn print_verdicts(verdicts: Vec<Verdict>) {
    for verdict in verdicts {
        println!("{verdict}");
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Jobs run on [`WORKERS`] threads: how to queue one, the threads' name prefix, and how to
/// stop them once `push` is dropped.
struct Queue {
    push: Box<dyn Fn(Job)>,
    prefix: &'static str,
    stop: Box<dyn FnOnce()>,
}

/// Hands `jobs` jobs one at a time to the queue `start` makes; prints and returns the workers'
/// wake-ups per job.
fn per_job(name: &str, jobs: u64, start: fn() -> Queue) -> f64 {
    let before = wake_ups::thread_ids();
    let Queue { push, prefix, stop } = start();
    let workers = wake_ups::new_threads(&before, prefix, WORKERS).expect("the queue's workers");
    let (done, finished) = mpsc::channel();
    let switches0 = Switches::of_all(&workers);
    for _ in 0..jobs {
        let done = done.clone();
        push(Box::new(move || done.send(()).unwrap()));
        // The next job is handed over once this one is done and the workers have had a moment
        // to go back to sleep: every job finds them asleep, even on a machine busy with other
        // programs (a worker still waiting for a core has not gone to sleep yet).
        finished.recv().unwrap();
        std::thread::sleep(PAUSE);
    }
    let woken = Switches::of_all(&workers).since(switches0).voluntary;
    drop(push);
    stop();
    let per_job = woken as f64 / jobs as f64;
    println!("{name}: {jobs} jobs, {woken} worker wake-ups, {per_job:.2} per job");
    per_job
}

/// wsgi-lab's pool, as the handoff engine uses it. Dropping `push` drops the pool, which
/// closes its queue and joins the workers.
fn thread_pool() -> Queue {
    let pool = ThreadPool::new(NonZeroUsize::new(WORKERS).unwrap());
    Queue { push: Box::new(move |job| pool.execute(job)), prefix: "worker-", stop: Box::new(|| {}) }
}

/// The Rust Book's pool, reduced to its channel: the workers share one `mpsc::Receiver`
/// behind a `Mutex`. Dropping `push` drops the sender, which closes the channel.
fn book_channel() -> Queue {
    let (sender, receiver) = mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    let threads: Vec<JoinHandle<()>> = (0..WORKERS)
        .map(|id| {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("book-{id}"))
                .spawn(move || {
                    loop {
                        // The Book's line: the guard is a temporary, so the lock is released
                        // before the job runs, but held while waiting in `recv`.
                        let message = receiver.lock().unwrap().recv();
                        match message {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                })
                .expect("a thread")
        })
        .collect();
    let push = move |job: Job| sender.send(job).unwrap();
    let stop = move || threads.into_iter().for_each(|t| t.join().unwrap());
    Queue { push: Box::new(push), prefix: "book-", stop: Box::new(stop) }
}
