//! Lesson 1: the wsgiref tutorial's program, line by line, and the bytes it puts on the wire.
//!
//! The app is `examples/hello_wsgi.rs` (the tutorial's `Web_App`); the server is wsgiref's
//! `make_server`, single-threaded. The lesson serves the app on a free port, sends one request
//! by hand and prints the exact bytes both ways, so the reader sees which bytes the app wrote
//! and which the server added. Then it shows `serve_forever` as the loop it is: accept, read
//! one request, call the app, write, close, again. With the Python environment (`wsgi-lab
//! python setup`; `--no-python` to leave it out), the same request also goes to the tutorial's
//! own program on wsgiref, and each difference is named on a line of its own.
//!
//! Run: `cargo run --release --bin lesson-01-hello-wsgi` (`--quick` is accepted; this lesson is
//! quick).

mod common;
mod python_side;

use common::{OrExit, body, heading, verdict};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use wsgi_lab::{Body, Environ, Mode, Options, Server, StartResponse};

/// The body the app returns: the verdicts compare the wire against it.
const APP_BODY: &[u8] = b"<h2>Hi there, this is WSGI server</h2>";

/// The tutorial's `Web_App`, as in `examples/hello_wsgi.rs`.
fn web_app(_environ: &Environ, start_response: StartResponse) -> Body {
    let status = "200 OK";
    let headers = vec![("content-type", "text/html; charset=utf-8")];
    start_response(status, headers);
    Body::from(vec![APP_BODY.to_vec()])
}

/// The program next to its Python, one line at a time, with what each line means.
const WALKTHROUGH: [(&str, &str, &str); 7] = [
    (
        "def Web_App(environment, response):",
        "fn web_app(environ: &Environ, start_response: StartResponse) -> Body",
        "An app is a function of two things: the request as CGI-style keys (environ, lesson 2)\n\
         and a callable that sets the status and headers (start_response).",
    ),
    (
        "    status = '200 OK'",
        "    let status = \"200 OK\";",
        "Three digits, a space, a reason. The server checks it; \"200\" alone is a 500.",
    ),
    (
        "    headers = [('content-type', ...)]",
        "    let headers = vec![(\"content-type\", \"text/html; charset=utf-8\")];",
        "A list of (name, value) pairs, in the app's order. Only what describes the content:\n\
         Date, Server and the framing (Content-Length, Connection) are the server's job.",
    ),
    (
        "    response(status, headers)",
        "    start_response(status, headers);",
        "Nothing is sent yet: the server remembers the status and headers and writes them when\n\
         the app returns its body.",
    ),
    (
        "    return [b'<h2>Hi there, ...</h2>']",
        "    Body::from(vec![b\"<h2>Hi there, ...</h2>\".to_vec()])",
        "The body is a list of byte strings, not text: the app chose UTF-8 and said so in\n\
         content-type. One chunk means the server can count its length.",
    ),
    (
        "with make_server('', 5000, Web_App) as server:",
        "let server = make_server(\"\", 5000, web_app)?;",
        "Binds the port ('' = every interface) and remembers the app. Nothing is served yet.",
    ),
    (
        "    server.serve_forever()",
        "server.serve_forever()?;",
        "The loop: accept a connection, read one request, build the environ, call the app,\n\
         write the response, close the connection, and go round again until shut down.",
    ),
];

/// Prints bytes sent or received one line per line, with the CR LF made visible, so the
/// learner sees exactly what is on the wire.
fn show_wire(arrow: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let mut rest: &str = &text;
    while !rest.is_empty() {
        match rest.split_once("\r\n") {
            Some((line, after)) => {
                println!("  {arrow} {line}\\r\\n");
                rest = after;
            }
            None => {
                println!("  {arrow} {rest}");
                break;
            }
        }
    }
}

