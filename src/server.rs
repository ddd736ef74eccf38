//! `make_server(host, port, app)` and the server it returns: binding, the options, the two
//! modes, `serve_forever`, `handle_request` and shutdown.
//!
//! The server lives for the process; a connection lives for one or more requests; the
//! [`Handler`] answers each request. The modes change who runs the handler, not what it does:
//! in single-threaded mode the one thread that accepts also answers (wsgiref); in pool mode
//! a poller parks idle connections and a pool of workers answers (waitress, [`crate::pool`]).

use crate::environ::ServerEnviron;
use crate::handler::{Handler, write_error};
use crate::http::{HttpError, Limits, Receiver, Step};
use crate::proxy::ProxyPolicy;
use crate::stats::{Stats, WorkerState};
use crate::{App, Log, UrlPrefix};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every setting of a server in one table, with waitress's names where it has one.
///
/// `serve(app, Options { port: 50100, threads: 1, url_prefix: "/my-app".into(), ..Options::default() })`
/// is the twin of waitress's `serve(app, port=50100, threads=1, url_prefix="/my-app")`.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The interface to bind: `"127.0.0.1"` (this machine only, the default), `"0.0.0.0"` or
    /// `""` (every interface, as in Python).
    pub host: String,
    /// The port; 0 asks the OS for a free one ([`Server::server_address`] tells which).
    pub port: u16,
    /// Workers in pool mode; default 2 × cores + 1.
    pub threads: usize,
    /// Mount the app under this prefix (SPEC §5); `""` or `"/"` for the root.
    pub url_prefix: String,
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
    /// How long shutdown waits for requests in flight, default 10 s.
    pub shutdown_timeout: Duration,
    /// The reverse proxy whose `X-Forwarded-*` / `Forwarded` headers are believed
    /// (waitress's `trusted_proxy`); from anyone else they are removed.
    pub trusted_proxy: Option<std::net::IpAddr>,
    /// Which proxy headers to believe from it, such as `["x-forwarded-for", "x-forwarded-proto"]`.
    pub trusted_proxy_headers: Vec<String>,
    /// One access line per request on stderr.
    pub log_requests: bool,
}

impl Default for Options {
    fn default() -> Self {
        let limits = Limits::default();
        Options {
            host: "127.0.0.1".to_string(),
            port: 8080,
            threads: default_threads(),
            url_prefix: String::new(),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(30),
            max_request_header_size: limits.max_request_header_size,
            max_request_body_size: limits.max_request_body_size,
            spool_threshold: limits.spool_threshold,
            connection_limit: 2048,
            shutdown_timeout: Duration::from_secs(10),
            trusted_proxy: None,
            trusted_proxy_headers: Vec::new(),
            log_requests: true,
        }
    }
}

impl Options {
    /// The receiver limits these options set.
    pub fn limits(&self) -> Limits {
        Limits {
            max_request_header_size: self.max_request_header_size,
            max_request_body_size: self.max_request_body_size,
            spool_threshold: self.spool_threshold,
        }
    }
}

/// 2 × cores + 1, the rule of thumb the tutorials quote (gunicorn's, for processes).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) * 2 + 1
}

/// Who runs the request handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One thread accepts, reads, runs the app and writes, one connection at a time (wsgiref).
    Single,
    /// A pool of workers runs the app; idle connections wait in a poller (waitress).
    Pool,
}

