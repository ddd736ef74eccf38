//! `make_server(host, port, app)` and the server it returns: binding, the options, the two
//! modes, `serve_forever`, `handle_request` and shutdown.
//!
//! The server lives for the process; a connection lives for one or more requests; the
//! [`Handler`](crate::handler::Handler) answers each request. The modes change who runs the
//! handler, not what it does: in single-threaded mode the one thread that accepts also answers
//! (wsgiref); in pool mode idle connections wait in epoll and a pool of workers answers
//! (waitress). Pool mode has two engines ([`Engine`]): in `handoff`, waitress's, a poller
//! thread waits on epoll and hands each ready connection to a worker; in `shared`, the
//! workers wait on epoll themselves.

mod channel;
mod handoff;
mod pool;
mod serving;
mod shared;
mod single;

pub use crate::options::{Engine, Options, default_threads};

use crate::app::App;
use crate::mount::UrlPrefix;
use crate::proxy::ProxyPolicy;
use crate::shutdown::ShutdownHandle;
use crate::stats::Stats;
use serving::Serving;
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::num::NonZeroUsize;
use std::sync::Arc;

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
            // The OS's own words ("Address already in use (os error 98)") tell a newcomer less
            // than this; how to pick another port is the caller's to say (`PORT=0`, `--port 0`).
            Error::Bind { addr, source } if source.kind() == io::ErrorKind::AddrInUse => {
                write!(f, "cannot bind {addr}: the port is in use")
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
    /// Shared with the shutdown handle, which stops it listening from any thread.
    listener: Arc<TcpListener>,
    addr: SocketAddr,
    app: Arc<dyn App>,
    options: Options,
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
        let listener = bind_listener(host, options.port, options.reuse_port)?;
        Server::from_listener(listener, app, options, mode)
    }

    /// Serves on a listener bound elsewhere (tests bind `127.0.0.1:0` themselves this way).
    /// The listen backlog becomes [`Options::backlog`]; [`Options::reuse_port`] has no effect
    /// here, as the socket was bound already.
    pub fn from_listener(
        listener: TcpListener,
        app: impl App + 'static,
        options: Options,
        mode: Mode,
    ) -> Result<Server, Error> {
        options.check().map_err(Error::Config)?;
        let names: Vec<&str> = options.trusted_proxy_headers.iter().map(String::as_str).collect();
        let proxy = ProxyPolicy::new(options.trusted_proxy, &names).map_err(Error::Config)?;
        // std's `bind` listens with a backlog of 128: a burst of connections beyond it is
        // dropped by the OS, and each dropped client retries only after a second. Calling
        // `listen` again on a listening socket changes its backlog.
        rustix::net::listen(&listener, i32::try_from(options.backlog).unwrap_or(i32::MAX))
            .map_err(io::Error::from)?;
        let listener = Arc::new(listener);
        Ok(Server {
            proxy,
            addr: listener.local_addr()?,
            shutdown: ShutdownHandle::new(listener.clone())?,
            listener,
            app: Arc::new(app),
            options,
            mode,
            ctrl_c: true,
            stats: Arc::default(),
        })
    }

    /// Switches to pool mode with `threads` workers (at least 1: `serve_forever` refuses 0).
    pub fn threads(mut self, threads: usize) -> Self {
        self.options.threads = threads;
        self.mode = Mode::Pool;
        self
    }

    /// Switches to pool mode with the given engine: who waits for the network ([`Engine`]).
    ///
    /// ```no_run
    /// use wsgi_lab::{apps::hello, make_server, Engine};
    /// make_server("127.0.0.1", 8080, hello)?.threads(5).engine(Engine::Shared).serve_forever()?;
    /// # Ok::<(), wsgi_lab::Error>(())
    /// ```
    pub fn engine(mut self, engine: Engine) -> Self {
        self.options.engine = engine;
        self.mode = Mode::Pool;
        self
    }

    /// Mounts the app under a URL prefix (SPEC §5).
    pub fn url_prefix(mut self, prefix: &str) -> Self {
        self.options.url_prefix = UrlPrefix::new(prefix);
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

    /// A handle that stops `serve_forever` from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// `Serving on http://127.0.0.1:8080 (single-threaded, one request at a time)`.
    pub fn startup_line(&self) -> String {
        let mode = match self.mode {
            Mode::Single => "single-threaded, one request at a time".to_string(),
            Mode::Pool => {
                let (n, engine) = (self.options.threads, self.options.engine.name());
                format!("pool of {n} worker{}, {engine} engine", if n == 1 { "" } else { "s" })
            }
        };
        format!("Serving on http://{}{}/ ({mode})", self.addr, self.options.url_prefix.as_str())
    }

    /// Serves until shut down (the handle, or Ctrl+C). Returns `Ok` after a clean shutdown, and
    /// at once when the server was shut down before: shutdown stopped its socket listening.
    pub fn serve_forever(&self) -> Result<(), Error> {
        self.options.check().map_err(Error::Config)?;
        let _ctrl_c = self.ctrl_c.then(|| crate::shutdown::ctrl_c::register(&self.shutdown));
        let serving = Serving::new(self);
        let threads = NonZeroUsize::new(self.options.threads).expect("Options::check refused threads = 0");
        let (listener, shutdown) = (self.listener.clone(), &self.shutdown);
        let result = match (self.mode, self.options.engine) {
            (Mode::Single, _) => single::serve(&serving, &listener, shutdown, None),
            (Mode::Pool, Engine::Shared) => shared::serve(serving, threads, listener, shutdown),
            (Mode::Pool, Engine::Handoff) => handoff::serve(serving, threads, listener, shutdown),
        };
        result.map_err(Error::Io)
    }

    /// Serves on a background thread, until the returned [`Running`] is stopped or dropped:
    /// how lessons, `compare` and tests run a server beside the code that measures it.
    ///
    /// ```
    /// use wsgi_lab::{apps::hello, Mode, Options, Server};
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let options = Options { quiet: true, ..Options::default() };
    /// let running = Server::from_listener(listener, hello, options, Mode::Pool)?.spawn();
    /// assert_ne!(running.addr().port(), 0);
    /// running.stop()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn(self) -> Running {
        let (addr, handle, stats) = (self.addr, self.shutdown_handle(), self.stats());
        let server = self.ctrl_c(false);
        // Named, so that a lesson can tell it from the workers: with the handoff engine it is
        // the poller; with the shared engine it only waits for the shutdown.
        let thread = std::thread::Builder::new()
            .name("server".to_string())
            .spawn(move || server.serve_forever())
            .expect("the OS refused to start the server thread");
        Running { addr, handle, stats, thread: Some(thread) }
    }

    /// Waits for one connection and answers its one request, as wsgiref's `handle_request`.
    pub fn handle_request(&self) -> Result<(), Error> {
        single::serve(&Serving::new(self), &self.listener, &self.shutdown, Some(1)).map_err(Error::Io)
    }
}

