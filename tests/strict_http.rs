//! Strict HTTP at the edges (SPEC §3): bytes that two parsers could read differently (ours and a
//! proxy's in front) are refused, in single-threaded mode and with each pool engine, and the
//! server goes on serving. Each case is
//! the exact bytes a careless or hostile client sent; each refusal is followed by a normal
//! request on a new connection.

mod common;

use common::{Setup, TestServer};
use wsgi_lab::{Body, Environ, StartResponse};

/// Fixture: answers `PATH_INFO|QUERY_STRING|HTTP_HOST`, so a test sees what reached the app.
fn where_am_i(environ: &Environ, start_response: StartResponse) -> Body {
    let get = |key| environ.get(key).unwrap_or("-").to_string();
    start_response("200 OK", vec![("Content-Type", "text/plain")]);
    Body::from(format!("{}|{}|{}", get("PATH_INFO"), get("QUERY_STRING"), get("HTTP_HOST")))
}

fn serve(setup: Setup) -> TestServer {
    common::start_in(where_am_i, common::options(), setup)
}

/// Sends each request on a new connection to a server in each mode (and with each engine);
/// checks the status, and that a normal request on a new connection is still served.
fn assert_statuses(cases: &[(&str, &[u8], u16)]) {
    for setup in Setup::all() {
        let server = serve(setup);
        for (case, request, status) in cases {
            let response = server.request(request);
            assert_eq!(response.status, *status, "{setup:?}, {case}: {}", response.text());
            if *status >= 400 {
                assert_eq!(response.header("connection"), Some("close"), "{setup:?}, {case}");
            }
            let next = server.get("/next");
            assert_eq!(next.status, 200, "{setup:?}: a normal request after {case}");
        }
    }
}

/// What the app saw for a request that was served.
fn seen(request: &[u8]) -> Vec<String> {
    Setup::all()
        .into_iter()
        .map(|setup| {
            let response = serve(setup).request(request);
            assert_eq!(response.status, 200, "{setup:?}: {}", response.text());
            response.text()
        })
        .collect()
}

#[test]
fn whitespace_or_a_sign_around_a_chunk_size_is_400() {
    assert_statuses(&[
        (
            "`5 ` and `0\\t`",
            b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\t\r\n\r\n",
            400,
        ),
        ("`0\\t`", b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\t\r\n\r\n", 400),
        ("` 5`", b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n", 400),
        ("`+5`", b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", 400),
        (
            "whitespace before an extension is allowed",
            b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5 ;x=y\r\nhello\r\n0\r\n\r\n",
            200,
        ),
    ]);
}

#[test]
fn an_http_1_1_request_carries_exactly_one_host() {
    assert_statuses(&[
        ("two Host headers", b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example.com\r\n\r\n", 400),
        ("no Host in HTTP/1.1", b"GET / HTTP/1.1\r\n\r\n", 400),
        ("two Host headers in HTTP/1.0", b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("no Host in HTTP/1.0 is fine", b"GET / HTTP/1.0\r\n\r\n", 200),
        ("an empty Host is fine", b"GET / HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n", 200),
    ]);
    assert!(
        seen(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .iter()
            .all(|s| s == "/||localhost")
    );
}

#[test]
fn a_bare_lf_or_a_control_character_in_the_head_is_400() {
    assert_statuses(&[
        (
            "bare LF smuggling a Content-Length",
            b"POST / HTTP/1.1\r\nHost: a\r\nX-Inj: a\nContent-Length: 5\r\n\r\nhello",
            400,
        ),
        ("bare LF ending the request line", b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
        ("bare LF ending the head", b"GET / HTTP/1.1\r\nHost: a\n\n", 400),
        ("NUL in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n", 400),
        ("SOH in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x01b\r\n\r\n", 400),
        ("ESC in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: \x1b[31mred\r\n\r\n", 400),
        ("DEL in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x7fb\r\n\r\n", 400),
        ("bare CR in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n", 400),
        ("NUL in a name", b"GET / HTTP/1.1\r\nHost: a\r\nX-\x00A: b\r\n\r\n", 400),
        (
            "HTAB in a value is fine",
            b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\tb\r\nConnection: close\r\n\r\n",
            200,
        ),
    ]);
}

#[test]
fn a_request_target_that_is_no_url_path_is_refused() {
    assert_statuses(&[
        ("no leading slash", b"GET foo/bar HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("authority-form with GET", b"GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("a scheme that is not http", b"PUT s://]ufd/: HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("an http URL with a bad host", b"GET http://]ufd/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("an http URL with no host", b"GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("raw UTF-8 in the target", "GET /à%20k HTTP/1.1\r\nHost: a\r\n\r\n".as_bytes(), 400),
        ("a raw byte above 0x7F", b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("* with GET", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("CONNECT", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501),
        ("OPTIONS *", b"OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200),
        ("percent-encoded is fine", b"GET /%C3%A0%20k HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200),
    ]);
}

#[test]
fn an_absolute_form_target_is_served_by_its_path() {
    let request = b"GET http://example.com:8080/p?q=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    assert!(seen(request).iter().all(|s| s == "/p|q=1|a"), "{:?}", seen(request));
    let ipv6 = b"GET http://[::1]:8080/v6 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    assert!(seen(ipv6).iter().all(|s| s == "/v6||a"));
}

#[test]
fn a_fragment_reaches_neither_path_info_nor_query_string() {
    let request = b"GET /a#frag?x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    assert!(seen(request).iter().all(|s| s == "/a||a"), "{:?}", seen(request));
    let after_query = b"GET /a?x=1#frag HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    assert!(seen(after_query).iter().all(|s| s == "/a|x=1|a"));
}
