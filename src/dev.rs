//! The development server, Flask's `app.run(debug=True)`: quick to start, loud about
//! mistakes, and not for production. It is built on the `tiny_http` crate, so it shares none of
//! the production server's HTTP code, only the app contract.
//!
//! ```no_run
//! use wsgi_lab::router::{Request, Router};
//! use wsgi_lab::run_dev;
//!
//! let app = Router::new().route("/", |_: &Request| "Hello, World!");
//! run_dev(app, "127.0.0.1", 5000, true)?; // or app.run("127.0.0.1", 5000, true)
//! # Ok::<(), wsgi_lab::Error>(())
//! ```
//!
//! What it does for you:
//!
//! - **The same environ** as the production server: the request head is converted to our
//!   [`Head`](crate::http::Head) and the environ built by
//!   [`Environ::from_request`](crate::Environ::from_request), so the app
//!   sees the same keys and the same decoding (`wsgi.multithread` is true when threaded).
//! - **A thread per request**, by default, as Flask's `app.run` (Werkzeug's `threaded=True`,
//!   the default since Flask 1.0): a slow request does not hold up the others. There is no
//!   upper bound, as there is none on Werkzeug's: a hundred stalled clients hold a hundred
//!   threads. Requests pipelined on one connection are answered one after another, in order
//!   (`src/dev/threads.rs` says how). [`DevServer::threaded`]`(false)` (`serve --dev
//!   --without-threads`, Flask's `flask run --without-threads`) answers every request on the
//!   thread that called [`DevServer::serve_forever`], one at a time, so a slow one shows.
//! - **wsgi-lab's contract validator, always**: the app is wrapped in a [`Validator`] (our
//!   twin of `wsgiref.validate`; Werkzeug's dev server has no validator) and a broken rule is a
//!   500 whose body lists what is wrong and what to do instead.
//! - **A debug page**: with `debug` on, a panic in the app is a 500 HTML page with the panic
//!   message, where it happened (`file:line:column`, on a line of its own), the request, its
//!   headers and the environ, and the backtrace when `RUST_BACKTRACE` asks for one. Long values
//!   wrap; nothing scrolls sideways. With `debug` off, the client gets a plain 500 that never
//!   shows the panic text; the message goes to the log. (Werkzeug's debug page also offers an
//!   interactive console in the browser; this one shows and never runs anything.)
//! - **An access line per request** on stderr, in werkzeug's format:
//!   `127.0.0.1 - - [21/Nov/2026 10:24:03] "GET / HTTP/1.1" 200 -`, the status coloured by class
//!   on a terminal (the number says the same without colour). [`DevServer::log_requests`]
//!   turns it off.
//! - **A banner**, as Flask's: the app, debug mode, threaded or not, the validator, a warning
//!   that this is a development server and not for production, and a second warning when
//!   others can reach it: bound to anything but loopback (`0.0.0.0`, a LAN address), as
//!   Flask's does.
//!
//! Whatever the app returns is checked before tiny_http sees it (status, headers, ASCII-only
//! values, no CR, LF or NUL in a value, `Content-Length` against the body), and the body is
//! collected in memory and sent with its length. So a streaming app's chunks arrive all at
//! once, and a large file costs its size in memory: the production server streams.
//!
//! From the command line (`wsgi-lab serve --dev`): `--url-prefix` works, because the prefix is
//! an app wrapper ([`Mount`](crate::Mount)), not server code: `/x/...` gets `SCRIPT_NAME=/x`,
//! any other path the prefix's 404. `--trusted-proxy` works too ([`DevServer::trust_proxy`]),
//! and so does `--quiet`; `--without-threads` is [`DevServer::threaded`]`(false)`. The
//! production server's pool, timeouts and limits (`--threads`, `--single`, `--engine`,
//! `--header-timeout`, `--idle-timeout`, `--max-body`, `--max-header`, `--connection-limit`,
//! `--backlog`) and `--watch` are refused with `--dev` rather than ignored: tiny_http has none
//! of them.
//!
//! # What tiny_http (0.12) does with hostile input: why this is a development server
//!
//! Observed with raw sockets; `tests/dev_server_hostile.rs` pins each case marked *(pinned)*,
//! so an upgrade that changes one fails a test. The root of the framing cases: tiny_http frames
//! a request body its own way before the dev server sees the request, and ignores a
//! `Connection` header set by the server, so the dev server can refuse a request but cannot
//! close its connection: whatever tiny_http takes for the next request is read and answered.
//!
//! - **Both `Content-Length` and `Transfer-Encoding`** *(pinned)*: tiny_http ignores the length
//!   and decodes the body as chunked (any `Transfer-Encoding`, `gzip` too: CVE-2026-66752).
//!   The dev server answers 400 (501 for `gzip` alone) without reading the body, and tiny_http
//!   parses the unread body as the next request on the connection: a request placed in the
//!   body reaches the app.
//! - **`Content-Length: 3x`** *(pinned)*: tiny_http takes it as "no body", so the body bytes
//!   start the next "request": `abc` + `GET /next` reaches the app as method `abcGET`. The dev
//!   server answers 400 to the request itself. **`Content-Length` twice** *(pinned)*: tiny_http
//!   uses the first value, the dev server answers 400, and the next request starts after the
//!   first length's bytes.
//! - **A last chunk without its CRLF** *(pinned)*: after `0\r\n`, tiny_http reads one byte
//!   expecting `\r`, fails, and the dev server answers 400; the next request starts after that
//!   byte, so `0\r\nGET /smuggled HTTP/1.1` reaches the app as method `ET`. (A well-formed
//!   chunked body followed by a request is pipelining, answered in order, as it should be.)
//! - **Chunk trailers** *(pinned)* are not supported: the body is a 400, and the trailer, less
//!   its first byte, is read as the next request line (tiny_http's own 400, and it closes).
//! - **Chunk sizes** `+5` and ` 0` *(pinned)* are accepted (the production server refuses any
//!   size that is not hex digits).
//! - **Header values** *(pinned)*: a bare LF stays inside a value (`X-Inj: a\nContent-Length: 5`
//!   is one header, whose value reaches the app with its LF, while a proxy that splits lines on
//!   LF sees a `Content-Length`); NUL and other control characters are accepted and reach the
//!   app; a non-ASCII byte closes the connection without a response.
//! - **No limits on the head** *(pinned)*: more than 100 headers (the production server's 431),
//!   and a head larger than 64 KiB, are read into memory and passed on.
//! - **A huge declared length** *(pinned)* (`Content-Length: 10000000000000`): when such a
//!   request is dropped with its body unread, tiny_http allocates the whole declared size to
//!   skip it, and the process aborts (past `isize::MAX`, it panics instead). So the dev server
//!   never drops a request declaring more than [`MAX_BODY`]: it forgets it unanswered, which
//!   costs one tiny_http thread and one socket until the process ends.
//! - **No timeouts**: a client that sends half a request head, or declares a body and does
//!   not send it, holds its connection forever (the production server closes it after
//!   `header_timeout`): a thread of tiny_http's, and for a stalled body the request's own
//!   thread too, which waits in the read. Threaded, that costs threads, without limit; with
//!   `threaded(false)`, the one thread waits and every other client waits behind it. Bodies up
//!   to 1 KiB tiny_http reads on its own threads before the dev server sees the request, so it
//!   takes a larger stalled body to hold a request thread (lesson 4 shows both modes). A client that
//!   hangs up in the middle of its body *(pinned)* ends it early without an error in tiny_http;
//!   the dev server compares the bytes with `Content-Length` and answers 400 instead.
//! - **Versions and line ends**: `HTTP/0.9` requests are passed on *(pinned: the dev server
//!   answers 505)*; a request with `HTTP/2.0` gets a 505 that tiny_http never flushes, so the
//!   client hangs; bare `LF` line ends are not accepted and the connection hangs.
//! - **Responses**: the status line carries tiny_http's standard reason phrase, not the app's
//!   *(pinned)*: `299 Anything` is sent as `299 Unknown`; a 204 or a 304 gets
//!   `Content-Length: 0`. tiny_http writes a header value as it is given, CR and LF included
//!   (CVE-2026-66753, response splitting); the dev server's check above refuses such a value
//!   with a 500 before tiny_http sees it *(pinned)*, which closes that CVE for every app it
//!   serves.
//!
//! Why not `tiny_http_fork` (0.12.17, a one-maintainer fork that says it fixes both CVEs)? It
//! refuses bare LF, NUL and CR/LF in header values, but its Transfer-Encoding fix is partial
//! (`Content-Length: 3x` with chunked, two `Transfer-Encoding` headers, two `Content-Length`
//! headers and the unterminated last chunk above all behave as here), it refuses legal input
//! (a tab in a header value, `Transfer-Encoding: Chunked`), it breaks its API between patch
//! releases, and its request headers cannot be listed, which the environ needs. So the dev
//! server stays on tiny_http 0.12 and stays a development server.
//!
//! **Ctrl+C** ends the process at once, as it ends Werkzeug's dev server (whose request
//! threads are daemon threads): a request being answered is cut off, and its client sees the
//! connection close without a response. The dev server installs no Ctrl+C handler; the
//! production server's graceful shutdown is one of the things it does not have. Tests and
//! lessons stop it with a [`DevShutdown`] handle instead, which lets the requests in flight
//! finish (for up to [`DRAIN`]).