/// What can go wrong starting a server. Each says its cause in one line.
#[derive(Debug)]
pub enum Error {
    /// The host name did not resolve to an address.
    Resolve {
        /// The host as given.
        host: String,
        /// Why it did not resolve.
        source: io::Error,
    },
    /// The address could not be bound (taken, or not this machine's).
    Bind {
        /// `host:port` as given.
        addr: String,
        /// Why the OS refused.
        source: io::Error,
    },
    /// An option that cannot work, with what to do instead.
    Config(String),
    /// Anything else the OS refused while serving.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Resolve { host, source } => write!(f, "cannot resolve host {host:?}: {source}"),
            Error::Bind { addr, source } if source.kind() == io::ErrorKind::AddrInUse => {
                write!(f, "cannot bind {addr}: the port is taken by another program ({source})")
            }
            Error::Bind { addr, source } => write!(f, "cannot bind {addr}: {source}"),
            Error::Config(message) => write!(f, "{message}"),
            Error::Io(source) => write!(f, "{source}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// A bound server, ready to serve. See [`make_server`].
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    app: Arc<dyn App>,
    options: Options,
    prefix: UrlPrefix,
    mode: Mode,
    shutdown: ShutdownHandle,
    ctrl_c: bool,
    stats: Arc<Stats>,
    proxy: ProxyPolicy,
}

/// Binds `host:port` and returns a single-threaded server for `app`, as wsgiref's
/// `make_server` does. `""` as host means every interface; port 0 picks a free port.
///
/// ```no_run
/// use wsgi_lab::{make_server, Body, Environ, StartResponse};
///
/// fn app(_: &Environ, start_response: StartResponse) -> Body {
///     start_response("200 OK", vec![("Content-Type", "text/plain")]);
///     Body::from("Hello, World!")
/// }
///
/// let server = make_server("", 5000, app)?;
/// println!("Serving on port 5000...");
/// server.serve_forever()?;
/// # Ok::<(), wsgi_lab::Error>(())
/// ```
pub fn make_server(host: &str, port: u16, app: impl App + 'static) -> Result<Server, Error> {
    let options = Options { host: host.to_string(), port, ..Options::default() };
    Server::bind(app, options, Mode::Single)
}

/// waitress's `serve(app, host=..., port=..., threads=..., url_prefix=...)`: binds, prints
/// the startup line and serves in pool mode until shut down (Ctrl+C).
pub fn serve(app: impl App + 'static, options: Options) -> Result<(), Error> {
    let server = Server::bind(app, options, Mode::Pool)?;
    println!("{}", server.startup_line());
    server.serve_forever()
}

impl Server {
    /// Binds a server with the given options and mode.
    pub fn bind(app: impl App + 'static, options: Options, mode: Mode) -> Result<Server, Error> {
        let host = if options.host.is_empty() { "0.0.0.0" } else { options.host.as_str() };
        let shown = format!("{host}:{}", options.port);
        let addr = (host, options.port)
            .to_socket_addrs()
            .map_err(|source| Error::Resolve { host: host.to_string(), source })?
            .next()
            .ok_or_else(|| Error::Resolve {
                host: host.to_string(),
                source: io::ErrorKind::NotFound.into(),
            })?;
        let listener = TcpListener::bind(addr).map_err(|source| Error::Bind { addr: shown, source })?;
        Server::from_listener(listener, app, options, mode)
    }

    /// Serves on a listener bound elsewhere (tests bind `127.0.0.1:0` themselves this way).
    pub fn from_listener(
        listener: TcpListener,
        app: impl App + 'static,
        options: Options,
        mode: Mode,
    ) -> Result<Server, Error> {
        let names: Vec<&str> = options.trusted_proxy_headers.iter().map(String::as_str).collect();
        let proxy = ProxyPolicy::new(options.trusted_proxy, &names).map_err(Error::Config)?;
        Ok(Server {
            proxy,
            addr: listener.local_addr()?,
            listener,
            app: Arc::new(app),
            prefix: UrlPrefix::new(&options.url_prefix),
            options,
            mode,
            shutdown: ShutdownHandle::default(),
            ctrl_c: true,
            stats: Arc::default(),
        })
    }

    /// Switches to pool mode with `threads` workers.
    pub fn threads(mut self, threads: usize) -> Self {
        self.options.threads = threads.max(1);
        self.mode = Mode::Pool;
        self
    }

    /// Mounts the app under a URL prefix (SPEC §5).
    pub fn url_prefix(mut self, prefix: &str) -> Self {
        self.prefix = UrlPrefix::new(prefix);
        self.options.url_prefix = self.prefix.as_str().to_string();
        self
    }

    /// Turns the access log on or off.
    pub fn log_requests(mut self, on: bool) -> Self {
        self.options.log_requests = on;
        self
    }

    /// Changes any other option.
    pub fn with_options(mut self, change: impl FnOnce(&mut Options)) -> Self {
        change(&mut self.options);
        self.prefix = UrlPrefix::new(&self.options.url_prefix);
        self
    }

    /// Whether Ctrl+C shuts this server down gracefully (default true).
    pub fn ctrl_c(mut self, on: bool) -> Self {
        self.ctrl_c = on;
        self
    }

