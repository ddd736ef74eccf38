//! Request framing (SPEC §3), over real sockets to single-threaded mode: which requests are
//! refused with which status, that every refusal is a short `text/plain` answer with
//! `Connection: close`, that the server goes on serving after each one, and how
//! `Expect: 100-continue` and leading empty lines behave. The header timeout is in
//! `header_timeout.rs`.

mod common;

use common::{Response, TestServer, chunked, connect, exchange, read_head, read_to_close, send};
use std::io::Read;
use wsgi_lab::{Body, Environ, Mode, Options, StartResponse};

/// Fixture: answers with the number of body bytes it received, so a test sees what the
/// server made of the body.
fn body_size(environ: &Environ, start_response: StartResponse) -> Body {
    let mut body = Vec::new();
    environ.input().read_to_end(&mut body).unwrap();
    start_response("200 OK", vec![("Content-Type", "text/plain")]);
    Body::from(body.len().to_string())
}

fn serve(options: Options) -> TestServer {
    common::start(body_size, options, Mode::Single)
}

/// Sends `request`, checks the refusal SPEC §3 describes, then checks that the server still
/// answers a normal request.
fn assert_refused(server: &TestServer, request: &[u8], status: u16, case: &str) {
    let response = server.request(request);
    assert_eq!(response.status, status, "{case}: got {} {}", response.status, response.text());
    assert_eq!(response.header("connection"), Some("close"), "{case}");
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "{case}: content-type {content_type:?}");
    // The body says what was wrong: the status line, then a reason.
    let text = response.text();
    let status_line = format!("{status} {}", response.reason);
    assert!(text.starts_with(&status_line) && text.trim().len() > status_line.len(), "{case}: {text:?}");
    assert_eq!(response.header("content-length"), Some(response.body.len().to_string().as_str()));
    let next = server.get("/after-an-error");
    assert_eq!((next.status, next.text().as_str()), (200, "0"), "a normal request after {case}");
}

/// Runs a table of `(case, request, status)` against one server.
fn assert_table(server: &TestServer, cases: &[(&str, &[u8], u16)]) {
    for (case, request, status) in cases {
        assert_refused(server, request, *status, case);
    }
}

