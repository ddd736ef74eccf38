//! Response framing (SPEC §4) as single-threaded mode applies it: the headers the server adds,
//! how the body is delimited (the app's Content-Length, a computed one, chunked, or closing the
//! connection), HEAD, the statuses without a body, and `Connection: close` on every answer.

mod common;

use common::{Response, TestServer, connect, read_response, read_to_close, send};
use std::time::{Duration, SystemTime};
use wsgi_lab::{Body, Environ, Mode, StartResponse};

fn serve(app: impl wsgi_lab::App + 'static) -> TestServer {
    common::start(app, common::options(), Mode::Single)
}

fn get(server: &TestServer, version: &str) -> Response {
    server.request(format!("GET / HTTP/{version}\r\nHost: x\r\n\r\n"))
}

/// A fixture app as a plain `fn`, so that tables of them have one type.
type Fixture = fn(&Environ, StartResponse) -> Body;

// Fixture apps, one per behaviour.

/// Sets no header at all: the server adds what HTTP needs.
fn bare(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![]);
    Body::from("hi")
}

/// Sets its own Date and Server (in lower case): the server must not add a second one.
fn own_date_and_server(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![("date", "Tue, 01 Jan 2030 00:00:00 GMT"), ("server", "my-app/2")]);
    Body::from("hi")
}

/// Promises 5 bytes and yields 12, in two chunks.
fn length_shorter_than_body(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![("Content-Length", "5")]);
    Body::from(vec![b"Hello".to_vec(), b", World".to_vec()])
}

/// Promises 20 bytes and yields 5.
fn length_longer_than_body(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![("Content-Length", "20")]);
    Body::from("Hello")
}

/// One chunk and no Content-Length.
fn one_chunk(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![("Content-Type", "text/plain")]);
    Body::from("Hello, World!")
}

/// No chunk at all.
fn no_chunk(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![("Content-Type", "text/plain")]);
    Body::empty()
}

/// Three chunks in a list, no Content-Length.
fn three_chunks(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![("Content-Type", "text/plain")]);
    Body::from(vec![b"a".to_vec(), b"bb".to_vec(), b"ccc".to_vec()])
}

/// Empty chunks among others: an empty chunk must not end a chunked body early.
fn with_empty_chunks(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![]);
    Body::from(vec![Vec::new(), b"ab".to_vec(), Vec::new(), b"c".to_vec(), Vec::new()])
}

/// A stream of one chunk: how many chunks a stream has is not known in advance.
fn stream_of_one(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![]);
    Body::stream(std::iter::once(b"only".to_vec()))
}

/// 204 with a body the server must not send.
fn no_content(_: &Environ, start_response: StartResponse) -> Body {
    start_response("204 No Content", vec![]);
    Body::from("must not be sent")
}

/// 103 as the final status, with a stream the server must neither read out nor frame.
fn early_hints(_: &Environ, start_response: StartResponse) -> Body {
    start_response("103 Early Hints", vec![("Link", "</style.css>; rel=preload")]);
    Body::stream(std::iter::once(b"must not be sent".to_vec()))
}

/// 304 with a multi-chunk body the server must neither send nor frame.
fn not_modified(_: &Environ, start_response: StartResponse) -> Body {
    start_response("304 Not Modified", vec![("ETag", "\"v1\"")]);
    Body::from(vec![b"must not".to_vec(), b" be sent".to_vec()])
}

#[test]
fn the_server_adds_date_and_server() {
    let server = serve(bare);
    let response = get(&server, "1.1");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("server"), Some(wsgi_lab::environ::SERVER_SOFTWARE));
    assert!(response.header("server").unwrap().starts_with("wsgi-lab/"));
    let date = response.header("date").expect("a Date header");
    let sent = httpdate::parse_http_date(date).expect("Date in the HTTP format");
    let skew = SystemTime::now().duration_since(sent).unwrap_or_else(|e| e.duration());
    assert!(skew < Duration::from_secs(3600), "Date {date} is not now");
    assert_eq!((response.count("date"), response.count("server")), (1, 1));
}

#[test]
fn date_and_server_set_by_the_app_are_kept_and_not_doubled() {
    let server = serve(own_date_and_server);
    let response = get(&server, "1.1");
    assert_eq!((response.count("date"), response.count("server")), (1, 1), "{:?}", response.headers);
    assert_eq!(response.header("date"), Some("Tue, 01 Jan 2030 00:00:00 GMT"));
    assert_eq!(response.header("server"), Some("my-app/2"));
}

#[test]
fn bytes_beyond_the_apps_content_length_are_cut_off() {
    let server = serve(length_shorter_than_body);
    for version in ["1.0", "1.1"] {
        let response = get(&server, version);
        assert_eq!(response.header("content-length"), Some("5"), "HTTP/{version}");
        assert_eq!(response.count("content-length"), 1);
        assert_eq!(response.header("transfer-encoding"), None);
        assert_eq!(response.text(), "Hello", "HTTP/{version}");
    }
}

#[test]
fn fewer_bytes_than_the_apps_content_length_end_with_the_connection_closed() {
    let server = serve(length_longer_than_body);
    // `request` reads until the server closes: it returning at all shows the close.
    let response = get(&server, "1.1");
    assert_eq!(response.header("content-length"), Some("20"));
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(response.text(), "Hello");
}

