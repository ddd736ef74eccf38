//! Concurrency and lifetime (SPEC §6): in single-threaded mode a slow request delays everyone
//! (the lesson), in pool mode it does not; N slow requests on T workers take about N / T rounds,
//! and requests that arrive together run side by side;
//! a quick request is not held behind long computing ones; stalled half-requests and hundreds of idle connections hold no worker, and no active
//! connection starves; shutdown finishes the response in flight; a panicking app leaves the
//! pool at full size; the thread count does not grow with connections; past the connection
//! limit new clients wait until one closes.
//!
//! Every pool-mode test runs once per engine (`common::each_engine!`): `name::shared` and
//! `name::handoff`.
//!
//! Timing is checked by orderings and ratios with wide margins, never a tight absolute time.

mod common;

use common::served::*;
use common::{connect, read_response, send};
use std::io::Read;
use std::net::TcpStream;
use std::sync::{Arc, Barrier, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wsgi_lab::{App, Body, Engine, Environ, Mode, Options, StartResponse, apps};

/// Threads of this process, from `/proc/self/task` (Linux).
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").expect("/proc/self/task (Linux)").count()
}

/// The built-in `sleep` app under `/sleep`, the built-in `error` app everywhere else.
fn sleep_or_error(environ: &Environ, start_response: StartResponse) -> Body {
    if environ["PATH_INFO"].starts_with("/sleep") {
        apps::sleep(environ, start_response)
    } else {
        apps::error(environ, start_response)
    }
}

/// The built-in `sleep` app, noting the query of each request it finishes, in order.
fn sleep_noting_order(finished: Arc<Mutex<Vec<String>>>) -> impl App {
    move |environ: &Environ, start_response: StartResponse| {
        let body = apps::sleep(environ, start_response);
        finished.lock().unwrap().push(environ["QUERY_STRING"].to_string());
        body
    }
}

/// Starts a 600 ms request, then a 0 ms one, on a server with two workers (in pool mode);
/// returns the order in which the app finished them and the fast one's latency.
fn slow_then_fast(options: Options, mode: Mode) -> (Vec<String>, Duration) {
    let finished = Arc::new(Mutex::new(Vec::new()));
    let server = run(sleep_noting_order(finished.clone()), Options { threads: 2, ..options }, mode);
    let [slow, fast] = <[TcpStream; 2]>::try_from(connections(&server, 2)).unwrap();
    let slow = get_in_background_on(slow, "/?ms=600");
    wait_until("the slow request runs", || server.stats.snapshot().in_flight == 1);
    let fast_sent = Instant::now();
    let fast = get_in_background_on(fast, "/?ms=0");
    let (fast_response, fast_done) = fast.join().unwrap();
    let (slow_response, _) = slow.join().unwrap();
    assert_eq!((fast_response.text(), slow_response.text()), ("slept 0 ms".into(), "slept 600 ms".into()));
    let order = finished.lock().unwrap().clone();
    (order, fast_done - fast_sent)
}

fn a_slow_request_does_not_delay_a_fast_one_in_pool_mode(engine: Engine) {
    let _with_others = with_others();
    let (order, latency) = slow_then_fast(common::pool_options(engine), Mode::Pool);
    assert_eq!(order, ["ms=0", "ms=600"], "the fast request waited for the slow one ({latency:?})");
    assert!(
        latency < Duration::from_millis(300),
        "the fast request took {latency:?}, half the slow one's 600 ms"
    );
}
common::each_engine!(a_slow_request_does_not_delay_a_fast_one_in_pool_mode);

#[test]
fn a_slow_request_delays_a_fast_one_in_single_threaded_mode() {
    let _with_others = with_others();
    let (order, latency) = slow_then_fast(common::options(), Mode::Single);
    assert_eq!(order, ["ms=600", "ms=0"], "the fast request overtook the slow one in single-threaded mode");
    assert!(
        latency >= Duration::from_millis(300),
        "the fast request took only {latency:?} behind a 600 ms one"
    );
}

/// Sends `requests` requests of the sleep app for `sleep` at once, each on a connection opened
/// beforehand, to a pool with `options`; returns how long until the last was answered (200).
fn sleep_at_once(options: Options, requests: usize, sleep: Duration) -> Duration {
    let server = run(apps::sleep, options, Mode::Pool);
    let streams = connections(&server, requests);
    let started = Instant::now();
    let clients: Vec<_> = streams
        .into_iter()
        .map(|stream| get_in_background_on(stream, &format!("/?ms={}", sleep.as_millis())))
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap().0.status, 200);
    }
    started.elapsed()
}

