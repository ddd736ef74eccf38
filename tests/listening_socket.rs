//! The listening socket (SPEC §6): its backlog is an option (waitress's default, 1,024), and
//! shutdown stops it listening at once, in single-threaded mode and with each pool engine,
//! while the requests in flight finish.

mod common;

use common::Setup;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use wsgi_lab::{Body, Engine, Environ, Mode, Options, Server, StartResponse, apps};

/// How many connections complete their handshake against a server that never accepts, out of
/// `attempts` made one after another: the OS queues at most about `backlog` of them, and drops
/// the handshake of the next (its client would retry a second later; we give up sooner).
fn queued_connections(backlog: u32, attempts: usize) -> usize {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options { backlog, quiet: true, ..Options::default() };
    let server = Server::from_listener(listener, apps::hello, options, Mode::Pool).unwrap();
    let addr = server.server_address();
    let mut open = Vec::new();
    while open.len() < attempts {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(stream) => open.push(stream),
            Err(_) => break,
        }
    }
    open.len()
}

#[test]
fn the_backlog_option_reaches_the_socket() {
    assert_eq!(Options::default().backlog, 1024, "waitress's default");
    // std's `bind` alone would queue 129 and drop the rest.
    assert_eq!(queued_connections(Options::default().backlog, 1000), 1000, "a burst of 1,000 connects");
    let small = queued_connections(16, 100);
    assert!((16..=20).contains(&small), "backlog 16 queued {small} connections");
}

/// Fixture: says when it starts, then takes a second.
fn slow_app(started: mpsc::Sender<()>) -> impl Fn(&Environ, StartResponse) -> Body + Send + Sync {
    let started = Mutex::new(started);
    move |_: &Environ, start_response: StartResponse| {
        let _ = started.lock().unwrap().send(());
        thread::sleep(Duration::from_secs(1));
        start_response("200 OK", vec![("Content-Type", "text/plain")]);
        Body::from("finished")
    }
}

/// Connects until the server refuses, for at most `within`; returns how long that took.
fn refused_within(addr: SocketAddr, within: Duration) -> Option<Duration> {
    let began = Instant::now();
    while began.elapsed() < within {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Some(began.elapsed()),
            _ => thread::sleep(Duration::from_millis(10)),
        }
    }
    None
}

fn new_clients_are_refused_while_in_flight_requests_finish(setup: Setup) {
    let (started_tx, started) = mpsc::channel();
    let server = common::start_in(slow_app(started_tx), common::options(), setup);
    let addr = server.addr;
    let in_flight = thread::spawn(move || {
        common::exchange(addr, b"GET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    });
    started.recv_timeout(common::CLIENT_TIMEOUT).expect("the slow request reached the app");
    let stopping = thread::spawn(move || server.stop());
    // Refused at once: well before the request in flight can finish.
    let refused = refused_within(addr, Duration::from_millis(500));
    assert!(refused.is_some(), "{setup:?}: a new connection was not refused within 500 ms of shutdown");
    assert!(!in_flight.is_finished(), "{setup:?}: refused only after the request in flight had finished");
    let response = common::Response::parse(&in_flight.join().unwrap());
    assert_eq!((response.status, response.text().as_str()), (200, "finished"), "{setup:?}");
    assert!(stopping.join().unwrap().is_ok(), "{setup:?}: serve_forever ends Ok");
}

#[test]
fn shutdown_refuses_new_clients_at_once_in_single_mode() {
    new_clients_are_refused_while_in_flight_requests_finish(Setup::Single);
}

fn shutdown_refuses_new_clients_at_once_in_pool_mode(engine: Engine) {
    new_clients_are_refused_while_in_flight_requests_finish(Setup::Pool(engine));
}
common::each_engine!(shutdown_refuses_new_clients_at_once_in_pool_mode);

fn a_server_that_was_shut_down_stays_shut_down(engine: Engine) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let options = common::pool_options(engine);
    let server = Server::from_listener(listener, apps::hello, options, Mode::Pool).unwrap();
    server.shutdown_handle().shutdown();
    assert!(server.serve_forever().is_ok(), "serve_forever returns at once");
    let refused = TcpStream::connect(server.server_address()).map_err(|e| e.kind());
    assert_eq!(refused.err(), Some(ErrorKind::ConnectionRefused));
}
common::each_engine!(a_server_that_was_shut_down_stays_shut_down);
