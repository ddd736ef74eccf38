//! Lesson 12's load balancer: a real nginx with an `upstream` block of wsgi-lab processes,
//! started from `12_past_one_process.nginx.conf` in a temporary directory of its own, and
//! what its access log says afterwards: which process served each request, what failed.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The configuration, a template with placeholders (see the file's header).
const TEMPLATE: &str = include_str!("../12_past_one_process.nginx.conf");

/// How nginx picks a process for each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balancer {
    /// nginx's default: the next process in turn.
    RoundRobin,
    /// `least_conn`: the process with the fewest requests in flight (in turn among equals).
    LeastConn,
}

impl Balancer {
    pub fn name(self) -> &'static str {
        match self {
            Balancer::RoundRobin => "round-robin",
            Balancer::LeastConn => "least_conn",
        }
    }
}

/// One nginx, in the foreground as the lesson's child.
pub struct Nginx {
    child: Child,
    pub port: u16,
    /// Removed when dropped, after nginx has stopped.
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx in front of the processes on `ports`. `retry`: nginx's default
    /// `proxy_next_upstream error timeout`; otherwise `off`. Tries three times, for the rare
    /// case where another program takes the free port before nginx binds it.
    pub fn start(binary: &Path, balancer: Balancer, ports: &[u16], retry: bool) -> Result<Nginx, String> {
        let mut result = Nginx::try_start(binary, balancer, ports, retry);
        for _ in 0..2 {
            if result.is_ok() {
                break;
            }
            result = Nginx::try_start(binary, balancer, ports, retry);
        }
        result
    }

    fn try_start(binary: &Path, balancer: Balancer, ports: &[u16], retry: bool) -> Result<Nginx, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
        // Run as root, nginx's workers drop to an unprivileged user, which must be able to
        // enter the directory to write its log.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let servers: Vec<String> = ports
            .iter()
            .map(|p| format!("server 127.0.0.1:{p} max_fails=1 fail_timeout={FAIL_TIMEOUT_SECS}s;"))
            .collect();
        let temp = dir.path().display().to_string();
        let config = TEMPLATE
            .replace("@TEMP_DIR@", &temp)
            .replace("@LISTEN_PORT@", &port.to_string())
            .replace("@BALANCER@", if balancer == Balancer::LeastConn { "least_conn;" } else { "" })
            .replace("@SERVERS@", &servers.join(" "))
            .replace("@NEXT_UPSTREAM@", if retry { "error timeout" } else { "off" });
        let config_path = dir.path().join("nginx.conf");
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&config_path)
            .arg("-g")
            .arg(format!("daemon off; pid {temp}/nginx.pid;"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        let mut nginx = Nginx { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                return Err(format!("nginx exited with {status}: {}", nginx.read("stderr.log")));
            }
            // A connection opened and closed with no request in it: nginx forwards nothing.
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(nginx);
            }
            if Instant::now() > deadline {
                return Err(format!("nginx was not listening after 5 s: {}", nginx.read("error.log")));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stops nginx (SIGTERM, its fast shutdown; SIGKILL after 5 s) and reads its access log.
    pub fn stop(mut self) -> Log {
        self.halt();
        Log::parse(&std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default())
    }

    fn halt(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pid = rustix::process::Pid::from_child(&self.child);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    /// A log of nginx's, on one line, for an error message.
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default().trim().replace('\n', " | ")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.halt();
    }
}

/// `fail_timeout`: how long a process that failed stays out of the rotation.
pub const FAIL_TIMEOUT_SECS: u64 = 1;

/// One line of the access log: a request as nginx saw it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// When it ended, in seconds since the Unix epoch (nginx's `$msec`).
    pub at: f64,
    /// What the client got.
    pub status: u16,
    /// Each process tried, in order, with what it answered: 502 for a refused or broken
    /// connection, `None` when the client left before the answer (nginx's 499).
    pub tried: Vec<(u16, Option<u16>)>,
}

/// nginx's access log, read.
pub struct Log {
    pub entries: Vec<Entry>,
}

impl Log {
    /// Reads lines of `$msec $status "$upstream_addr" "$upstream_status"`.
    fn parse(text: &str) -> Log {
        let entries = text
            .lines()
            .filter_map(|line| {
                let parts: Vec<&str> = line.split('"').collect();
                let mut head = parts.first()?.split_whitespace();
                let (at, status) = (head.next()?.parse().ok()?, head.next()?.parse().ok()?);
                let list = |i: usize| parts.get(i).map_or(Vec::new(), |s| s.split(", ").collect::<Vec<_>>());
                // An address without a port (the upstream's name) means no process was tried.
                let ports = list(1).into_iter().map(|a| a.rsplit(':').next()?.parse().ok());
                let statuses = list(3).into_iter().map(|s| s.parse().ok());
                let tried = ports.zip(statuses).filter_map(|(port, s)| Some((port?, s))).collect();
                Some(Entry { at, status, tried })
            })
            .collect();
        Log { entries }
    }

    /// Requests nginx sent to the process on `port`, answered or not: the balancer's choices.
    pub fn sent_to(&self, port: u16) -> usize {
        self.entries.iter().flat_map(|e| &e.tried).filter(|&&(p, _)| p == port).count()
    }

    /// Requests nginx sent on to another process after one failed.
    pub fn retried(&self) -> usize {
        self.entries.iter().filter(|e| e.tried.len() > 1).count()
    }
}
