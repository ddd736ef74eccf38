//! Lesson 9: hardening. The same hostile bytes sent to the dev server (`DevServer`, on tiny_http)
//! and to the production server (wsgi-lab's pool): a half-sent head, a body that never arrives,
//! two request-smuggling probes and a huge declared body. Each probe prints what each server
//! answered, what reached the app, and a verdict. Part 6, with the Python environment
//! (`--no-python` leaves it out), sends the same probes to the real Werkzeug, so that each
//! weakness is put on the server that has it. See `lessons/09_hardening.md`.
//!
//! `cargo run --release --bin lesson-09-hardening` (add `--quick` for shorter waits).

mod common;
#[path = "09_hardening/probe.rs"]
mod probe;
mod python_side;
#[path = "09_hardening/werkzeug.rs"]
mod werkzeug;

use probe::{probe, read_until_close};

use common::OrExit;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wsgi_lab::dev::DevShutdown;
use wsgi_lab::{Body, DevServer, Environ, Mode, Options, Running, StartResponse};

/// The production server's header timeout: short, so the lesson can wait it out.
const HEADER_TIMEOUT: Duration = Duration::from_millis(500);

/// The production server's largest request body.
const MAX_BODY: u64 = 1024 * 1024;

/// The request a smuggler hides in a body: if it reaches the app, the app sees a request that
/// whatever stood in front of the server (a proxy, a firewall, a log) never saw.
const HIDDEN: &str = "GET /smuggled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// Probe 5: 10 TB declared, none of it sent.
const HUGE: &str = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000000\r\n\r\n";

/// The list of requests that reached an app, as `METHOD PATH`.
type Seen = Arc<Mutex<Vec<String>>>;

/// An app that answers 200 and notes every request that reaches it.
fn recording_app() -> (impl Fn(&Environ, StartResponse) -> Body + Send + Sync + 'static, Seen) {
    let seen = Seen::default();
    let notes = seen.clone();
    let app = move |environ: &Environ, start_response: StartResponse| {
        let mut request = format!("{} {}", &environ["REQUEST_METHOD"], &environ["PATH_INFO"]);
        let mut body = Vec::new();
        if environ.input().read_to_end(&mut body).is_ok() && !body.is_empty() {
            request += &format!(" with a {}-byte body", body.len());
        }
        notes.lock().unwrap().push(request);
        start_response("200 OK", vec![("Content-Type", "text/plain; charset=utf-8")]);
        Body::from("reached the app")
    };
    (app, seen)
}

/// The dev server on a background thread, stopped by [`Dev::stop`].
struct Dev {
    addr: SocketAddr,
    stop: DevShutdown,
    thread: JoinHandle<Result<(), wsgi_lab::Error>>,
}

impl Dev {
    fn start(app: impl wsgi_lab::App + 'static) -> Dev {
        let listener = TcpListener::bind("127.0.0.1:0").or_exit("cannot bind 127.0.0.1:0");
        let server = DevServer::from_listener(listener, app, false)
            .or_exit("cannot start the dev server")
            .log_to(|_| {});
        let (addr, stop) = (server.server_address(), server.shutdown_handle());
        let thread = std::thread::spawn(move || server.serve_forever());
        Dev { addr, stop, thread }
    }

    fn stop(self) {
        self.stop.shutdown();
        let _ = self.thread.join();
    }
}

/// What reached the app since the last look, emptied.
fn reached(seen: &Seen) -> String {
    let requests = std::mem::take(&mut *seen.lock().unwrap());
    if requests.is_empty() { "nothing".to_string() } else { requests.join(", ") }
}

fn main() {
    // How long the lesson waits for a server that does not answer: bounded, and said so.
    let patience = if common::quick() { Duration::from_millis(1000) } else { Duration::from_millis(1500) };
    println!("Lesson 9: hardening");
    if common::quick() {
        println!(
            "(quick mode: we wait at most {} for a server that does not answer)",
            common::secs(patience)
        );
    }
    let (prod_app, prod_seen) = recording_app();
    let options = Options {
        threads: 4,
        header_timeout: HEADER_TIMEOUT,
        max_request_body_size: MAX_BODY,
        ..Options::default()
    };
    let production = common::start(prod_app, Mode::Pool, options);
    let (dev_app, dev_seen) = recording_app();
    let dev = Dev::start(dev_app);
    println!(
        "production: wsgi-lab pool at {}, header_timeout {} ms, max body {MAX_BODY} bytes",
        production.url(),
        HEADER_TIMEOUT.as_millis()
    );
    println!("dev:        DevServer (tiny_http) at http://{}", dev.addr);
    println!("Both run an app that answers 200 \"reached the app\" and notes each request it sees.");

    slowloris(&production, &dev, patience);
    slow_body(&production, &dev, &prod_seen, &dev_seen, patience);
    reached(&prod_seen);
    reached(&dev_seen);
    duplicate_length(&production, &dev, &prod_seen, &dev_seen, patience);
    length_and_chunked(&production, &dev, &prod_seen, &dev_seen, patience);
    huge_length(&production, &prod_seen);
    if let Some(python) = python_side::enabled() {
        werkzeug::under_the_same_probes(&python, &production, patience);
    }

    dev.stop();
    production.stop().or_exit("the server did not stop cleanly");
}

