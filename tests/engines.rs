//! What pool mode promises with either engine, beyond the suite that already runs every
//! pool-mode test once per engine (`common::each_engine!`): a pool of no workers is refused,
//! with an error that names `threads`, when the server is built and again when it starts; and a
//! connection is never served by two workers at once: its pipelined requests are answered in
//! order, one whole response after the other, while other connections load the server.
//!
//! Fairness, a slow request beside a fast one, bounded threads and graceful shutdown are in
//! `tests/concurrency.rs`, per engine.

mod common;

use common::{connect, read_response, read_to_close, send};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::Duration;
use wsgi_lab::{Body, Engine, Environ, Error, Mode, Options, Server, StartResponse, apps, make_server};

fn threads_0_is_refused_when_the_server_is_built(engine: Engine) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options { threads: 0, ..common::pool_options(engine) };
    match Server::from_listener(listener, apps::hello, options, Mode::Pool) {
        Err(Error::Config(message)) => assert!(message.contains("threads"), "{message}"),
        Err(other) => panic!("refused, but not as a configuration error: {other:?}"),
        Ok(_) => panic!("a pool of 0 workers was accepted"),
    }
}
common::each_engine!(threads_0_is_refused_when_the_server_is_built);

fn threads_0_is_refused_when_the_server_starts(engine: Engine) {
    // The builder sets the threads after the server was built: `serve_forever` must check again.
    let server = make_server("127.0.0.1", 0, apps::hello)
        .unwrap()
        .with_options(|options| options.engine = engine)
        .threads(0)
        .ctrl_c(false);
    // In a thread, so that a server that serves (or hangs) instead of refusing fails the test.
    let (done, result) = mpsc::channel();
    thread::spawn(move || done.send(server.serve_forever()));
    match result.recv_timeout(Duration::from_secs(5)) {
        Ok(Err(Error::Config(message))) => assert!(message.contains("threads"), "{message}"),
        Ok(other) => panic!("serve_forever with threads(0) returned {other:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("serve_forever with threads(0) panicked"),
        Err(RecvTimeoutError::Timeout) => panic!("serve_forever with threads(0) still runs after 5 s"),
    }
}
common::each_engine!(threads_0_is_refused_when_the_server_starts);

/// Fixture: `?ms=N` sleeps N ms first; then the body names the request (its path) three times,
/// as three chunks of a stream, so that each response is written in several pieces.
fn named_in_three_chunks(environ: &Environ, start_response: StartResponse) -> Body {
    if let Some(ms) = apps::query_number(environ, "ms") {
        thread::sleep(Duration::from_millis(ms));
    }
    let path = environ["PATH_INFO"].to_string();
    start_response("200 OK", vec![("Content-Type", "text/plain")]);
    Body::stream((1..=3).map(move |part| format!("{path} {part}/3;").into_bytes()))
}

/// The body `named_in_three_chunks` sends for `path`.
fn expected_body(path: &str) -> String {
    (1..=3).map(|part| format!("{path} {part}/3;")).collect()
}

/// Reads the next response and checks that it is the whole answer to `path`.
fn assert_answers(stream: &mut std::net::TcpStream, path: &str) {
    let response = read_response(stream, false);
    assert_eq!(response.status, 200, "{path}: {response:?}");
    let body = String::from_utf8(response.dechunked()).unwrap();
    assert_eq!(body, expected_body(path), "the answer that came when {path} was due");
}

/// A connection that asks one request after another until `stop` (at most 2,000); returns how
/// many were answered.
fn load(addr: SocketAddr, id: usize, stop: Arc<AtomicBool>) -> JoinHandle<usize> {
    thread::spawn(move || {
        let mut stream = connect(addr);
        let path = format!("/load{id}");
        let mut answered = 0;
        while !stop.load(SeqCst) && answered < 2000 {
            send(&mut stream, format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
            assert_answers(&mut stream, &path);
            answered += 1;
        }
        answered
    })
}

/// Pipelines 5 rounds of 20 requests on one connection and checks each answer, in order.
/// Even rounds go in one write; odd rounds in two, the second half sent once the first answer
/// arrived, while the server works through the first half: bytes that arrive on a connection
/// a worker holds.
fn pipeline(addr: SocketAddr, id: usize) -> JoinHandle<()> {
    const ROUNDS: usize = 5;
    const DEPTH: usize = 20;
    thread::spawn(move || {
        let mut stream = connect(addr);
        for round in 0..ROUNDS {
            let paths: Vec<String> = (0..DEPTH).map(|n| format!("/c{id}/r{round}/n{n}")).collect();
            let requests: Vec<String> = (0..DEPTH)
                .map(|n| {
                    // The first requests of a round are the slowest (4 ms down to 0): answered
                    // side by side, the later ones would overtake them.
                    let ms = (DEPTH - n) / 5;
                    let last = round == ROUNDS - 1 && n == DEPTH - 1;
                    let close = if last { "Connection: close\r\n" } else { "" };
                    format!("GET {}?ms={ms} HTTP/1.1\r\nHost: test\r\n{close}\r\n", paths[n])
                })
                .collect();
            if round % 2 == 0 {
                send(&mut stream, requests.concat().as_bytes());
                for path in &paths {
                    assert_answers(&mut stream, path);
                }
            } else {
                let (first, second) = requests.split_at(DEPTH / 2);
                send(&mut stream, first.concat().as_bytes());
                assert_answers(&mut stream, &paths[0]);
                send(&mut stream, second.concat().as_bytes());
                for path in &paths[1..] {
                    assert_answers(&mut stream, path);
                }
            }
        }
        let rest = read_to_close(&mut stream);
        assert!(rest.is_empty(), "bytes after the last answer: {:?}", String::from_utf8_lossy(&rest));
    })
}

/// A connection is served by one worker at a time: 4 connections each pipeline 100 requests
/// (rounds of 20) to 4 workers, while 8 other connections load the server, and every answer
/// comes whole and in order. Catches an engine that hands a connection's pipelined requests to
/// several workers, or lets a second worker take a connection while one serves it (the quick
/// requests behind a slow one overtake it: an answer out of order; two workers write to one
/// socket: chunks interleave and the framing breaks), and one that loses the requests already
/// read but not answered, or the bytes that arrive during a turn (the client's read times out).
fn pipelined_requests_are_answered_in_order_under_load(engine: Engine) {
    let options = Options { threads: 4, ..common::pool_options(engine) };
    let server = common::start(named_in_three_chunks, options, Mode::Pool);
    let stop = Arc::new(AtomicBool::new(false));
    let loads: Vec<JoinHandle<usize>> = (0..8).map(|id| load(server.addr, id, stop.clone())).collect();
    let pipelines: Vec<JoinHandle<()>> = (0..4).map(|id| pipeline(server.addr, id)).collect();
    // Every thread is joined before a failure is reported, so none is left behind.
    let pipelined: Vec<_> = pipelines.into_iter().map(JoinHandle::join).collect();
    stop.store(true, SeqCst);
    let loaded: Vec<_> = loads.into_iter().map(JoinHandle::join).collect();
    for result in pipelined {
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }
    let answered: Vec<usize> = loaded
        .into_iter()
        .map(|result| result.unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
        .collect();
    assert!(answered.iter().all(|&n| n > 0), "the load was not served meanwhile: {answered:?}");
}
common::each_engine!(pipelined_requests_are_answered_in_order_under_load);

/// The builder's `.engine(..)` picks the engine and pool mode, as `--engine` does.
#[test]
fn the_builder_chooses_the_engine() {
    for engine in Engine::ALL {
        let server = wsgi_lab::make_server("127.0.0.1", 0, wsgi_lab::apps::hello).unwrap().engine(engine);
        assert_eq!((server.mode(), server.options().engine), (Mode::Pool, engine));
        let line = server.startup_line();
        assert!(line.contains(&format!("{} engine", engine.name())), "{line}");
    }
}
