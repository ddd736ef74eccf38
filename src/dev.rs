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
//!   [`Head`](crate::http::Head) and the environ built by [`Environ::from_request`], so the app
//!   sees the same keys and the same decoding (`wsgi.multithread` is false).
//! - **The contract validator, always**: the app is wrapped in a
//!   [`Validator`] and a broken rule is a 500 whose body lists
//!   what is wrong and what to do instead.
//! - **A debug page**: with `debug` on, a panic in the app is a 500 HTML page with the panic
//!   message, the request and the environ. With `debug` off, the client gets a plain 500 that
//!   never shows the panic text; the message goes to the log.
//! - **One worker thread**: tiny_http reads requests on threads of its own, but the app runs
//!   on the one thread that called [`DevServer::serve_forever`], one request at a time. Flask's
//!   dev server runs a thread per request; one worker makes the cost of a slow request visible.
//! - **An access line per request** on stderr, in werkzeug's format:
//!   `127.0.0.1 - - [21/Nov/2026 10:24:03] "GET / HTTP/1.1" 200 -`, the status coloured by class
//!   on a terminal (the number says the same without colour). [`DevServer::log_requests`]
//!   turns it off.
//! - **A warning when others can reach it**: bound to anything but loopback (`0.0.0.0`, a LAN
//!   address), the banner adds a line saying the server is reachable from other machines, as
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
//! and so does `--quiet`. The production server's timeouts and limits (`--threads`,
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
//!   not send it, holds its connection forever; while the one worker waits for a body, every
//!   other client waits too (the production server closes it after `header_timeout`). Bodies
//!   up to 1 KiB tiny_http reads on its own threads before the worker sees the request, so it
//!   takes a larger stalled body to block the worker (lessons 4 and 9 show it). A client that
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
//! Ctrl+C ends the process, as it ends Flask's dev server; tests stop it with a
//! [`DevShutdown`] handle instead.

mod request;
mod response;

pub use request::MAX_BODY;
pub use response::{debug_page, escape};

use crate::environ::ServerEnviron;
use crate::proxy::ProxyPolicy;
use crate::validate::Validator;
use crate::{App, Environ, Error};
use colored::Colorize;
use response::{Answer, Failure};
use std::io::{self, IsTerminal};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the banner calls the app.
const APP_NAME: &str = "wsgi-lab dev server";

/// Where the server's lines go: stderr unless [`DevServer::log_to`] says otherwise.
type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Serves `app` on the development server until the process ends, as Flask's
/// `app.run(host, port, debug)`. `""` as host means `127.0.0.1` (Flask's default), not every
/// interface; pass `"0.0.0.0"` for that.
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
    app: Validator<Arc<dyn App>>,
    environ: ServerEnviron,
    debug: bool,
    /// Which `X-Forwarded-*` headers to believe; by default none, and they are removed, as the
    /// production server removes them.
    proxy: ProxyPolicy,
    log: LogSink,
    /// Whether an access line is written per request (error lines always are).
    log_requests: bool,
    color: bool,
    /// Set before `unblock`, so the serving loop knows the wake-up means "stop".
    stopping: Arc<AtomicBool>,
}

