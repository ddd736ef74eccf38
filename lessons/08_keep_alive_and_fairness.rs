//! Lesson 8: keep-alive and fairness. The classic pool, a worker per connection, serves the first
//! K connections until they close and starves the rest, while its requests per second look
//! fine; wsgi-lab's pool (waitress's design) serves every connection. See
//! `lessons/08_keep_alive_and_fairness.md`.
//!
//! `cargo run --release --bin lesson-08-keep-alive-and-fairness` (add `--quick` for a short run).

mod common;

use common::OrExit;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wsgi_lab::environ::ServerEnviron;
use wsgi_lab::handler::Handler;
use wsgi_lab::http::{Limits, RequestParser, Step};
use wsgi_lab::lab::bench::{self, BenchConfig, BenchReport, Stop};
use wsgi_lab::proxy::ProxyPolicy;
use wsgi_lab::{Engine, Log, Mode, Options, UrlPrefix, apps::hello};

/// Workers in both servers: the same K, so only the design differs.
const WORKERS: usize = 5;

/// The deliberately naive server: K threads, each accepts a connection and serves it until the
/// client closes it, then accepts the next. The pool of many tutorials, and of early servers.
/// Each request is answered as wsgi-lab's pool answers it (the same parser, the same handler,
/// the same app), so the only difference between the two servers is who owns a connection.
struct NaiveServer {
    addr: SocketAddr,
    /// Set before the wake-up connections, so a worker that accepts one knows to leave.
    stopping: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

/// What the naive workers share to answer a request: what `Handler` borrows (the server-level
/// environ, the mount point, the proxy policy and the log), as wsgi-lab's `Serving` holds it.
struct Serving {
    environ: ServerEnviron,
    prefix: UrlPrefix,
    proxy: ProxyPolicy,
    log: Log,
}

impl Serving {
    fn new(addr: SocketAddr) -> Serving {
        Serving {
            environ: ServerEnviron::new(addr, true),
            prefix: UrlPrefix::default(),
            proxy: ProxyPolicy::new(None, &[]).expect("no proxy trusted"),
            log: Log::new(&Options { quiet: true, ..Options::default() }),
        }
    }

    /// The handler for the lesson's app: the pool's `hello`, called through `call_app`.
    fn handler(&self) -> Handler<'_> {
        Handler {
            app: &hello,
            environ: &self.environ,
            prefix: &self.prefix,
            proxy: &self.proxy,
            log: &self.log,
        }
    }
}

impl NaiveServer {
    fn start(workers: usize) -> NaiveServer {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").or_exit("cannot bind 127.0.0.1:0"));
        let addr = listener.local_addr().unwrap();
        let serving = Arc::new(Serving::new(addr));
        let stopping = Arc::new(AtomicBool::new(false));
        let workers = (0..workers)
            .map(|_| {
                let (listener, serving, stopping) = (listener.clone(), serving.clone(), stopping.clone());
                std::thread::spawn(move || {
                    while let Ok((stream, peer)) = listener.accept() {
                        if stopping.load(Ordering::SeqCst) {
                            break;
                        }
                        // The whole flaw is this call: the worker belongs to this connection
                        // until the client closes it, busy or idle.
                        serve_connection(&serving, stream, peer);
                    }
                })
            })
            .collect();
        NaiveServer { addr, stopping, workers }
    }

    /// Stops the workers: each leaves at its next accept, so give each one a connection. Every
    /// client of the lesson has closed by now, so no worker is stuck in a read.
    fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        let wake: Vec<_> = self.workers.iter().filter_map(|_| TcpStream::connect(self.addr).ok()).collect();
        for worker in self.workers {
            let _ = worker.join();
        }
        drop(wake);
    }
}

/// One keep-alive connection: parse a request with the crate's `RequestParser`, answer it with
/// the crate's `Handler` (environ, app, response, as the pool's workers do), read the next...
/// until the client closes. GET only (no request bodies), which is all the bench sends.
fn serve_connection(serving: &Serving, mut stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true); // as the pool's connections
    let mut parser = RequestParser::new(Limits::default());
    loop {
        match parser.step() {
            Ok(Step::Ready(request)) => match serving.handler().handle(request, peer, true, &mut stream) {
                Ok(written) if written.keep_alive => {}
                _ => return,
            },
            // Blocks while the client thinks between two requests: the worker waits with it.
            Ok(Step::NeedMore) => match parser.read_from(&mut stream) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            // A body, or a request the parser refuses: not this lesson's traffic.
            Ok(Step::SendContinue) | Err(_) => return,
        }
    }
}

