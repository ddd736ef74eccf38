//! `wsgi-lab bench`: a closed-loop (or, with a rate, open-loop) HTTP/1.1 load generator,
//! the lab's own `wrk` (and `wrk2`), built as wrk is.
//!
//! C connections each run a closed loop: send a request, read the whole response, send the
//! next. A server that answers slowly therefore gets fewer requests, as it would from C real
//! users each waiting for a page. The connections are shared out among a few threads (by
//! default one per core, like wrk's `-t`): connection `i` belongs to thread `i % T`, and each
//! thread drives its share with non-blocking sockets on an epoll instance of its own (see
//! `bench/event_loop.rs`), so 1,000 connections cost 2 threads on a 2-core machine, not 1,000.
//! All connections are opened before the clock starts; then they run for a duration, or until
//! exactly N requests have been sent across all of them. Each thread keeps its own tally
//! (latency histogram, status codes, errors, completions per connection); the tallies are
//! added up into a [`BenchReport`] at the end, so the threads share nothing but a few atomic
//! counters while they run.
//!
//! With a [`rate`](BenchConfig::rate), [`run_open_loop`] sends on a schedule instead: request
//! k is due k / rate after the start, whether or not earlier ones have been answered, and
//! latency is measured both from that scheduled time and from the actual send (see
//! [`OpenLoopReport`]). It runs on the same event loops, which keep the schedule with a
//! timer. Connections still send one request at a time, so a stalled server makes the later
//! sends late, and the latency from the schedule shows it.
//!
//! | file | what it holds |
//! |---|---|
//! | `bench.rs` | [`BenchConfig`], [`run`]: start the threads, wait, add up |
//! | `bench/error.rs` | [`BenchError`]: why a bench could not run |
//! | `bench/target.rs` | [`Target`]: the URL, and the request bytes built once |
//! | `bench/plan.rs` | what the threads are given and share: the plan, the schedule, the start gate |
//! | `bench/event_loop.rs` | one thread: wrk's event loop over its connections, timeouts, reconnects |
//! | `bench/timer.rs` | the open loop's clock: a heap of due times and a `timerfd` |
//! | `bench/connection.rs` | one connection: its non-blocking socket, its phase, its times |
//! | `bench/response.rs` | reading a response as bytes arrive: head, then body by length, chunks or close |
//! | `bench/tally.rs` | what a thread counts, and adding the threads' counts up |
//! | `bench/progress.rs` | [`Progress`]: a labelled bar on stderr, a callback, or nothing |
//! | `bench/report.rs` | [`BenchReport`], [`Fairness`], [`ErrorKind`]: JSON and text |
//! | `bench/open_loop.rs` | [`OpenLoopReport`], [`OpenLoop`], [`Tail`]: the schedule, two latencies, a histogram |

mod connection;
mod error;
mod event_loop;
mod open_loop;
mod plan;
mod progress;
mod report;
mod response;
mod tally;
mod target;
mod timer;

pub use error::BenchError;
pub use open_loop::{Bucket, LATE_AFTER_MS, OpenLoop, OpenLoopReport, Tail};
pub use progress::{Progress, RATE_WINDOW, Tick};
pub use report::{BenchReport, ErrorKind, Fairness, Latency};
pub use target::Target;

use plan::{Counter, Gate, Plan, Schedule, Shared};
use progress::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};
use std::{io, thread};
use tally::Tally;

/// How often the progress display is updated.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// More connections than this is refused: each is a socket, a file descriptor (and the
/// server's end another one), and the lab runs on laptops.
const MAX_CONNECTIONS: usize = 10_000;

/// A number of connections as a person types it (`bench -c 100`, `compare -c 3,10`, interactive
/// `connections 10`): one from 1 to the most a bench opens, or a message that says so.
pub fn parse_connections(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_CONNECTIONS).contains(&n) => Ok(n),
        _ => Err(format!("{text:?} is not a number of connections: give one from 1 to {MAX_CONNECTIONS}")),
    }
}