fn slowloris(production: &Running, dev: &Dev, patience: Duration) {
    common::heading("1. Slowloris: half a request head, then silence");
    let half = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: slow";
    println!("We send {:?} and never the blank line that ends the head.", String::from_utf8_lossy(half));
    println!(
        "Prediction: production answers 408 and closes after its header_timeout ({} ms);\n\
         the dev server has no timeout and keeps the connection (and a tiny_http thread) forever.",
        HEADER_TIMEOUT.as_millis()
    );
    let prod = probe(production.addr(), half, patience);
    let dev_outcome = probe(dev.addr, half, patience);
    println!("production: answered {}; {}", prod.statuses(), prod.connection());
    println!("dev:        answered {}; {}", dev_outcome.statuses(), dev_outcome.connection());
    common::check(
        prod.first_status() == 408 && prod.closed && prod.took >= HEADER_TIMEOUT / 2 && prod.took < patience,
        &format!(
            "production: 408 and closed after {} (header_timeout {})",
            common::secs(prod.took),
            common::secs(HEADER_TIMEOUT)
        ),
    );
    common::check(
        dev_outcome.answer.is_empty() && !dev_outcome.closed,
        &format!("dev: no answer and still open after {} (bounded wait)", common::secs(patience)),
    );
}

fn slow_body(production: &Running, dev: &Dev, prod_seen: &Seen, dev_seen: &Seen, patience: Duration) {
    common::heading("2. A body that never arrives, and a visitor behind it");
    // Over 1 KiB: tiny_http reads a body of up to 1,024 bytes itself before the dev server sees
    // the request, so a smaller stalled body would hold only tiny_http's thread for it.
    let upload = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc";
    println!("One client declares a 100,000-byte body and sends 3 bytes; then another client asks for /.");
    println!(
        "Prediction: production parks the upload (no worker waits for it), answers the visitor at\n\
         once and cuts the upload off with 408. The dev server, threaded as Werkzeug's is, also\n\
         answers the visitor (on a thread of its own), but tiny_http has no timeout: the stalled\n\
         upload keeps its thread and its connection for as long as the uploader pleases, and each\n\
         such client takes one more thread, without a limit."
    );
    for (name, addr, seen) in [("production", production.addr(), prod_seen), ("dev", dev.addr, dev_seen)] {
        let mut uploader = TcpStream::connect(addr).expect("connect");
        uploader.write_all(upload).unwrap();
        std::thread::sleep(Duration::from_millis(100)); // the upload is under way first
        let (answered, visit) = mpsc::channel();
        let visitor = std::thread::spawn(move || {
            let (response, took) = common::timed(|| common::get(addr, "/visitor"));
            let _ = answered.send((common::status(&response), took));
        });
        let in_time = visit.recv_timeout(patience);
        let started = Instant::now();
        let upload_outcome = read_until_close(&mut uploader, started, patience);
        drop(uploader); // now the dev server's thread for it gets EOF and moves on
        let late = in_time.is_err().then(|| visit.recv_timeout(Duration::from_secs(10)));
        let _ = visitor.join();
        match (&in_time, &late) {
            (Ok((status, took)), _) => {
                println!("{name}: the visitor got {status} after {}", common::secs(*took))
            }
            (Err(_), Some(Ok((status, _)))) => println!(
                "{name}: the visitor got nothing within {}; it got {status} only after the uploader left",
                common::secs(patience)
            ),
            _ => println!("{name}: the visitor got nothing at all"),
        }
        let seen_by_app = reached(seen);
        println!(
            "{name}: the uploader got {}; connection {}; the app saw: {seen_by_app}",
            upload_outcome.statuses(),
            upload_outcome.connection(),
        );
        if name == "production" {
            common::check(
                in_time.as_ref().is_ok_and(|(status, took)| *status == 200 && *took < patience / 2)
                    && upload_outcome.first_status() == 408,
                "production: the visitor was served at once, and the stalled upload got 408",
            );
        } else {
            common::check(
                in_time.as_ref().is_ok_and(|(status, _)| *status == 200)
                    && !upload_outcome.closed
                    && upload_outcome.first_status() == 0,
                &format!(
                    "dev: the visitor was served on another thread, and the stalled upload still holds \
                     its own, unanswered and open after {}",
                    common::secs(patience)
                ),
            );
        }
    }
}