fn n_slow_requests_on_t_workers_take_about_n_over_t_rounds(engine: Engine) {
    let _with_others = with_others();
    let (requests, threads, sleep): (usize, usize, _) = (6, 2, Duration::from_millis(200));
    let took = sleep_at_once(pool_of(threads, engine), requests, sleep);
    let rounds = requests.div_ceil(threads) as u32; // 3 rounds of 200 ms
    let predicted = sleep * rounds;
    assert!(
        took > sleep * (rounds - 1),
        "{took:?}: fewer than {rounds} rounds, more than {threads} workers?"
    );
    assert!(took >= predicted.mul_f64(0.8), "{took:?}, predicted {predicted:?}");
    assert!(took <= predicted * 2, "{took:?}, predicted {predicted:?}: far slower than {rounds} rounds");
}
common::each_engine!(n_slow_requests_on_t_workers_take_about_n_over_t_rounds);

/// More slow requests than cores, on as many workers: one round, side by side. The shared
/// engine lets only as many workers wait on epoll as there are cores and calls the others in
/// while workers are blocked in the app; if it did not, these would take two rounds or more.
fn more_sleeping_workers_than_cores_run_side_by_side(engine: Engine) {
    let _with_others = with_others();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (requests, sleep) = (cores + 3, Duration::from_millis(400));
    let took = sleep_at_once(pool_of(requests, engine), requests, sleep);
    assert!(
        took < sleep.mul_f64(1.5),
        "{requests} requests of {sleep:?} on {requests} workers took {took:?}"
    );
}
common::each_engine!(more_sleeping_workers_than_cores_run_side_by_side);

/// Slow requests written at the same moment, one per worker: one round, side by side. They
/// reach epoll together, and a worker of the shared engine may take several at once; the ones
/// it does not serve itself must go to the other workers, asleep in epoll or not (if they
/// waited for it instead, this would take a round per request). As many workers as cores, so
/// that no spare comes to the rescue.
fn requests_arriving_together_run_side_by_side(engine: Engine) {
    let _alone = alone();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sleep = Duration::from_millis(400);
    let server = run(apps::sleep, pool_of(cores, engine), Mode::Pool);
    let mut streams = connections(&server, cores);
    let request = format!("GET /?ms={} HTTP/1.1\r\nHost: x\r\n\r\n", sleep.as_millis());
    let started = Instant::now();
    // Back to back from one thread, so that they are all in epoll when a worker wakes.
    for stream in &mut streams {
        send(stream, request.as_bytes());
    }
    for stream in &mut streams {
        assert_eq!(read_response(stream, false).status, 200);
    }
    let took = started.elapsed();
    assert!(took < sleep.mul_f64(1.5), "{cores} requests of {sleep:?} on {cores} workers took {took:?}");
}
common::each_engine!(requests_arriving_together_run_side_by_side);

/// A request that computes for `?ms=` milliseconds (spinning, never sleeping), or a quick answer.
fn spin(environ: &Environ, start_response: StartResponse) -> Body {
    let ms = environ["QUERY_STRING"].strip_prefix("ms=").and_then(|ms| ms.parse().ok()).unwrap_or(0);
    let until = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
    start_response("200 OK", vec![("Content-Type", "text/plain")]);
    Body::from("done")
}

/// As many long computing requests as cores, then a quick one: it is answered long before they
/// end. The shared engine lets only as many workers wait on epoll as there are cores, and a
/// computing worker is not blocked; it calls a spare in once a request has computed for 10 ms,
/// so that the next requests are not held up behind long ones. Without that rule the quick
/// request would wait for a long one to end.
fn a_quick_request_is_not_held_behind_computing_ones(engine: Engine) {
    let _alone = alone();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server = run(spin, pool_of(cores + 2, engine), Mode::Pool);
    let streams = connections(&server, cores + 1);
    let long = Duration::from_millis(600);
    let started = Instant::now();
    let computing: Vec<_> = streams[..cores]
        .iter()
        .map(|s| get_in_background_on(s.try_clone().unwrap(), &format!("/?ms={}", long.as_millis())))
        .collect();
    wait_until("every long request is inside the app", || server.stats.snapshot().in_flight == cores);
    let (quick, answered) = get_in_background_on(streams[cores].try_clone().unwrap(), "/").join().unwrap();
    assert_eq!(quick.text(), "done");
    let waited = answered - started;
    for client in computing {
        let (response, _) = client.join().unwrap();
        assert_eq!(response.text(), "done");
    }
    assert!(
        waited < long / 2,
        "the quick request was answered {waited:?} after {cores} requests of {long:?} began"
    );
}
common::each_engine!(a_quick_request_is_not_held_behind_computing_ones);

