//! Servers that are not ours: `compare --cmd TEMPLATE` starts one per row, `compare --url URL`
//! measures one that is already running.
//!
//! A command is a template run through `sh -c`, with `{threads}` and `{port}` replaced, such as
//! `waitress-serve --threads={threads} --port={port} app:app`. Each row gets a fresh process on a
//! free port of 127.0.0.1; the row is measured once it accepts connections and has answered a
//! first request ([`Started::ready`]), and the process is stopped afterwards, whatever happened
//! (see [`Started`]). `compare --server` ([`servers`](super::servers)) runs the real Python
//! servers through the same machinery.

use super::bench::{self, BenchConfig, Progress, Stop};
use super::{Config, Row, Setup, Workload, cores, grid_reading, render};
use crate::sync::lock;
use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a started command has to accept connections before it counts as failed to start.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the port is tried while waiting.
const POLL: Duration = Duration::from_millis(50);
/// How long a polite stop (SIGTERM) may take before the process group is killed.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// How many of the last lines of its output a failed command shows.
const TAIL: usize = 20;

/// The name a command's rows carry: the file name of its first word.
///
/// ```
/// use wsgi_lab::lab::compare::external::name;
/// assert_eq!(name("/usr/bin/waitress-serve --port={port} app:app"), "waitress-serve");
/// ```
pub fn name(template: &str) -> String {
    let first = template.split_whitespace().next().unwrap_or("command");
    first.rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or(first).to_string()
}

/// The template with `{threads}` and `{port}` replaced.
///
/// ```
/// use wsgi_lab::lab::compare::external::substitute;
/// assert_eq!(substitute("serve -t {threads} -p {port}", 4, 8080), "serve -t 4 -p 8080");
/// ```
pub fn substitute(template: &str, threads: usize, port: u16) -> String {
    template.replace("{threads}", &threads.to_string()).replace("{port}", &port.to_string())
}

/// A running external server. Dropping it stops it: SIGTERM to its process group, up to
/// `STOP_GRACE` (2 s) to exit, then SIGKILL, so a failed measurement leaves no server behind.
///
/// ```no_run
/// use wsgi_lab::lab::compare::external::Started;
/// let server = Started::start("waitress-serve --threads={threads} --port={port} app:app", 4)?;
/// println!("listening on 127.0.0.1:{}", server.port);
/// drop(server); // stopped here
/// # Ok::<(), String>(())
/// ```
pub struct Started {
    child: Child,
    /// The command as run, with its placeholders replaced: what an error names.
    command: String,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    /// The last lines of its stdout and stderr, filled by the two reader threads.
    tail: Arc<Mutex<VecDeque<String>>>,
    readers: Vec<JoinHandle<()>>,
    /// Whether [`Started::stop`] ran.
    stopped: bool,
}

impl Started {
    /// Runs `sh -c` on the template for `threads` on a free port and waits until that port
    /// accepts connections; the error is one line naming the command, with its last output.
    pub fn start(template: &str, threads: usize) -> Result<Started, String> {
        // The port is free when we close the listener; the command binds it a moment later,
        // and nothing else on a quiet machine takes it in between.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))?
            .port();
        let command = substitute(template, threads, port);
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so the stop reaches the server even when `sh` forks it
            // rather than becoming it.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run `{command}` with sh: {e}"))?;
        let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let readers = [
            child.stdout.take().map(|o| Box::new(o) as Box<dyn Read + Send>),
            child.stderr.take().map(|e| Box::new(e) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|pipe| {
            let tail = Arc::clone(&tail);
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut tail = lock(&tail);
                    if tail.len() == TAIL {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            })
        })
        .collect();
        let mut started = Started { child, command, port, tail, readers, stopped: false };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let begun = Instant::now();
        loop {
            if TcpStream::connect_timeout(&addr, POLL).is_ok() {
                return Ok(started);
            }
            started.check_running(&format!("before listening on 127.0.0.1:{port}"))?;
            if begun.elapsed() >= LISTEN_TIMEOUT {
                let why = format!("did not listen on 127.0.0.1:{port} within {} s", LISTEN_TIMEOUT.as_secs());
                return Err(started.failure(&why));
            }
            thread::sleep(POLL);
        }
    }

