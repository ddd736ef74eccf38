//! Persistent connections in pool mode (SPEC §4, §6), over raw sockets: HTTP/1.1 keeps a
//! connection open for request after request unless `Connection: close` is among its tokens;
//! pipelined requests are answered in order; chunked and HEAD responses leave the connection
//! usable; HTTP/1.0 stays open only with `Connection: keep-alive` and a known length; an idle
//! connection is closed after the idle timeout. Single-threaded mode closes after every
//! response, and `wsgi.multithread` tells the app which mode it runs in.
//!
//! Every pool-mode test runs once per engine (`common::each_engine!`): `name::shared` and
//! `name::handoff`.

mod common;

use common::{Response, TestServer, connect, read_response, read_to_close, send};
use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use wsgi_lab::{Body, Engine, Environ, Mode, Options, StartResponse};

fn serve_pool(app: impl wsgi_lab::App + 'static, engine: Engine) -> TestServer {
    common::start(app, Options { threads: 2, ..common::pool_options(engine) }, Mode::Pool)
}

/// A keep-alive `GET` (HTTP/1.1 needs no header for it).
fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// Whether the server closes `stream` within `wait`. Bytes instead of the end of the stream
/// fail the test: every response on it has been read already.
fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 1024];
    let closed = match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!("unexpected bytes after the response: {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(e) => panic!("reading from the connection failed: {e}"),
    };
    stream.set_read_timeout(Some(common::CLIENT_TIMEOUT)).unwrap();
    closed
}

/// Asserts that the connection stays open: the next request on it is answered.
fn assert_still_usable(stream: &mut TcpStream) {
    send(stream, get("/again").as_bytes());
    let response = read_response(stream, false);
    assert_eq!((response.status, response.text().as_str()), (200, "/again"), "{response:?}");
}

// Fixture apps, one per behaviour.

/// Answers with its path as one chunk, so the server computes a Content-Length.
fn path(environ: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![("Content-Type", "text/plain")]);
    Body::from(environ["PATH_INFO"].to_string())
}

/// Sleeps `?ms=N` first, then answers with its path and the request body: for pipelining,
/// where a slow first request must not be overtaken by the ones behind it.
fn path_and_body_after_delay(environ: &Environ, start_response: StartResponse) -> Body {
    if let Some(ms) = wsgi_lab::apps::query_number(environ, "ms") {
        std::thread::sleep(Duration::from_millis(ms));
    }
    let mut body = String::new();
    environ.input().read_to_string(&mut body).unwrap();
    start_response("200 OK", vec![("Content-Type", "text/plain")]);
    Body::from(format!("{} {body}", &environ["PATH_INFO"]))
}

/// A streaming body of three chunks and no Content-Length, except on `/again`, which
/// answers its path.
fn streaming(environ: &Environ, start_response: StartResponse) -> Body {
    if &environ["PATH_INFO"] == "/again" {
        return path(environ, start_response);
    }
    start_response("200 OK", vec![("Content-Type", "text/plain"), ("X-Fixture", "streaming")]);
    Body::stream(["one ", "two ", "three"].into_iter().map(|s| s.as_bytes().to_vec()))
}

/// Says whether the server runs requests on several threads (`wsgi.multithread`).
fn multithread(environ: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![("Content-Type", "text/plain")]);
    Body::from(environ.multithread().to_string())
}

fn http_1_1_carries_several_requests_on_one_connection(engine: Engine) {
    let server = serve_pool(path, engine);
    let mut stream = connect(server.addr);
    for target in ["/first", "/second", "/third", "/fourth"] {
        send(&mut stream, get(target).as_bytes());
        let response = read_response(&mut stream, false);
        assert_eq!((response.status, response.text().as_str()), (200, target), "{response:?}");
        assert_eq!(response.header("connection"), None, "a kept HTTP/1.1 connection needs no header");
    }
}
common::each_engine!(http_1_1_carries_several_requests_on_one_connection);

