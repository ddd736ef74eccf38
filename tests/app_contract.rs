//! The app contract (SPEC §1) as a server enforces it: each misuse of `start_response` is a
//! 500 whose log message names the mistake, and the server goes on serving; the error form
//! replaces the status and headers; panics before and after the headers; closures, middleware
//! and streaming bodies are apps like any other (the calls that run one, `handle_request` and
//! `serve_forever`, are in `serve_calls.rs`). And one contract for all: the production server, the
//! validator, the dev server and the test client judge an app by the same code
//! (`call_app`), so the same mistake gets the same message from each.

mod common;

use common::{Response, TestServer, dechunk};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use wsgi_lab::handler::call_app;
use wsgi_lab::validate::{Rule, validate};
use wsgi_lab::{App, Body, Environ, Mode, StartResponse, testing};

fn serve(app: impl App + 'static) -> TestServer {
    common::start(app, common::options(), Mode::Single)
}

/// A fixture app as a plain `fn`, so that tables of them have one type.
type Fixture = fn(&Environ, StartResponse) -> Body;

const GET: &str = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/// The fixture every "keeps serving" check uses.
fn hello(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![("Content-Type", "text/plain")]);
    Body::from("Hello")
}

/// A 500 from the server itself: plain text, connection closed, none of the app's body.
fn assert_server_500(response: &Response, case: &str) {
    assert_eq!(response.status, 500, "{case}: {}", response.text());
    assert_eq!(response.header("connection"), Some("close"), "{case}");
    assert!(response.header("content-type").unwrap_or_default().starts_with("text/plain"), "{case}");
    assert!(!response.text().contains("must not be sent"), "{case}: the app's body leaked");
}

/// An app that passes `status` and `headers` to `start_response`: one fixture per mistake.
fn starting(status: &'static str, headers: Vec<(&'static str, &'static str)>) -> Arc<dyn App> {
    Arc::new(move |_: &Environ, start_response: StartResponse| {
        start_response(status, headers.clone());
        Body::from("must not be sent")
    })
}

/// Checks one misbehaving app: the log message (from `call_app`, what the server logs) names
/// the mistake, a real server answers 500, and then serves a correct app again.
fn assert_mistake(case: &str, app: Arc<dyn App>, message_names: &str) {
    let message = match call_app(app.as_ref(), &Environ::new()) {
        Err(broken) => broken.to_string(),
        Ok(response) => panic!("{case}: accepted as {:?} {:?}", response.status, response.headers),
    };
    assert!(message.contains(message_names), "{case}: message {message:?} does not name {message_names:?}");

    // Behind a server: the mistake is a 500, and the next request is served normally.
    let misbehaving = app;
    let router = move |environ: &Environ, start_response: StartResponse| match environ.get("PATH_INFO") {
        Some("/bad") => misbehaving.call(environ, start_response),
        _ => hello(environ, start_response),
    };
    let server = serve(router);
    assert_server_500(&server.get("/bad"), case);
    assert_eq!(server.get("/").text(), "Hello", "{case}: the next request");
}

#[test]
fn a_status_that_is_not_nnn_reason_is_a_500() {
    let statuses = [
        "200",
        "200 ",
        "200OK",
        "OK 200",
        "20 OK",
        "2000 OK",
        "2x0 OK",
        "",
        "200 O\u{1}K",
        "200 OK\r\nX-Injected: 1",
        "200 OK\n",
    ];
    for status in statuses {
        assert_mistake(&format!("status {status:?}"), starting(status, vec![]), "NNN Reason");
    }
}

#[test]
fn a_header_name_that_is_not_a_token_is_a_500() {
    let names = ["Bad Header", "X:Y", "", "Caf\u{e9}", "X-A(1)", "X-A\r\nX-B", "X-A\n", "X-A\0"];
    for name in names {
        assert_mistake(&format!("header name {name:?}"), starting("200 OK", vec![(name, "v")]), "HTTP token");
    }
}

#[test]
fn cr_lf_or_nul_in_a_header_value_is_a_500() {
    let values = ["a\r\nSet-Cookie: evil=1", "a\nb", "a\rb", "a\0b", "\r\n"];
    for value in values {
        let app = starting("200 OK", vec![("X-Note", value)]);
        assert_mistake(&format!("header value {value:?}"), app, "CR, LF or NUL");
    }
}

#[test]
fn each_hop_by_hop_header_is_a_500() {
    let names = [
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "connection",
        "TRANSFER-ENCODING",
    ];
    for name in names {
        assert_mistake(&format!("header {name}"), starting("200 OK", vec![(name, "x")]), "hop-by-hop");
    }
}

#[test]
fn a_content_length_that_is_not_a_number_is_a_500() {
    for value in ["abc", "-1", "", "1.5", "0x10", "5, 5"] {
        let app = starting("200 OK", vec![("Content-Length", value)]);
        assert_mistake(&format!("Content-Length {value:?}"), app, "not a number");
    }
}

