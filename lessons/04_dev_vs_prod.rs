//! Lesson 4: the `mode` switch, development server against production server.
//!
//! The tutorial switches one variable: `app.run(debug=True)` in development, waitress's
//! `serve(app, threads=1)` in production. The lesson runs one app on both and sends each the
//! same requests: a good one, one whose handler panics, two that break the app contract, and
//! two slow clients. What differs is what each server is for: the dev server shows mistakes
//! loudly to the developer; the production server hides them from clients, logs them, and
//! protects itself from clients that never finish.
//!
//! Run: `cargo run --release --bin lesson-04-dev-vs-prod` (full), `-- --quick` for shorter
//! timeouts.
//! The production server's log goes to stderr, as waitress's does.

mod common;

use common::{OrExit, heading, quick, secs, verdict};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wsgi_lab::router::{Request, Response, Router};
use wsgi_lab::{App, Body, DevServer, Environ, Mode, Options, Server, StartResponse};

/// The panic message of `/oops`: the lesson looks for it in pages and logs.
const PANIC_MESSAGE: &str = "division by zero in the oops route";

/// The body the stalled POST declares: more than the 1 KiB tiny_http reads up front on its own
/// thread, so the dev server's worker reads it, and waits. Far below the dev server's limit
/// (a huge declared length would leak a thread there; see src/dev.rs).
const DECLARED: usize = 2000;

/// A cookie a header value with a line break would smuggle into the response.
const SMUGGLED: &str = "Set-Cookie: admin=1";

fn index(_: &Request) -> &'static str {
    "Hello, World with waitress!!!"
}

fn oops(_: &Request) -> &'static str {
    panic!("{PANIC_MESSAGE}");
}

/// Breaks the contract: a header value holding CR LF would end the header line early and start
/// a header of the attacker's choosing (response splitting).
fn split(_: &Request) -> Response {
    Response::text("note attached\n").header("X-Note", &format!("first line\r\n{SMUGGLED}"))
}

/// Breaks the contract more quietly: a body with no Content-Type. Written as a raw app, because
/// the router always adds Flask's default type.
fn untyped(_: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![]);
    Body::from("what am I? the client has to guess\n")
}

/// The app both servers run: a router, plus one raw route in front of it.
fn app() -> impl App {
    let router = Router::new().route("/", index).route("/oops", oops).route("/split", split);
    move |environ: &Environ, start_response: StartResponse| {
        if environ.get("PATH_INFO") == Some("/untyped") {
            untyped(environ, start_response)
        } else {
            router.call(environ, start_response)
        }
    }
}

/// A server started by [`launch`]: where it listens, and how to stop it.
struct Launched {
    addr: SocketAddr,
    stop: Box<dyn FnOnce()>,
}

/// The tutorial's switch:
///
/// ```python
/// if mode == "dev":
///     app.run(host='0.0.0.0', port=50100, debug=True)
/// else:
///     serve(app, host='0.0.0.0', port=50100, threads=1)
/// ```
///
/// with a free port on 127.0.0.1, and in the background so the lesson can talk to both.
fn launch(mode: &str, header_timeout: Duration, dev_log: Arc<Mutex<Vec<String>>>) -> Launched {
    let listener = TcpListener::bind("127.0.0.1:0").or_exit("cannot bind 127.0.0.1:0");
    if mode == "dev" {
        let server = DevServer::from_listener(listener, app(), true)
            .or_exit("cannot start the dev server")
            .log_to(move |line| dev_log.lock().unwrap_or_else(|e| e.into_inner()).push(line.to_string()));
        let (addr, handle) = (server.server_address(), server.shutdown_handle());
        let serving = std::thread::spawn(move || server.serve_forever());
        let stop = move || {
            handle.shutdown();
            let _ = serving.join();
        };
        Launched { addr, stop: Box::new(stop) }
    } else {
        // As waitress: errors in the log, no line per request.
        let options = Options { threads: 1, header_timeout, log_requests: false, ..Options::default() };
        let running = Server::from_listener(listener, app(), options, Mode::Pool)
            .or_exit("cannot start the server")
            .spawn();
        let addr = running.addr();
        Launched { addr, stop: Box::new(move || running.stop().or_exit("the server did not stop cleanly")) }
    }
}

/// What one server answered to one request.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

fn get(addr: SocketAddr, path: &str) -> Answer {
    let response = common::get(addr, path);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Answer { status: common::status(&response), head: head.to_string(), body: body.to_string() }
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .filter_map(|l| l.split_once(": "))
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// One line that says what came back.
    fn summary(&self) -> String {
        let kind = self.header("content-type").unwrap_or("no Content-Type");
        let first = if kind.starts_with("text/html") && self.body.contains("<pre>") {
            // The dev server's debug page: the panic message is in its first <pre>.
            let message = self.body.split("<pre>").nth(1).and_then(|p| p.split("</pre>").next());
            format!("HTML page, its <pre>: {:?}", message.unwrap_or(""))
        } else {
            format!("{:?}", self.body.lines().next().unwrap_or(""))
        };
        format!("{} ({kind}) {first}", self.status)
    }
}

