//! Lesson 9, part 6: the real Werkzeug (what Flask's `app.run` runs) under the same probes, so
//! each weakness is put on the server that has it: tiny_http's framing and smuggling are
//! tiny_http's; a thread per connection with no limit and no body limit are Werkzeug's.

use super::common::{self, OrExit, heading, verdict};
use super::probe::{probe, read_until_close};
use super::python_side::{Python, PythonServer};
use super::{HUGE, length_with_chunked, twice_length};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use wsgi_lab::Running;

/// How many slow clients hang on Werkzeug at once.
const SLOW_CLIENTS: usize = 200;

/// Half a request head, as in probe 1.
const HALF_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: slow";

pub fn under_the_same_probes(python: &Python, production: &Running, patience: Duration) {
    heading("6. The real Werkzeug under the same probes (the Python side)");
    let werkzeug = PythonServer::start(python, &["serve.py", "werkzeug", "echo", "--port", "0"])
        .or_exit("cannot start serve.py werkzeug");
    println!(
        "examples/python/serve.py werkzeug echo at http://{}: Werkzeug's run_simple(threaded=True),\n\
         what Flask's app.run calls (debugger off), serving demo_apps.echo, which reads the whole\n\
         body and answers it as JSON. What reached the app is read from Werkzeug's request log.",
        werkzeug.addr()
    );
    threads(&werkzeug, production);
    smuggling(&werkzeug, "Content-Length twice", &twice_length(), patience);
    smuggling(&werkzeug, "Content-Length with chunked", &length_with_chunked(), patience);
    body_limit(&werkzeug, patience);
}

/// 200 clients that send half a head and wait: Werkzeug's threads, counted in /proc/PID/task
/// while they hang, against this process's (the production server's) for the same clients.
fn threads(werkzeug: &PythonServer, production: &Running) {
    println!("\n{SLOW_CLIENTS} clients each send half a request head and wait, as in probe 1.");
    let before = werkzeug.threads();
    let clients = hang(werkzeug.addr(), SLOW_CLIENTS);
    // Bounded wait for Werkzeug to start a thread for each connection it accepted.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut during = werkzeug.threads();
    while during < before + SLOW_CLIENTS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        during = werkzeug.threads();
    }
    let (visitor, took) = common::timed(|| common::get(werkzeug.addr(), "/"));
    drop(clients);
    let deadline = Instant::now() + Duration::from_secs(5);
    while werkzeug.threads() > before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let after = werkzeug.threads();
    println!(
        "werkzeug:   {before} thread(s) before, {during} while the {SLOW_CLIENTS} clients hung, {after} after they left \
         (/proc/{}/task); a visitor got {} after {}",
        werkzeug.pid(),
        common::status(&visitor),
        common::secs(took)
    );
    let ours = |path: &str| std::fs::read_dir(path).map_or(0, |t| t.count());
    let prod_before = ours("/proc/self/task");
    let clients = hang(production.addr(), SLOW_CLIENTS);
    std::thread::sleep(Duration::from_millis(100)); // within the 500 ms header timeout
    let prod_during = ours("/proc/self/task");
    drop(clients);
    println!(
        "production: {prod_before} threads in this process before, {prod_during} while the same {SLOW_CLIENTS} clients hung \
         (the poller holds them; no thread each)"
    );
    verdict(
        during >= before + SLOW_CLIENTS && common::status(&visitor) == 200,
        &format!(
            "Werkzeug started a thread per connection, {during} threads for {SLOW_CLIENTS} hanging clients, and \
             refused none: threaded, with no upper bound (not single-threaded, as the tutorial says)"
        ),
        &format!("Werkzeug had {during} threads for {SLOW_CLIENTS} hanging clients (from {before})"),
    );
    verdict(
        prod_during < prod_before + 10,
        &format!(
            "production: {prod_during} threads for the same clients ({prod_before} before): a connection costs no thread"
        ),
        &format!("production's threads grew from {prod_before} to {prod_during}"),
    );
}