#[test]
fn malformed_request_lines_and_header_lines_are_400() {
    let server = serve(common::options());
    assert_table(
        &server,
        &[
            ("method alone", b"GET\r\n\r\n", 400),
            ("a fourth word", b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
            ("method not a token", b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            ("control character in target", b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            ("not HTTP at all", b"GET / HTPT/1.1\r\nHost: x\r\n\r\n", 400),
            ("space inside the target", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            ("two spaces before the version", b"GET /  HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            ("garbage after the version", b"GET / HTTP/1.1x\r\nHost: x\r\n\r\n", 400),
            ("TLS hello to a plain port", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
            ("header without colon", b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400),
            ("space in header name", b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", 400),
            ("space before colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
            ("NUL in header value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n", 400),
            ("obsolete line folding", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n folded\r\n\r\n", 400),
        ],
    );
}

#[test]
fn http_versions_other_than_1_0_and_1_1_are_505() {
    let server = serve(common::options());
    assert_table(
        &server,
        &[
            ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
            ("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
            ("HTTP/0.9", b"GET / HTTP/0.9\r\n\r\n", 505),
            ("HTTP/3", b"GET / HTTP/3\r\nHost: x\r\n\r\n", 505),
        ],
    );
    // HTTP/1.0 and HTTP/1.1 are served.
    for version in ["1.0", "1.1"] {
        let response = server.request(format!("GET / HTTP/{version}\r\nHost: x\r\n\r\n"));
        assert_eq!(response.status, 200, "HTTP/{version}");
    }
}

/// A request whose head is exactly `size` bytes long, padded with one header.
fn head_of_size(size: usize) -> Vec<u8> {
    let start = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
    let end = "\r\n\r\n";
    let pad = size.checked_sub(start.len() + end.len()).expect("size too small for a head");
    format!("{start}{}{end}", "p".repeat(pad)).into_bytes()
}

#[test]
fn a_head_larger_than_64_kib_is_431() {
    let server = serve(common::options());
    assert_refused(&server, &head_of_size(70 * 1024), 431, "a 70 KiB head");
    assert_eq!(server.request(head_of_size(60 * 1024)).status, 200, "a 60 KiB head is fine");
}

#[test]
fn the_head_size_limit_is_an_option_and_counts_every_byte_of_the_head() {
    let server = serve(Options { max_request_header_size: 1024, ..common::options() });
    assert_eq!(server.request(head_of_size(1024)).status, 200, "a head of exactly the limit");
    assert_refused(&server, &head_of_size(1025), 431, "one byte over the limit");
    assert_refused(&server, &head_of_size(4000), 431, "far over the limit");
}

#[test]
fn more_than_100_header_lines_is_431() {
    let with_headers = |n: usize| {
        // Host is one of the n header lines.
        let lines: String = (1..n).map(|i| format!("X-H{i}: {i}\r\n")).collect();
        format!("GET / HTTP/1.1\r\nHost: a\r\n{lines}\r\n").into_bytes()
    };
    let server = serve(common::options());
    assert_eq!(server.request(with_headers(100)).status, 200, "100 headers are allowed");
    assert_refused(&server, &with_headers(101), 431, "101 headers");
    assert_refused(&server, &with_headers(500), 431, "500 headers");
}

#[test]
fn content_length_must_be_digits_and_given_once() {
    let server = serve(common::options());
    assert_table(
        &server,
        &[
            ("letters", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400),
            ("negative", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
            ("plus sign", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", 400),
            ("decimal point", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1.5\r\n\r\nhi", 400),
            ("hexadecimal", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400),
            ("a list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", 400),
            ("two numbers", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\nhello", 400),
            ("empty", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400),
            (
                "twice, same value",
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
                400,
            ),
            (
                "twice, different",
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 2\r\n\r\nhello",
                400,
            ),
        ],
    );
    let fine = server.request(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!((fine.status, fine.text().as_str()), (200, "5"));
}

#[test]
fn content_length_with_transfer_encoding_is_400() {
    let server = serve(common::options());
    assert_table(
        &server,
        &[
            (
                "CL then TE",
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                400,
            ),
            (
                "TE then CL",
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                400,
            ),
        ],
    );
}

#[test]
fn transfer_codings_other_than_a_lone_chunked_are_501() {
    let server = serve(common::options());
    let te = |codings: &str| format!("POST / HTTP/1.1\r\nHost: a\r\n{codings}\r\n\r\n0\r\n\r\n").into_bytes();
    let cases = [
        ("gzip", te("Transfer-Encoding: gzip")),
        ("deflate", te("Transfer-Encoding: deflate")),
        ("gzip, chunked", te("Transfer-Encoding: gzip, chunked")),
        ("chunked, gzip", te("Transfer-Encoding: chunked, gzip")),
        ("gzip, then chunked on a second line", te("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked")),
    ];
    for (case, request) in &cases {
        assert_refused(&server, request, 501, case);
    }
    // The coding name is case-insensitive.
    let upper = server
        .request(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
    assert_eq!((upper.status, upper.text().as_str()), (200, "2"));
}

#[test]
fn transfer_encoding_on_http_1_0_is_400() {
    let server = serve(common::options());
    assert_table(
        &server,
        &[
            ("chunked", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", 400),
            ("gzip", b"POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ],
    );
}

#[test]
fn malformed_chunks_are_400() {
    let server = serve(common::options());
    let post = |chunks: &[u8]| {
        let mut request = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        request.extend_from_slice(chunks);
        request
    };
    let cases: [(&str, &[u8]); 9] = [
        ("size not hex", b"zz\r\nhello\r\n0\r\n\r\n"),
        ("negative size", b"-5\r\nhello\r\n0\r\n\r\n"),
        ("empty size line", b"\r\nhello\r\n0\r\n\r\n"),
        ("size overflows", b"fffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
        ("extension without a name", b"5;=x\r\nhello\r\n0\r\n\r\n"),
        ("unterminated quoted extension", b"5;a=\"open\r\nhello\r\n0\r\n\r\n"),
        ("junk after the size", b"5 junk\r\nhello\r\n0\r\n\r\n"),
        ("data not followed by CRLF", b"5\r\nhelloXX0\r\n\r\n"),
        ("size line ended by a bare LF", b"5\nhello\r\n0\r\n\r\n"),
    ];
    for (case, chunks) in cases {
        assert_refused(&server, &post(chunks), 400, case);
    }
    // Extensions and trailers that follow the grammar are accepted, and trailers discarded.
    let fine = server.request(post(b"5;name=value;flag;q=\"a;b\"\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n"));
    assert_eq!((fine.status, fine.text().as_str()), (200, "5"));
}

#[test]
fn a_declared_body_over_the_limit_is_413_before_the_body_is_sent() {
    let server = serve(Options { max_request_body_size: 1000, ..common::options() });
    // Only the head is sent: the 413 must come without waiting for the 5000 bytes.
    assert_refused(
        &server,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n",
        413,
        "5000 > 1000",
    );
    assert_refused(
        &server,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n",
        413,
        "one byte over",
    );
    let at_limit = format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n{}", "x".repeat(1000));
    let response = server.request(at_limit);
    assert_eq!((response.status, response.text().as_str()), (200, "1000"), "exactly the limit");
}

#[test]
fn the_default_body_limit_is_one_gib() {
    let server = serve(common::options());
    let cases: [(&str, &[u8]); 2] = [
        ("2 GiB declared", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2147483648\r\n\r\n"),
        (
            "more than fits in 64 bits",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        ),
    ];
    for (case, request) in cases {
        assert_refused(&server, request, 413, case);
    }
}

#[test]
fn a_chunked_body_over_the_limit_is_413_when_decoded() {
    let server = serve(Options { max_request_body_size: 1000, ..common::options() });
    let post = |len: usize| {
        let mut request = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        request.extend(chunked(&vec![b'z'; len], &[600]));
        request
    };
    assert_refused(&server, &post(1200), 413, "1200 decoded bytes > 1000");
    let response = server.request(post(1000));
    assert_eq!((response.status, response.text().as_str()), (200, "1000"), "exactly the limit");
}

#[test]
fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let server = serve(common::options());
    let heads: [(&str, &[u8], &[u8]); 2] = [
        (
            "by length",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
            b"hello",
        ),
        (
            "chunked",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\r\n",
        ),
    ];
    for (case, head, body) in heads {
        let mut stream = connect(server.addr);
        send(&mut stream, head);
        // The client sends nothing more until it has seen the interim response.
        assert_eq!(read_head(&mut stream), b"HTTP/1.1 100 Continue\r\n\r\n", "{case}");
        send(&mut stream, body);
        let response = Response::parse(&read_to_close(&mut stream));
        assert_eq!((response.status, response.text().as_str()), (200, "5"), "{case}");
    }
}

#[test]
fn expect_100_continue_is_not_sent_when_the_request_is_refused() {
    let server = serve(Options { max_request_body_size: 1000, ..common::options() });
    let request = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n";
    let bytes = exchange(server.addr, request);
    assert!(!bytes.windows(12).any(|w| w == b"100 Continue"), "{:?}", String::from_utf8_lossy(&bytes));
    assert_eq!(Response::parse(&bytes).status, 413);
}

#[test]
fn expect_100_continue_without_a_body_does_not_hang() {
    let server = serve(common::options());
    let requests: [&[u8]; 2] = [
        b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n",
    ];
    for request in requests {
        // No 100 Continue (there is no body to wait for), and the final answer comes at once.
        let response = server.request(request);
        assert_eq!((response.status, response.text().as_str()), (200, "0"));
    }
}

#[test]
fn leading_empty_lines_are_ignored() {
    let server = serve(common::options());
    let requests: [&[u8]; 3] = [
        b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\r\n\r\n\r\nPOST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
        b"\n\r\nGET / HTTP/1.0\r\n\r\n",
    ];
    for request in requests {
        let response = server.request(request);
        assert_eq!(response.status, 200, "{:?}: {}", String::from_utf8_lossy(request), response.text());
    }
}