/// Sends half a request head (no blank line after it) and waits up to `hold` for the server to
/// answer or close. Returns the status the server sent, if any, and when the connection ended;
/// `None` as the time means it was still open at `hold`, and the client closed it.
fn half_head(addr: SocketAddr, hold: Duration) -> (Option<u16>, Option<Duration>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let started = Instant::now();
    let _ = stream.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\n").as_bytes());
    let _ = stream.set_read_timeout(Some(hold));
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            // A reset also ends the connection: what matters is that the server ended it.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(_) => return (None, None), // still open at `hold`: dropping the stream closes it
        }
    }
    let status = common::status(&String::from_utf8_lossy(&answer));
    ((status != 0).then_some(status), Some(started.elapsed()))
}

/// Declares a body of [`DECLARED`] bytes and sends 3 of them; `lead` later, times a `GET /` from
/// another client. The slow client gives up after `hold`. Returns the status and how long the
/// `GET /` took.
fn stuck_body(addr: SocketAddr, hold: Duration, lead: Duration) -> (u16, Duration) {
    let mut slow = TcpStream::connect(addr).expect("connect");
    let _ = slow.write_all(
        format!("POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {DECLARED}\r\n\r\nabc").as_bytes(),
    );
    // The slow client goes away after `hold`, whatever happens: that bounds the demonstration.
    let giving_up = std::thread::spawn(move || {
        std::thread::sleep(hold);
        drop(slow);
    });
    std::thread::sleep(lead);
    let (response, took) = common::timed(|| common::get(addr, "/"));
    let _ = giving_up.join();
    (common::status(&response), took)
}