    /// Waits, once it listens, until its process group holds `processes` processes and it
    /// answers a `GET` of `path` (with any status: judging it is the bench's work). A server
    /// that forks its workers, such as gunicorn, listens before they exist, and the first
    /// requests of a row would otherwise measure their start; the answer also takes the first
    /// request's one-off costs out of the row. Where `/proc` cannot be read, the processes are
    /// not counted.
    pub fn ready(&mut self, processes: usize, path: &str) -> Result<(), String> {
        let until = Instant::now() + LISTEN_TIMEOUT;
        let group = Pid::from_child(&self.child);
        while group_size(group).is_some_and(|n| n < processes) {
            self.check_running("before it was ready")?;
            if Instant::now() >= until {
                let why =
                    format!("did not start {processes} processes within {} s", LISTEN_TIMEOUT.as_secs());
                return Err(self.failure(&why));
            }
            thread::sleep(POLL);
        }
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n", self.port);
        let answer = (|| {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
            stream.set_read_timeout(Some(until.saturating_duration_since(Instant::now()).max(POLL)))?;
            stream.write_all(request.as_bytes())?;
            let mut head = [0; 8];
            stream.read_exact(&mut head)?;
            Ok::<_, std::io::Error>(head)
        })();
        match answer {
            Ok(head) if head.starts_with(b"HTTP/1.") => Ok(()),
            Ok(head) => {
                let why = format!("answered GET {path} with {:?}, not HTTP", String::from_utf8_lossy(&head));
                Err(self.failure(&why))
            }
            Err(e) => Err(self.failure(&format!("did not answer GET {path} ({e})"))),
        }
    }

    /// `Err` with the failure if the command has ended, `when` saying at which step.
    fn check_running(&mut self, when: &str) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(Some(status)) => {
                let why = match status.code() {
                    Some(code) => format!("exited with code {code} {when}"),
                    None => format!("ended ({status}) {when}"),
                };
                Err(self.failure(&why))
            }
            _ => Ok(()),
        }
    }

    /// Stops it and says why, with its last output: `command `...` exited with code 3 before
    /// listening on 127.0.0.1:PORT; its last output: a | b`.
    fn failure(&mut self, why: &str) -> String {
        self.stop();
        // The readers end at the end of the output; a grandchild holding the pipe must not
        // hold the error, hence the bound.
        let until = Instant::now() + Duration::from_millis(200);
        while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < until {
            thread::sleep(Duration::from_millis(10));
        }
        let tail = lock(&self.tail);
        let lines: Vec<&str> = tail.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect();
        let output = match lines.is_empty() {
            true => "it printed nothing".to_string(),
            false => format!("its last output: {}", lines.join(" | ")),
        };
        format!("command `{}` {why}; {output}", self.command)
    }

    /// SIGTERM to the group, up to [`STOP_GRACE`] for every process in it to exit, then
    /// SIGKILL; reaps the process. Once only: afterwards the group's id may belong to another.
    fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let group = Pid::from_child(&self.child);
        let _ = kill_process_group(group, Signal::TERM);
        // Done when `sh` is reaped and its group is empty: a server that `sh` forked rather
        // than became can still be closing its listener after `sh` has gone. The group's id
        // cannot be reused while any process of the group lives.
        let until = Instant::now() + STOP_GRACE;
        while Instant::now() < until {
            if matches!(self.child.try_wait(), Ok(Some(_))) && test_kill_process_group(group).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = kill_process_group(group, Signal::KILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How many processes are in `group`, from `/proc`; `None` where it cannot be read.
fn group_size(group: Pid) -> Option<usize> {
    let group = group.as_raw_nonzero().get().to_string();
    let entries = std::fs::read_dir("/proc").ok()?;
    let in_group = |stat: &str| {
        // `pid (name) state ppid pgrp ...`: the name may hold spaces and parentheses, so the
        // fields are counted after its last `)`.
        stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(2)) == Some(group.as_str())
    };
    let count = entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| in_group(stat))
        .count();
    Some(count)
}