#[test]
fn a_body_of_one_chunk_gets_a_computed_content_length() {
    let cases: [(&str, Fixture, &str, &str); 2] =
        [("one chunk", one_chunk, "13", "Hello, World!"), ("no chunk", no_chunk, "0", "")];
    for (case, app, length, body) in cases {
        let server = serve(app);
        for version in ["1.0", "1.1"] {
            let response = get(&server, version);
            assert_eq!(response.header("content-length"), Some(length), "{case}, HTTP/{version}");
            assert_eq!(response.header("transfer-encoding"), None, "{case}, HTTP/{version}");
            assert_eq!(response.text(), body, "{case}, HTTP/{version}");
        }
    }
}

#[test]
fn a_multi_chunk_body_is_chunked_on_http_1_1() {
    let server = serve(three_chunks);
    let response = get(&server, "1.1");
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.header("content-length"), None);
    assert_eq!(
        response.text(),
        "1\r\na\r\n2\r\nbb\r\n3\r\nccc\r\n0\r\n\r\n",
        "one chunk on the wire per chunk"
    );
    assert_eq!(response.dechunked(), b"abbccc");
}

#[test]
fn empty_chunks_do_not_end_a_chunked_body_early() {
    let server = serve(with_empty_chunks);
    let response = get(&server, "1.1");
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.dechunked(), b"abc");
}

#[test]
fn a_stream_is_chunked_even_with_one_chunk() {
    let server = serve(stream_of_one);
    let response = get(&server, "1.1");
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.dechunked(), b"only");
}

#[test]
fn a_multi_chunk_body_on_http_1_0_is_delimited_by_closing() {
    let apps: [(Fixture, &str); 2] = [(three_chunks, "abbccc"), (stream_of_one, "only")];
    for (app, body) in apps {
        let server = serve(app);
        let response = get(&server, "1.0");
        assert_eq!(response.header("transfer-encoding"), None, "no chunked framing for HTTP/1.0");
        assert_eq!(response.header("content-length"), None);
        assert_eq!(response.header("connection"), Some("close"));
        assert_eq!(response.text(), body, "the raw bytes up to the close");
    }
}

#[test]
fn the_framing_ends_exactly_where_the_response_ends() {
    let apps: [(&str, Fixture, &[u8]); 4] = [
        ("computed length", one_chunk, b"Hello, World!"),
        ("chunked", three_chunks, b"abbccc"),
        ("app's length, extra cut", length_shorter_than_body, b"Hello"),
        ("empty", no_chunk, b""),
    ];
    for (case, app, body) in apps {
        let server = serve(app);
        let mut stream = connect(server.addr);
        send(&mut stream, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        // Read as a keep-alive client would, by the framing alone...
        let response = read_response(&mut stream, false);
        let received = if response.header("transfer-encoding").is_some() {
            response.dechunked()
        } else {
            response.body.clone()
        };
        assert_eq!(received, body, "{case}");
        // ...and nothing follows: the connection ends right after the response.
        assert_eq!(read_to_close(&mut stream), b"", "{case}: bytes after the response");
    }
}

/// The headers that matter for comparing two responses: all but Date, which may tick.
fn comparable(response: &Response) -> Vec<(String, String)> {
    response.headers.iter().filter(|(name, _)| !name.eq_ignore_ascii_case("date")).cloned().collect()
}

#[test]
fn head_gets_the_headers_of_get_and_no_body() {
    let apps: [(&str, Fixture); 5] = [
        ("one chunk", one_chunk),
        ("three chunks", three_chunks),
        ("a stream", stream_of_one),
        ("the app's Content-Length", length_shorter_than_body),
        ("no chunk", no_chunk),
    ];
    for (case, app) in apps {
        let server = serve(app);
        for version in ["1.0", "1.1"] {
            let get = get(&server, version);
            let head = server.request(format!("HEAD / HTTP/{version}\r\nHost: x\r\n\r\n"));
            assert_eq!(head.status, get.status, "{case}, HTTP/{version}");
            assert_eq!(comparable(&head), comparable(&get), "{case}, HTTP/{version}");
            assert!(head.body.is_empty(), "{case}, HTTP/{version}: HEAD got a body {:?}", head.text());
            assert!(head.header("date").is_some());
        }
    }
}

#[test]
fn statuses_without_a_body_have_no_body_and_no_framing() {
    let apps: [(&str, Fixture, u16); 3] =
        [("103", early_hints, 103), ("204", no_content, 204), ("304", not_modified, 304)];
    for (case, app, status) in apps {
        let server = serve(app);
        for version in ["1.0", "1.1"] {
            let response = get(&server, version);
            assert_eq!(response.status, status, "{case}");
            assert_eq!(response.header("transfer-encoding"), None, "{case}, HTTP/{version}");
            assert_eq!(response.header("content-length"), None, "{case}, HTTP/{version}");
            assert!(response.body.is_empty(), "{case}, HTTP/{version}: body {:?}", response.text());
        }
    }
    let server = serve(not_modified);
    assert_eq!(get(&server, "1.1").header("etag"), Some("\"v1\""), "the app's headers are kept");
}

#[test]
fn single_threaded_mode_always_answers_connection_close() {
    let server = serve(one_chunk);
    let requests = [
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    for request in requests {
        // `request` returns only once the server has closed the connection.
        let response = server.request(request);
        assert_eq!(response.header("connection"), Some("close"), "{request:?}");
        assert_eq!(response.count("connection"), 1, "{request:?}");
    }
    let chunked = serve(three_chunks);
    assert_eq!(get(&chunked, "1.1").header("connection"), Some("close"), "chunked, still closed");
}