/// Seconds with three decimals, for waits that may be a millisecond.
fn precise(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn main() {
    // Both servers catch the panic and report it their own way (the page, the log); the default
    // hook would print a third copy with a backtrace hint, so the lesson silences it.
    std::panic::set_hook(Box::new(|_| {}));
    let (header_timeout, hold) = if quick() {
        (Duration::from_millis(500), Duration::from_secs(2))
    } else {
        (Duration::from_secs(2), Duration::from_secs(5))
    };

    println!("Lesson 4: the mode switch, dev server against production server");
    println!("=================================================================");
    let dev_log = Arc::new(Mutex::new(Vec::new()));
    let dev = launch("dev", header_timeout, dev_log.clone());
    let prod = launch("prod", header_timeout, dev_log.clone());
    println!("  mode = \"dev\"   DevServer, debug=True (Flask's app.run)        http://{}", dev.addr);
    println!(
        "  mode = \"prod\"  serve(app, threads=1), header_timeout {}   http://{}",
        secs(header_timeout),
        prod.addr
    );
    println!("  Both write to stderr too: the production server its error lines, as waitress does, and");
    println!("  the dev server's validator its findings (`wsgi-lab validate: ...`). Run with 2>&1 to");
    println!("  see them in place; the dev server's access log is captured and shown at the end.");

    heading("GET /: a good request");
    let (d, p) = (get(dev.addr, "/"), get(prod.addr, "/"));
    println!("  dev   {}", d.summary());
    println!("  prod  {}", p.summary());
    println!();
    verdict(
        d.status == 200 && p.status == 200 && d.body == p.body,
        "both servers give the same 200 and the same body: for a correct app, the mode changes nothing the client sees",
        &format!("dev {} {:?}, prod {} {:?}", d.status, d.body, p.status, p.body),
    );

    heading("GET /oops: the handler panics");
    let (d, p) = (get(dev.addr, "/oops"), get(prod.addr, "/oops"));
    println!("  dev   {}", d.summary());
    println!("  prod  {}", p.summary());
    println!();
    verdict(
        d.status == 500 && d.body.contains(PANIC_MESSAGE),
        "dev (debug on) answers 500 with a page that shows the panic message, the request and the environ",
        &format!("dev answered {} without the message", d.status),
    );
    verdict(
        p.status == 500 && !p.body.contains(PANIC_MESSAGE),
        "prod answers a generic 500: the message stays in the server's log (stderr), never in the page",
        &format!("prod answered {} {:?}", p.status, p.body),
    );

    heading("GET /split: a header value with a line break (response splitting)");
    let (d, p) = (get(dev.addr, "/split"), get(prod.addr, "/split"));
    println!("  the app set X-Note: \"first line\\r\\n{SMUGGLED}\"");
    println!("  dev   {}", d.summary());
    for line in d.body.lines().filter(|l| l.starts_with("- ")) {
        println!("          {line}");
    }
    println!("  prod  {}", p.summary());
    println!();
    let leaked = |a: &Answer| a.header("set-cookie").is_some();
    verdict(
        d.status == 500 && p.status == 500 && !leaked(&d) && !leaked(&p),
        "neither server sent the smuggled Set-Cookie: both refuse the response with a 500",
        "a server let the header through",
    );
    verdict(
        d.body.contains("CR, LF or NUL") && !p.body.contains("CR, LF"),
        "dev's validator says in the page what is wrong and what to do; prod says it only in its log",
        "the pages do not differ as expected",
    );

    heading("GET /untyped: a response with no Content-Type");
    let (d, p) = (get(dev.addr, "/untyped"), get(prod.addr, "/untyped"));
    println!("  dev   {}", d.summary());
    for line in d.body.lines().filter(|l| l.starts_with("- ")) {
        println!("          {line}");
    }
    println!("  prod  {}", p.summary());
    println!();
    verdict(
        d.status == 500 && d.body.contains("Content-Type"),
        "dev always runs the validator (wsgiref's validate.py): a missing Content-Type is a 500 that says so",
        &format!("dev answered {}", d.status),
    );
    verdict(
        p.status == 200 && p.header("content-type").is_none(),
        "prod checks only what would corrupt the HTTP stream; this response is legal HTTP, so it is sent as is",
        &format!("prod answered {} with Content-Type {:?}", p.status, p.header("content-type")),
    );

    heading("Slow clients: what the dev server does not protect against");
    println!("Two clients that never finish, sent to both servers at once:");
    println!("  1. half a request head, no blank line: `GET / HTTP/1.1\\r\\nHost: ...\\r\\n`");
    println!("  2. a POST declaring a {DECLARED}-byte body and sending 3 bytes; 0.2 s later another client");
    println!("     sends GET / and we time how long it waits.");
    println!("Each slow client gives up by itself after {} (the lesson bounds its own wait).", secs(hold));
    println!();
    let lead = Duration::from_millis(200);
    let ((dev_head, prod_head), (dev_body, prod_body)) = std::thread::scope(|s| {
        let dh = s.spawn(|| half_head(dev.addr, hold));
        let ph = s.spawn(|| half_head(prod.addr, hold));
        let db = s.spawn(|| stuck_body(dev.addr, hold, lead));
        let pb = s.spawn(|| stuck_body(prod.addr, hold, lead));
        let heads = (dh.join().expect("a probe"), ph.join().expect("a probe"));
        (heads, (db.join().expect("a probe"), pb.join().expect("a probe")))
    });
    let ended = |(status, time): (Option<u16>, Option<Duration>)| match (status, time) {
        (Some(code), Some(t)) => format!("answered {code} and closed after {}", secs(t)),
        (None, Some(t)) => format!("closed without an answer after {}", secs(t)),
        (_, None) => format!("still open after {}: the client hung up", secs(hold)),
    };
    println!("  1. half a head       dev:  {}", ended(dev_head));
    println!("                       prod: {}", ended(prod_head));
    println!("  2. GET / behind it   dev:  {} after {}", dev_body.0, precise(dev_body.1));
    println!("                       prod: {} after {}", prod_body.0, precise(prod_body.1));
    println!();
    println!("The dev server (tiny_http) has no timeouts: a connection that never finishes its head");
    println!("holds a thread and a socket for as long as the client likes. Worse, its one worker reads");
    println!("a request's body itself, so a body that does not come blocks every other client. The");
    println!("production server never waits on a socket: a worker takes the bytes that have arrived");
    println!("and moves on, the connection waits in the poller for more, and the app runs only once");
    println!("the request is complete; a head or a body that stalls past header_timeout gets a 408.");
    println!();
    verdict(
        prod_head.0 == Some(408) && prod_head.1.is_some_and(|t| t < hold),
        &format!(
            "prod answered the half head with 408 after {} (header_timeout {})",
            prod_head.1.map_or("?".into(), secs),
            secs(header_timeout)
        ),
        &format!("prod: {}", ended(prod_head)),
    );
    verdict(
        dev_head.1.is_none(),
        &format!("dev still held the half head open after {}, answering nothing", secs(hold)),
        &format!("dev: {}", ended(dev_head)),
    );
    // The dev GET waits for the slow client to give up (hold - lead); prod's does not wait for
    // it at all. "Less than half of that" leaves room for a busy machine.
    let waited = hold.saturating_sub(lead);
    verdict(
        dev_body.1 >= waited.mul_f64(0.8) && prod_body.1 < waited / 2 && prod_body.0 == 200,
        &format!(
            "behind a stalled body, GET / waited {} on dev (until the slow client gave up, {} after \
             the GET) and {} on prod, which did not wait for it",
            precise(dev_body.1),
            secs(waited),
            precise(prod_body.1),
        ),
        &format!("GET / took {} on dev, {} on prod", precise(dev_body.1), precise(prod_body.1)),
    );

    // The worker answered the stalled POST before the GET behind it, so its line is logged.
    // tiny_http ends a body quietly when the client hangs up; the dev server checks the length
    // itself, so the app is not called with 3 of the declared bytes.
    let truncated_refused = dev_log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|l| l.contains("\"POST / HTTP/1.1\" 400"));
    verdict(
        truncated_refused,
        &format!(
            "when the slow client hung up after 3 of {DECLARED} bytes, dev answered 400 instead of \
             calling the app (its own length check: tiny_http alone would pass the short body on)"
        ),
        "dev passed the truncated POST to the app",
    );

    (dev.stop)();
    (prod.stop)();
    heading("The dev server's log (werkzeug's format, captured with log_to)");
    for line in dev_log.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        println!("  {line}");
    }
    println!("\nservers stopped.");
}
