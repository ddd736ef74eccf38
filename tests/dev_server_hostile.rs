//! The development server under hostile input, as observed (the module docs of `wsgi_lab::dev`
//! say the same): what tiny_http frames its own way, what the dev server refuses, and that it
//! keeps serving.
//!
//! Most tests here pin a *known flaw* of tiny_http 0.12: behaviour the production server does
//! not have, kept on purpose because this is a development server. If one fails after an
//! upgrade of tiny_http, the flaw changed: update the "hostile input" section of the dev module
//! docs with it. Every probe binds 127.0.0.1:0, waits at most two seconds for bytes
//! ([`probe`]) and asserts what arrived, never how long it took.

mod common;

use common::dev::{Reply, probe, replies, start};
use common::exchange;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wsgi_lab::{App, Body, Environ, StartResponse};

/// An app that records the method and path of each call, to show which requests reached it.
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

/// The environ the `echo` app saw, from its reply.
fn environ_seen(reply: &Reply) -> serde_json::Map<String, serde_json::Value> {
    let json: serde_json::Value = serde_json::from_slice(&reply.body).expect("echo's JSON");
    json["environ"].as_object().expect("an environ object").clone()
}

#[test]
fn ambiguous_framing_is_refused_but_the_connection_stays_tiny_https() {
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
fn known_flaw_cve_2026_66752_a_request_in_a_refused_body_reaches_the_app() {
    // tiny_http takes any Transfer-Encoding for chunked and then ignores Content-Length. The
    // dev server refuses the carrier (400, or 501 for gzip) without reading its body; tiny_http
    // then reads that body as the next request, and the request inside it reaches the app.
    let (app, seen) = counting();
    let dev = start(app, false);
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let cases = [
        (format!("Content-Length: {}\r\nTransfer-Encoding: chunked", smuggled.len()), 400),
        ("Transfer-Encoding: gzip".to_string(), 501),
    ];
    for (framing, refused) in cases {
        seen.lock().unwrap().clear();
        let raw = format!("POST /carrier HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n{smuggled}");
        let answers = replies(&probe(dev.addr, raw.as_bytes()));
        let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [refused, 200], "{framing}");
        assert_eq!(seen.lock().unwrap().as_slice(), ["GET /smuggled"], "{framing}");
    }

    // Content-Length twice: tiny_http frames by the first, the dev server refuses, and the
    // request after the first length's bytes reaches the app.
    seen.lock().unwrap().clear();
    let raw = format!(
        "POST /twice HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 20\r\n\r\nabc{smuggled}"
    );
    let answers = replies(&probe(dev.addr, raw.as_bytes()));
    assert_eq!(answers[0].status, 400);
    assert!(answers[0].text().contains("Content-Length present more than once"), "{}", answers[0].text());
    assert_eq!(answers[1].status, 200);
    assert_eq!(seen.lock().unwrap().as_slice(), ["GET /smuggled"]);
}

#[test]
fn known_flaw_a_last_chunk_without_its_crlf_eats_a_byte_of_the_next_request() {
    let (app, seen) = counting();
    let dev = start(app, false);

    // Well-formed first: a complete chunked body, then a second request on the connection.
    // That is pipelining, not smuggling; both are answered in order, as any HTTP/1.1 server does.
    let pipelined = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
                      GET /smuggled HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let answers = replies(&probe(dev.addr, pipelined));
    assert_eq!(answers.iter().map(|r| r.status).collect::<Vec<_>>(), [200, 200]);
    assert_eq!(seen.lock().unwrap().as_slice(), ["POST /", "GET /smuggled"]);

    // The flaw: the last chunk `0\r\n` without the CRLF that ends the body. tiny_http reads the
    // next byte ("G") expecting "\r", fails, and the dev server answers 400; tiny_http resumes
    // after the byte it consumed, so the app is called with method "ET".
    seen.lock().unwrap().clear();
    let unterminated = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\
                         GET /smuggled HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let answers = replies(&probe(dev.addr, unterminated));
    assert_eq!(answers.iter().map(|r| r.status).collect::<Vec<_>>(), [400, 200]);
    assert!(answers[0].text().contains("Error while decoding chunks"), "{}", answers[0].text());
    assert_eq!(answers[1].text(), "reached the app");
    assert_eq!(seen.lock().unwrap().as_slice(), ["ET /smuggled"]);
}

