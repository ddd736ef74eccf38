//! Lesson 12's server processes: `wsgi-lab serve` children, as gunicorn's master starts its
//! workers, each with its output in files of a temporary directory. Every one is stopped when
//! the [`Fleet`] is dropped: at the end, on an error, or on a panic.

use rustix::process::{Pid, Signal, kill_process};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One `wsgi-lab serve` process.
pub struct Process {
    child: Child,
    /// Where it listens, read from its startup line.
    pub port: u16,
    /// Its stdout and stderr, `N.out` and `N.err` in the fleet's directory.
    out: PathBuf,
    err: PathBuf,
}

/// What `serve --watch` says when it stops: `watch summary: N served, M connections accepted`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub served: u64,
    pub accepted: u64,
}

/// Every process the lesson started, running or not.
pub struct Fleet {
    /// The `wsgi-lab` binary.
    pub binary: PathBuf,
    /// Removed when dropped, after the processes have stopped (fields drop in order).
    processes: Vec<Process>,
    dir: tempfile::TempDir,
}

impl Fleet {
    /// The `wsgi-lab` binary beside this lesson's own (`target/release/`, or `target/debug/`
    /// under `cargo test`), and an empty fleet.
    pub fn new() -> Result<Fleet, String> {
        let me = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
        let binary = me.with_file_name("wsgi-lab");
        if !binary.is_file() {
            return Err(format!(
                "no {} beside this lesson: build it first, `cargo build --release`",
                binary.display()
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
        Ok(Fleet { binary, processes: Vec::new(), dir })
    }

    /// Starts `wsgi-lab serve ARGS` and waits until it listens (its startup line); returns
    /// its index. `ARGS` should say `--port`.
    pub fn start(&mut self, args: &[String]) -> Result<usize, String> {
        let n = self.processes.len();
        let (out, err) = (self.dir.path().join(format!("{n}.out")), self.dir.path().join(format!("{n}.err")));
        let file = |path: &PathBuf| std::fs::File::create(path).map_err(|e| e.to_string());
        let child = Command::new(&self.binary)
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(file(&out)?)
            .stderr(file(&err)?)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
        self.processes.push(Process { child, port: 0, out, err });
        let process = &mut self.processes[n];
        // `Serving on http://127.0.0.1:PORT/ (...)`: printed once the socket listens.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let line = std::fs::read_to_string(&process.out).unwrap_or_default();
            if let Some(port) = line.strip_prefix("Serving on http://").and_then(port_of) {
                process.port = port;
                return Ok(n);
            }
            if let Ok(Some(status)) = process.child.try_wait() {
                let said = std::fs::read_to_string(&process.err).unwrap_or_default();
                return Err(format!(
                    "wsgi-lab serve {} exited with {status}: {} (an old binary? `cargo build --release`)",
                    args.join(" "),
                    said.trim()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("wsgi-lab serve {} did not listen within 10 s", args.join(" ")));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The process at `index`.
    pub fn get(&self, index: usize) -> &Process {
        &self.processes[index]
    }

    /// SIGKILL, as a crash or the OOM killer would stop it: no goodbye, its sockets reset.
    pub fn kill(&mut self, index: usize) {
        let child = &mut self.processes[index].child;
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGINT (Ctrl+C): the server finishes what is in flight and exits; with `--watch` it
    /// prints its summary, which is returned.
    pub fn interrupt(&mut self, index: usize) -> Result<Summary, String> {
        let process = &mut self.processes[index];
        let _ = kill_process(Pid::from_child(&process.child), Signal::INT);
        let deadline = Instant::now() + Duration::from_secs(15);
        while matches!(process.child.try_wait(), Ok(None)) {
            if Instant::now() > deadline {
                let _ = process.child.kill();
                return Err(format!("the process on port {} did not stop within 15 s", process.port));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let said = std::fs::read_to_string(&process.err).unwrap_or_default();
        said.lines().rev().find_map(summary).ok_or_else(|| format!("no watch summary in: {said}"))
    }

    /// How many processes were started, and how many of them are still running.
    pub fn count(&mut self) -> (usize, usize) {
        let running =
            self.processes.iter_mut().filter_map(|p| p.child.try_wait().ok()).filter(Option::is_none).count();
        (self.processes.len(), running)
    }

    /// Kills every process still running and waits for each.
    pub fn stop_all(&mut self) {
        for index in 0..self.processes.len() {
            self.kill(index);
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// The port in `127.0.0.1:PORT/ ...`.
fn port_of(address: &str) -> Option<u16> {
    address.split('/').next()?.rsplit(':').next()?.parse().ok()
}

/// A `watch summary: N served, M connections accepted, ...` line, read.
fn summary(line: &str) -> Option<Summary> {
    let rest = line.strip_prefix("watch summary: ")?;
    let mut numbers = rest.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok());
    Some(Summary { served: numbers.next()?, accepted: numbers.next()? })
}