/// Sends `request` on a new connection and reads until the server closes it.
fn exchange_bytes(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("a read timeout");
    stream.write_all(request).expect("send the request");
    let mut answer = Vec::new();
    // Ends when the server closes: wsgiref's loop closes after every response.
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// The header lines of a response, as (name, value).
fn headers_of(response: &str) -> Vec<(String, String)> {
    let head = response.split_once("\r\n\r\n").map_or(response, |(h, _)| h);
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The same request to the tutorial's own program on wsgiref (`examples/python/hello_wsgi.py`):
/// both answers in two columns, then each difference on a line of its own.
fn beside_wsgiref(python: &python_side::Python, ours: &str) {
    heading("The same request to wsgiref (the real Python)");
    let wsgiref =
        python_side::PythonServer::start(python, &["hello_wsgi.py"]).or_exit("cannot start hello_wsgi.py");
    let addr = wsgiref.addr();
    let raw = exchange_bytes(
        addr,
        format!("GET / HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: lesson-01\r\n\r\n").as_bytes(),
    );
    let theirs = String::from_utf8_lossy(&raw).into_owned();
    println!("examples/python/hello_wsgi.py on wsgiref at http://{addr}, the same bytes sent:\n");
    let status_line = |r: &str| r.lines().next().unwrap_or("").to_string();
    let (ours_h, theirs_h) = (headers_of(ours), headers_of(&theirs));
    println!("  {:<44} wsgi-lab", "wsgiref");
    println!("  {:<44} {}", status_line(&theirs), status_line(ours));
    for row in 0..ours_h.len().max(theirs_h.len()) {
        let cell = |h: &[(String, String)]| h.get(row).map_or(String::new(), |(n, v)| format!("{n}: {v}"));
        println!("  {:<44} {}", cell(&theirs_h), cell(&ours_h));
    }
    let (ours_body, theirs_body) = (body(ours), body(&theirs));
    let theirs_length = format!("body: {} bytes", theirs_body.len());
    println!("  {theirs_length:<44} body: {} bytes", ours_body.len());
    println!();
    // Each difference named, with where it is decided.
    let find = |h: &[(String, String)], name: &str| {
        h.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    };
    let version = |r: &str| r.split(' ').next().unwrap_or("").to_string();
    let mut differences = Vec::new();
    if version(&theirs) != version(ours) {
        differences.push(format!(
            "wsgiref: {}; wsgi-lab: {}, see SPEC.md §4",
            version(&theirs),
            version(ours)
        ));
    }
    for (name, why) in [
        ("Server", "each server names itself"),
        ("Connection", "wsgiref's HTTP/1.0 already means one request per connection"),
    ] {
        let (t, o) = (find(&theirs_h, name), find(&ours_h, name));
        if t != o {
            let show = |v: Option<String>| v.map_or("no ".to_string() + name, |v| format!("{name}: {v}"));
            differences.push(format!("wsgiref: {}; wsgi-lab: {} ({why})", show(t), show(o)));
        }
    }
    let names = |h: &[(String, String)]| h.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>().join(", ");
    differences.push(format!(
        "header order: wsgiref writes {}; wsgi-lab writes {} (HTTP gives order no meaning across names)",
        names(&theirs_h),
        names(&ours_h)
    ));
    for difference in &differences {
        println!("  difference: {difference}");
    }
    println!();
    verdict(
        version(&theirs) == "HTTP/1.0" && version(ours) == "HTTP/1.1",
        "wsgiref answers HTTP/1.0 to an HTTP/1.1 request; wsgi-lab answers HTTP/1.1 (SPEC.md §4)",
        &format!("wsgiref said {:?}, wsgi-lab {:?}", version(&theirs), version(ours)),
    );
    verdict(
        theirs_body == ours_body
            && find(&theirs_h, "content-type") == find(&ours_h, "content-type")
            && find(&theirs_h, "content-length") == find(&ours_h, "content-length"),
        &format!(
            "the same {}-byte body, content-type and Content-Length from both: the app's part is identical",
            theirs_body.len()
        ),
        "the bodies, types or lengths differ",
    );
    let two =
        format!("GET /first HTTP/1.1\r\nHost: {addr}\r\n\r\nGET /second HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let answered = String::from_utf8_lossy(&exchange_bytes(addr, two.as_bytes())).matches("HTTP/1.").count();
    println!(
        "  wsgiref: 2 requests written on one connection: {answered} response(s), then the connection closed"
    );
    verdict(
        answered == 1,
        "wsgiref's serve_forever also answers one request per connection",
        &format!("wsgiref answered {answered} requests on one connection"),
    );
}

fn main() {
    println!("Lesson 1: the wsgiref program, line by line");
    println!("===========================================");

    heading("The program, Python beside Rust");
    for (python, rust, meaning) in WALKTHROUGH {
        println!("  python: {python}");
        println!("  rust:   {rust}");
        for line in meaning.lines() {
            println!("          {line}");
        }
        println!();
    }

    heading("Serving it");
    // make_server's twin on 127.0.0.1 port 0 (a free port) instead of '' and 5000, so the lesson
    // never clashes with another program; single-threaded, as wsgiref.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").or_exit("cannot bind 127.0.0.1:0");
    let options = Options { quiet: true, ..Options::default() };
    let server =
        Server::from_listener(listener, web_app, options, Mode::Single).or_exit("cannot start the server");
    println!("{}", server.startup_line());
    let stats = server.stats();
    let running = server.spawn();
    let addr = running.addr();

    heading("One request, byte for byte");
    println!("What a browser sends, trimmed to what matters. HTTP/1.1 without `Connection: close`,");
    println!("so the client would happily keep the connection open for more requests.\n");
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: lesson-01\r\n\r\n");
    println!("sent ({} bytes):", request.len());
    show_wire(">", request.as_bytes());
    let raw = exchange_bytes(addr, request.as_bytes());
    let response = String::from_utf8_lossy(&raw).into_owned();
    println!("\nreceived ({} bytes), then the server closed the connection:", raw.len());
    show_wire("<", &raw);

    heading("Who wrote which bytes");
    let headers = headers_of(&response);
    let body_bytes = body(&response).as_bytes();
    let app_headers = ["content-type"];
    let server_added: Vec<&str> = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !app_headers.iter().any(|a| a.eq_ignore_ascii_case(n)))
        .collect();
    let header =
        |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    println!(
        "  status line          {}   (the app's status, after the server's HTTP/1.1)",
        response.lines().next().unwrap_or("")
    );
    println!("  set by the app       content-type: {}", header("content-type").unwrap_or("(missing)"));
    println!("  added by the server  {}", server_added.join(", "));
    println!("  body                 {} bytes, the app returned {} bytes", body_bytes.len(), APP_BODY.len());
    let length: Option<usize> = header("content-length").and_then(|v| v.parse().ok());
    println!("  Content-Length       {}", length.map_or("(missing)".to_string(), |n| n.to_string()));
    println!();

    verdict(
        response.starts_with("HTTP/1.1 200 OK\r\n"),
        "the status line carries the app's \"200 OK\"",
        &format!("the status line is {:?}", response.lines().next()),
    );
    verdict(
        body_bytes == APP_BODY,
        &format!("the body is the {} bytes the app returned, byte for byte", APP_BODY.len()),
        "the body on the wire differs from what the app returned",
    );
    let framing = ["Date", "Server", "Content-Length", "Connection"];
    let added_all = framing.iter().all(|f| server_added.iter().any(|n| n.eq_ignore_ascii_case(f)));
    verdict(
        added_all,
        "the server added Date, Server, Content-Length and Connection, which the app did not set",
        &format!("the server added only {server_added:?}"),
    );
    verdict(
        length == Some(APP_BODY.len()) && header("connection") == Some("close"),
        &format!(
            "Content-Length {} = the body's length (one chunk, so the server could count it), and \
             Connection: close",
            APP_BODY.len()
        ),
        &format!("Content-Length {length:?}, Connection {:?}", header("connection")),
    );

    heading("serve_forever is a loop");
    println!("  while not shut down:");
    println!("      connection = accept()           # wait for the next client");
    println!("      request = read one request      # the bytes above, parsed");
    println!("      body = app(environ, start_response)");
    println!("      write status, headers, body     # plus Date, Server, Content-Length");
    println!("      close the connection            # one request per connection (wsgiref)");
    println!();
    // Two requests written at once on one connection: a loop that closes after one response
    // answers only the first.
    let two =
        format!("GET /first HTTP/1.1\r\nHost: {addr}\r\n\r\nGET /second HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let before = stats.snapshot();
    let answer = String::from_utf8_lossy(&exchange_bytes(addr, two.as_bytes())).into_owned();
    let answered_on_one = answer.matches("HTTP/1.1 ").count();
    println!(
        "  2 requests written on one connection: {answered_on_one} response(s), then the connection closed"
    );
    let rounds = 3;
    for _ in 0..rounds {
        let _ = exchange_bytes(addr, format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes());
    }
    let after = stats.snapshot();
    let accepted = after.accepted - before.accepted;
    let served = after.served - before.served;
    println!("  then {rounds} requests, one after the other, each on a new connection");
    println!(
        "  the server's counters over these {} connections: {accepted} accepted, {served} answered",
        rounds + 1
    );
    println!();
    verdict(
        answered_on_one == 1,
        "one response per connection: the second request on the same connection was never answered",
        &format!("{answered_on_one} responses on one connection"),
    );
    verdict(
        accepted == rounds + 1 && served == rounds + 1,
        &format!(
            "{} connections accepted and {} requests answered: the loop went round once per connection",
            rounds + 1,
            rounds + 1
        ),
        &format!("{accepted} accepted, {served} answered for {} connections", rounds + 1),
    );

    if let Some(python) = python_side::enabled() {
        beside_wsgiref(&python, &response);
    }

    running.stop().or_exit("the server did not stop cleanly");
    println!("\nserver stopped.");
}