/// More threads than this is refused: past the cores, threads only take turns.
const MAX_THREADS: usize = 256;

/// The threads a bench uses by default: one per core, as wrk's documentation advises.
///
/// ```
/// assert!(wsgi_lab::lab::bench::default_threads() >= 1);
/// ```
pub fn default_threads() -> usize {
    thread::available_parallelism().map_or(1, usize::from)
}

/// When a bench stops.
///
/// ```
/// use std::time::Duration;
/// use wsgi_lab::lab::bench::Stop;
/// let by_time = Stop::Duration(Duration::from_secs(5)); // wrk's -d5s
/// let by_count = Stop::Requests(1000); // ab's -n 1000
/// assert_ne!(by_time, by_count);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this long. A request not answered by then is counted as in flight, not completed.
    Duration(Duration),
    /// After exactly this many requests in total across the connections (each one answered,
    /// or counted as an error).
    Requests(u64),
}

/// Every setting of a bench. Start from [`BenchConfig::new`] and change what you need.
///
/// ```
/// use std::time::Duration;
/// use wsgi_lab::lab::bench::{BenchConfig, Stop};
/// let config = BenchConfig {
///     connections: 50,
///     stop: Stop::Duration(Duration::from_secs(5)),
///     ..BenchConfig::new("http://127.0.0.1:8200/")
/// };
/// assert_eq!(config.method, "GET");
/// ```
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// `http://host:port/path?query`; the host an IP address or `localhost` (see [`Target`]).
    pub url: String,
    /// Connections, each running a closed loop; default 10. In count mode never more than the
    /// number of requests, or the extra ones would look starved.
    pub connections: usize,
    /// Threads that drive the connections, each with an event loop of its own (wrk's `-t`);
    /// default [`default_threads`], one per core. Never more than the connections.
    pub threads: usize,
    /// When to stop; default after 10 s.
    pub stop: Stop,
    /// A new connection for every request, announced with `Connection: close`; default off
    /// (keep-alive).
    pub no_keep_alive: bool,
    /// The request method; default `GET`. With `HEAD`, responses are read without a body.
    pub method: String,
    /// The request body, sent with `Content-Length`; default empty.
    pub body: Vec<u8>,
    /// Extra header lines; a `Host` or `User-Agent` here replaces the default one.
    pub headers: Vec<(String, String)>,
    /// How long one request may take (connecting, or from sending to the last byte of the
    /// response) before it counts as a timeout; default 10 s.
    pub timeout: Duration,
    /// How to show progress; default [`Progress::Quiet`].
    pub progress: Progress,
    /// Open loop: requests per second across all connections, each sent at its scheduled
    /// time rather than when the previous one returns; run it with [`run_open_loop`].
    /// Default `None`, the closed loop.
    pub rate: Option<f64>,
    /// Set to `true` to stop early, as if the time were up (a request not answered by then is
    /// in flight): how `compare --interactive` cancels a row on Ctrl+C. Seen within 10 ms (the
    /// event loops look at their clocks that often, also while an open loop waits for its
    /// next scheduled send). Default `None`.
    pub cancel: Option<Arc<AtomicBool>>,
    /// What the progress bar calls this run, such as `hello · 5 threads · shared · 10 conns`;
    /// default `None`, then the URL, the connections and the threads.
    pub label: Option<String>,
}

impl BenchConfig {
    /// The defaults, aimed at `url`.
    ///
    /// ```
    /// let config = wsgi_lab::lab::bench::BenchConfig::new("http://127.0.0.1:8200/");
    /// assert_eq!((config.connections, config.no_keep_alive), (10, false));
    /// ```
    pub fn new(url: impl Into<String>) -> Self {
        BenchConfig { url: url.into(), ..BenchConfig::default() }
    }
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            url: "http://127.0.0.1:8080/".to_string(),
            connections: 10,
            threads: default_threads(),
            stop: Stop::Duration(Duration::from_secs(10)),
            no_keep_alive: false,
            method: "GET".to_string(),
            body: Vec::new(),
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            progress: Progress::Quiet,
            rate: None,
            cancel: None,
            label: None,
        }
    }
}

