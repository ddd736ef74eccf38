//! The development server over real sockets on 127.0.0.1 (port 0): it serves the router, builds
//! the production server's environ, shows the panic only with debug on, turns validator
//! violations into a 500 with the list, and logs werkzeug's access line. What tiny_http does
//! with hostile input is in `dev_server_hostile.rs`.

mod common;

use common::dev::{Reply, serve, start};
use common::exchange;
use wsgi_lab::dev::access_line;
use wsgi_lab::proxy::ProxyPolicy;
use wsgi_lab::router::{Request, Router};
use wsgi_lab::{Body, DevServer, Environ, StartResponse};

fn router() -> Router {
    Router::new()
        .route("/", |_: &Request| "Hello, World!")
        .route("/users/<name>", |r: &Request| format!("Hello, {}!", r.param("name").unwrap()))
        .route_methods("/items", &["GET", "POST"], |r: &Request| format!("{} {}", r.method(), r.text()))
}

#[test]
fn serves_the_router() {
    let dev = start(router(), false);
    let home = dev.get("/");
    assert_eq!((home.status, home.text().as_str()), (200, "Hello, World!"));
    assert_eq!(home.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(home.header("content-length"), Some("13"));
    assert!(home.header("server").unwrap().starts_with("wsgi-lab/"), "{:?}", home.headers);
    assert_eq!(dev.get("/users/Ada").text(), "Hello, Ada!");

    let post =
        dev.request("POST /items HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\napple");
    assert_eq!(post.text(), "POST apple");
    let missing = dev.get("/nowhere");
    assert_eq!(missing.status, 404);
    let refused = dev.request("DELETE /items HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!((refused.status, refused.header("allow")), (405, Some("GET, HEAD, OPTIONS, POST")));
    dev.stop().expect("a clean shutdown");
}

#[test]
fn a_large_body_is_sent_with_its_length_not_chunked() {
    let big = |_: &Environ, start_response: StartResponse| {
        start_response("200 OK", vec![("Content-Type", "application/octet-stream")]);
        Body::stream((0..10).map(|_| vec![b'x'; 10_000]))
    };
    let dev = start(big, false);
    let reply = dev.get("/");
    assert_eq!((reply.header("content-length"), reply.header("transfer-encoding")), (Some("100000"), None));
    assert_eq!(reply.body.len(), 100_000);
}

#[test]
fn wsgi_multithread_says_whether_requests_get_threads() {
    let multithread = |environ: &Environ, start_response: StartResponse| {
        start_response("200 OK", vec![("Content-Type", "text/plain")]);
        Body::from(environ.multithread().to_string())
    };
    assert_eq!(start(multithread, false).get("/").text(), "true", "threaded, the default");
    let single = DevServer::bind(multithread, "127.0.0.1", 0, false).unwrap().threaded(false);
    assert_eq!(serve(single).get("/").text(), "false", "threaded(false)");
}

#[test]
fn the_environ_is_the_production_servers() {
    let request = "POST /a%20b/caf%C3%A9?x=1&y HTTP/1.1\r\nHost: test\r\nX-Custom: one\r\nX-Custom: two\r\n\
                   X_Spoof: dropped\r\nX-Forwarded-For: 203.0.113.7\r\nTransfer-Encoding: chunked\r\n\
                   Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let environ_of = |answer: &[u8]| -> serde_json::Map<String, serde_json::Value> {
        let json: serde_json::Value = serde_json::from_slice(&Reply::parse(answer).body).unwrap();
        let mut environ = json["environ"].as_object().unwrap().clone();
        for varies in ["REMOTE_PORT", "SERVER_PORT"] {
            assert!(environ.remove(varies).is_some(), "{varies} missing");
        }
        environ
    };

    let dev = start(wsgi_lab::apps::echo, false);
    let from_dev = environ_of(&exchange(dev.addr, request.as_bytes()));

    let production = wsgi_lab::make_server("127.0.0.1", 0, wsgi_lab::apps::echo).unwrap().log_requests(false);
    let addr = production.server_address();
    let client = std::thread::spawn(move || exchange(addr, request.as_bytes()));
    production.handle_request().unwrap();
    let from_production = environ_of(&client.join().unwrap());

    assert_eq!(from_dev, from_production);
    assert_eq!(from_dev["PATH_INFO"], "/a b/cafÃ©");
    assert_eq!(from_dev["HTTP_X_CUSTOM"], "one, two");
    assert_eq!(from_dev["CONTENT_LENGTH"], "3");
    assert!(!from_dev.contains_key("HTTP_X_SPOOF"));
    assert!(!from_dev.contains_key("HTTP_X_FORWARDED_FOR"), "no trusted proxy: removed, as in production");
}

/// An app that panics with a message that must never reach a client unless debug is on.
fn panicking(environ: &Environ, start_response: StartResponse) -> Body {
    match environ.get("PATH_INFO") {
        Some("/ok") => {
            start_response("200 OK", vec![("Content-Type", "text/plain")]);
            Body::from("still serving")
        }
        Some("/stream") => {
            start_response("200 OK", vec![("Content-Type", "text/plain")]);
            Body::stream(std::iter::once_with(|| panic!("stream-secret-42 <b>")))
        }
        _ => panic!("db-password-hunter2 <script>alert(1)</script>"),
    }
}

#[test]
fn debug_on_shows_the_panic_and_the_request() {
    let dev = start(panicking, true);
    let page =
        dev.request("GET /boom?q=1 HTTP/1.1\r\nHost: test\r\nX-Trace: <i>t</i>\r\nConnection: close\r\n\r\n");
    assert_eq!(page.status, 500);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    let html = page.text();
    assert!(html.contains("db-password-hunter2 &lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
    assert!(!html.contains("<script>"), "the panic message must be escaped");
    assert!(html.contains("GET /boom?q=1 HTTP/1.1"), "the request line: {html}");
    // Where it panicked, on a line of its own (the `_ => panic!` arm above), not in the message.
    let here = format!("<p class=\"where\">at <code>{}:", file!());
    assert!(html.contains(&here), "the panic's place: {html}");
    assert!(!html.contains("(at "), "the place is its own line, not the message's tail: {html}");
    assert!(html.contains("<pre class=\"message\">db-password-hunter2"), "{html}");
    // Long values wrap (no sideways scrolling); names stay whole.
    assert!(html.contains("td{white-space:pre-wrap;overflow-wrap:anywhere}"), "{html}");
    assert!(
        html.contains("pre{background:#fee;padding:1em;white-space:pre-wrap;overflow-wrap:anywhere}"),
        "{html}"
    );
    assert!(html.contains("th{white-space:nowrap}"), "{html}");
    assert!(html.contains("<th>X-Trace</th><td>&lt;i&gt;t&lt;/i&gt;</td>"), "the headers: {html}");
    assert!(html.contains("<th>QUERY_STRING</th><td>q=1</td>"), "the environ: {html}");

    let stream = dev.get("/stream");
    assert_eq!(stream.status, 500);
    assert!(stream.text().contains("stream-secret-42 &lt;b&gt;"), "a panicking body is caught too");
    assert_eq!(dev.get("/ok").text(), "still serving");
}

#[test]
fn debug_off_never_shows_the_panic() {
    let dev = start(panicking, false);
    for path in ["/boom", "/stream"] {
        let reply = dev.get(path);
        assert_eq!(reply.status, 500);
        assert_eq!(reply.header("content-type"), Some("text/plain; charset=utf-8"));
        let text = reply.text();
        assert!(text.contains("the server's log says why"), "{text}");
        for secret in ["db-password-hunter2", "stream-secret-42", "panicked", "PATH_INFO"] {
            assert!(!text.contains(secret), "{path}: leaked {secret:?}: {text}");
        }
    }
    // The log has it: that is where the developer looks.
    dev.wait_for_log("the app panicked: db-password-hunter2");
    assert_eq!(dev.get("/ok").text(), "still serving");
}

#[test]
fn violations_become_a_500_with_the_list() {
    let careless = |_: &Environ, start_response: StartResponse| {
        start_response("200 OK", vec![("X-Evil", "a\r\nSet-Cookie: x=1"), ("Connection", "close")]);
        Body::from("never sent")
    };
    let dev = start(careless, false);
    let reply = dev.get("/");
    assert_eq!(reply.status, 500);
    let text = reply.text();
    assert!(text.contains("the contract was broken (3 violations)"), "{text}");
    assert!(text.contains("- app: header Connection is hop-by-hop"), "{text}");
    assert!(text.contains("would split the response; remove the line break"), "{text}");
    assert!(text.contains("needs a Content-Type header"), "{text}");
    assert!(!text.contains("never sent") && reply.header("set-cookie").is_none());
}

#[test]
fn what_tiny_http_cannot_send_is_a_500_that_says_why() {
    let app = |environ: &Environ, start_response: StartResponse| match environ.get("PATH_INFO") {
        Some("/latin1") => {
            start_response("200 OK", vec![("Content-Type", "text/plain"), ("X-Name", "café")]);
            Body::from("x")
        }
        _ => {
            start_response("200 OK", vec![("Content-Type", "text/plain"), ("Content-Length", "50")]);
            Body::stream(std::iter::once(b"short".to_vec()))
        }
    };
    let dev = start(app, false);
    let latin1 = dev.get("/latin1");
    assert_eq!(latin1.status, 500);
    assert!(
        latin1.text().contains("non-ASCII text") && latin1.text().contains("percent-encode"),
        "{}",
        latin1.text()
    );
    let short = dev.get("/short");
    assert_eq!(short.status, 500);
    assert!(short.text().contains("Content-Length says 50 but the body has 5 bytes"), "{}", short.text());
}

#[test]
fn head_gets_the_length_and_no_body() {
    let dev = start(router(), false);
    let bytes = exchange(dev.addr, b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Length: 13\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "no body after the head: {text}");
}

#[test]
fn access_line_per_request() {
    let dev = start(router(), false);
    dev.get("/users/ada");
    let line = dev.wait_for_log("\"GET /users/ada HTTP/1.1\"");
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(line.ends_with("] \"GET /users/ada HTTP/1.1\" 200 -"), "{line}");
    // [21/Nov/2026 10:24:03]
    let date = &line["127.0.0.1 - - [".len()..line.find(']').unwrap()];
    assert_eq!(date.len(), 20, "{date}");
    assert_eq!((&date[2..3], &date[6..7], &date[11..12], &date[14..15]), ("/", "/", " ", ":"), "{date}");
    dev.get("/nowhere");
    dev.wait_for_log("\"GET /nowhere HTTP/1.1\" 404 -");
}

#[test]
fn access_line_colours_the_status_but_keeps_the_number() {
    colored::control::set_override(true);
    let server_error = access_line([127, 0, 0, 1].into(), "GET / HTTP/1.1", 500, true);
    let not_found = access_line([127, 0, 0, 1].into(), "GET / HTTP/1.1", 404, true);
    let ok = access_line([127, 0, 0, 1].into(), "GET / HTTP/1.1", 200, true);
    colored::control::unset_override();
    assert!(server_error.contains("\u{1b}[") && server_error.contains("500"), "{server_error:?}");
    assert!(not_found.contains("\u{1b}[33m404"), "404 is yellow: {not_found:?}");
    assert!(ok.ends_with("\" 200 -"), "2xx stays plain: {ok:?}");
    let plain = access_line([127, 0, 0, 1].into(), "GET / HTTP/1.1", 500, false);
    assert!(!plain.contains('\u{1b}') && plain.ends_with("\" 500 -"), "{plain:?}");
}

#[test]
fn banner_says_what_flask_says() {
    let server = DevServer::bind(router(), "127.0.0.1", 0, false).unwrap().log_to(|_| {});
    let banner = server.banner();
    let lines: Vec<&str> = banner.lines().collect();
    assert_eq!(lines[0], " * Serving app 'wsgi-lab dev server'");
    assert_eq!(lines[1], " * Debug mode: off");
    assert_eq!(
        lines[2],
        " * Threaded: a thread per request, no limit (as Werkzeug's threaded=True, Flask's default)"
    );
    assert!(lines[3].starts_with(" * Contract validator: on (wsgi-lab's own"), "{banner}");
    assert!(lines[3].contains("wsgiref.validate") && lines[3].contains("Werkzeug has none"), "{banner}");
    assert!(lines[4].starts_with("WARNING: this is a development server, not for production"), "{banner}");
    assert!(lines[4].contains("Serve the app with a production WSGI server instead"), "{banner}");
    assert_eq!(lines[5], format!(" * Running on http://{}", server.server_address()));
    assert!(lines[6].starts_with(" * Press Ctrl+C to quit (at once"), "{banner}");
    assert!(!banner.contains("reachable from other machines"), "loopback is this machine only: {banner}");

    let single = server.threaded(false);
    let banner = single.banner();
    let lines: Vec<&str> = banner.lines().collect();
    assert_eq!(lines[2], " * Threaded: no, one request at a time (as Werkzeug's threaded=False)");
    assert!(lines[4].starts_with("WARNING: this is a development server"), "{banner}");
}

#[test]
fn banner_warns_when_other_machines_can_reach_it() {
    // Bound to every interface (nothing connects to it: only the banner is read).
    let server = DevServer::bind(router(), "0.0.0.0", 0, false).unwrap().log_to(|_| {});
    let port = server.server_address().port();
    let banner = server.banner();
    let lines: Vec<&str> = banner.lines().collect();
    assert!(lines[4].starts_with("WARNING: this is a development server"), "{banner}");
    assert_eq!(
        lines[5],
        format!(
            "WARNING: the dev server is reachable from other machines at 0.0.0.0:{port}; it is not for \
             production (tiny_http accepts malformed requests: see the wsgi_lab::dev docs, src/dev.rs)"
        )
    );
    assert_eq!(lines[6], " * Running on all addresses (0.0.0.0)");
    assert_eq!(lines[7], format!(" * Running on http://127.0.0.1:{port}"));

    let debug = DevServer::bind(router(), "0.0.0.0", 0, true).unwrap().log_to(|_| {});
    assert!(
        debug.banner().contains(", debug on (a panic shows the request and environ);"),
        "{}",
        debug.banner()
    );
}

#[test]
fn proxy_headers_are_removed_unless_the_proxy_is_trusted() {
    // As on the production server: from anyone but the trusted proxy, X-Forwarded-* is removed.
    let request = "GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n\
                   Connection: close\r\n\r\n";
    let environ_of = |dev: &common::dev::Dev| -> serde_json::Value {
        let json: serde_json::Value = serde_json::from_slice(&dev.request(request).body).unwrap();
        json["environ"].clone()
    };
    let untrusted = environ_of(&start(wsgi_lab::apps::echo, false));
    assert_eq!(
        (untrusted.get("HTTP_X_FORWARDED_FOR"), &untrusted["REMOTE_ADDR"]),
        (None, &"127.0.0.1".into())
    );

    let policy =
        ProxyPolicy::new(Some([127, 0, 0, 1].into()), &["x-forwarded-for", "x-forwarded-proto"]).unwrap();
    let server = DevServer::bind(wsgi_lab::apps::echo, "127.0.0.1", 0, false).unwrap().trust_proxy(policy);
    let trusted = environ_of(&serve(server));
    assert_eq!(
        (&trusted["REMOTE_ADDR"], &trusted["wsgi.url_scheme"]),
        (&"203.0.113.7".into(), &"https".into())
    );
}

#[test]
fn log_requests_off_keeps_the_error_lines() {
    let server = DevServer::bind(panicking, "127.0.0.1", 0, false).unwrap().log_requests(false);
    let dev = serve(server);
    assert_eq!(dev.get("/ok").status, 200);
    assert_eq!(dev.get("/boom").status, 500);
    dev.wait_for_log("the app panicked: db-password-hunter2");
    assert!(!dev.log().iter().any(|l| l.starts_with("127.0.0.1 - - [")), "no access line: {:?}", dev.log());
}
