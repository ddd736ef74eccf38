//! The development server under hostile input, as observed (the module docs of `wsgi_lab::dev`
//! say the same): what tiny_http frames its own way, what the dev server refuses, and that it
//! keeps serving.

mod common;

use common::dev::{Reply, start};
use common::exchange;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wsgi_lab::{App, Body, Environ, StartResponse};

/// An app that counts its calls per path, to show which requests reached it.
fn counting() -> (impl App, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = move |environ: &Environ, start_response: StartResponse| {
        record.lock().unwrap().push(format!("{} {}", &environ["REQUEST_METHOD"], &environ["PATH_INFO"]));
        start_response("200 OK", vec![("Content-Type", "text/plain")]);
        Body::from("reached the app")
    };
    (app, seen)
}

#[test]
fn ambiguous_framing_is_refused_but_the_connection_stays_tiny_https() {
    // Observed tiny_http 0.12 behaviour; if this test fails after an upgrade, update the
    // "hostile input" section of the dev module docs.
    let (app, seen) = counting();
    let dev = start(app, false);

    // CL + TE: refused before the app runs. The bytes after the (unread) chunked body are read
    // by tiny_http as the next request on the same connection: "3" is no request line, so
    // tiny_http answers 400 itself and closes.
    let bytes = exchange(
        dev.addr,
        b"POST /smuggler HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let first = Reply::parse(&bytes);
    assert_eq!(first.status, 400);
    assert!(first.text().contains("both Content-Length and Transfer-Encoding"), "{}", first.text());
    let second = Reply::parse(&first.rest);
    assert_eq!((second.status, second.body.len()), (400, 0), "tiny_http's own 400 for the leftover");

    // Content-Length: 3x: refused, but tiny_http read no body, so "abcGET /next" is taken as
    // the next request and reaches the app with method "abcGET".
    let bytes = exchange(
        dev.addr,
        b"POST /bad-length HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabcGET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let first = Reply::parse(&bytes);
    assert_eq!(first.status, 400);
    assert!(first.text().contains("Content-Length \"3x\" is not a number"), "{}", first.text());
    assert_eq!(Reply::parse(&first.rest).text(), "reached the app");
    assert_eq!(seen.lock().unwrap().as_slice(), ["abcGET /next"], "only the leftover reached the app");
}

#[test]
fn a_huge_declared_length_does_not_bring_the_server_down() {
    let (app, seen) = counting();
    let dev = start(app, false);
    // tiny_http would allocate 10 TB to skip this body (an abort): the dev server forgets it.
    let mut hostile = TcpStream::connect(dev.addr).unwrap();
    hostile
        .write_all(b"POST /huge HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000000\r\n\r\nabc")
        .unwrap();
    dev.wait_for_log("refused \"POST /huge HTTP/1.1\": it declares a body over");
    assert_eq!(dev.get("/after").text(), "reached the app", "the server still serves");
    assert_eq!(seen.lock().unwrap().as_slice(), ["GET /after"]);
    drop(hostile);
}

#[test]
fn http_0_9_and_non_path_targets_are_refused() {
    let (app, seen) = counting();
    let dev = start(app, false);
    let old = dev.request("GET / HTTP/0.9\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(old.status, 505);
    let star = dev.request("OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(star.status, 400);
    assert!(star.text().contains("is not a path"), "{}", star.text());
    let method = dev.request("G(T / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(method.status, 400);
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn the_reason_phrase_is_tiny_https() {
    let app = |_: &Environ, start_response: StartResponse| {
        start_response("200 Everything Is Fine", vec![("Content-Type", "text/plain")]);
        Body::from("x")
    };
    let dev = start(app, false);
    assert_eq!(dev.get("/").reason, "OK", "tiny_http writes its standard phrase");
}

#[test]
fn a_body_cut_short_by_the_client_is_a_400_not_a_call() {
    let dev = start(wsgi_lab::apps::echo, false);
    let mut stream = TcpStream::connect(dev.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // 3 of 5000 declared bytes, then the client stops sending (half-close).
    stream.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nabc").unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("3 of 5000 declared bytes"), "{answer}");
}
