//! A lesson's Python side: the real Python program (from `examples/python/`) started beside the
//! Rust twin, on a free port of 127.0.0.1, so the lesson can send both the same bytes.
//!
//! On by default when `wsgi-lab python setup` has made the environment; `--no-python` turns it
//! off. Without the environment the lesson says in one line how to get it and goes on with the
//! Rust side only.
#![allow(dead_code)]

use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
pub use wsgi_lab::python::Python;

/// The environment's interpreter, or `None` (with one line saying why) when the Python side is
/// off: `--no-python`, or no environment.
pub fn enabled() -> Option<Python> {
    if std::env::args().any(|a| a == "--no-python") {
        println!("(Python side: off, --no-python)");
        return None;
    }
    match Python::find(None) {
        Ok(python) => Some(python),
        Err(why) => {
            // One line, and the Rust side still runs: the lesson teaches without Python.
            println!("(Python side: not run: {why})");
            None
        }
    }
}

/// A Python server started by [`PythonServer::start`]; its whole process group is stopped on
/// drop (SIGTERM, then SIGKILL), so a server that forks cannot outlive the lesson.
pub struct PythonServer {
    child: Child,
    addr: SocketAddr,
    /// Everything the program printed (stdout and stderr, colours removed): its log.
    output: Arc<Mutex<Vec<String>>>,
}

impl PythonServer {
    /// Runs `python ARGS...` in `examples/python/` with `PORT=0` and `HOST=127.0.0.1` (and
    /// `--port 0` where the program takes it as an argument), and waits up to 20 s for the
    /// line where it says its address.
    pub fn start(python: &Python, args: &[&str]) -> Result<PythonServer, String> {
        let mut child = Command::new(python.interpreter())
            .args(args)
            .current_dir(Python::examples_dir())
            .env("PORT", "0")
            .env("HOST", "127.0.0.1")
            // Piped, Python buffers `print` until exit: the address line would never come.
            .env("PYTHONUNBUFFERED", "1")
            // Flask's interactive debugger must never start here (lesson 4 says why).
            .env_remove("FLASK_DEBUG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", python.interpreter().display()))?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let (lines, said) = mpsc::channel();
        // Both pipes are read to the end, always: a server that logs every request would block
        // on a full pipe otherwise.
        let pipes: [Box<dyn Read + Send>; 2] =
            [Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
        for pipe in pipes {
            let (output, lines) = (output.clone(), lines.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let line = without_colours(&line);
                    let _ = lines.send(line.clone());
                    output.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut server = PythonServer { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), output };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match said.recv_timeout(left) {
                Ok(line) => {
                    if let Some(port) = port_in(&line) {
                        server.addr.set_port(port);
                        return Ok(server);
                    }
                }
                // The server stays in `server` and is stopped as it drops.
                Err(_) => {
                    let log = server.log().join(" | ");
                    return Err(format!("python {} did not say its address: {log}", args.join(" ")));
                }
            }
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Python process's id, to count its threads in `/proc/PID/task`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How many threads the Python process has now (`/proc/PID/task`).
    pub fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.pid())).map_or(0, |tasks| tasks.count())
    }

    /// What the program printed so far, line by line.
    pub fn log(&self) -> Vec<String> {
        self.output.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The first line of the log that contains `needle`, waiting up to `within` for it. (The
    /// line [`start`](Self::start) saw reaches the log a moment after `start` returns: the
    /// reader threads pass each line on before they store it.)
    pub fn line_with(&self, needle: &str, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self.log().into_iter().find(|l| l.contains(needle)) {
                return Some(line);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let group = Pid::from_child(&self.child);
        let _ = kill_process_group(group, Signal::TERM);
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            if matches!(self.child.try_wait(), Ok(Some(_))) && test_kill_process_group(group).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = kill_process_group(group, Signal::KILL);
        let _ = self.child.wait();
    }
}

/// The port in the line where a server says its address: wsgiref's example prints
/// `serving on port 5000...`, waitress `Serving on http://127.0.0.1:50100`, Werkzeug
/// ` * Running on http://127.0.0.1:5000`; `waitress-serve` without `--host` says
/// `Serving on http://0.0.0.0:8080` (lesson 10 starts it so).
fn port_in(line: &str) -> Option<u16> {
    let after = line
        .split_once("serving on port ")
        .or_else(|| line.split_once("http://127.0.0.1:"))
        .or_else(|| line.split_once("http://0.0.0.0:"))
        .map(|(_, rest)| rest)?;
    after.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok().filter(|&p| p != 0)
}

/// The line without ANSI colour codes (Werkzeug colours its log even into a pipe).
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
