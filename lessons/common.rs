//! What every lesson needs: headings, the `--quick` switch, servers on free ports, raw HTTP
//! exchanges and stopwatches. Each lesson uses part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};
use wsgi_lab::{App, Mode, Options, Running, Server};

/// Whether the lesson was started with `--quick` (shorter runs, for tests and impatient classes).
pub fn quick() -> bool {
    std::env::args().any(|a| a == "--quick")
}

/// A section title, underlined, so a transcript reads like the lesson page.
pub fn heading(title: &str) {
    println!("\n{title}\n{}", "-".repeat(title.chars().count()));
}

/// How a lesson ends when the machine will not let it run (no free port, a server that will not
/// start or stop): one `error:` line and exit code 1, as a program fails. A panic (`unwrap`,
/// `expect`) is kept for what would be a bug in the lesson itself.
pub trait OrExit<T> {
    /// The value, or the `error: what: cause` line and exit code 1.
    fn or_exit(self, what: &str) -> T;
}

impl<T, E: std::fmt::Display> OrExit<T> for Result<T, E> {
    fn or_exit(self, what: &str) -> T {
        self.unwrap_or_else(|cause| {
            eprintln!("error: {what}: {cause}");
            std::process::exit(1)
        })
    }
}

/// Starts `app` on a free port of 127.0.0.1, quiet, in `mode` with `options`; stopped on drop.
pub fn start(app: impl App + 'static, mode: Mode, options: Options) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").or_exit("cannot bind 127.0.0.1:0");
    let options = Options { quiet: true, ..options };
    Server::from_listener(listener, app, options, mode).or_exit("cannot start the server").spawn()
}

/// Sends `request` as is and returns everything the server sends back until it closes.
pub fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = stream.write_all(request.as_bytes());
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// `GET path` with `Connection: close`; returns the whole response as text.
pub fn get(addr: SocketAddr, path: &str) -> String {
    exchange(addr, &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
}

/// The body of a response (what follows the blank line).
pub fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The status code of a response.
pub fn status(response: &str) -> u16 {
    response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Runs `work` and returns its result with how long it took.
pub fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let result = work();
    (result, started.elapsed())
}

/// Seconds with two decimals, the way the lessons print times.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Prints the verdict on one claim, in words a test can check: `OK: claim` when it held,
/// `NOT AS PREDICTED: otherwise` when it did not. Returns whether it held.
pub fn verdict(ok: bool, claim: &str, otherwise: &str) -> bool {
    match ok {
        true => println!("OK: {claim}"),
        false => println!("NOT AS PREDICTED: {otherwise}"),
    }
    ok
}

/// [`verdict`] for a claim whose wording serves both ways.
pub fn check(ok: bool, claim: &str) -> bool {
    verdict(ok, claim, claim)
}

/// The number after `--name` on the command line, such as `--n 20`.
pub fn flag(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)?.parse().ok())
}