fn stalled_half_requests_do_not_delay_a_normal_client(engine: Engine) {
    let _with_others = with_others();
    let options = Options { header_timeout: Duration::from_secs(10), ..pool_of(2, engine) };
    let server = run(apps::hello, options, Mode::Pool);
    let stalled: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut stream = connect(server.addr);
            send(&mut stream, b"GET / HTTP/1.1\r\nHo");
            stream
        })
        .collect();
    wait_until("the server holds the 50 stalled connections", || server.stats.snapshot().connections == 50);
    let normal = connect(server.addr);
    let started = Instant::now();
    let (response, _) = get_in_background_on(normal, "/").join().unwrap();
    let took = started.elapsed();
    assert_eq!((response.status, response.text().as_str()), (200, "Hello, World!"));
    assert!(took < Duration::from_secs(1), "a normal request took {took:?} behind 50 stalled ones");
    wait_until("no worker is held by a half-request", || server.stats.snapshot().in_flight == 0);
    // The client sees the end of the stream a moment before the server counts it closed.
    wait_until("the normal connection is counted closed", || server.stats.snapshot().connections <= 50);
    assert_eq!(server.stats.snapshot().connections, 50, "the stalled ones are still open");
    drop(stalled);
}
common::each_engine!(stalled_half_requests_do_not_delay_a_normal_client);

/// Fairness: 100 connections ask for request after request for 0.6 s, on 5 workers,
/// beside 300 idle ones; the one that gets the fewest answers gets at least a fifth of the
/// median. Catches an engine that serves the ready connections last-come-first-served, or
/// favours the ones it served last (under load, the others wait ever longer and complete little),
/// and one that loses a connection's wake-up (it completes nothing).
fn no_active_connection_starves_among_hundreds_of_idle_ones(engine: Engine) {
    let _alone = alone();
    let server = run(apps::hello, pool_of(5, engine), Mode::Pool);
    // 300 idle keep-alive connections, each answered once and then silent. (Connecting one at
    // a time: a burst of connections faster than the poller accepts them would overflow the
    // listen backlog of 128, and the OS would make the client retry a second later.)
    let mut idle: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut stream = connect(server.addr);
            assert_eq!(get_on(&mut stream, "/").status, 200);
            stream
        })
        .collect();
    let (active, run_for) = (100, Duration::from_millis(600));
    let start = Arc::new(Barrier::new(active));
    let clients: Vec<JoinHandle<usize>> = (0..active)
        .map(|_| {
            let (addr, start) = (server.addr, start.clone());
            std::thread::spawn(move || {
                let mut stream = connect(addr);
                start.wait();
                let until = Instant::now() + run_for;
                let mut completed = 0;
                while Instant::now() < until {
                    assert_eq!(get_on(&mut stream, "/").status, 200);
                    completed += 1;
                }
                completed
            })
        })
        .collect();
    let mut completed: Vec<usize> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    completed.sort_unstable();
    let (min, median) = (completed[0], completed[active / 2]);
    assert!(min >= 1, "a connection completed no request: {completed:?}");
    assert!(min * 5 >= median, "a connection starved: completions per connection {completed:?}");
    // The idle ones were parked, not dropped: each can still be used.
    for stream in idle.iter_mut().step_by(50) {
        assert_eq!(get_on(stream, "/").status, 200);
    }
}
common::each_engine!(no_active_connection_starves_among_hundreds_of_idle_ones);

fn graceful_shutdown_completes_the_response_in_flight(engine: Engine) {
    let _with_others = with_others();
    let server = run(apps::sleep, pool_of(2, engine), Mode::Pool);
    let mut idle = connect(server.addr);
    assert_eq!(get_on(&mut idle, "/?ms=0").status, 200);
    // A keep-alive request, so that it is shutdown that closes its connection afterwards.
    let mut busy = connect(server.addr);
    send(&mut busy, b"GET /?ms=500 HTTP/1.1\r\nHost: test\r\n\r\n");
    let client = std::thread::spawn(move || {
        let response = read_response(&mut busy, false);
        let mut rest = Vec::new();
        let _ = busy.read_to_end(&mut rest);
        (response, rest)
    });
    // By its request line: the first request may still count as in flight for a moment.
    wait_until("the 500 ms request runs", || {
        server.stats.snapshot().busy().iter().any(|(_, line, _)| *line == "GET /?ms=500 HTTP/1.1")
    });
    let stats = server.stats.clone();
    assert!(server.stop().is_ok(), "serve_forever returns Ok after a graceful shutdown");
    let (response, rest) = client.join().unwrap();
    assert_eq!((response.status, response.text().as_str()), (200, "slept 500 ms"), "{response:?}");
    assert!(rest.is_empty(), "after the response, the connection is closed: {rest:?}");
    assert_eq!(stats.snapshot().served, 2);
    let mut byte = [0u8; 1];
    assert!(matches!(idle.read(&mut byte), Ok(0) | Err(_)), "shutdown closes idle keep-alive connections");
}
common::each_engine!(graceful_shutdown_completes_the_response_in_flight);

