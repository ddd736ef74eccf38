//! Lesson 12's load balancer: a real nginx with an `upstream` block of wsgi-lab processes,
//! started from `12_past_one_process.nginx.conf` in a temporary directory of its own, and
//! what its access log says afterwards: which process served each request, what failed.

use std::path::Path;

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

/// One nginx in front of the processes, in the foreground as the lesson's child: lesson 10's
/// [`Nginx`](crate::reverse_proxy::Nginx) (its start, its temporary directory, its stop),
/// started from this lesson's template.
pub struct Nginx {
    nginx: crate::reverse_proxy::Nginx,
    pub port: u16,
}

impl Nginx {
    /// Starts nginx in front of the processes on `ports`. `retry`: nginx's default
    /// `proxy_next_upstream error timeout`; otherwise `off`.
    pub fn start(binary: &Path, balancer: Balancer, ports: &[u16], retry: bool) -> Result<Nginx, String> {
        let servers: Vec<String> = ports
            .iter()
            .map(|p| format!("server 127.0.0.1:{p} max_fails=1 fail_timeout={FAIL_TIMEOUT_SECS}s;"))
            .collect();
        let nginx = crate::reverse_proxy::Nginx::start_from(binary, TEMPLATE, |config| {
            config
                .replace("@BALANCER@", if balancer == Balancer::LeastConn { "least_conn;" } else { "" })
                .replace("@SERVERS@", &servers.join(" "))
                .replace("@NEXT_UPSTREAM@", if retry { "error timeout" } else { "off" })
        })
        .map_err(|e| format!("nginx: {e}"))?;
        Ok(Nginx { port: nginx.port, nginx })
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stops nginx (SIGTERM, its fast shutdown; SIGKILL after 5 s) and reads its access log.
    pub fn stop(mut self) -> Log {
        self.nginx.stop();
        Log::parse(&std::fs::read_to_string(self.nginx.dir.path().join("access.log")).unwrap_or_default())
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