fn duplicate_length(production: &Running, dev: &Dev, prod_seen: &Seen, dev_seen: &Seen, patience: Duration) {
    common::heading("3. Smuggling: Content-Length twice");
    let request = twice_length();
    println!("{}", show(&request));
    println!(
        "A proxy that believes the last length sees one POST; a server that believes the first\n\
         sees a POST and then GET /smuggled, a request the proxy never checked."
    );
    println!(
        "Prediction: production answers 400 and closes: nothing reaches the app. The dev server\n\
         also answers 400, but tiny_http framed the body by the first length, so the hidden\n\
         GET /smuggled is read as the next request and reaches the app."
    );
    compare_smuggling(production, dev, prod_seen, dev_seen, &request, patience, "Content-Length twice");
}

fn length_and_chunked(
    production: &Running,
    dev: &Dev,
    prod_seen: &Seen,
    dev_seen: &Seen,
    patience: Duration,
) {
    common::heading("4. Smuggling: Content-Length and Transfer-Encoding together");
    let request = length_with_chunked();
    println!("{}", show(&request));
    println!(
        "By the length, the body is the text of GET /smuggled: one request, harmless to a proxy\n\
         that believes the length. By chunked framing it is not a body at all. Which framing\n\
         wins decides what the next request is. RFC 9112 (§6.1): a server may refuse such a\n\
         request, and must close the connection after answering it."
    );
    println!(
        "Prediction: production answers 400 and closes. The dev server answers 400 without reading\n\
         the body; tiny_http skips no unread chunked body, so it reads the body as the next\n\
         request on the connection, and GET /smuggled reaches the app."
    );
    compare_smuggling(
        production,
        dev,
        prod_seen,
        dev_seen,
        &request,
        patience,
        "Content-Length with chunked",
    );
}

/// Probe 3: `Content-Length` twice, 5 then the length of `hello` + [`HIDDEN`].
fn twice_length() -> String {
    format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: {}\r\n\r\nhello{HIDDEN}",
        5 + HIDDEN.len()
    )
}

/// Probe 4: `Content-Length` and `Transfer-Encoding: chunked`, with [`HIDDEN`] as the body.
fn length_with_chunked() -> String {
    format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n{HIDDEN}",
        HIDDEN.len()
    )
}

/// Sends `request` to both servers and prints and judges what came back and what reached the app.
fn compare_smuggling(
    production: &Running,
    dev: &Dev,
    prod_seen: &Seen,
    dev_seen: &Seen,
    request: &str,
    patience: Duration,
    probe_name: &str,
) {
    let prod = probe(production.addr(), request.as_bytes(), patience);
    let prod_reached = reached(prod_seen);
    let dev_outcome = probe(dev.addr, request.as_bytes(), patience);
    let dev_reached = reached(dev_seen);
    println!("production: answered {}; {}; the app saw: {prod_reached}", prod.statuses(), prod.connection());
    println!(
        "dev:        answered {}; {}; the app saw: {dev_reached}",
        dev_outcome.statuses(),
        dev_outcome.connection()
    );
    common::check(
        prod.statuses() == "400" && prod.closed && prod_reached == "nothing",
        &format!("production ({probe_name}): one 400, connection closed, nothing reached the app"),
    );
    common::check(
        dev_outcome.first_status() == 400 && dev_reached.contains("GET /smuggled"),
        &format!(
            "dev ({probe_name}): 400 to the POST, but the hidden request reached the app ({dev_reached})"
        ),
    );
}

fn huge_length(production: &Running, prod_seen: &Seen) {
    common::heading("5. A huge declared body");
    let request = HUGE;
    println!("{}", show(request));
    println!("(10 TB declared, none of it sent.)");
    println!(
        "Prediction: production compares the declared length with max_request_body_size ({MAX_BODY}\n\
         bytes) and answers 413 at once, before reading (or allocating) any body."
    );
    let prod = probe(production.addr(), request.as_bytes(), Duration::from_secs(5));
    println!(
        "production: answered {}; {}; the app saw: {}",
        prod.statuses(),
        prod.connection(),
        reached(prod_seen)
    );
    println!(
        "dev:        not sent. tiny_http allocates the whole declared size to skip an unread body\n\
         (10 TB: the process aborts), so the dev server leaves such a request unanswered instead,\n\
         costing one tiny_http thread and one socket until the process ends (src/dev.rs)."
    );
    common::check(
        prod.first_status() == 413 && prod.closed && prod.took < Duration::from_secs(1),
        &format!("production: 413 after {} without the body, connection closed", common::secs(prod.took)),
    );
}

/// A raw request as the lesson prints it: one line per header line, `\r\n` made visible.
fn show(request: &str) -> String {
    let lines: Vec<String> =
        request.split_inclusive("\r\n").map(|l| format!("  > {}", l.escape_debug())).collect();
    lines.join("\n")
}