fn connection_close_is_honoured_wherever_the_token_stands(engine: Engine) {
    let server = serve_pool(path, engine);
    let cases = [
        "Connection: close\r\n",
        "Connection: CLOSE\r\n",
        "Connection: foo, close\r\n",
        "Connection: close,foo\r\n",
        "Connection: foo\r\nConnection: close\r\n",
    ];
    for header in cases {
        let mut stream = connect(server.addr);
        send(&mut stream, format!("GET /bye HTTP/1.1\r\nHost: test\r\n{header}\r\n").as_bytes());
        let response = read_response(&mut stream, false);
        assert_eq!((response.status, response.text().as_str()), (200, "/bye"), "{header:?}");
        assert_eq!(response.header("connection"), Some("close"), "{header:?}");
        assert!(closed_within(&mut stream, Duration::from_secs(5)), "still open after {header:?}");
    }
}
common::each_engine!(connection_close_is_honoured_wherever_the_token_stands);

fn a_request_pipelined_after_connection_close_is_not_answered(engine: Engine) {
    let server = serve_pool(path, engine);
    let mut stream = connect(server.addr);
    let requests =
        format!("GET /last HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n{}", get("/ignored"));
    send(&mut stream, requests.as_bytes());
    let everything = Response::parse(&read_to_close(&mut stream));
    assert_eq!(everything.text(), "/last", "only one response, then the end of the stream");
}
common::each_engine!(a_request_pipelined_after_connection_close_is_not_answered);

fn pipelined_requests_are_answered_in_order(engine: Engine) {
    let server = serve_pool(path_and_body_after_delay, engine);
    let mut stream = connect(server.addr);
    // One write: a slow request, one with a body, and a quick one behind them. With two
    // workers, answering them in parallel would let the quick ones overtake the slow one.
    let requests = [
        get("/first?ms=200"),
        "POST /second HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello".to_string(),
        get("/third"),
    ]
    .concat();
    send(&mut stream, requests.as_bytes());
    for expected in ["/first ", "/second hello", "/third "] {
        let response = read_response(&mut stream, false);
        assert_eq!((response.status, response.text().as_str()), (200, expected), "{response:?}");
    }
    assert!(!closed_within(&mut stream, Duration::from_millis(100)), "the connection stays open");
}
common::each_engine!(pipelined_requests_are_answered_in_order);

fn a_request_sent_while_the_previous_one_runs_is_answered_after_it(engine: Engine) {
    let server = serve_pool(path_and_body_after_delay, engine);
    let mut stream = connect(server.addr);
    send(&mut stream, get("/first?ms=300").as_bytes());
    // The second request arrives while a worker holds the connection: the server must still
    // notice it when the first is answered (the poller will not report it a second time).
    std::thread::sleep(Duration::from_millis(100));
    send(&mut stream, get("/second").as_bytes());
    for expected in ["/first ", "/second "] {
        let response = read_response(&mut stream, false);
        assert_eq!((response.status, response.text().as_str()), (200, expected), "{response:?}");
    }
}
common::each_engine!(a_request_sent_while_the_previous_one_runs_is_answered_after_it);

fn a_chunked_response_keeps_the_connection_open(engine: Engine) {
    let server = serve_pool(streaming, engine);
    let mut stream = connect(server.addr);
    send(&mut stream, get("/").as_bytes());
    let response = read_response(&mut stream, false);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.header("connection"), None);
    assert_eq!(response.dechunked(), b"one two three");
    assert_still_usable(&mut stream);
}
common::each_engine!(a_chunked_response_keeps_the_connection_open);

fn head_gets_the_headers_of_get_and_no_body_and_the_connection_stays_usable(engine: Engine) {
    // One app whose length the server computes, one whose body it must chunk.
    for (name, server) in
        [("one chunk", serve_pool(path, engine)), ("streaming", serve_pool(streaming, engine))]
    {
        let mut stream = connect(server.addr);
        send(&mut stream, get("/page").as_bytes());
        let got = read_response(&mut stream, false);
        send(&mut stream, b"HEAD /page HTTP/1.1\r\nHost: test\r\n\r\n");
        let head = read_response(&mut stream, true);
        let without_date = |r: &Response| -> Vec<(String, String)> {
            r.headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("date")).cloned().collect()
        };
        assert_eq!((head.status, without_date(&head)), (got.status, without_date(&got)), "{name}");
        // A body sent after the HEAD response would be read as the start of this one.
        assert_still_usable(&mut stream);
    }
}
common::each_engine!(head_gets_the_headers_of_get_and_no_body_and_the_connection_stays_usable);

