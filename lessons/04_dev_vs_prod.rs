//! Lesson 4: the `mode` switch, development server against production server.
//!
//! The tutorial switches one variable: `app.run(debug=True)` in development, waitress's
//! `serve(app, threads=1)` in production. The lesson runs one app on both and sends each the
//! same requests: a good one, one whose handler panics, two that break the app contract, and
//! two slow clients (sent also to the dev server with `threaded=False`). What differs is what
//! each server is for: the dev server shows mistakes loudly to the developer; the production
//! server hides them from clients, logs them, and protects itself from clients that never
//! finish.
//!
//! Run: `cargo run --release --bin lesson-04-dev-vs-prod` (full), `-- --quick` for shorter
//! timeouts.
//! The production server's log goes to stderr, as waitress's does. With the Python environment
//! (`--no-python` leaves it out), the tutorial's Flask app also runs on the real Werkzeug,
//! debugger off (`04_dev_vs_prod/werkzeug.rs`).

#[path = "04_dev_vs_prod/answer.rs"]
mod answer;
mod common;
mod python_side;
#[path = "04_dev_vs_prod/slow_clients.rs"]
mod slow_clients;
#[path = "04_dev_vs_prod/werkzeug.rs"]
mod werkzeug;

use answer::{Answer, get};
use slow_clients::{half_head, stuck_body};

use common::{OrExit, heading, quick, secs, verdict};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wsgi_lab::router::{Request, Response, Router};
use wsgi_lab::{App, Body, DevServer, Environ, Mode, Options, Server, StartResponse};

/// The panic message of `/oops`: the lesson looks for it in pages and logs.
const PANIC_MESSAGE: &str = "division by zero in the oops route";