/// The lesson's sizes: connections, bench duration, the wait of the "next visitor".
struct Plan {
    connections: usize,
    duration: Duration,
    patience: Duration,
}

fn main() {
    let plan = if common::quick() {
        Plan { connections: 50, duration: Duration::from_millis(1200), patience: Duration::from_millis(800) }
    } else {
        Plan { connections: 100, duration: Duration::from_secs(5), patience: Duration::from_secs(2) }
    };
    println!("Lesson 8: keep-alive and fairness");
    if common::quick() {
        println!("(quick mode: shorter benches, {} connections)", plan.connections);
    }
    println!(
        "Two servers with the same K = {WORKERS} workers serve the same app (hello) over keep-alive, and\n\
         do the same work per request: the crate's RequestParser reads it, its Handler builds the\n\
         environ and calls the app (call_app). Only who owns a connection differs:\n\
         - naive: each worker accepts one connection and serves it until the client closes it\n\
         - wsgi-lab (handoff engine): waitress's design, a poller parks idle connections and workers take turns"
    );

    common::heading("1. Many keep-alive users, few workers");
    let (c, k) = (plan.connections, WORKERS);
    println!(
        "The bench opens C = {c} keep-alive connections, each a user who sends the next request as\n\
         soon as the last one is answered, for {}.",
        common::secs(plan.duration)
    );
    println!(
        "Prediction: the naive server serves only the first {k} connections; the other {} wait the\n\
         whole run (starved), yet its requests/s and latency look healthy. wsgi-lab serves all\n\
         {c}: none starved, the fewest completions close to the median.",
        c - k
    );

    let naive = NaiveServer::start(WORKERS);
    let naive_report = load(naive.addr, &plan);
    naive.stop();
    println!("\nThe naive server (a worker per connection):");
    print!("{naive_report}");

    let options = Options { threads: WORKERS, engine: Engine::Handoff, ..Options::default() };
    let pool = common::start(hello, Mode::Pool, options);
    let pool_report = load(pool.addr(), &plan);
    pool.stop().or_exit("the server did not stop cleanly");
    println!("\nwsgi-lab's pool:");
    print!("{pool_report}");

    common::heading("Side by side");
    println!(
        "{:<22} {:>12} {:>12} {:>6} {:>8} {:>8}",
        "server", "requests/s", "starved", "min", "median", "max"
    );
    let names = [format!("naive, {k} workers"), format!("wsgi-lab, {k} workers")];
    for (name, report) in names.iter().zip([&naive_report, &pool_report]) {
        let f = &report.fairness;
        println!(
            "{name:<22} {:>12.1} {:>12} {:>6} {:>8.1} {:>8}",
            report.requests_per_sec,
            format!("{} of {}", f.starved, report.connections),
            f.min,
            f.median,
            f.max
        );
    }
    println!("naive fairness: {}", fairness_line(&naive_report));
    println!("wsgi-lab fairness: {}", fairness_line(&pool_report));
    println!("naive total: {:.1} requests/s", naive_report.requests_per_sec);
    println!("wsgi-lab total: {:.1} requests/s", pool_report.requests_per_sec);
    println!(
        "(The requests/s vary from run to run, with the machine and whatever else it runs. What stays\n\
         is the shape: {} of {c} starved by the naive server, none by the pool, and a ratio of the\n\
         two totals near 1, since both do the same work per request.)",
        c - k
    );

    let (naive_f, pool_f) = (&naive_report.fairness, &pool_report.fairness);
    let served = naive_report.connections - naive_f.starved;
    common::check(
        naive_f.starved >= c - k && served <= k,
        &format!(
            "naive: {} of {c} connections starved, {served} served (predicted: {} starved, at most {k} served)",
            naive_f.starved,
            c - k
        ),
    );
    let ratio = naive_report.requests_per_sec / pool_report.requests_per_sec.max(1e-9);
    common::check(
        ratio >= 0.25,
        &format!(
            "naive: the total still looks healthy, {:.1} requests/s = {ratio:.2} × wsgi-lab's (predicted: \
             at least 0.25 ×): a total hides who was served",
            naive_report.requests_per_sec
        ),
    );
    let p99 = |report: &BenchReport| report.latency.map_or(f64::INFINITY, |l| l.p99_ms);
    common::check(
        p99(&naive_report) < plan.duration.as_secs_f64() * 1000.0 / 10.0,
        &format!(
            "naive: p99 latency {:.2} ms looks fine too: latency counts completed requests only, and the \
             {} starved users' requests never completed (they are among the {} in flight at the end)",
            p99(&naive_report),
            naive_f.starved,
            naive_report.in_flight
        ),
    );
    common::check(
        pool_f.starved == 0,
        &format!("wsgi-lab: {} of {c} connections starved (predicted: 0)", pool_f.starved),
    );
    let evenness = pool_f.min as f64 / pool_f.median.max(1e-9);
    common::check(
        evenness >= 0.5,
        &format!(
            "wsgi-lab: the fewest completions are {:.2} × the median ({} vs {}; predicted: close, at least 0.5 ×)",
            evenness, pool_f.min, pool_f.median
        ),
    );

    common::heading(&format!("2. {WORKERS} idle browsers, then one more visitor"));
    println!(
        "{WORKERS} clients each load one page and keep the connection open, idle, as a browser does\n\
         between clicks. Then a new visitor asks for a page and waits at most {}.",
        common::secs(plan.patience)
    );
    println!(
        "Prediction: the naive server's {WORKERS} workers all sit in a read on an idle socket, so the\n\
         visitor gets nothing; wsgi-lab parks idle connections in epoll, so a worker is free at once."
    );
    let naive = NaiveServer::start(WORKERS);
    let naive_visit = visit_after_idle_browsers(naive.addr, plan.patience);
    naive.stop();
    let pool = common::start(
        hello,
        Mode::Pool,
        Options { threads: WORKERS, engine: Engine::Handoff, ..Options::default() },
    );
    let pool_visit = visit_after_idle_browsers(pool.addr(), plan.patience);
    pool.stop().or_exit("the server did not stop cleanly");
    for (name, visit) in [("naive", &naive_visit), ("wsgi-lab", &pool_visit)] {
        match visit {
            Some(took) => println!("{name}: the visitor got 200 OK after {}", common::secs(*took)),
            None => println!("{name}: no answer within {} (we stopped waiting)", common::secs(plan.patience)),
        }
    }
    common::check(
        naive_visit.is_none(),
        &format!("naive: the visitor got no answer in {} (predicted: none)", common::secs(plan.patience)),
    );
    common::check(
        pool_visit.is_some_and(|took| took < plan.patience / 2),
        &format!(
            "wsgi-lab: the visitor was answered in {} (predicted: well within {})",
            pool_visit.map_or("never".to_string(), common::secs),
            common::secs(plan.patience)
        ),
    );
}