/// Stops a [`DevServer`]'s `serve_forever` from another thread. The request being answered
/// is finished first.
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
        let listener = crate::server::bind_listener(host, port)?;
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
        Ok(DevServer {
            server: Arc::new(server),
            addr,
            app: Validator::new(app),
            environ: ServerEnviron::new(addr, false),
            debug,
            proxy: ProxyPolicy::default(),
            log: Arc::new(|line| eprintln!("{line}")),
            log_requests: true,
            color: io::stderr().is_terminal() && colored::control::SHOULD_COLORIZE.should_colorize(),
            stopping: Arc::new(AtomicBool::new(false)),
        })
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
        self.log = Arc::new(sink);
        self.color = false;
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
        self.log_requests = on;
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
        self.proxy = policy;
        self
    }

    /// The address the server is bound to, with the real port when 0 was asked for.
    pub fn server_address(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops [`DevServer::serve_forever`] from another thread.
    pub fn shutdown_handle(&self) -> DevShutdown {
        DevShutdown { server: self.server.clone(), stopping: self.stopping.clone() }
    }

    /// The lines printed when the server starts, as Flask prints them: with a second warning
    /// when the server is bound to anything but loopback, so other machines can reach it.
    ///
    /// ```
    /// use wsgi_lab::{apps::hello, DevServer};
    /// let server = DevServer::bind(hello, "127.0.0.1", 0, true)?;
    /// let banner = server.banner();
    /// assert!(banner.contains(" * Debug mode: on"));
    /// assert!(banner.contains(&format!(" * Running on http://{}", server.server_address())));
    /// assert!(!banner.contains("reachable from other machines"));
    /// # Ok::<(), wsgi_lab::Error>(())
    /// ```
    pub fn banner(&self) -> String {
        let mut warnings = vec![
            "WARNING: this is a development server: one worker, no timeouts, lenient HTTP parsing. \
             Do not use it in production; serve the app with a production server instead \
             (wsgi_lab::serve, waitress's twin)."
                .to_string(),
        ];
        if !self.addr.ip().is_loopback() {
            // As Flask warns: 127.0.0.1 is this machine only; any other address is not.
            let debug = if self.debug { ", debug on (a panic shows the request and environ)" } else { "" };
            warnings.push(format!(
                "WARNING: the dev server is reachable from other machines at {}{debug}; it is not for \
                 production (tiny_http accepts malformed requests: see the wsgi_lab::dev docs, src/dev.rs)",
                self.addr
            ));
        }
        let paint = |w: String| if self.color { w.red().bold().to_string() } else { w };
        let warning = warnings.into_iter().map(paint).collect::<Vec<_>>().join("\n");
        let running = if self.addr.ip().is_unspecified() {
            let local = SocketAddr::from(([127, 0, 0, 1], self.addr.port()));
            format!(" * Running on all addresses ({})\n * Running on http://{local}", self.addr.ip())
        } else {
            format!(" * Running on http://{}", self.addr)
        };
        let debug = if self.debug { "on" } else { "off" };
        format!(
            " * Serving app '{APP_NAME}'\n * Debug mode: {debug}\n{warning}\n{running}\n * Press Ctrl+C to quit"
        )
    }

    /// Answers requests one at a time until shut down; `Ok` after a clean shutdown.
    pub fn serve_forever(&self) -> Result<(), Error> {
        while !self.stopping.load(Ordering::SeqCst) {
            match self.server.recv() {
                Ok(request) => self.handle_request(request),
                Err(_) if self.stopping.load(Ordering::SeqCst) => break,
                // tiny_http's accept thread has stopped: nothing more will arrive.
                Err(e) => return Err(Error::Io(e)),
            }
        }
        Ok(())
    }

    /// Answers one request: refuse it, or build the environ, call the app and send its answer.
    fn handle_request(&self, mut request: tiny_http::Request) {
        let request_line = request::request_line(&request);
        let peer = request.remote_addr().map_or(IpAddr::from([0, 0, 0, 0]), SocketAddr::ip);
        if request::declares_too_much(&request) {
            (self.log)(&format!(
                "[{}] refused \"{request_line}\": it declares a body over {MAX_BODY} bytes; left \
                 unanswered (dropping it would make tiny_http allocate the declared size)",
                crate::log::timestamp()
            ));
            std::mem::forget(request);
            return;
        }
        let answer = match request::head_of(&request) {
            Err(refusal) => Answer::refusal(&refusal),
            Ok(head) => match request::environ_of(&self.environ, &self.proxy, &head, &mut request) {
                Err(refusal) => Answer::refusal(&refusal),
                Ok(environ) => self.answer(&head, &environ, &request_line),
            },
        };
        let status = answer.status;
        // A tiny_http bug must not take the one worker down with it.
        let sent = catch_unwind(AssertUnwindSafe(|| request.respond(answer.into_tiny())));
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.error(&request_line, &format!("could not send the response: {e}")),
            Err(payload) => self.error(
                &request_line,
                &format!("tiny_http panicked: {}", crate::http::response::panic_message(payload.as_ref())),
            ),
        }
        if self.log_requests {
            (self.log)(&access_line(peer, &request_line, status, self.color));
        }
    }

    fn answer(&self, head: &crate::http::Head, environ: &Environ, request_line: &str) -> Answer {
        match response::call(&self.app, environ, head) {
            Ok(answer) => answer,
            Err(failure) => {
                let message = match &failure {
                    Failure::Panic(message) => format!("the app panicked: {message}"),
                    Failure::Mistake(mistake) => mistake.clone(),
                };
                self.error(request_line, &message);
                Answer::failure(&failure, head, environ, self.debug)
            }
        }
    }

    fn error(&self, request_line: &str, message: &str) {
        (self.log)(&format!("[{}] app error on \"{request_line}\": {message}", crate::log::timestamp()));
    }
}

/// One access line in werkzeug's format; with `color`, the status is coloured by class
/// (2xx plain, 304 cyan, 3xx green, 404 yellow, 4xx bold red, 5xx bold magenta). The size is
/// `-`, as werkzeug writes it.
///
/// ```
/// use wsgi_lab::dev::access_line;
/// let line = access_line([127, 0, 0, 1].into(), "GET / HTTP/1.1", 200, false);
/// assert!(line.starts_with("127.0.0.1 - - ["));
/// assert!(line.ends_with("] \"GET / HTTP/1.1\" 200 -"));
/// ```
pub fn access_line(peer: IpAddr, request_line: &str, status: u16, color: bool) -> String {
    let code = status.to_string();
    let code = match status {
        _ if !color => code,
        200..=299 => code,
        304 => code.cyan().to_string(),
        300..=399 => code.green().to_string(),
        404 => code.yellow().to_string(),
        400..=499 => code.red().bold().to_string(),
        _ => code.magenta().bold().to_string(),
    };
    format!("{peer} - - [{}] \"{request_line}\" {code} -", crate::log::timestamp())
}
