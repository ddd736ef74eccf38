//! Timed tests of a served app: a server in a background thread with its live stats,
//! connections opened before the clock starts, `GET`s in background threads that note when
//! they were answered, and a lock for the tests that must run alone (they load both cores or
//! count the process's threads).

use super::{Response, connect, read_response, read_to_close, send};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wsgi_lab::stats::Stats;
use wsgi_lab::{App, Engine, Mode, Options, Server};

/// The tests of a file using this run in parallel, except those that count the process's threads or
/// load both cores: they hold this lock for writing, the others for reading.
pub static ALONE: RwLock<()> = RwLock::new(());

pub fn with_others() -> RwLockReadGuard<'static, ()> {
    ALONE.read().unwrap_or_else(|e| e.into_inner())
}

pub fn alone() -> RwLockWriteGuard<'static, ()> {
    ALONE.write().unwrap_or_else(|e| e.into_inner())
}

/// A server serving in a background thread, with its mode and live stats. Dropping it shuts it
/// down.
pub struct Running {
    pub addr: SocketAddr,
    pub mode: Mode,
    pub stats: Arc<Stats>,
    server: wsgi_lab::Running,
}

pub fn run(app: impl App + 'static, options: Options, mode: Mode) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = Server::from_listener(listener, app, options, mode).unwrap().log_requests(false);
    let stats = server.stats();
    let server = server.spawn();
    Running { addr: server.addr(), mode, stats, server }
}

impl Running {
    /// Shuts down and returns what `serve_forever` returned.
    pub fn stop(self) -> Result<(), wsgi_lab::Error> {
        self.server.stop()
    }
}

/// Pool-mode options with `threads` workers and `engine`.
pub fn pool_of(threads: usize, engine: Engine) -> Options {
    Options { threads, ..super::pool_options(engine) }
}

/// Waits until `condition` holds, polling; fails the test after 5 s.
pub fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < give_up, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `GET target` with `Connection: close` on a new connection, in a thread; the thread returns
/// the response and when it was complete.
pub fn get_in_background(addr: SocketAddr, target: &str) -> JoinHandle<(Response, Instant)> {
    get_in_background_on(connect(addr), target)
}

/// The same on a connection opened beforehand. Timed tests open their connections first: a
/// connection attempt that the OS drops under load is retried only a second later, and that
/// second must not count as the server's.
pub fn get_in_background_on(mut stream: TcpStream, target: &str) -> JoinHandle<(Response, Instant)> {
    send(&mut stream, format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes());
    std::thread::spawn(move || {
        let response = Response::parse(&read_to_close(&mut stream));
        (response, Instant::now())
    })
}

/// Opens `n` connections and waits until the server holds them all (in single-threaded mode,
/// only the first is accepted; the others wait in the backlog).
pub fn connections(server: &Running, n: usize) -> Vec<TcpStream> {
    let streams: Vec<TcpStream> = (0..n).map(|_| connect(server.addr)).collect();
    if server.mode == Mode::Pool {
        wait_until("the server holds the connections", || server.stats.snapshot().connections == n);
    }
    streams
}

/// A keep-alive `GET` on an open connection, and its response.
pub fn get_on(stream: &mut TcpStream, target: &str) -> Response {
    send(stream, format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
    read_response(stream, false)
}