/// A server serving on a background thread ([`Server::spawn`]). Dropping it shuts the server
/// down and waits for it.
pub struct Running {
    addr: SocketAddr,
    handle: ShutdownHandle,
    stats: Arc<Stats>,
    thread: Option<std::thread::JoinHandle<Result<(), Error>>>,
}

impl Running {
    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's live counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// `http://127.0.0.1:PORT`, for building URLs.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Shuts the server down gracefully and returns how `serve_forever` ended.
    pub fn stop(mut self) -> Result<(), Error> {
        self.handle.shutdown();
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::Io(io::Error::other("the server thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.shutdown();
            let _ = thread.join();
        }
    }
}

/// Resolves `host` and binds `host:port`, with an error that names the cause. With
/// `reuse_port`, the socket sets `SO_REUSEPORT` ([`Options::reuse_port`]): other sockets that
/// set it too, of the same user, may bind the same address, and the kernel spreads new
/// connections among them.
///
/// ```
/// use wsgi_lab::server::bind_listener;
/// let listener = bind_listener("127.0.0.1", 0, false)?;
/// assert_ne!(listener.local_addr()?.port(), 0);
/// assert!(bind_listener("no-such-host.invalid", 80, false).unwrap_err().to_string().contains("cannot resolve"));
///
/// let first = bind_listener("127.0.0.1", 0, true)?;
/// let port = first.local_addr()?.port();
/// let second = bind_listener("127.0.0.1", port, true)?;
/// assert_eq!(second.local_addr()?.port(), port);
/// assert!(bind_listener("127.0.0.1", port, false).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn bind_listener(host: &str, port: u16, reuse_port: bool) -> Result<TcpListener, Error> {
    let resolve_error = |source| Error::Resolve { host: host.to_string(), source };
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(resolve_error)?
        .next()
        .ok_or_else(|| resolve_error(io::ErrorKind::NotFound.into()))?;
    listening_socket(addr, reuse_port)
        .map_err(|source| Error::Bind { addr: format!("{host}:{port}"), source })
}

/// The socket std's `TcpListener::bind` makes (close-on-exec, `SO_REUSEADDR`, a backlog of
/// 128), made step by step because `SO_REUSEPORT` must be set before `bind` and std has no
/// step in between. [`Server::from_listener`] then sets the backlog the options ask for.
fn listening_socket(addr: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType, sockopt};
    let family = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    let socket = rustix::net::socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    // As std does: a restarted server may bind its port while old connections linger in TIME_WAIT.
    sockopt::set_socket_reuseaddr(&socket, true)?;
    sockopt::set_socket_reuseport(&socket, reuse_port)?;
    rustix::net::bind(&socket, &addr)?;
    rustix::net::listen(&socket, 128)?;
    Ok(TcpListener::from(socket))
}