/// A Content-Length the server cannot honour would go out next to a computed one (or a
/// second one of the app's), and a client would see two conflicting lengths.
#[test]
fn a_content_length_that_cannot_frame_the_body_is_a_500() {
    let too_large = starting("200 OK", vec![("Content-Length", "99999999999999999999999")]);
    assert_mistake("Content-Length beyond 64 bits", too_large, "Content-Length");
    let twice = starting("200 OK", vec![("Content-Length", "5"), ("content-length", "7")]);
    assert_mistake("Content-Length twice", twice, "Content-Length");
}

/// One Content-Length rule (one header, all digits, fits a u64) with one message for each way
/// to break it, whoever calls the app. Before, a length too large for a u64 passed the
/// validator and was ignored by the dev server, which answered 200 where the production server
/// answered 500.
#[test]
fn the_same_content_length_mistake_gets_the_same_message_everywhere() {
    let cases = [
        ("not a number", starting("200 OK", vec![("Content-Type", "text/plain"), ("Content-Length", "ten")])),
        (
            "beyond 64 bits",
            starting(
                "200 OK",
                vec![("Content-Type", "text/plain"), ("Content-Length", "99999999999999999999")],
            ),
        ),
        (
            "set twice",
            starting(
                "200 OK",
                vec![("Content-Type", "text/plain"), ("Content-Length", "5"), ("content-length", "5")],
            ),
        ),
    ];
    for (case, app) in cases {
        // The production server logs what call_app says, and answers 500.
        let logged = call_app(app.as_ref(), &Environ::new()).expect_err(case).to_string();
        assert!(logged.starts_with("Content-Length"), "{case}: {logged}");
        assert_server_500(&serve(app.clone()).get("/"), case);

        // The validator reports the very same message, as a Content-Length violation.
        let validator = validate(app.clone()).with_reporter(|_| {});
        let listed = testing::get(&validator, "/");
        let found = validator.last_violations();
        assert_eq!(found.iter().map(|v| v.rule).collect::<Vec<_>>(), [Rule::ContentLength], "{case}");
        assert_eq!(found[0].message, logged, "{case}");
        assert!(listed.text().contains(&logged), "{case}: {}", listed.text());

        // The dev server (the validator inside) lists it in its 500; the test client answers
        // with it as the body.
        let dev = common::dev::start(app.clone(), false);
        let reply = dev.get("/");
        assert_eq!(reply.status, 500, "{case}");
        assert!(reply.text().contains(&format!("- app: {logged}\n")), "{case}: {}", reply.text());
        assert_eq!(testing::get(&app, "/").text(), logged, "{case}");
    }
}

/// One rule for the statuses without a body (1xx, 204, 304): the validator refuses body bytes
/// in a list, and the dev server, which collects every body, refuses them in a stream with the
/// same message (before, it checked only a stream's length). The production server sends no
/// body (`response_framing.rs`).
#[test]
fn a_body_on_a_status_without_one_gets_the_same_message_from_the_validator_and_the_dev_server() {
    fn with_a_body(environ: &Environ, start_response: StartResponse) -> Body {
        let status =
            if environ.get("PATH_INFO") == Some("/304") { "304 Not Modified" } else { "204 No Content" };
        start_response(status, vec![]);
        match environ.get("QUERY_STRING") {
            Some("stream") => Body::stream(std::iter::once(b"oops".to_vec())),
            _ => Body::from("oops"),
        }
    }
    let dev = common::dev::start(with_a_body, false);
    for code in [204, 304] {
        let validator = validate(with_a_body).with_reporter(|_| {});
        testing::get(&validator, &format!("/{code}"));
        let found = validator.last_violations();
        assert_eq!(found.iter().map(|v| v.rule).collect::<Vec<_>>(), [Rule::BodyNotAllowed], "{code}");
        assert!(found[0].message.contains(&format!("status {code} must have an empty body")));
        for target in [format!("/{code}"), format!("/{code}?stream")] {
            let reply = dev.get(&target);
            assert_eq!(reply.status, 500, "{target}");
            assert!(reply.text().contains(&found[0].message), "{target}: {}", reply.text());
        }
    }
}

/// Calls `start_response` twice without the error form.
fn starts_twice(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![]);
    start_response("404 Not Found", vec![]);
    Body::from("must not be sent")
}

/// Returns a body without ever calling `start_response`.
fn never_starts(_: &Environ, _: StartResponse) -> Body {
    Body::from("must not be sent")
}

#[test]
fn start_response_twice_or_never_is_a_500() {
    assert_mistake("start_response twice", Arc::new(starts_twice), "start_response.error");
    assert_mistake("start_response never called", Arc::new(never_starts), "without calling start_response");
}

/// Starts a 200, then fails and uses the error form to replace it.
fn recovers_with_the_error_form(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![("X-Partial", "yes"), ("Content-Type", "text/html")]);
    start_response
        .error("503 Service Unavailable", vec![("Content-Type", "text/plain"), ("Retry-After", "1")]);
    Body::from("try again later")
}

