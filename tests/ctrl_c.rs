//! Ctrl+C on `wsgi-lab serve`, as the README says it: the production server shuts down
//! gracefully (the request in flight is answered, then the process exits 0) and a second
//! Ctrl+C ends it at once (exit code 130); the dev server, as Werkzeug's, ends at once on the
//! first, and the request in flight is cut off.
//!
//! On the production server the request in flight is the `stream` app's 32 MiB, which the
//! client starts to read (so the request is surely in flight) and then leaves unread while the
//! signal arrives (so it stays in flight). On the dev server it is the `sleep` app's `GET
//! /?ms=8000`, given half a second to reach the app: whether it did or not, the process must
//! end at once and answer nothing. Every wait is bounded by [`PATIENCE`].

use rustix::process::{Pid, Signal, kill_process};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(10);

/// A `wsgi-lab serve` process, its output read on threads (so that its writes never fail on
/// a closed pipe) and handed over line by line.
struct Served {
    child: Child,
    addr: String,
    /// The process's output lines, stdout and stderr mixed.
    lines: mpsc::Receiver<String>,
}

impl Served {
    /// Starts `wsgi-lab serve --app APP --port 0 ARGS` and waits for the line that says
    /// where it listens: on stdout for the production server, in the banner on stderr for
    /// the dev server.
    fn start(app: &str, args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wsgi-lab"))
            .args(["serve", "--app", app, "--port", "0"])
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (lines, received) = mpsc::channel();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = lines.send(line);
                }
            });
        }
        let mut served = Served { child, addr: String::new(), lines: received };
        let line = served.wait_for("on http://");
        let rest = line.split("on http://").nth(1).unwrap();
        served.addr = rest.split(['/', ' ']).next().unwrap().to_string();
        served
    }

    /// The first output line (from now on) that contains `text`.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let line = self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("no line with {text:?}"));
            if line.contains(text) {
                return line;
            }
        }
    }

    /// Asks for 32 MiB from the `stream` app and reads the first bytes of the answer: the
    /// request is in flight, and stays there while the client reads no more.
    fn start_a_long_answer(&self) -> TcpStream {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        write!(stream, "GET /?chunks=2048&size=16384 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut status = [0u8; 12];
        stream.read_exact(&mut status).expect("the answer starts");
        assert_eq!(&status, b"HTTP/1.1 200");
        stream
    }

    /// Sends `GET path` and returns the connection, whose answer a thread reads (everything
    /// until the server closes, or nothing).
    fn get(&self, path: &str) -> mpsc::Receiver<Vec<u8>> {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
        let (answer, answered) = mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stream.read_to_end(&mut bytes);
            let _ = answer.send(bytes);
        });
        answered
    }

    fn ctrl_c(&self) {
        kill_process(Pid::from_child(&self.child), Signal::INT).unwrap();
    }

    /// How the process ended, and how long after the call.
    fn exit(&mut self) -> (ExitStatus, Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            assert!(started.elapsed() < PATIENCE, "still running after {PATIENCE:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Time for a request just sent to reach the app.
fn let_it_start() {
    std::thread::sleep(Duration::from_millis(500));
}

/// Everything left on `stream` until the server closes it (or resets it).
fn rest_of(stream: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    bytes
}

#[test]
fn production_ctrl_c_answers_the_request_in_flight_then_exits() {
    let mut server = Served::start("stream", &[]);
    let mut answer = server.start_a_long_answer();
    server.ctrl_c();
    server.wait_for("Shutting down");
    let rest = rest_of(&mut answer);
    assert!(rest.len() > 32 * 1024 * 1024, "all 32 MiB arrived, not {} bytes", rest.len());
    assert!(rest.ends_with(b"\r\n0\r\n\r\n"), "the chunked answer ended properly");
    let (status, _) = server.exit();
    assert!(status.success(), "a graceful shutdown exits 0: {status}");
}

#[test]
fn production_second_ctrl_c_exits_at_once() {
    let mut server = Served::start("stream", &[]);
    let mut answer = server.start_a_long_answer();
    server.ctrl_c();
    server.wait_for("Shutting down");
    server.ctrl_c();
    let (status, took) = server.exit();
    assert_eq!(status.code(), Some(130), "{status}");
    assert!(took < Duration::from_secs(3), "exited {took:?} after the second Ctrl+C, not at once");
    let rest = rest_of(&mut answer);
    assert!(!rest.ends_with(b"\r\n0\r\n\r\n"), "the answer in flight was cut off ({} bytes)", rest.len());
}

#[test]
fn dev_ctrl_c_exits_at_once_as_werkzeug() {
    for mode in [&["--dev"][..], &["--dev", "--without-threads"]] {
        let mut server = Served::start("sleep", mode);
        let answered = server.get("/?ms=8000");
        let_it_start();
        server.ctrl_c();
        let (status, took) = server.exit();
        assert_eq!(status.signal(), Some(2), "{mode:?}: ended by the signal itself (SIGINT): {status}");
        assert!(took < Duration::from_secs(3), "{mode:?}: exited {took:?} after Ctrl+C, not at once");
        let answer = answered.recv_timeout(PATIENCE).unwrap();
        assert!(
            answer.is_empty(),
            "{mode:?}: the request in flight was cut off: {:?}",
            String::from_utf8_lossy(&answer)
        );
    }
}