    /// The address the server is bound to, with the real port when 0 was asked for.
    pub fn server_address(&self) -> SocketAddr {
        self.addr
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The mode in force.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Live counters: what each worker is doing, requests served, connections open.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    pub(crate) fn app(&self) -> Arc<dyn App> {
        self.app.clone()
    }

    pub(crate) fn proxy(&self) -> &ProxyPolicy {
        &self.proxy
    }

    pub(crate) fn listener(&self) -> &TcpListener {
        &self.listener
    }

    /// A handle that stops `serve_forever` from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// `Serving on http://127.0.0.1:8080 (single-threaded, one request at a time)`.
    pub fn startup_line(&self) -> String {
        let mode = match self.mode {
            Mode::Single => "single-threaded, one request at a time".to_string(),
            Mode::Pool => format!("pool of {} workers", self.options.threads),
        };
        format!("Serving on http://{}{}/ ({mode})", self.addr, self.prefix.as_str())
    }

    /// Serves until shut down (the handle, or Ctrl+C). Returns `Ok` after a clean shutdown.
    pub fn serve_forever(&self) -> Result<(), Error> {
        let _ctrl_c = self.ctrl_c.then(|| ctrl_c::register(&self.shutdown));
        let result = match self.mode {
            Mode::Single => self.serve_single(None),
            Mode::Pool => crate::poller::serve(self),
        };
        self.shutdown.0.stop.store(false, Ordering::SeqCst);
        result.map_err(Error::Io)
    }

    /// Waits for one connection and answers its one request, as wsgiref's `handle_request`.
    pub fn handle_request(&self) -> Result<(), Error> {
        self.serve_single(Some(1)).map_err(Error::Io)
    }

    fn serve_single(&self, mut count: Option<usize>) -> io::Result<()> {
        let log = Log { access: self.options.log_requests };
        let environ = ServerEnviron::new(self.addr, false);
        let handler = Handler {
            app: self.app.as_ref(),
            environ: &environ,
            prefix: &self.prefix,
            proxy: &self.proxy,
            log: &log,
        };
        let mut poll = Poll::new()?;
        self.shutdown.set_waker(Arc::new(Waker::new(poll.registry(), WAKE)?));
        self.listener.set_nonblocking(true)?;
        poll.registry().register(&mut SourceFd(&self.listener.as_raw_fd()), LISTENER, Interest::READABLE)?;
        let mut events = Events::with_capacity(8);
        let worker = self.stats.add_workers(1).remove(0);
        while count != Some(0) && !self.shutdown.is_requested() {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    self.stats.connection(1);
                    self.answer_one(stream, peer, &handler, &worker);
                    self.stats.connection(-1);
                    count = count.map(|n| n - 1);
                }
                // Readiness is edge-triggered: wait only after accept said there is nothing.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait(&mut poll, &mut events, None)?,
                Err(e) => accept_failed(&log, e),
            }
        }
        Ok(())
    }

    /// Single-threaded mode's connection: one request, one response, close.
    fn answer_one(
        &self,
        mut stream: TcpStream,
        peer: SocketAddr,
        handler: &Handler<'_>,
        worker: &Mutex<WorkerState>,
    ) {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(self.options.write_timeout));
        let mut receiver = Receiver::new(self.options.limits());
        let deadline = Instant::now() + self.options.header_timeout;
        let refusal = loop {
            match receiver.step() {
                Ok(Step::Ready(request)) => {
                    self.stats.started(worker, request.head.request_line());
                    let _ = handler.handle(request, peer, false, &mut stream);
                    self.stats.finished(worker);
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
                Ok(Step::SendContinue) => {
                    if stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                        return;
                    }
                }
                Ok(Step::NeedMore) => {
                    // The head must be complete by the deadline; after it, the body must keep
                    // coming (no silence longer than the header timeout).
                    let left = deadline.saturating_duration_since(Instant::now());
                    let wait = if receiver.receiving_body() { self.options.header_timeout } else { left };
                    if wait.is_zero() {
                        break HttpError::new(408, "no complete request within the header timeout");
                    }
                    let _ = stream.set_read_timeout(Some(wait));
                    match receiver.read_from(&mut stream) {
                        Ok(0) => return, // the client went away
                        Ok(_) => {}
                        Err(e) if is_timeout(&e) => {
                            break HttpError::new(408, "no complete request within the header timeout");
                        }
                        Err(_) => return,
                    }
                }
                Err(error) => break error,
            }
        };
        handler.log.refused(peer.ip(), refusal.status, &refusal.detail);
        self.stats.answered();
        if write_error(&mut stream, &refusal, 1, false).is_ok() {
            linger_close(stream);
        }
    }
}