#[test]
fn the_error_form_replaces_the_status_and_the_headers() {
    let server = serve(recovers_with_the_error_form);
    let response = server.request(GET);
    assert_eq!((response.status, response.reason.as_str()), (503, "Service Unavailable"));
    assert_eq!(response.header("retry-after"), Some("1"));
    assert_eq!(response.header("content-type"), Some("text/plain"));
    assert_eq!(response.header("x-partial"), None, "the first headers are gone");
    assert_eq!(response.text(), "try again later");
}

/// Panics before calling `start_response`.
fn panics_at_once(_: &Environ, _: StartResponse) -> Body {
    panic!("fixture: panics before start_response");
}

/// Panics after calling `start_response`, before returning: still nothing was sent.
fn panics_after_starting(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![]);
    panic!("fixture: panics after start_response");
}

/// A streaming body that panics when asked for its first chunk.
fn stream_panics_at_first_chunk(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![]);
    Body::stream(std::iter::from_fn(|| panic!("fixture: panics in the first chunk")))
}

#[test]
fn a_panic_before_anything_was_sent_is_a_500_and_the_server_survives() {
    let apps: [(&str, Fixture); 3] = [
        ("before start_response", panics_at_once),
        ("after start_response", panics_after_starting),
        ("in the first chunk", stream_panics_at_first_chunk),
    ];
    for (case, app) in apps {
        let router = move |environ: &Environ, start_response: StartResponse| match environ.get("PATH_INFO") {
            Some("/panic") => app(environ, start_response),
            _ => hello(environ, start_response),
        };
        let server = serve(router);
        assert_server_500(&server.get("/panic"), case);
        assert_eq!(server.get("/").text(), "Hello", "{case}: the next request");
    }
}

/// Yields one chunk, then panics: the headers are already on their way.
fn stream_panics_after_first_chunk(environ: &Environ, start_response: StartResponse) -> Body {
    if environ.get("PATH_INFO") != Some("/panic") {
        return hello(environ, start_response);
    }
    start_response("200 OK", vec![("Content-Type", "text/plain")]);
    let mut sent = false;
    Body::stream(std::iter::from_fn(move || {
        assert!(!sent, "fixture: panics after the first chunk");
        sent = true;
        Some(b"first chunk\n".to_vec())
    }))
}

#[test]
fn a_panic_after_the_first_chunk_cuts_the_response_short_and_the_server_survives() {
    let server = serve(stream_panics_after_first_chunk);
    let response = server.get("/panic");
    assert_eq!(response.status, 200, "the status was already decided");
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert!(response.text().contains("first chunk\n"), "{:?}", response.text());
    // No last chunk: the client can tell the response is incomplete.
    assert!(dechunk(&response.body).is_err(), "a complete body {:?}", response.text());
    assert_eq!(server.get("/").text(), "Hello", "the next request");
}

#[test]
fn a_closure_capturing_state_is_an_app() {
    let visits = Arc::new(AtomicUsize::new(0));
    let greeting = String::from("Hello from a closure");
    let counted = Arc::clone(&visits);
    let app = move |_: &Environ, start_response: StartResponse| {
        let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
        start_response("200 OK", vec![("Content-Type", "text/plain")]);
        Body::from(format!("{greeting}, visit {n}"))
    };
    let server = serve(app);
    for n in 1..=3 {
        assert_eq!(server.request(GET).text(), format!("Hello from a closure, visit {n}"));
    }
    assert_eq!(visits.load(Ordering::SeqCst), 3, "the test sees the state the app changed");
}

/// Middleware: adds a header to every response of the app it wraps.
struct PoweredBy<A>(A);

impl<A: App> App for PoweredBy<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let start = |status: &str, mut headers: Vec<(&str, &str)>| {
            headers.push(("X-Powered-By", "wsgi-lab"));
            start_response(status, headers)
        };
        let error = |status: &str, headers: Vec<(&str, &str)>| start_response.error(status, headers);
        self.0.call(environ, StartResponse::new(&start, &error))
    }
}

/// Middleware: upper-cases the body of the app it wraps, chunk by chunk, as it streams.
struct Shout<A>(A);

impl<A: App> App for Shout<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let body = self.0.call(environ, start_response);
        Body::stream(body.map(|chunk| chunk.to_ascii_uppercase()))
    }
}

#[test]
fn middleware_wrapping_an_app_is_an_app() {
    let server = serve(PoweredBy(Shout(hello)));
    let response = server.request(GET);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-powered-by"), Some("wsgi-lab"));
    assert_eq!(response.header("content-type"), Some("text/plain"), "the inner app's headers");
    assert_eq!(response.dechunked(), b"HELLO");
}

/// Produces its chunks lazily, while the response is being written.
fn counts_to_three(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![("Content-Type", "text/plain")]);
    Body::stream((1..=3).map(|i| format!("line {i}\n").into_bytes()))
}

#[test]
fn a_streaming_body_is_framed_chunked() {
    let server = serve(counts_to_three);
    let response = server.request(GET);
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.header("content-length"), None);
    assert_eq!(response.dechunked(), b"line 1\nline 2\nline 3\n");
}
