//! The environ an app receives (SPEC §2), seen through a real socket with the built-in `echo`
//! app, which answers with every string entry, the body and its length as JSON: each key and
//! its value, header mapping, and request bodies that round-trip byte for byte (by length,
//! chunked, and past the spool threshold).

mod common;

use common::{Response, TestServer, chunked, connect, read_to_close, send};
use serde_json::Value;
use std::io::Read;
use wsgi_lab::apps::echo;
use wsgi_lab::{Body, Environ, Mode, Options, StartResponse};

fn serve(options: Options) -> TestServer {
    common::start(echo, options, Mode::Single)
}

/// What `echo` saw, with the client's own address for checking `REMOTE_PORT`.
struct Echoed {
    json: Value,
    client_port: u16,
}

impl Echoed {
    /// The string environ entry `key`, or `None` when absent.
    fn get(&self, key: &str) -> Option<&str> {
        match &self.json["environ"][key] {
            Value::Null => None,
            value => Some(value.as_str().unwrap_or_else(|| panic!("{key} is not a string: {value}"))),
        }
    }

    fn key(&self, key: &str) -> &str {
        self.get(key).unwrap_or_else(|| panic!("no {key} in {}", self.json["environ"]))
    }
}

fn echo_request(server: &TestServer, request: &[u8]) -> Echoed {
    let mut stream = connect(server.addr);
    let client_port = stream.local_addr().unwrap().port();
    send(&mut stream, request);
    let response = Response::parse(&read_to_close(&mut stream));
    assert_eq!(response.status, 200, "{}", response.text());
    let json = serde_json::from_slice(&response.body).expect("echo answers JSON");
    Echoed { json, client_port }
}

