//! The dev server's threads, as Flask's `app.run`: a thread per request by default (Werkzeug's
//! `threaded=True`), so a fast request is answered while a slow one runs, with no upper bound;
//! one request at a time with `threaded(false)` (Werkzeug's `threaded=False`). Requests
//! pipelined on one connection still reach the app one at a time, in order. A shutdown lets
//! the request in flight finish. The slow request here waits for the test to release it, so
//! nothing depends on how fast the machine is.

mod common;

use common::dev::{Dev, Reply, serve, serve_dev};
use common::{CLIENT_TIMEOUT, answered_within, connect, read_to_close, send};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use wsgi_lab::{Body, DevServer, Environ, StartResponse};

/// What the app shares with the test: how many requests are inside `/slow` now and at most,
/// the paths in the order they reached the app, and the gate that `/slow` waits at.
#[derive(Default)]
struct Gate {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    inside: usize,
    most: usize,
    open: bool,
    seen: Vec<String>,
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets every request waiting in `/slow` (and every later one) through.
    fn open(&self) {
        self.lock().open = true;
        self.changed.notify_all();
    }

    /// Waits until `n` requests are inside the app at once; false after [`CLIENT_TIMEOUT`].
    fn wait_inside(&self, n: usize) -> bool {
        let state = self.lock();
        let (state, _) = self
            .changed
            .wait_timeout_while(state, CLIENT_TIMEOUT, |s| s.inside < n)
            .unwrap_or_else(|e| e.into_inner());
        state.inside >= n
    }
}

/// `/slow` waits at the gate (at most [`CLIENT_TIMEOUT`], so a failing test cannot hang);
/// any other path answers at once.
fn gated(gate: Arc<Gate>) -> impl wsgi_lab::App {
    move |environ: &Environ, start_response: StartResponse| {
        let path = environ["PATH_INFO"].to_string();
        {
            let mut state = gate.lock();
            state.seen.push(path.clone());
            state.inside += 1;
            state.most = state.most.max(state.inside);
            gate.changed.notify_all();
            if path == "/slow" {
                let _ = gate.changed.wait_timeout_while(state, CLIENT_TIMEOUT, |s| !s.open);
            }
        }
        gate.lock().inside -= 1;
        start_response("200 OK", vec![("Content-Type", "text/plain")]);
        Body::from(format!("done {path}"))
    }
}

fn dev_server(gate: &Arc<Gate>, threaded: bool) -> Dev {
    let server = DevServer::bind(gated(gate.clone()), "127.0.0.1", 0, false).unwrap().threaded(threaded);
    serve(server)
}

