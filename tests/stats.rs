//! The live counters of a pool-mode server (`Server::stats`), read while it serves: a worker
//! running a request is `Busy` with that request line and counts as in flight; every answered
//! request is counted once in `served`; `connections` follows the connections open now.
//! (That every snapshot adds up whatever the interleaving is `stats_props.rs`.)
//!
//! A request is held inside the app by a gate the test opens, so nothing depends on timing.
//! Every pool-mode test runs once per engine (`common::each_engine!`): `name::shared` and
//! `name::handoff`.

mod common;

use common::{Response, connect, read_response, read_to_close, send};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wsgi_lab::stats::{Stats, WorkerState};
use wsgi_lab::{App, Body, Engine, Environ, Mode, Options, Server, ShutdownHandle, StartResponse};

/// A server serving in a background thread, with its live stats. Dropping it shuts it down.
struct Running {
    addr: SocketAddr,
    stats: Arc<Stats>,
    handle: ShutdownHandle,
    thread: Option<JoinHandle<Result<(), wsgi_lab::Error>>>,
}

/// Serves `app` with two workers in pool mode, or in single-threaded mode (`engine` unused).
fn run(app: impl App + 'static, mode: Mode, engine: Engine) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options { threads: 2, ..common::pool_options(engine) };
    let server =
        Server::from_listener(listener, app, options, mode).unwrap().log_requests(false).ctrl_c(false);
    let (addr, stats, handle) = (server.server_address(), server.stats(), server.shutdown_handle());
    let thread = Some(std::thread::spawn(move || server.serve_forever()));
    Running { addr, stats, handle, thread }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.shutdown();
            let _ = thread.join();
        }
    }
}

/// Waits until `condition` holds, polling; fails the test after 5 s.
fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < give_up, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A keep-alive `GET` on an open connection, and its response.
fn get_on(stream: &mut TcpStream, target: &str) -> Response {
    send(stream, format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
    read_response(stream, false)
}

/// A gate the app waits at until the test opens it (at most 10 s, so a failing test cannot
/// hang a worker for ever).
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn wait(&self) {
        let open = self.open.lock().unwrap();
        let _open = self.opened.wait_timeout_while(open, Duration::from_secs(10), |open| !*open).unwrap();
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

/// Waits at the gate on `/held`, answers at once elsewhere.
fn held_at(gate: Arc<Gate>) -> impl App {
    move |environ: &Environ, start_response: StartResponse| {
        if &environ["PATH_INFO"] == "/held" {
            gate.wait();
        }
        start_response("200 OK", vec![("Content-Type", "text/plain")]);
        Body::from("done")
    }
}

fn a_running_request_shows_its_worker_busy_with_its_request_line(engine: Engine) {
    let gate = Arc::new(Gate::default());
    let server = run(held_at(gate.clone()), Mode::Pool, engine);
    let mut stream = connect(server.addr);
    send(&mut stream, b"GET /held?why=stats HTTP/1.1\r\nHost: test\r\n\r\n");
    wait_until("the request is in flight", || server.stats.snapshot().in_flight == 1);

    let snapshot = server.stats.snapshot();
    let busy = snapshot.busy();
    assert_eq!(busy.len(), 1, "{snapshot:?}");
    assert_eq!(busy[0].1, "GET /held?why=stats HTTP/1.1");
    let idle = snapshot.workers.iter().filter(|w| **w == WorkerState::Idle).count();
    assert_eq!((snapshot.workers.len(), idle), (2, 1), "{snapshot:?}");
    assert_eq!((snapshot.served, snapshot.queued, snapshot.connections), (0, 0, 1), "{snapshot:?}");
    // The handoff engine queued the connection on its way to a worker; the shared engine has no
    // queue, and its `queued 0` must not read as "nothing waits".
    assert_eq!(snapshot.queue_counted, engine == Engine::Handoff, "{snapshot:?}");
    assert_eq!(snapshot.idle(), 0, "{snapshot:?}");

    gate.open();
    assert_eq!(read_response(&mut stream, false).text(), "done");
    // The response reaches the client a moment before the worker counts it served.
    wait_until("the request is counted", || server.stats.served() == 1);
    let snapshot = server.stats.snapshot();
    assert!(snapshot.workers.iter().all(|w| *w == WorkerState::Idle), "{snapshot:?}");
    assert_eq!((snapshot.served, snapshot.in_flight), (1, 0), "{snapshot:?}");
}
common::each_engine!(a_running_request_shows_its_worker_busy_with_its_request_line);

fn served_counts_each_answered_request_exactly_once(engine: Engine) {
    let server = run(held_at(Arc::new(Gate::default())), Mode::Pool, engine);
    // Keep-alive requests on one connection, and some with a connection of their own.
    let mut stream = connect(server.addr);
    for _ in 0..5 {
        assert_eq!(get_on(&mut stream, "/").status, 200);
    }
    for _ in 0..3 {
        let mut own = connect(server.addr);
        send(&mut own, b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        assert_eq!(Response::parse(&read_to_close(&mut own)).status, 200);
    }
    wait_until("8 requests are counted", || server.stats.served() >= 8);
    // Give a double count the time to show.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.stats.served(), 8);
    assert_eq!(server.stats.snapshot().accepted, 4);
}
common::each_engine!(served_counts_each_answered_request_exactly_once);

fn connections_counts_the_connections_open_now(engine: Engine) {
    let server = run(held_at(Arc::new(Gate::default())), Mode::Pool, engine);
    let connections = || server.stats.snapshot().connections;
    let mut streams: Vec<TcpStream> = (0..3).map(|_| connect(server.addr)).collect();
    // Served once and idle, or not a byte sent yet: both are open connections.
    assert_eq!(get_on(&mut streams[0], "/").status, 200);
    wait_until("3 connections are counted", || connections() == 3);
    drop(streams.pop());
    wait_until("a closed connection is no longer counted", || connections() == 2);
    drop(streams);
    wait_until("no connection is counted", || connections() == 0);
    assert_eq!(server.stats.snapshot().accepted, 3);
}
common::each_engine!(connections_counts_the_connections_open_now);

#[test]
fn single_threaded_mode_counts_served_requests_too() {
    let server = run(held_at(Arc::new(Gate::default())), Mode::Single, Engine::default());
    for _ in 0..3 {
        let mut stream = connect(server.addr);
        send(&mut stream, b"GET / HTTP/1.1\r\nHost: test\r\n\r\n");
        assert_eq!(Response::parse(&read_to_close(&mut stream)).status, 200);
    }
    // The client sees the end of the stream a moment before the server counts it closed.
    wait_until("3 requests are counted and their connections closed", || {
        let snapshot = server.stats.snapshot();
        snapshot.served >= 3 && snapshot.connections == 0
    });
    let snapshot = server.stats.snapshot();
    assert_eq!(snapshot.served, 3);
    // The one thread that accepts is the one worker, idle between requests.
    assert_eq!(snapshot.workers, vec![WorkerState::Idle], "{snapshot:?}");
    assert_eq!((snapshot.in_flight, snapshot.connections, snapshot.accepted), (0, 0, 3), "{snapshot:?}");
}