/// Opens `n` connections that each send half a head and wait.
fn hang(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|_| {
            let mut stream = TcpStream::connect(addr).ok()?;
            stream.write_all(HALF_HEAD).ok()?;
            Some(stream)
        })
        .collect()
}

/// The requests in Werkzeug's log from line `from` on (`"POST /upload HTTP/1.1" 200`), waiting
/// up to 2 s for at least one: Werkzeug logs a request after answering it.
fn logged_since(werkzeug: &PythonServer, from: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let requests: Vec<String> = werkzeug.log()[from..]
            .iter()
            .filter_map(|l| {
                l.split_once("] \"")
                    .map(|(_, rest)| rest.replacen("\" ", " → ", 1).trim_end_matches(" -").to_string())
            })
            .collect();
        if !requests.is_empty() || Instant::now() > deadline {
            return requests;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Probe 3 or 4 on Werkzeug: what it answered, and whether the hidden request reached the app.
fn smuggling(werkzeug: &PythonServer, name: &str, request: &str, patience: Duration) {
    let from = werkzeug.log().len();
    let outcome = probe(werkzeug.addr(), request.as_bytes(), patience);
    let requests = logged_since(werkzeug, from);
    let smuggled = requests.iter().any(|r| r.contains("/smuggled"));
    // echo's JSON says how many body bytes the app read: which length Werkzeug believed.
    let answer = String::from_utf8_lossy(&outcome.answer).into_owned();
    let read = match answer.split("\"body_length\":").nth(1).and_then(|r| r.split(',').next()) {
        Some(n) => format!("the app read a body of {n} bytes"),
        None => "the app's read of the body failed (the traceback is in Werkzeug's log)".to_string(),
    };
    println!(
        "\nwerkzeug ({name}): answered {}; {}; {read}; its log: {}",
        outcome.first_status(),
        outcome.connection(),
        requests.join(", ")
    );
    verdict(
        outcome.closed && outcome.first_status() != 0 && !smuggled,
        &format!(
            "werkzeug ({name}): answered {} and closed the connection: GET /smuggled never reached the app \
             (the smuggling of probes 3 and 4 is tiny_http's, not Werkzeug's)",
            outcome.first_status()
        ),
        &format!("werkzeug ({name}): the hidden request reached the app, or the connection stayed open"),
    );
}

/// Probe 5 on Werkzeug, made safe: 10 TB declared, 3 bytes sent. Werkzeug has no body limit, so
/// the app is called and reads what comes; the lesson measures the process's memory around it
/// and then hangs up (nothing is ever sent that could fill memory).
fn body_limit(werkzeug: &PythonServer, patience: Duration) {
    let rss = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", werkzeug.pid())).unwrap_or_default();
        let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap_or("0");
        kb.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0)
    };
    println!("\nProbe 5 on Werkzeug: Content-Length: 10000000000000 (10 TB) declared, 3 bytes sent.");
    let (from, rss_before) = (werkzeug.log().len(), rss());
    let mut stream = TcpStream::connect(werkzeug.addr()).expect("connect");
    let started = Instant::now();
    stream.write_all(format!("{HUGE}abc").as_bytes()).expect("send the probe");
    let waiting = read_until_close(&mut stream, started, patience);
    let rss_during = rss();
    drop(stream);
    let requests = logged_since(werkzeug, from);
    println!(
        "werkzeug: answered {}; {}; RSS {} → {} kB; after we hung up, its log: {}",
        waiting.statuses(),
        waiting.connection(),
        rss_before,
        rss_during,
        requests.join(", ")
    );
    let called = requests.iter().any(|r| r.starts_with("POST /upload") && r.ends_with("200"));
    verdict(
        waiting.first_status() == 0 && called && rss_during < rss_before + 10_000,
        "Werkzeug has no body limit: no 413 for 10 TB; the app was called and read until the client left, \
         then answered 200 to a 3-byte body (memory grows only with what arrives, so a client that sends \
         gigabytes to an app that keeps them fills it)",
        "Werkzeug refused the huge body, or the app was not called",
    );
}
