//! Every setting of a server in one place (waitress's "adjustments"), with the defaults a
//! user of waitress would expect.

use crate::http::Limits;
use crate::mount::UrlPrefix;
use std::time::Duration;

/// Every setting of a server in one table, with waitress's names where it has one.
///
/// `serve(app, Options { port: 50100, threads: 1, url_prefix: "/my-app".into(), ..Options::default() })`
/// is the twin of waitress's `serve(app, port=50100, threads=1, url_prefix="/my-app")`.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The interface to bind: `"127.0.0.1"` (this machine only, the default), `"0.0.0.0"` or
    /// `""` (every interface, as in Python).
    pub host: String,
    /// The port; 0 asks the OS for a free one ([`Server::server_address`](crate::Server::server_address) tells which).
    pub port: u16,
    /// Which pool engine runs pool mode: [`Engine::Shared`] (the default), or
    /// [`Engine::Handoff`], waitress's design.
    pub engine: Engine,
    /// Workers in pool mode; default 2 × cores + 1. At least 1: a server refuses 0 when it is
    /// built or started ([`Options::check`]).
    pub threads: usize,
    /// Mount the app under this prefix (SPEC §5), normalised when it is made:
    /// `"/my-app".into()`; `""` or `"/"` for the root.
    pub url_prefix: UrlPrefix,
    /// How long a client may take to send a complete request head (slowloris), default 10 s.
    pub header_timeout: Duration,
    /// How long an idle keep-alive connection is kept, default 5 s.
    pub idle_timeout: Duration,
    /// How long one write to a client may block, default 30 s.
    pub write_timeout: Duration,
    /// Largest request head, default 64 KiB.
    pub max_request_header_size: usize,
    /// Largest request body, default 1 GiB.
    pub max_request_body_size: u64,
    /// Bodies larger than this go to a temporary file, default 1 MiB.
    pub spool_threshold: usize,
    /// Open connections at most (pool mode); past it the server stops accepting until one
    /// closes, and new clients wait in the OS's backlog. Default 2,048.
    pub connection_limit: usize,
    /// How many connections the OS queues for the server before it accepts them (the `listen`
    /// backlog), default 1,024 as waitress's. Past it the OS drops new connection attempts, and
    /// a client retries only after a second.
    pub backlog: u32,
    /// Set `SO_REUSEPORT` on the listening socket, default off. Several servers (processes)
    /// that all set it, as the same user, can then listen on one address and port, and the
    /// kernel spreads new connections among them: by a hash of each connection's addresses,
    /// not by how busy each server is (lesson 12 measures the spread). Applies when the server
    /// binds ([`Server::bind`](crate::Server::bind)), not to a listener made elsewhere.
    pub reuse_port: bool,
    /// How long shutdown waits for requests in flight, default 10 s.
    pub shutdown_timeout: Duration,
    /// The reverse proxy whose `X-Forwarded-*` / `Forwarded` headers are believed
    /// (waitress's `trusted_proxy`); from anyone else they are removed.
    pub trusted_proxy: Option<std::net::IpAddr>,
    /// Which proxy headers to believe from it, such as `["x-forwarded-for", "x-forwarded-proto"]`.
    pub trusted_proxy_headers: Vec<String>,
    /// One access line per request on stderr.
    pub log_requests: bool,
    /// No log lines at all, not even errors (for servers inside measurements and tests).
    pub quiet: bool,
}

impl Default for Options {
    fn default() -> Self {
        let limits = Limits::default();
        Options {
            host: "127.0.0.1".to_string(),
            port: 8080,
            engine: Engine::default(),
            threads: default_threads(),
            url_prefix: UrlPrefix::default(),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(30),
            max_request_header_size: limits.max_request_header_size,
            max_request_body_size: limits.max_request_body_size,
            spool_threshold: limits.spool_threshold,
            connection_limit: 2048,
            backlog: 1024,
            reuse_port: false,
            shutdown_timeout: Duration::from_secs(10),
            trusted_proxy: None,
            trusted_proxy_headers: Vec::new(),
            log_requests: true,
            quiet: false,
        }
    }
}

impl Options {
    /// The settings no server can work with, refused with what to do instead: the one place
    /// that checks them, when a server is built and again when it starts (the builder methods
    /// may change them in between).
    ///
    /// ```
    /// use wsgi_lab::Options;
    /// assert!(Options::default().check().is_ok());
    /// assert!(Options { threads: 0, ..Options::default() }.check().unwrap_err().contains("threads"));
    /// ```
    pub fn check(&self) -> Result<(), String> {
        let problem = if self.threads == 0 {
            "threads = 0: a pool needs at least one worker (1 serves one request at a time)"
        } else if self.connection_limit == 0 {
            "connection_limit = 0: the server could never accept a connection"
        } else if self.header_timeout.is_zero() || self.idle_timeout.is_zero() {
            "a zero timeout would close every connection at once: give it a few seconds"
        } else {
            // The prefix, by the one rule the command line uses too.
            return UrlPrefix::parse(self.url_prefix.as_str())
                .map(drop)
                .map_err(|e| format!("url_prefix: {e}"));
        };
        Err(problem.to_string())
    }

    /// The receiver limits these options set.
    pub fn limits(&self) -> Limits {
        Limits {
            max_request_header_size: self.max_request_header_size,
            max_request_body_size: self.max_request_body_size,
            spool_threshold: self.spool_threshold,
        }
    }
}

/// Who waits for the network in pool mode. Both engines keep every property of SPEC §6: idle
/// connections hold no worker, no connection starves, the threads are bounded, timeouts, the
/// connection limit and graceful shutdown work the same.
///
/// The default is `Shared`: it keeps every property and, measured on a 2-core machine, serves
/// more requests for less CPU than `Handoff` at 10 and at 100 connections (the README has the
/// figures). `Handoff` stays, as the design the tutorials' server (waitress) has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// The workers wait on one epoll instance themselves; a connection's new bytes wake one of
    /// them, which serves it: at most one wake-up per request.
    #[default]
    Shared,
    /// waitress's design: one poller thread waits on epoll and hands each readable connection
    /// to a worker through a queue: at most two wake-ups per request (the poller's and a
    /// worker's), and workers that never wait on epoll.
    Handoff,
}

impl Engine {
    /// Both engines, by name.
    pub const ALL: [Engine; 2] = [Engine::Shared, Engine::Handoff];

    /// `"shared"` or `"handoff"`, as `--engine` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Shared => "shared",
            Engine::Handoff => "handoff",
        }
    }
}

impl std::str::FromStr for Engine {
    type Err = String;

    /// ```
    /// use wsgi_lab::Engine;
    /// assert_eq!("handoff".parse(), Ok(Engine::Handoff));
    /// assert!("threads".parse::<Engine>().is_err());
    /// ```
    fn from_str(name: &str) -> Result<Self, String> {
        Engine::ALL
            .into_iter()
            .find(|e| e.name() == name)
            .ok_or_else(|| format!("no engine {name:?}: choose shared or handoff"))
    }
}

/// 2 × cores + 1, the rule of thumb the tutorials quote (gunicorn's, for processes).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) * 2 + 1
}