/// Runs a bench and returns what it measured.
///
/// ```
/// use std::net::TcpListener;
/// use wsgi_lab::lab::bench::{run, BenchConfig, Stop};
/// use wsgi_lab::{apps, Mode, Options, Server};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let server = Server::from_listener(listener, apps::hello, Options::default(), Mode::Pool)?
///     .log_requests(false)
///     .ctrl_c(false);
/// let url = format!("http://{}/", server.server_address());
/// let handle = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
///
/// let config = BenchConfig { connections: 2, stop: Stop::Requests(50), ..BenchConfig::new(url) };
/// let report = run(&config)?;
/// assert_eq!(report.completed, 50);
/// assert_eq!(report.statuses[&200], 50);
/// println!("{report}");
///
/// handle.shutdown();
/// serving.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run(config: &BenchConfig) -> Result<BenchReport, BenchError> {
    if config.rate.is_some() {
        // The report of `run` has no room for the latency from the schedule, and printing
        // only the one from the send would hide exactly what an open loop is for.
        return Err(BenchError::Settings("a rate makes an open-loop bench: call run_open_loop".into()));
    }
    measure(config).map(|(report, _)| report)
}

/// Runs an open-loop bench at `config.rate` requests per second and returns what it
/// measured, latency from the schedule included.
///
/// ```
/// use std::net::TcpListener;
/// use std::time::Duration;
/// use wsgi_lab::lab::bench::{run_open_loop, BenchConfig, Stop};
/// use wsgi_lab::{apps, Mode, Options, Server};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let server = Server::from_listener(listener, apps::hello, Options::default(), Mode::Pool)?
///     .log_requests(false)
///     .spawn();
/// let config = BenchConfig {
///     connections: 2,
///     rate: Some(100.0),
///     stop: Stop::Requests(20),
///     ..BenchConfig::new(format!("{}/", server.url()))
/// };
/// let report = run_open_loop(&config)?;
/// assert_eq!(report.report.completed, 20);
/// assert_eq!(report.open_loop.sent, 20);
/// println!("{report}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_open_loop(config: &BenchConfig) -> Result<OpenLoopReport, BenchError> {
    if config.rate.is_none() {
        return Err(BenchError::Settings("an open-loop bench needs a rate".into()));
    }
    let (report, open_loop) = measure(config)?;
    Ok(OpenLoopReport { report, open_loop: open_loop.expect("a rate gives open-loop figures") })
}