mod banner;
mod handler;
mod request;
mod response;
mod threads;

pub use handler::access_line;
pub use request::MAX_BODY;
pub use response::{debug_page, escape};

use crate::app::App;
use crate::environ::ServerEnviron;
use crate::proxy::ProxyPolicy;
use crate::server::Error;
use crate::validate::Validator;
use handler::Handler;
use std::io::{self, IsTerminal};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use threads::RequestThreads;

/// How long [`DevServer::serve_forever`] waits, after a [`DevShutdown`], for the requests
/// being answered on their own threads. A request still running then (a client stalled in
/// its body, say) is left to finish on its thread, or to end with the process.
pub const DRAIN: Duration = Duration::from_secs(5);

/// Serves `app` on the development server until the process ends, as Flask's
/// `app.run(host, port, debug)`: a thread per request. `""` as host means `127.0.0.1` (Flask's
/// default), not every interface; pass `"0.0.0.0"` for that.
///
/// ```no_run
/// use wsgi_lab::{apps::hello, run_dev};
/// run_dev(hello, "", 5000, false)?;
/// # Ok::<(), wsgi_lab::Error>(())
/// ```
pub fn run_dev(app: impl App + 'static, host: &str, port: u16, debug: bool) -> Result<(), Error> {
    let server = DevServer::bind(app, host, port, debug)?;
    eprintln!("{}", server.banner());
    server.serve_forever()
}

