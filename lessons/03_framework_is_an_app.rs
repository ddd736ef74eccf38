//! Lesson 3: a framework is just an app.
//!
//! Flask's `app` is a WSGI app: waitress calls it as `app(environ, start_response)` without
//! knowing it is Flask. The lesson builds a tiny Flask-like router, calls it by hand like any
//! app, serves it with the waitress twin (`threads=1`), serves it again wrapped in middleware
//! (a timing header, and a mount under `/my-app`), and calls it in-process with the test
//! client, with no socket at all. Every caller gets the same answers, because they all meet
//! the router at the same contract.
//!
//! Run: `cargo run --release --bin lesson-03-framework-is-an-app` (`--quick` is accepted; this
//! lesson is quick).

mod common;

use common::{OrExit, exchange, heading, start, verdict};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;
use wsgi_lab::router::{Request, Response, Router};
use wsgi_lab::testing::Client;
use wsgi_lab::util::setup_testing_defaults;
use wsgi_lab::{App, Body, Environ, Mode, Mount, Options, StartResponse};

/// The app, written as one writes a Flask app: routes and handlers, no HTTP in sight.
fn flask_like_app() -> Router {
    Router::new()
        .route("/", |_: &Request| "Hello, World with waitress!!!")
        .route("/hi/<name>", |r: &Request| format!("Hello, {}!", r.param("name").unwrap_or("?")))
        .route("/whoami", |r: &Request| {
            let environ = r.environ();
            format!(
                "SCRIPT_NAME={:?} PATH_INFO={:?}",
                environ.get("SCRIPT_NAME").unwrap_or(""),
                environ.get("PATH_INFO").unwrap_or("")
            )
        })
        .post("/items", |r: &Request| Response::text(format!("added {}\n", r.text())).status(201))
}

/// Middleware: times the app and adds a `Server-Timing` header to its response. It is an app
/// (it implements `App`) that holds another app, so servers cannot tell it from the router.
///
/// The header can only be added once the app has returned, so the middleware records what the
/// app passed to `start_response` and replays it afterwards, one header longer. A streaming
/// body would still be running after that; this times the call, which is all a list body needs.
struct Timing<A> {
    app: A,
}

/// One call the app made to `start_response`: whether it was the error form, the status, the
/// headers.
type Call = (bool, String, Vec<(String, String)>);

/// What an app passed to `start_response`: the status and the headers.
type Started = (String, Vec<(String, String)>);

impl<A: App> App for Timing<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let calls: RefCell<Vec<Call>> = RefCell::new(Vec::new());
        let owned = |headers: Vec<(&str, &str)>| -> Vec<(String, String)> {
            headers.into_iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
        };
        let start = |status: &str, headers: Vec<(&str, &str)>| {
            calls.borrow_mut().push((false, status.to_string(), owned(headers)));
        };
        let error = |status: &str, headers: Vec<(&str, &str)>| {
            calls.borrow_mut().push((true, status.to_string(), owned(headers)));
        };
        let started = Instant::now();
        let body = self.app.call(environ, StartResponse::new(&start, &error));
        let timing = format!("app;dur={:.3}", started.elapsed().as_secs_f64() * 1000.0);
        // Replayed in order, so a mistake of the app (a second start_response, say) still
        // reaches the server's checks.
        for (is_error, status, headers) in calls.into_inner() {
            let mut headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            headers.push(("Server-Timing", &timing));
            if is_error {
                start_response.error(&status, headers);
            } else {
                start_response(&status, headers);
            }
        }
        body
    }
}

/// What a caller saw: status code, Content-Type, the body.
#[derive(Debug, PartialEq)]
struct Seen {
    status: u16,
    content_type: String,
    body: String,
}

/// One request the lesson sends, as (method, path, body).
const REQUESTS: [(&str, &str, &str); 6] = [
    ("GET", "/", ""),
    ("GET", "/hi/Ada", ""),
    ("GET", "/whoami", ""),
    ("POST", "/items", "apple"),
    ("GET", "/nowhere", ""),
    ("DELETE", "/hi/Ada", ""),
];

/// Sends one request over a socket and returns what came back, plus the response's headers.
fn over_socket(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (Seen, Vec<(String, String)>) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = exchange(addr, &request);
    let (head, text) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let content_type = find(&headers, "content-type").unwrap_or_default();
    (Seen { status: common::status(&response), content_type, body: text.to_string() }, headers)
}

/// Calls the app in-process, with the test client: no socket, no server, the same environ.
fn in_process(client: &Client, method: &str, path: &str, body: &str) -> Seen {
    let mut request = client.request(method, path);
    if !body.is_empty() || method == "POST" {
        request = request.body(body);
    }
    let response = request.send();
    Seen {
        status: response.status_code(),
        content_type: response.header("content-type").unwrap_or("").to_string(),
        body: response.text(),
    }
}

fn find(headers: &[(String, String)], name: &str) -> Option<String> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
}

fn short(text: &str) -> String {
    let line = text.trim_end().replace('\n', " ");
    if line.chars().count() > 44 { format!("{}...", line.chars().take(41).collect::<String>()) } else { line }
}