/// The body the stalled POST declares: more than the 1 KiB tiny_http reads up front on its own
/// thread, so the dev server's request thread reads it, and waits. Far below the dev server's limit
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
    /// What the dev server prints when it starts (the production server: empty).
    banner: String,
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
///
/// `"dev"` is Flask's `app.run`: a thread per request. `"dev, threaded=False"` is the same
/// server answering one request at a time, for the slow clients below.
fn launch(mode: &str, header_timeout: Duration, dev_log: Arc<Mutex<Vec<String>>>) -> Launched {
    let listener = TcpListener::bind("127.0.0.1:0").or_exit("cannot bind 127.0.0.1:0");
    if mode.starts_with("dev") {
        let server = DevServer::from_listener(listener, app(), true)
            .or_exit("cannot start the dev server")
            .threaded(mode == "dev")
            .log_to(move |line| dev_log.lock().unwrap_or_else(|e| e.into_inner()).push(line.to_string()));
        let banner = server.banner();
        let (addr, handle) = (server.server_address(), server.shutdown_handle());
        let serving = std::thread::spawn(move || server.serve_forever());
        let stop = move || {
            handle.shutdown();
            let _ = serving.join();
        };
        Launched { addr, stop: Box::new(stop), banner }
    } else {
        // As waitress: errors in the log, no line per request.
        let options = Options { threads: 1, header_timeout, log_requests: false, ..Options::default() };
        let running = Server::from_listener(listener, app(), options, Mode::Pool)
            .or_exit("cannot start the server")
            .spawn();
        let addr = running.addr();
        let stop = move || running.stop().or_exit("the server did not stop cleanly");
        Launched { addr, stop: Box::new(stop), banner: String::new() }
    }
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
    println!();
    println!("The dev server's banner, which `app.run` prints on stderr as it starts:");
    for line in dev.banner.lines() {
        println!("  {line}");
    }

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
    let place = d.panic_place().unwrap_or("(none)").to_string();
    println!("  dev   {}", d.summary());
    println!("          and on the line below it: at {place}");
    println!("  prod  {}", p.summary());
    println!();
    verdict(
        d.status == 500 && d.body.contains(PANIC_MESSAGE),
        "dev (debug on) answers 500 with a page that shows the panic message, the request and the environ",
        &format!("dev answered {} without the message", d.status),
    );
    verdict(
        place.starts_with("lessons/04_dev_vs_prod.rs:"),
        &format!("dev's page says where the app panicked, file:line:column ({place}): the oops handler"),
        &format!("dev's page gave the place as {place:?}"),
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
        "dev always runs wsgi-lab's validator (our twin of wsgiref's validate.py; Werkzeug's dev server \
         has none): a missing Content-Type is a 500 that says so",
        &format!("dev answered {}", d.status),
    );
    verdict(
        p.status == 200 && p.header("content-type").is_none(),
        "prod checks only what would corrupt the HTTP stream; this response is legal HTTP, so it is sent as is",
        &format!("prod answered {} with Content-Type {:?}", p.status, p.header("content-type")),
    );

    heading("Slow clients: what the dev server does not protect against");
    println!("Two clients that never finish:");
    println!("  1. half a request head, no blank line: `GET / HTTP/1.1\\r\\nHost: ...\\r\\n`");
    println!("  2. a POST declaring a {DECLARED}-byte body and sending 3 bytes; 0.2 s later another client");
    println!("     sends GET / and we time how long it waits.");
    println!("Sent at once to dev (a thread per request, as app.run), to the same dev server with");
    println!("threaded=False (one request at a time), and to prod. Each slow client gives up by itself");
    println!("after {} (the lesson bounds its own wait).", secs(hold));
    println!();
    let single_log = Arc::new(Mutex::new(Vec::new()));
    let single = launch("dev, threaded=False", header_timeout, single_log);
    let lead = Duration::from_millis(200);
    let ((dev_head, prod_head), (dev_body, single_body, prod_body)) = std::thread::scope(|s| {
        let dh = s.spawn(|| half_head(dev.addr, hold));
        let ph = s.spawn(|| half_head(prod.addr, hold));
        let db = s.spawn(|| stuck_body(dev.addr, hold, lead));
        let sb = s.spawn(|| stuck_body(single.addr, hold, lead));
        let pb = s.spawn(|| stuck_body(prod.addr, hold, lead));
        let heads = (dh.join().expect("a probe"), ph.join().expect("a probe"));
        (heads, (db.join().expect("a probe"), sb.join().expect("a probe"), pb.join().expect("a probe")))
    });
    let ended = |(status, time): (Option<u16>, Option<Duration>)| match (status, time) {
        (Some(code), Some(t)) => format!("answered {code} and closed after {}", secs(t)),
        (None, Some(t)) => format!("closed without an answer after {}", secs(t)),
        (_, None) => format!("still open after {}: the client hung up", secs(hold)),
    };
    let (dev_threads, waited_on) =
        (dev_body.2, |b: (u16, Duration, usize)| format!("{} after {}", b.0, precise(b.1)));
    println!("  1. half a head       dev:                  {}", ended(dev_head));
    println!("                       prod:                 {}", ended(prod_head));
    let threads_held = if dev_threads == 1 {
        "1 request thread".to_string()
    } else {
        format!("{dev_threads} request threads")
    };
    println!(
        "  2. GET / behind it   dev:                  {} ({threads_held} running, the stalled POST's)",
        waited_on(dev_body)
    );
    println!("                       dev, threaded=False:  {}", waited_on(single_body));
    println!("                       prod:                 {}", waited_on(prod_body));
    println!();
    println!("The dev server (tiny_http) has no timeouts: a connection that never finishes its head");
    println!("holds one of tiny_http's threads and a socket for as long as the client likes. A body");
    println!("that does not come holds the thread that reads it. With a thread per request, Flask's");
    println!("default, only that thread waits and GET / is answered at once; but every stalled client");
    println!("costs a thread, and nothing limits how many (Werkzeug's server has no limit either).");
    println!("With threaded=False, the one thread waits in the read and every other client waits");
    println!("behind it. The production server never waits on a socket: a worker takes the bytes");
    println!("that have arrived and moves on, the connection waits in the poller for more, and the");
    println!("app runs only once the request is complete; a head or a body that stalls past");
    println!("header_timeout gets a 408.");
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
        &format!("dev (tiny_http) still held the half head open after {}, answering nothing", secs(hold)),
        &format!("dev: {}", ended(dev_head)),
    );
    // A GET that waits for the slow client waits until it gives up (hold - lead); one that does
    // not wait takes milliseconds. "Less than half of that" leaves room for a busy machine.
    let waited = hold.saturating_sub(lead);
    verdict(
        dev_body.0 == 200 && dev_body.1 < waited / 2 && dev_threads >= 1,
        &format!(
            "dev answered GET / after {} while the stalled POST held a request thread of its own \
             ({threads_held} running as the GET was sent)",
            precise(dev_body.1)
        ),
        &format!("dev: GET / took {} with {dev_threads} request threads running", precise(dev_body.1)),
    );
    verdict(
        single_body.1 >= waited.mul_f64(0.8),
        &format!(
            "with threaded=False, GET / waited {} (until the slow client gave up, {} after the GET): \
             the one thread was reading the stalled body",
            precise(single_body.1),
            secs(waited)
        ),
        &format!("threaded=False: GET / took {}", precise(single_body.1)),
    );
    verdict(
        prod_body.0 == 200 && prod_body.1 < waited / 2,
        &format!("prod answered GET / after {}: no worker waited for the stalled body", precise(prod_body.1)),
        &format!("prod: GET / took {}", precise(prod_body.1)),
    );

    // tiny_http ends a body quietly when the client hangs up; the dev server checks the length
    // itself, so the app is not called with 3 of the declared bytes. The POST's thread logs
    // that 400 as the slow client leaves, so the lesson waits a moment for the line.
    let deadline = Instant::now() + Duration::from_secs(5);
    let truncated_refused = loop {
        let logged = dev_log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|l| l.contains("\"POST / HTTP/1.1\" 400"));
        if logged || Instant::now() > deadline {
            break logged;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    verdict(
        truncated_refused,
        &format!(
            "when the slow client hung up after 3 of {DECLARED} bytes, dev answered 400 instead of \
             calling the app (its own length check: tiny_http alone would pass the short body on)"
        ),
        "dev passed the truncated POST to the app",
    );

    if let Some(python) = python_side::enabled() {
        werkzeug::beside_werkzeug(&python, &get(dev.addr, "/").body, hold);
    }

    (single.stop)();
    (dev.stop)();
    (prod.stop)();
    heading("The dev server's log (werkzeug's format, captured with log_to)");
    for line in dev_log.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        println!("  {line}");
    }
    println!("\nservers stopped.");
}