/// A bound development server. [`DevServer::serve_forever`] runs the app; a [`DevShutdown`]
/// from [`DevServer::shutdown_handle`] stops it from another thread.
///
/// ```
/// use wsgi_lab::{apps::hello, DevServer};
/// let server = DevServer::bind(hello, "127.0.0.1", 0, false)?; // port 0: any free port
/// let stop = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
/// stop.shutdown();
/// serving.join().unwrap()?;
/// # Ok::<(), wsgi_lab::Error>(())
/// ```
pub struct DevServer {
    /// Shared with every [`DevShutdown`], which calls its `unblock`.
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    /// What each request needs; the builder methods change it until serving starts.
    handler: Handler,
    /// A thread per request (the default), or every request on the serving thread.
    threaded: bool,
    /// Set before `unblock`, so the serving loop knows the wake-up means "stop".
    stopping: Arc<AtomicBool>,
}

/// Stops a [`DevServer`]'s `serve_forever` from another thread. The requests being answered
/// finish first (for up to [`DRAIN`]).
///
/// ```
/// use wsgi_lab::{apps::hello, DevServer};
/// let server = DevServer::bind(hello, "127.0.0.1", 0, false)?;
/// server.shutdown_handle().shutdown(); // before serving: serve_forever returns at once
/// server.serve_forever()?;
/// # Ok::<(), wsgi_lab::Error>(())
/// ```
#[derive(Clone)]
pub struct DevShutdown {
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
}

impl DevShutdown {
    /// Asks `serve_forever` to return. A server that was shut down stays shut down.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        // tiny_http queues the wake-up, so it is not lost if the loop is not waiting yet.
        self.server.unblock();
    }
}

impl DevServer {
    /// Binds `host:port` (`""` means `127.0.0.1`; port 0 picks a free port).
    pub fn bind(app: impl App + 'static, host: &str, port: u16, debug: bool) -> Result<DevServer, Error> {
        let host = if host.is_empty() { "127.0.0.1" } else { host };
        let listener = crate::server::bind_listener(host, port, false)?;
        Ok(DevServer::from_listener(listener, app, debug)?)
    }