#[test]
fn every_key_of_a_simple_get() {
    let server = serve(common::options());
    let seen =
        echo_request(&server, b"GET /a%20b/c%2Fd%C3%A9?x=%20y&z=1+2 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    let expected = [
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", ""),
        // Percent-decoded, one char per byte: the UTF-8 of "é" shows as two latin-1 chars.
        ("PATH_INFO", "/a b/c/dÃ©"),
        ("QUERY_STRING", "x=%20y&z=1+2"),
        ("REQUEST_URI", "/a%20b/c%2Fd%C3%A9?x=%20y&z=1+2"),
        ("SERVER_NAME", "127.0.0.1"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("SERVER_SOFTWARE", concat!("wsgi-lab/", env!("CARGO_PKG_VERSION"))),
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("HTTP_HOST", "example.com"),
        ("wsgi.url_scheme", "http"),
    ];
    for (key, value) in expected {
        assert_eq!(seen.get(key), Some(value), "{key}");
    }
    assert_eq!(seen.key("SERVER_PORT"), server.addr.port().to_string());
    assert_eq!(seen.key("REMOTE_PORT"), seen.client_port.to_string());
    for absent in ["CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"] {
        assert_eq!(seen.get(absent), None, "{absent} without a body");
    }
    assert_eq!(seen.json["body_length"], 0);
}

#[test]
fn method_protocol_and_query_as_sent() {
    let server = serve(common::options());
    let cases: [(&[u8], &str, &str, &str); 4] = [
        (b"DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n", "DELETE", "HTTP/1.1", ""),
        (b"GET /x HTTP/1.0\r\n\r\n", "GET", "HTTP/1.0", ""),
        (b"PURGE /x? HTTP/1.1\r\nHost: a\r\n\r\n", "PURGE", "HTTP/1.1", ""),
        (b"GET /x?a=%26&b HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "HTTP/1.1", "a=%26&b"),
    ];
    for (request, method, protocol, query) in cases {
        let seen = echo_request(&server, request);
        assert_eq!(seen.key("REQUEST_METHOD"), method);
        assert_eq!(seen.key("SERVER_PROTOCOL"), protocol);
        assert_eq!(seen.key("QUERY_STRING"), query);
        assert_eq!(seen.key("PATH_INFO"), "/x");
    }
}

#[test]
fn path_info_is_the_decoded_path_and_request_uri_the_target_as_sent() {
    let server = serve(common::options());
    let cases = [
        ("/", "/"),
        ("/plain/path", "/plain/path"),
        ("/caf%C3%A9", "/cafÃ©"),
        ("/%41%42%43", "/ABC"),
        ("/semi;colon/%25", "/semi;colon/%"),
        ("/trailing/", "/trailing/"),
        // A path may contain "://": it is still a path, not an absolute-form target.
        ("/redirect/http://example.com/x", "/redirect/http://example.com/x"),
        // Absolute form (what a client sends to a proxy) is reduced to its path.
        ("http://example.com:8080/p/q?z=1", "/p/q"),
        ("http://example.com", "/"),
    ];
    for (target, path_info) in cases {
        let seen = echo_request(&server, format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        assert_eq!(seen.key("PATH_INFO"), path_info, "{target}");
        assert_eq!(seen.key("REQUEST_URI"), target, "{target}");
        assert_eq!(seen.key("SCRIPT_NAME"), "", "{target}");
    }
}

#[test]
fn content_type_and_content_length_only_when_sent() {
    let server = serve(common::options());
    let seen = echo_request(
        &server,
        b"POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 8\r\n\r\nname=Ada",
    );
    assert_eq!(seen.get("CONTENT_TYPE"), Some("application/x-www-form-urlencoded"));
    assert_eq!(seen.get("CONTENT_LENGTH"), Some("8"));
    assert_eq!((seen.get("HTTP_CONTENT_TYPE"), seen.get("HTTP_CONTENT_LENGTH")), (None, None));
    assert_eq!(seen.json["body"], "name=Ada");

    let only_type = echo_request(&server, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\n\r\n");
    assert_eq!((only_type.get("CONTENT_TYPE"), only_type.get("CONTENT_LENGTH")), (Some("text/plain"), None));

    let zero = echo_request(&server, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(zero.get("CONTENT_LENGTH"), Some("0"));
}

#[test]
fn a_chunked_body_gets_its_decoded_length() {
    let server = serve(common::options());
    let mut request = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    request.extend(chunked(b"Hello, chunked world", &[5, 3, 100]));
    let seen = echo_request(&server, &request);
    assert_eq!(seen.get("CONTENT_LENGTH"), Some("20"));
    assert_eq!(seen.json["body"], "Hello, chunked world");
    assert_eq!(seen.json["body_length"], 20);
}

#[test]
fn request_headers_become_http_keys() {
    let server = serve(common::options());
    let seen = echo_request(
        &server,
        b"GET / HTTP/1.1\r\n\
          Host: example.com\r\n\
          X-Custom-Thing: v1\r\n\
          x-lower-case: v2\r\n\
          Accept: text/html\r\n\
          X-Repeated: a\r\n\
          Accept: application/json\r\n\
          X-Repeated: b\r\n\
          X-Repeated: c\r\n\
          X-Client-Id: 10.0.0.1\r\n\
          X_Client_Id: 6.6.6.6\r\n\
          Only_Underscores: dropped\r\n\
          X-Latin: caf\xe9\r\n\
          X-Empty:\r\n\
          \r\n",
    );
    let expected = [
        ("HTTP_HOST", Some("example.com")),
        ("HTTP_X_CUSTOM_THING", Some("v1")),
        ("HTTP_X_LOWER_CASE", Some("v2")),
        ("HTTP_ACCEPT", Some("text/html, application/json")),
        ("HTTP_X_REPEATED", Some("a, b, c")),
        // The underscore spelling is dropped: it cannot overwrite or join the dashed one.
        ("HTTP_X_CLIENT_ID", Some("10.0.0.1")),
        ("HTTP_ONLY_UNDERSCORES", None),
        ("HTTP_X_LATIN", Some("café")),
        ("HTTP_X_EMPTY", Some("")),
    ];
    for (key, value) in expected {
        assert_eq!(seen.get(key), value, "{key}");
    }
}

/// A deterministic body of `len` bytes of UTF-8 text with multi-byte characters, so that
/// `echo` (which shows the body as UTF-8) can return it unchanged.
fn text_body(len: usize) -> Vec<u8> {
    let alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 \n\"\\é€😀".chars().collect::<Vec<_>>();
    let mut body = String::with_capacity(len + 4);
    let mut state: u32 = 12345;
    while body.len() < len {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let c = alphabet[(state >> 16) as usize % alphabet.len()];
        if body.len() + c.len_utf8() > len {
            body.push('.');
        } else {
            body.push(c);
        }
    }
    body.into_bytes()
}

fn assert_round_trip(server: &TestServer, body: &[u8], by_chunks: bool) {
    let mut request = Vec::new();
    if by_chunks {
        request.extend_from_slice(b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
        request.extend(chunked(body, &[1, 1000, 65536, 7, 300_001]));
    } else {
        request.extend_from_slice(
            format!("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
        );
        request.extend_from_slice(body);
    }
    let seen = echo_request(server, &request);
    let how = if by_chunks { "chunked" } else { "by length" };
    assert_eq!(seen.json["body_length"], body.len(), "{how}");
    assert_eq!(seen.key("CONTENT_LENGTH"), body.len().to_string(), "{how}");
    let echoed = seen.json["body"].as_str().expect("body as text");
    assert!(echoed.as_bytes() == body, "{how}: the body came back different");
}

#[test]
fn a_3_mib_body_round_trips_by_length_and_chunked() {
    let server = serve(common::options());
    let body = text_body(3 * 1024 * 1024);
    assert_round_trip(&server, &body, false);
    assert_round_trip(&server, &body, true);
}

/// Fixture: answers with the request body exactly as received, every byte value allowed.
fn mirror(environ: &Environ, start_response: StartResponse) -> Body {
    let mut body = Vec::new();
    environ.input().read_to_end(&mut body).unwrap();
    start_response("200 OK", vec![("Content-Type", "application/octet-stream")]);
    Body::from(body)
}

#[test]
fn a_body_above_the_spool_threshold_round_trips() {
    let options = Options { spool_threshold: 1024, ..common::options() };
    let server = serve(options.clone());
    let body = text_body(200 * 1024);
    assert_round_trip(&server, &body, false);
    assert_round_trip(&server, &body, true);

    // Every byte value, through a temporary file and back.
    let mirror_server = common::start(mirror, options, Mode::Single);
    let binary: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let mut request =
        format!("PUT /blob HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n", binary.len()).into_bytes();
    request.extend_from_slice(&binary);
    let response = mirror_server.request(&request);
    assert!(response.body == binary, "the binary body came back different ({} bytes)", response.body.len());
}
