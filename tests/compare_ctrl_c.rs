//! `compare --interactive` and Ctrl+C, from a pipe: SIGINT during a row cancels that row and
//! the session goes on; SIGINT at the prompt, or twice during a row, ends the process.
//!
//! Each signal is sent once the session has said it is ready for it (the header, or the
//! `measuring` line), and each row lasts a minute, so no test depends on timing: a row that
//! Ctrl+C failed to cancel shows as a test that waited too long, not as a lucky pass.

use rustix::process::{Pid, Signal, kill_process};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// Far more than any step takes; a step that needs it has failed.
const PATIENCE: Duration = Duration::from_secs(20);

/// `wsgi-lab compare -i` serving the sleep app, each row a minute long, read a line at a time.
struct Session {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    /// Every line read so far, for the failure messages.
    seen: Vec<String>,
}

impl Session {
    fn start() -> Session {
        let args = ["compare", "-i", "--app", "sleep", "--path", "/?ms=5", "-c", "2", "-d", "60"];
        let mut child = Command::new(env!("CARGO_BIN_EXE_wsgi-lab"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        // Threads read, so that a session that stops talking fails a test instead of hanging it.
        let read = |output: Box<dyn std::io::Read + Send>, tx: mpsc::Sender<String>| {
            std::thread::spawn(move || {
                for line in BufReader::new(output).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
        };
        read(Box::new(child.stdout.take().unwrap()), tx.clone());
        read(Box::new(child.stderr.take().unwrap()), tx);
        Session { stdin: child.stdin.take().unwrap(), child, lines, seen: Vec::new() }
    }

    fn send(&mut self, text: &str) {
        self.stdin.write_all(text.as_bytes()).unwrap();
    }

    /// Reads stdout and stderr until a line contains `text`; that line.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => {
                    panic!("no line with {text:?} within {PATIENCE:?}; read:\n{}", self.seen.join("\n"))
                }
            }
        }
    }

    fn ctrl_c(&self) {
        kill_process(Pid::from_child(&self.child), Signal::INT).unwrap();
    }

    /// Waits for the process to end, within [`PATIENCE`]. Its input stays open: it must end
    /// by itself (on `q`, or a signal), not at the end of its input.
    fn exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after {PATIENCE:?}:\n{}", self.seen.join("\n"));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The rest of the output, once the process has ended.
    fn rest(&mut self) -> String {
        self.seen.extend(self.lines.iter());
        self.seen.join("\n")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ctrl_c_during_a_row_cancels_only_that_row() {
    let mut session = Session::start();
    session.send("1\n");
    session.wait_for("measuring 1 thread (shared) for 60 s (Ctrl+C cancels it)");
    session.ctrl_c();
    session.wait_for("1 thread (shared): cancelled, not measured");
    // The session goes on: a shorter load, a row that is measured, and a clean quit.
    session.send("duration 100ms\n2\nq\n");
    let status = session.exit();
    let text = session.rest();
    assert!(status.success(), "{status}:\n{text}");
    let rows: Vec<&str> = text.lines().filter(|l| l.ends_with("  OK") || l.ends_with("  FAILED")).collect();
    assert_eq!(rows.len(), 1, "the cancelled row is not in the table:\n{text}");
    assert!(rows[0].starts_with("2 threads "), "{text}");
}

#[test]
fn ctrl_c_at_the_prompt_quits() {
    let mut session = Session::start();
    // The header comes after the handler is installed.
    session.wait_for("sleep at /?ms=5, 2 keep-alive connections, 60 s per row");
    session.ctrl_c();
    assert_eq!(session.exit().code(), Some(130));
}

#[test]
fn a_second_ctrl_c_during_a_row_quits() {
    let mut session = Session::start();
    session.send("1\n");
    session.wait_for("measuring 1 thread");
    session.ctrl_c();
    // Sent once the first was seen: two signals sent at once may arrive as one.
    session.wait_for("cancelling this row (Ctrl+C again to quit)");
    session.ctrl_c();
    // The second one finds the row still stopping, or the prompt back: either way, it quits.
    assert_eq!(session.exit().code(), Some(130));
}