    /// Serves on a listener bound elsewhere.
    ///
    /// ```
    /// use wsgi_lab::{apps::hello, DevServer};
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let port = listener.local_addr()?.port();
    /// let server = DevServer::from_listener(listener, hello, false)?;
    /// assert_eq!(server.server_address().port(), port);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_listener(
        listener: TcpListener,
        app: impl App + 'static,
        debug: bool,
    ) -> io::Result<DevServer> {
        let addr = listener.local_addr()?;
        let server = tiny_http::Server::from_listener(listener, None).map_err(io::Error::other)?;
        let app: Arc<dyn App> = Arc::new(app);
        let handler = Handler {
            app: Arc::new(Validator::new(app)),
            environ: ServerEnviron::new(addr, true),
            debug,
            proxy: ProxyPolicy::default(),
            log: Arc::new(|line| eprintln!("{line}")),
            log_requests: true,
            color: io::stderr().is_terminal() && colored::control::SHOULD_COLORIZE.should_colorize(),
        };
        Ok(DevServer {
            server: Arc::new(server),
            addr,
            handler,
            threaded: true,
            stopping: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A thread per request (`true`, the default, as Flask's `app.run`: Werkzeug's
    /// `threaded=True`), or every request answered on the thread that calls
    /// [`DevServer::serve_forever`], one at a time (`false`: Werkzeug's `threaded=False`,
    /// `serve --dev --without-threads`). Threaded, nothing limits the number of threads, as
    /// nothing limits Werkzeug's; the app sees `wsgi.multithread` true.
    ///
    /// ```
    /// use wsgi_lab::{apps::hello, DevServer};
    /// let one_at_a_time = DevServer::bind(hello, "127.0.0.1", 0, false)?.threaded(false);
    /// # Ok::<(), wsgi_lab::Error>(())
    /// ```
    pub fn threaded(mut self, on: bool) -> Self {
        self.threaded = on;
        self.handler.environ = ServerEnviron::new(self.addr, on);
        self
    }

    /// Sends the access lines and error lines to `sink` instead of stderr, without colour (a
    /// test collects them this way). Violations found by the validator still go to stderr.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use wsgi_lab::{apps::hello, DevServer};
    /// let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    /// let sink = lines.clone();
    /// let server = DevServer::bind(hello, "127.0.0.1", 0, false)?
    ///     .log_to(move |line| sink.lock().unwrap().push(line.to_string()));
    /// # Ok::<(), wsgi_lab::Error>(())
    /// ```
    pub fn log_to(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.handler.log = Arc::new(sink);
        self.handler.color = false;
        self
    }

    /// Turns the access lines off (or on again); error lines are still written. The twin of
    /// [`Server::log_requests`](crate::Server::log_requests), for `serve --dev --quiet`.
    ///
    /// ```
    /// use wsgi_lab::{apps::hello, DevServer};
    /// let quiet = DevServer::bind(hello, "127.0.0.1", 0, false)?.log_requests(false);
    /// # Ok::<(), wsgi_lab::Error>(())
    /// ```
    pub fn log_requests(mut self, on: bool) -> Self {
        self.handler.log_requests = on;
        self
    }

    /// Believes the proxy headers `policy` names from the proxy it names, as the production
    /// server does with [`Options::trusted_proxy`](crate::Options::trusted_proxy). Without it,
    /// every `X-Forwarded-*` and `Forwarded` header is removed from the environ.
    ///
    /// ```
    /// use wsgi_lab::{apps::hello, proxy::ProxyPolicy, DevServer};
    /// let policy = ProxyPolicy::new(Some([127, 0, 0, 1].into()), &["x-forwarded-for"])?;
    /// let server = DevServer::bind(hello, "127.0.0.1", 0, false)?.trust_proxy(policy);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn trust_proxy(mut self, policy: ProxyPolicy) -> Self {
        self.handler.proxy = policy;
        self
    }

    /// The address the server is bound to, with the real port when 0 was asked for.
    pub fn server_address(&self) -> SocketAddr {
        self.addr
    }

    /// Whether each request gets a thread of its own (see [`DevServer::threaded`]).
    pub fn is_threaded(&self) -> bool {
        self.threaded
    }

    /// A handle that stops [`DevServer::serve_forever`] from another thread.
    pub fn shutdown_handle(&self) -> DevShutdown {
        DevShutdown { server: self.server.clone(), stopping: self.stopping.clone() }
    }

    /// Answers requests until shut down, each on a thread of its own or, with
    /// `threaded(false)`, one at a time on this thread; `Ok` after a clean shutdown. After a
    /// shutdown it waits for the requests in flight, for up to [`DRAIN`].
    pub fn serve_forever(&self) -> Result<(), Error> {
        let handler = Arc::new(self.handler.clone());
        let threads = self.threaded.then(|| RequestThreads::new(handler.clone()));
        let ended = loop {
            if self.stopping.load(Ordering::SeqCst) {
                break Ok(());
            }
            match self.server.recv() {
                Ok(request) => match &threads {
                    Some(threads) => threads.dispatch(request),
                    None => handler.handle_request(request),
                },
                Err(_) if self.stopping.load(Ordering::SeqCst) => break Ok(()),
                // tiny_http's accept thread has stopped: nothing more will arrive.
                Err(e) => break Err(Error::Io(e)),
            }
        };
        let left = threads.map_or(0, |threads| threads.drain(DRAIN));
        if left > 0 {
            handler.log_line(&format!(
                "[{}] stopped serving with {left} connection(s) still being answered after {} s; \
                 their threads finish on their own",
                crate::log::timestamp(),
                DRAIN.as_secs()
            ));
        }
        ended
    }
}