fn a_panicking_app_leaves_the_pool_at_full_size(engine: Engine) {
    let _with_others = with_others();
    let server = run(sleep_or_error, pool_of(2, engine), Mode::Pool);
    for i in 0..10 {
        let path = if i % 2 == 0 { "/before" } else { "/after" };
        let (response, _) = get_in_background(server.addr, path).join().unwrap();
        match path {
            "/before" => assert_eq!(response.status, 500, "{response:?}"),
            _ => {
                assert_eq!(response.status, 200, "{response:?}");
                assert!(common::dechunk(&response.body).is_err(), "the body is cut short: {response:?}");
            }
        }
    }
    // Both workers still run: two sleeps at once take one sleep time, not two.
    let sleep = Duration::from_millis(400);
    let streams = connections(&server, 2);
    let started = Instant::now();
    let sleeps: Vec<_> = streams.into_iter().map(|s| get_in_background_on(s, "/sleep?ms=400")).collect();
    for client in sleeps {
        assert_eq!(client.join().unwrap().0.text(), "slept 400 ms");
    }
    let took = started.elapsed();
    assert!(took >= sleep, "{took:?}");
    // One worker would need two sleep times: anything less proves two at work.
    assert!(took < sleep * 2, "two 400 ms requests on two workers took {took:?}: a worker is gone");
    assert_eq!(server.stats.snapshot().workers.len(), 2);
}
common::each_engine!(a_panicking_app_leaves_the_pool_at_full_size);

fn the_thread_count_stays_bounded_with_500_open_connections(engine: Engine) {
    let _alone = alone();
    let threads = 4;
    let without_server = thread_count();
    let server = run(apps::hello, pool_of(threads, engine), Mode::Pool);
    let mut first = connect(server.addr);
    assert_eq!(get_on(&mut first, "/").status, 200);
    let before = thread_count();
    // Both engines add the workers and one thread: the handoff engine's poller, or the thread
    // that waits for the shutdown while the shared engine's workers wait on epoll. (One more:
    // the test harness may start the next test's thread meanwhile; it waits for the lock.)
    assert!(
        before <= without_server + threads + 2,
        "{threads} workers, and threads went from {without_server} to {before}"
    );
    // Half of them are served once and then idle, the others never send a byte. Serving every
    // other one as it connects keeps the listen backlog short (see the test above).
    let streams: Vec<TcpStream> = (0..500)
        .map(|i| {
            let mut stream = connect(server.addr);
            if i % 2 == 0 {
                assert_eq!(get_on(&mut stream, "/").status, 200);
            }
            stream
        })
        .collect();
    wait_until("the server holds 501 connections", || server.stats.snapshot().connections == 501);
    let after = thread_count();
    assert!(after <= before + 2, "threads went from {before} to {after} with 500 more connections");
    drop(streams);
}
common::each_engine!(the_thread_count_stays_bounded_with_500_open_connections);

fn past_the_connection_limit_a_new_client_waits_until_one_closes(engine: Engine) {
    let _with_others = with_others();
    let options =
        Options { connection_limit: 5, idle_timeout: Duration::from_secs(10), ..pool_of(2, engine) };
    let server = run(apps::hello, options, Mode::Pool);
    let mut open: Vec<TcpStream> = (0..5).map(|_| connect(server.addr)).collect();
    for stream in &mut open {
        assert_eq!(get_on(stream, "/").status, 200);
    }
    let mut sixth = connect(server.addr);
    send(&mut sixth, b"GET / HTTP/1.1\r\nHost: test\r\n\r\n");
    assert!(!common::answered_within(&mut sixth, Duration::from_millis(500)), "a 6th connection was served");
    assert_eq!(server.stats.snapshot().connections, 5);
    drop(open.pop());
    let response = read_response(&mut sixth, false);
    assert_eq!((response.status, response.text().as_str()), (200, "Hello, World!"));
}
common::each_engine!(past_the_connection_limit_a_new_client_waits_until_one_closes);