/// Runs the workload against `url` (the full URL, path included).
/// `label` names the row on the progress bar.
pub(super) fn bench_row(
    workload: &Workload,
    url: String,
    config: Config,
    server: String,
    label: &str,
) -> Result<Row, String> {
    let bench_config = BenchConfig {
        connections: workload.connections,
        stop: Stop::Duration(workload.duration),
        progress: if workload.progress { Progress::Stderr } else { Progress::Quiet },
        label: Some(format!("{label} · {} conns", workload.connections)),
        ..BenchConfig::new(url)
    };
    let report = bench::run(&bench_config).map_err(|e| e.to_string())?;
    Ok(Row { config, server: Some(server), report })
}

/// Starts `template` for `threads`, waits until it answers the workload's path, runs the
/// workload, stops it.
pub fn measure_command(workload: &Workload, template: &str, threads: usize) -> Result<Row, String> {
    let mut started = Started::start(template, threads)?;
    started.ready(1, &workload.path)?;
    let url = format!("http://127.0.0.1:{}{}", started.port, workload.path);
    let (server, setup) = (name(template), Setup::Threads(threads));
    let label = format!("{server}, {setup}");
    let row = bench_row(workload, url, Config::from(setup), server, &label);
    drop(started); // stopped before the next row starts; also on an error, by the guard
    row
}

/// Runs the workload against a server that is already running at `url` (the workload's path is
/// not used). Its thread count is not ours to know: the row's setup is [`Setup::Single`], which
/// the reading leaves out of scaling, and its label is the URL.
pub fn measure_url(workload: &Workload, url: &str) -> Result<Row, String> {
    bench_row(workload, url.to_string(), Config::from(Setup::Single), url.to_string(), url)
}

/// A command template is usable: it names both `{threads}` and `{port}`. (The CLI checks each
/// `--cmd` with it, so that a bad one is a bad argument.)
pub fn check_template(command: &str) -> Result<String, String> {
    if command.contains("{threads}") && command.contains("{port}") {
        return Ok(command.to_string());
    }
    Err(format!(
        "command `{command}` needs both {{threads}} and {{port}}: without them its rows would not run \
         the thread counts they name, or would measure a port it does not listen on"
    ))
}

/// [`compare_grid`](super::compare_grid) for external servers: a row per (connections, command,
/// threads), in that order, each on a process of its own; the reading reads each command's
/// scaling on its own, as it reads an engine's. Each command needs `{threads}` and `{port}`.
///
/// ```no_run
/// use std::{sync::Arc, time::Duration};
/// use wsgi_lab::apps;
/// use wsgi_lab::lab::compare::{Workload, external};
/// let workload = Workload {
///     app: Arc::new(apps::hello), path: "/".into(), connections: 10,
///     duration: Duration::from_secs(2), progress: false,
/// };
/// let command = "waitress-serve --threads={threads} --port={port} app:app".to_string();
/// external::compare_commands(&workload, &[10], &[command], &[1, 2, 4], &mut std::io::stdout(), false)?;
/// # Ok::<(), String>(())
/// ```
pub fn compare_commands(
    workload: &Workload,
    connections: &[usize],
    commands: &[String],
    threads: &[usize],
    out: &mut dyn Write,
    color: bool,
) -> Result<Vec<Row>, String> {
    for command in commands {
        check_template(command)?;
    }
    let mut rows = Vec::new();
    for &connections in connections {
        let workload = Workload { connections, ..workload.clone() };
        for command in commands {
            for &n in threads {
                rows.push(measure_command(&workload, command, n)?);
            }
        }
    }
    write!(out, "{}\n{}\n", render(&rows, color), grid_reading(&rows, cores())).map_err(|e| e.to_string())?;
    Ok(rows)
}

/// One row against the server at `url`, for each connection count.
pub fn compare_url(
    workload: &Workload,
    connections: &[usize],
    url: &str,
    out: &mut dyn Write,
    color: bool,
) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for &connections in connections {
        rows.push(measure_url(&Workload { connections, ..workload.clone() }, url)?);
    }
    write!(out, "{}\n{}\n", render(&rows, color), grid_reading(&rows, cores())).map_err(|e| e.to_string())?;
    Ok(rows)
}