/// Benches `addr` with the plan's keep-alive connections, the app's `/`.
fn load(addr: SocketAddr, plan: &Plan) -> BenchReport {
    let config = BenchConfig {
        connections: plan.connections,
        stop: Stop::Duration(plan.duration),
        ..BenchConfig::new(format!("http://{addr}/"))
    };
    bench::run(&config).or_exit("the bench could not run")
}

/// `min 0, median 0, max 4173: 45 of 50 starved`: the report's fairness in one line.
fn fairness_line(report: &BenchReport) -> String {
    let f = &report.fairness;
    format!(
        "per connection min {}, median {}, max {}; {} of {} connections starved",
        f.min, f.median, f.max, f.starved, report.connections
    )
}

/// Opens [`WORKERS`] connections that each get one page and then stay idle, then times a new
/// visitor's request; `None` if it got no answer within `patience`.
fn visit_after_idle_browsers(addr: SocketAddr, patience: Duration) -> Option<Duration> {
    let request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let browsers: Vec<TcpStream> = (0..WORKERS)
        .map(|_| {
            let mut browser = TcpStream::connect(addr).expect("connect");
            browser.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            browser.write_all(request).unwrap();
            let mut page = [0u8; 1024];
            let _ = browser.read(&mut page); // one small response: one read is enough here
            browser
        })
        .collect();
    let mut visitor = TcpStream::connect(addr).expect("connect");
    visitor.set_read_timeout(Some(patience)).unwrap();
    let started = Instant::now();
    visitor.write_all(request).unwrap();
    let mut answer = [0u8; 1024];
    let answered = matches!(visitor.read(&mut answer), Ok(n) if n > 0 && answer.starts_with(b"HTTP/1.1 200"));
    let took = started.elapsed();
    // Closing the browsers frees the naive server's workers; the visitor leaves too.
    drop(browsers);
    drop(visitor);
    answered.then_some(took)
}