fn main() {
    println!("Lesson 3: a framework is just an app");
    println!("====================================");
    // One router, shared: every server and the test client call the same object.
    let router = Arc::new(flask_like_app());

    heading("The router, called by hand like any app");
    println!("Router implements App, so it is called as app(environ, start_response):\n");
    let mut environ = Environ::new();
    setup_testing_defaults(&mut environ);
    environ.set("PATH_INFO", "/hi/Ada");
    let told: RefCell<Option<Started>> = RefCell::new(None);
    let record = |status: &str, headers: Vec<(&str, &str)>| {
        let headers = headers.into_iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        *told.borrow_mut() = Some((status.to_string(), headers));
    };
    let chunks: Vec<Vec<u8>> = router.call(&environ, StartResponse::new(&record, &record)).collect();
    let (status, headers) = told.into_inner().unwrap_or_default();
    let by_hand = String::from_utf8_lossy(&chunks.concat()).into_owned();
    println!("  environ          PATH_INFO = '/hi/Ada' (and the other keys a server sets)");
    println!("  start_response   ({status:?}, {headers:?})");
    println!("  body             {:?} in {} chunk(s)", by_hand, chunks.len());
    println!();
    verdict(
        status == "200 OK" && by_hand == "Hello, Ada!",
        "the router answered \"200 OK\" and \"Hello, Ada!\" with no server involved",
        &format!("the router answered {status:?} {by_hand:?}"),
    );

    heading("Three callers, one contract");
    // serve(app, threads=1) blocks, so the lesson starts the same server on a thread of its own.
    let plain = start(router.clone(), Mode::Pool, Options { threads: 1, ..Options::default() });
    let wrapped_app = Mount::new("/my-app", Timing { app: router.clone() });
    let wrapped = start(wrapped_app, Mode::Pool, Options { threads: 1, ..Options::default() });
    let client = Client::new(&*router);
    println!("  a  {:<52} {}", "serve(router, threads=1)", plain.url());
    println!("  b  {:<52} {}/my-app", "serve(Mount(\"/my-app\", Timing(router)), threads=1)", wrapped.url());
    println!("  c  Client::new(&router): in-process, no socket");
    println!();
    println!(
        "  {:<20} {:<44} {:>3} {:>3} {:>3}  b's Server-Timing",
        "request", "a: body over the socket", "a", "b", "c"
    );
    let mut same_a_c = 0;
    let mut same_a_b = 0;
    let mut timed = 0;
    let mut whoami_b = String::new();
    for (method, path, body) in REQUESTS {
        let (a, _) = over_socket(plain.addr(), method, path, body);
        let (b, b_headers) = over_socket(wrapped.addr(), method, &format!("/my-app{path}"), body);
        let c = in_process(&client, method, path, body);
        let timing = find(&b_headers, "server-timing");
        if path == "/whoami" {
            // The one answer that must differ: mounted, the router sees its prefix.
            whoami_b = b.body.clone();
        } else if a == b {
            same_a_b += 1;
        }
        same_a_c += usize::from(a == c);
        timed += usize::from(timing.is_some());
        println!(
            "  {:<20} {:<44} {:>3} {:>3} {:>3}  {}",
            format!("{method} {path}"),
            short(&a.body),
            a.status,
            b.status,
            c.status,
            timing.as_deref().unwrap_or("(none)")
        );
    }
    let (outside_seen, outside) = over_socket(wrapped.addr(), "GET", "/hi/Ada", "");
    let outside_status = outside_seen.status;
    println!();
    println!("  b, GET /my-app/whoami        {whoami_b}");
    println!(
        "  b, GET /hi/Ada (no prefix)   {outside_status} {:?}, Server-Timing: {}",
        outside_seen.body.trim_end(),
        find(&outside, "server-timing").as_deref().unwrap_or("(none)")
    );
    println!();
    println!("The socket answers also carry Date, Server and Content-Length: those are the server's");
    println!("(lesson 1). The status, the Content-Type and the body are the app's, and they match.");
    println!();

    let n = REQUESTS.len();
    verdict(
        same_a_c == n,
        &format!(
            "{same_a_c} of {n} answers identical over the socket (a) and in-process (c): status, Content-Type, body"
        ),
        &format!("only {same_a_c} of {n} answers matched between a and c"),
    );
    verdict(
        same_a_b == n - 1 && timed == n,
        &format!(
            "wrapped in middleware (b), the router gave the same {} answers under /my-app (all but \
             /whoami, below), each with a Server-Timing header the router never set",
            n - 1
        ),
        &format!("b matched a on {same_a_b} of {} requests, {timed} of {n} had Server-Timing", n - 1),
    );
    verdict(
        whoami_b == "SCRIPT_NAME=\"/my-app\" PATH_INFO=\"/whoami\"",
        "mounted, the router saw SCRIPT_NAME=\"/my-app\" and only PATH_INFO=\"/whoami\": its routes did not change",
        &format!("mounted, /whoami said {whoami_b}"),
    );
    verdict(
        outside_status == 404 && find(&outside, "server-timing").is_none(),
        "outside the prefix Mount answered 404 itself: the timing middleware and the router were never called",
        &format!("outside the prefix: {outside_status}, Server-Timing {:?}", find(&outside, "server-timing")),
    );

    plain.stop().or_exit("the server did not stop cleanly");
    wrapped.stop().or_exit("the server did not stop cleanly");
    println!("\nservers stopped.");
}