/// Closes a connection whose request was refused. The client may still be sending (a body we
/// will not read); closing at once would make the OS answer with a reset that can destroy our
/// error response before the client reads it. So: stop writing, drain a little, then close.
fn linger_close(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let give_up = Instant::now() + Duration::from_secs(2);
    let mut sink = [0u8; 16 * 1024];
    while Instant::now() < give_up {
        match stream.read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

pub(crate) const LISTENER: Token = Token(usize::MAX - 1);
pub(crate) const WAKE: Token = Token(usize::MAX);

/// Waits for readiness; a signal interrupting the wait is not an error.
pub(crate) fn wait(poll: &mut Poll, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
    match poll.poll(events, timeout) {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
        other => other,
    }
}

/// An accept that failed for a reason other than "nothing to accept", such as running out of
/// file descriptors: log it and pause briefly rather than spin.
pub(crate) fn accept_failed(log: &Log, e: io::Error) {
    log.info(&format!("accept failed: {e}; pausing 100 ms"));
    std::thread::sleep(Duration::from_millis(100));
}

pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// Stops a running `serve_forever`, from any thread. Cloning gives another handle to the same
/// server.
///
/// ```
/// use wsgi_lab::{make_server, Body, Environ, StartResponse};
/// let app = |_: &Environ, sr: StartResponse| { sr("200 OK", vec![]); Body::empty() };
/// let server = make_server("127.0.0.1", 0, app)?.log_requests(false).ctrl_c(false);
/// let handle = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
/// handle.shutdown();
/// serving.join().unwrap()?;
/// # Ok::<(), wsgi_lab::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct ShutdownHandle(Arc<ShutdownState>);

#[derive(Default)]
struct ShutdownState {
    stop: AtomicBool,
    /// Wakes the serving thread's poller; replaced each time `serve_forever` starts.
    waker: Mutex<Option<Arc<Waker>>>,
}

impl ShutdownHandle {
    /// Asks the server to stop. It returns at once; `serve_forever` returns when the server
    /// has finished what was in flight.
    pub fn shutdown(&self) {
        self.0.stop.store(true, Ordering::SeqCst);
        if let Some(waker) = self.0.waker.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = waker.wake();
        }
    }

    /// Whether shutdown was asked for.
    pub fn is_requested(&self) -> bool {
        self.0.stop.load(Ordering::SeqCst)
    }

    pub(crate) fn set_waker(&self, waker: Arc<Waker>) {
        *self.0.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(waker);
    }

    fn same(&self, other: &ShutdownHandle) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Ctrl+C, wired once per process to every server that is serving.
mod ctrl_c {
    use super::ShutdownHandle;
    use std::sync::{Mutex, Once};

    static SERVING: Mutex<Vec<ShutdownHandle>> = Mutex::new(Vec::new());
    static INSTALL: Once = Once::new();

    /// Registers a server until the guard is dropped.
    pub fn register(handle: &ShutdownHandle) -> Guard {
        INSTALL.call_once(|| {
            // A second Ctrl+C while shutting down means "now": exit at once.
            let _ = ctrlc::set_handler(|| {
                let serving = SERVING.lock().unwrap_or_else(|e| e.into_inner());
                if serving.iter().any(|h| h.is_requested()) {
                    std::process::exit(130);
                }
                eprintln!("\nShutting down (Ctrl+C again to quit at once)...");
                serving.iter().for_each(ShutdownHandle::shutdown);
            });
        });
        SERVING.lock().unwrap_or_else(|e| e.into_inner()).push(handle.clone());
        Guard(handle.clone())
    }

    pub struct Guard(ShutdownHandle);

    impl Drop for Guard {
        fn drop(&mut self) {
            SERVING.lock().unwrap_or_else(|e| e.into_inner()).retain(|h| !h.same(&self.0));
        }
    }
}