#[test]
fn known_flaw_chunk_trailers_are_refused_and_read_as_a_request() {
    // Trailers are legal (the production server reads and discards them). tiny_http fails on
    // the trailer's first byte, the dev server answers 400, and the rest of the trailer line is
    // taken for a request line: tiny_http's own 400, and the connection closes.
    let (app, seen) = counting();
    let dev = start(app, false);
    let raw = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n";
    let answers = replies(&probe(dev.addr, raw));
    assert_eq!(answers.iter().map(|r| r.status).collect::<Vec<_>>(), [400, 400]);
    assert!(answers[0].text().contains("Error while decoding chunks"), "{}", answers[0].text());
    assert_eq!(answers[1].header("server"), Some("tiny-http (Rust)"), "the second 400 is tiny_http's");
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn known_flaw_signed_and_padded_chunk_sizes_are_accepted() {
    // A chunk size is 1*HEXDIG; tiny_http's decoder trims it and parses it with Rust's
    // from_str_radix, which accepts a leading '+'. The production server answers 400.
    let dev = start(wsgi_lab::apps::echo, false);
    let raw = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
                +5\r\nhello\r\n 0\r\n\r\n";
    let reply = Reply::parse(&probe(dev.addr, raw));
    assert_eq!(reply.status, 200);
    let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(json["body"], "hello");
}

#[test]
fn known_flaw_a_bare_lf_stays_inside_a_header_value() {
    // tiny_http ends a line only at CRLF, so "a\nContent-Length: 5" is one header's value and
    // reaches the app with its LF (a proxy that ends lines at LF sees a Content-Length here:
    // the two disagree on the request). The production server answers 400.
    let dev = start(wsgi_lab::apps::echo, false);
    let raw = b"GET / HTTP/1.1\r\nHost: a\r\nX-Inj: a\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    let reply = Reply::parse(&probe(dev.addr, raw));
    assert_eq!(reply.status, 200);
    let environ = environ_seen(&reply);
    assert_eq!(environ["HTTP_X_INJ"], "a\nContent-Length: 5");
    assert!(!environ.contains_key("CONTENT_LENGTH"), "no Content-Length header for tiny_http");
}

#[test]
fn known_flaw_nul_and_control_characters_in_header_values_reach_the_app() {
    // RFC 9110 allows no control character but HTAB in a field value; the production server
    // answers 400.
    let dev = start(wsgi_lab::apps::echo, false);
    let raw = b"GET / HTTP/1.1\r\nHost: a\r\nX-Ctl: a\x00b\x01c\x1bd\x7fe\r\nConnection: close\r\n\r\n";
    let reply = Reply::parse(&probe(dev.addr, raw));
    assert_eq!(reply.status, 200);
    assert_eq!(environ_seen(&reply)["HTTP_X_CTL"], "a\u{0}b\u{1}c\u{1b}d\u{7f}e");
}

#[test]
fn known_flaw_no_limit_on_the_number_or_size_of_headers() {
    // The production server answers 431 past 100 headers or a 64 KiB head; tiny_http reads
    // whatever comes into memory and passes it on.
    let dev = start(wsgi_lab::apps::echo, false);
    let many: String = (1..=150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let long = "a".repeat(100_000);
    let raw = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}X-Long: {long}\r\nConnection: close\r\n\r\n");
    let reply = Reply::parse(&probe(dev.addr, raw.as_bytes()));
    assert_eq!(reply.status, 200);
    let environ = environ_seen(&reply);
    assert_eq!(environ.keys().filter(|k| k.starts_with("HTTP_X_H")).count(), 150);
    assert_eq!(environ["HTTP_X_LONG"].as_str().map(str::len), Some(100_000));
}

#[test]
fn known_flaw_a_non_ascii_header_value_closes_the_connection_unanswered() {
    let (app, seen) = counting();
    let dev = start(app, false);
    let received = probe(dev.addr, "GET / HTTP/1.1\r\nHost: a\r\nX-Name: café\r\n\r\n".as_bytes());
    assert_eq!(String::from_utf8_lossy(&received), "", "no response at all");
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn cve_2026_66753_an_app_header_with_cr_or_lf_never_reaches_the_wire() {
    // tiny_http 0.12 writes a header value as it is given: "a\r\nX-Injected: yes" would become
    // a header of its own (response splitting). The dev server's check refuses the value with
    // a 500 before tiny_http sees it, whatever the line break.
    let app = |environ: &Environ, start_response: StartResponse| {
        let value = match environ.get("PATH_INFO") {
            Some("/crlf") => "a\r\nX-Injected: yes",
            Some("/lf") => "a\nX-Injected: yes",
            Some("/cr") => "a\rX-Injected: yes",
            _ => "a\0X-Injected: yes",
        };
        start_response("200 OK", vec![("Content-Type", "text/plain"), ("X-Echo", value)]);
        Body::from("never sent")
    };
    let dev = start(app, false);
    for path in ["/crlf", "/lf", "/cr", "/nul"] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        let received = probe(dev.addr, raw.as_bytes());
        let reply = Reply::parse(&received);
        assert_eq!(reply.status, 500, "{path}");
        assert!(reply.text().contains("would split the response"), "{path}: {}", reply.text());
        assert!(reply.header("x-echo").is_none() && reply.header("x-injected").is_none(), "{path}");
        let head = &received[..received.windows(4).position(|w| w == b"\r\n\r\n").unwrap()];
        assert!(!String::from_utf8_lossy(head).contains("X-Injected"), "{path}: {head:?}");
    }
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
    let app = |environ: &Environ, start_response: StartResponse| {
        match environ.get("PATH_INFO") {
            Some("/299") => start_response("299 Anything", vec![("Content-Type", "text/plain")]),
            _ => start_response("200 Everything Is Fine", vec![("Content-Type", "text/plain")]),
        }
        Body::from("x")
    };
    let dev = start(app, false);
    assert_eq!(dev.get("/").reason, "OK", "tiny_http writes its standard phrase");
    let unknown = dev.get("/299");
    assert_eq!((unknown.status, unknown.reason.as_str()), (299, "Unknown"));
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