/// Runs either loop: the report, and the open loop's figures when there is a rate.
fn measure(config: &BenchConfig) -> Result<(BenchReport, Option<OpenLoop>), BenchError> {
    let target = Target::parse(&config.url)?;
    check(config)?;
    let connections = match config.stop {
        Stop::Requests(n) => config.connections.min(usize::try_from(n).unwrap_or(usize::MAX)),
        Stop::Duration(_) => config.connections,
    };
    // A thread with no connection would have nothing to do.
    let threads = config.threads.min(connections);
    // Serialised once: every request of the bench is these bytes.
    let request = target.request(&config.method, &config.headers, &config.body, config.no_keep_alive);
    let plan = Plan {
        addr: target.addr,
        request: &request,
        head_request: config.method.eq_ignore_ascii_case("HEAD"),
        keep_alive: !config.no_keep_alive,
        timeout: config.timeout,
        duration: match config.stop {
            Stop::Duration(d) => Some(d),
            Stop::Requests(_) => None,
        },
        requests: match config.stop {
            Stop::Requests(n) => Some(n),
            Stop::Duration(_) => None,
        },
        schedule: config.rate.map(|rate| Schedule { rate, connections }),
        cancel: config.cancel.as_deref(),
        connections,
        threads,
    };
    let shared = Shared {
        tickets: AtomicU64::new(0),
        gate: Gate::default(),
        completed: (0..threads).map(|_| Counter::default()).collect(),
    };
    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    // Scoped threads may borrow the plan and the shared counters: the scope does not end
    // before every bench thread has.
    thread::scope(|scope| {
        for index in 0..threads {
            let (ready, done, plan, shared) = (ready_tx.clone(), done_tx.clone(), &plan, &shared);
            let spawned =
                thread::Builder::new().name(format!("bench-{index}")).spawn_scoped(scope, move || {
                    let _ = done.send((index, event_loop::run_thread(index, plan, shared, ready)));
                });
            if let Err(e) = spawned {
                // The threads already started wait at the gate: send them home first.
                shared.gate.open(None);
                return Err(BenchError::Settings(format!(
                    "cannot start thread {index} ({e}): try fewer threads"
                )));
            }
        }
        // Only the threads hold senders now, so the receivers see the end when they are done.
        drop((ready_tx, done_tx));
        let mut first_error = None;
        let mut opened = 0;
        for found in ready_rx.iter() {
            opened += found.opened;
            first_error = first_error.or(found.first_error);
        }
        if opened == 0 {
            shared.gate.open(None);
            let source = first_error.unwrap_or_else(|| io::ErrorKind::NotConnected.into());
            return Err(BenchError::Connect { addr: target.addr, source });
        }
        let start = Instant::now();
        shared.gate.open(Some(start));

        let label =
            config.label.clone().unwrap_or_else(|| progress::default_label(config, connections, threads));
        let mut display = Display::new(&config.progress, config.stop, start, label);
        let mut tallies: Vec<Option<Tally>> = (0..threads).map(|_| None).collect();
        loop {
            match done_rx.recv_timeout(PROGRESS_EVERY) {
                Ok((index, tally)) => tallies[index] = Some(tally),
                Err(RecvTimeoutError::Timeout) => {
                    display.update(shared.completed.iter().map(|c| c.0.load(Relaxed)).sum());
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        display.finish();
        let cancelled = config.cancel.as_ref().is_some_and(|c| c.load(Relaxed));
        let elapsed = match config.stop {
            // An open loop's threads leave once nothing more is due, a moment before the end;
            // the schedule still covered the whole window.
            Stop::Duration(d) if config.rate.is_some() && !cancelled => d,
            // Threads notice the end a moment late; the measured window is the configured one
            // all the same.
            Stop::Duration(d) => start.elapsed().min(d),
            Stop::Requests(_) => start.elapsed(),
        };
        let tallies: Vec<Tally> = tallies.into_iter().map(|t| t.expect("a bench thread panicked")).collect();
        Ok(tally::add_up(config, connections, elapsed, &tallies))
    })
}

/// Refuses settings that cannot make a bench, naming which.
fn check(config: &BenchConfig) -> Result<(), BenchError> {
    let bad = |reason: String| Err(BenchError::Settings(reason));
    if config.connections == 0 || config.connections > MAX_CONNECTIONS {
        return bad(format!("connections must be between 1 and {MAX_CONNECTIONS}"));
    }
    if config.threads == 0 || config.threads > MAX_THREADS {
        return bad(format!("threads must be between 1 and {MAX_THREADS}"));
    }
    match config.stop {
        Stop::Requests(0) => return bad("the number of requests must be at least 1".into()),
        Stop::Duration(d) if d.is_zero() => return bad("the duration must be more than zero".into()),
        _ => {}
    }
    if config.timeout.is_zero() {
        return bad("the timeout must be more than zero".into());
    }
    if let Some(rate) = config.rate {
        // Below one request a minute a bench measures nothing in any sensible time; above a
        // million a second the schedule is finer than the threads can keep.
        if !(1.0 / 60.0..=1e6).contains(&rate) {
            return bad(format!("the rate must be between 1/60 and 1000000 requests/s, not {rate}"));
        }
    }
    let token = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if !token(&config.method) {
        return bad(format!("{:?} is not an HTTP method", config.method));
    }
    for (name, value) in &config.headers {
        if !token(name) || value.bytes().any(|b| b == b'\r' || b == b'\n') {
            return bad(format!("{name:?}: {value:?} is not a valid header line"));
        }
    }
    Ok(())
}