/// Sends `GET path` on a new connection and returns the connection, for the test to read
/// when it chooses.
fn send_get(addr: SocketAddr, path: &str) -> std::net::TcpStream {
    let mut stream = connect(addr);
    send(&mut stream, format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
    stream
}

fn reply(stream: &mut std::net::TcpStream) -> Reply {
    Reply::parse(&read_to_close(stream))
}

#[test]
fn threaded_a_fast_request_is_answered_while_a_slow_one_runs() {
    let gate = Arc::new(Gate::default());
    let dev = dev_server(&gate, true);
    let mut slow = send_get(dev.addr, "/slow");
    assert!(gate.wait_inside(1), "the slow request never reached the app");

    let mut fast = send_get(dev.addr, "/fast");
    assert_eq!(reply(&mut fast).text(), "done /fast", "answered while /slow still waits at the gate");
    assert_eq!(gate.lock().inside, 1, "/slow is still inside the app");

    gate.open();
    assert_eq!(reply(&mut slow).text(), "done /slow");
    dev.wait_for_log("\"GET /slow HTTP/1.1\" 200 -");
}

#[test]
fn without_threads_the_fast_request_waits_for_the_slow_one() {
    let gate = Arc::new(Gate::default());
    let dev = dev_server(&gate, false);
    let mut slow = send_get(dev.addr, "/slow");
    assert!(gate.wait_inside(1), "the slow request never reached the app");

    let mut fast = send_get(dev.addr, "/fast");
    // One thread, busy in /slow: nothing can answer /fast, however long we wait.
    assert!(!answered_within(&mut fast, Duration::from_millis(500)), "/fast was answered beside /slow");
    assert_eq!(gate.lock().seen, ["/slow"], "/fast has not reached the app");

    gate.open();
    assert_eq!(reply(&mut slow).text(), "done /slow");
    assert_eq!(reply(&mut fast).text(), "done /fast", "answered once /slow was done");
    assert_eq!(gate.lock().most, 1, "one request inside the app at a time");
}

#[test]
fn threaded_has_no_upper_bound() {
    // Werkzeug's threaded server starts a thread for every request, with no limit; so does this
    // one. 24 requests held in the app at once: a pool would have stopped at its size (the
    // production pool's default is 2 × cores + 1 workers).
    const N: usize = 24;
    let gate = Arc::new(Gate::default());
    let dev = dev_server(&gate, true);
    let mut clients: Vec<_> = (0..N).map(|_| send_get(dev.addr, "/slow")).collect();
    let all_in = gate.wait_inside(N);
    let inside = gate.lock().inside;
    gate.open();
    assert!(all_in, "only {inside} of {N} slow requests were inside the app at once");
    for client in &mut clients {
        assert_eq!(reply(client).text(), "done /slow");
    }
    assert_eq!(gate.lock().most, N);
}

#[test]
fn pipelined_requests_reach_the_app_one_at_a_time_in_order() {
    // Werkzeug answers a connection's requests on that connection's thread, one after another;
    // so does the dev server, though it starts threads per request.
    let gate = Arc::new(Gate::default());
    gate.open();
    let dev = dev_server(&gate, true);
    let mut stream = connect(dev.addr);
    let pipelined: String = ["/a", "/slow", "/b", "/c"]
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let close = if i == 3 { "Connection: close\r\n" } else { "" };
            format!("GET {path} HTTP/1.1\r\nHost: t\r\n{close}\r\n")
        })
        .collect();
    send(&mut stream, pipelined.as_bytes());
    let bytes = read_to_close(&mut stream);
    let answers: Vec<String> = common::dev::replies(&bytes).iter().map(Reply::text).collect();
    assert_eq!(answers, ["done /a", "done /slow", "done /b", "done /c"]);
    let state = gate.lock();
    assert_eq!(state.seen, ["/a", "/slow", "/b", "/c"]);
    assert_eq!(state.most, 1, "a connection's requests never run at once");
}

#[test]
fn a_shutdown_lets_the_request_in_flight_finish() {
    let gate = Arc::new(Gate::default());
    let dev = dev_server(&gate, true);
    let mut slow = send_get(dev.addr, "/slow");
    assert!(gate.wait_inside(1), "the slow request never reached the app");
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            gate.open();
        })
    };
    let started = Instant::now();
    dev.stop().expect("a clean shutdown");
    // serve_forever returned only once /slow was answered (after the gate opened at 300 ms).
    assert!(started.elapsed() >= Duration::from_millis(250), "returned after {:?}", started.elapsed());
    assert_eq!(reply(&mut slow).text(), "done /slow");
    opener.join().unwrap();
}

/// `wsgi-lab serve --dev --port 0 ARGS`: its banner, up to the `Press Ctrl+C` line (the process
/// is killed once it is read).
fn banner_of(args: &[&str]) -> String {
    let (mut server, _, banner, _) = serve_dev(args, "Press Ctrl+C");
    let _ = server.kill();
    let _ = server.wait();
    banner
}

#[test]
fn the_banner_names_the_mode_and_warns() {
    let threaded = banner_of(&[]);
    assert!(threaded.contains(" * Threaded: a thread per request, no limit"), "{threaded}");
    assert!(threaded.contains("WARNING: this is a development server, not for production"), "{threaded}");
    assert!(threaded.contains("production WSGI server instead"), "{threaded}");
    assert!(threaded.contains(" * Contract validator: on (wsgi-lab's own"), "{threaded}");

    let single = banner_of(&["--without-threads"]);
    assert!(
        single.contains(" * Threaded: no, one request at a time (as Werkzeug's threaded=False)"),
        "{single}"
    );
    assert!(single.contains("WARNING: this is a development server"), "{single}");
}

#[test]
fn without_threads_needs_dev() {
    let output = Command::new(env!("CARGO_BIN_EXE_wsgi-lab"))
        .args(["serve", "--without-threads", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--dev"), "{stderr}");
}