fn http_1_0_with_keep_alive_and_a_known_length_stays_open(engine: Engine) {
    let server = serve_pool(path, engine);
    let mut stream = connect(server.addr);
    for target in ["/one", "/two"] {
        send(&mut stream, format!("GET {target} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").as_bytes());
        let response = read_response(&mut stream, false);
        assert_eq!((response.status, response.text().as_str()), (200, target));
        assert_eq!(response.header("connection"), Some("keep-alive"), "{response:?}");
        assert!(response.header("content-length").is_some(), "{response:?}");
    }
}
common::each_engine!(http_1_0_with_keep_alive_and_a_known_length_stays_open);

fn http_1_0_without_keep_alive_is_closed_after_the_response(engine: Engine) {
    let server = serve_pool(path, engine);
    let mut stream = connect(server.addr);
    send(&mut stream, b"GET /once HTTP/1.0\r\n\r\n");
    let response = read_response(&mut stream, false);
    assert_eq!((response.status, response.text().as_str()), (200, "/once"));
    assert_ne!(response.header("connection"), Some("keep-alive"));
    assert!(closed_within(&mut stream, Duration::from_secs(5)), "HTTP/1.0 closes by default");
}
common::each_engine!(http_1_0_without_keep_alive_is_closed_after_the_response);

fn http_1_0_keep_alive_with_a_streaming_body_is_delimited_by_closing(engine: Engine) {
    let server = serve_pool(streaming, engine);
    let mut stream = connect(server.addr);
    send(&mut stream, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let response = Response::parse(&read_to_close(&mut stream));
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-length"), None, "the length is not known in advance");
    assert_eq!(response.header("transfer-encoding"), None, "HTTP/1.0 has no chunked framing");
    assert_ne!(response.header("connection"), Some("keep-alive"), "{response:?}");
    assert_eq!(response.text(), "one two three", "the body ends where the connection does");
}
common::each_engine!(http_1_0_keep_alive_with_a_streaming_body_is_delimited_by_closing);

fn an_idle_connection_is_closed_after_the_idle_timeout(engine: Engine) {
    // The header timeout is long, so only the idle timeout can explain a close.
    let options = Options {
        threads: 2,
        idle_timeout: Duration::from_millis(300),
        header_timeout: Duration::from_secs(10),
        ..common::pool_options(engine)
    };
    let server = common::start(path, options, Mode::Pool);
    let mut stream = connect(server.addr);
    send(&mut stream, get("/x").as_bytes());
    assert_eq!(read_response(&mut stream, false).status, 200);
    let idle_since = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(5)), "the idle connection was never closed");
    let idle_for = idle_since.elapsed();
    assert!(idle_for >= Duration::from_millis(200), "closed after {idle_for:?}, before the idle timeout");
    assert!(
        idle_for < Duration::from_secs(3),
        "closed after {idle_for:?}, long after the 300 ms idle timeout"
    );
}
common::each_engine!(an_idle_connection_is_closed_after_the_idle_timeout);

#[test]
fn single_threaded_mode_closes_after_every_response_even_for_http_1_1() {
    let server = common::start(path, common::options(), Mode::Single);
    let mut stream = connect(server.addr);
    send(&mut stream, get("/only").as_bytes());
    let response = read_response(&mut stream, false);
    assert_eq!((response.status, response.text().as_str()), (200, "/only"));
    assert_eq!(response.header("connection"), Some("close"));
    assert!(closed_within(&mut stream, Duration::from_secs(5)), "wsgiref answers one request per connection");
}

fn wsgi_multithread_is_true_in_pool_mode_and_false_in_single_mode(engine: Engine) {
    for (mode, expected) in [(Mode::Pool, "true"), (Mode::Single, "false")] {
        let server = common::start(multithread, common::pool_options(engine), mode);
        let response = server.get("/");
        assert_eq!((response.status, response.text().as_str()), (200, expected), "{mode:?}");
    }
}
common::each_engine!(wsgi_multithread_is_true_in_pool_mode_and_false_in_single_mode);
