//! Helpers shared by the integration tests: a server on a free port of 127.0.0.1 that stops
//! when dropped, a raw-socket client, a small response parser built on `httparse`, and
//! [`each_engine!`], which runs a pool-mode test once per engine.
//!
//! Every test file uses only part of this module, so unused items are expected here.
#![allow(dead_code)]

pub mod dev;
pub mod lessons;
pub mod rows;
pub mod served;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;
use wsgi_lab::{App, Engine, Mode, Options, Running, Server};

/// How long a client waits for the server before the test fails: long enough for a loaded
/// machine, short enough that a bug cannot hang the suite.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Options for tests: the defaults, with a header timeout short enough that a test that
/// forgets to send a request head costs seconds, not ten.
pub fn options() -> Options {
    Options { header_timeout: Duration::from_secs(3), quiet: true, ..Options::default() }
}

/// [`options`] for pool mode with `engine`.
pub fn pool_options(engine: Engine) -> Options {
    Options { engine, ..options() }
}

/// Runs pool-mode tests once per engine. Each `name` given is a fn `name(engine: Engine)`;
/// the macro adds a module `name` with one test per engine, `name::shared` and
/// `name::handoff`, so that the two run in parallel and a failure names its engine.
///
/// ```ignore
/// fn pipelined_requests_are_answered_in_order(engine: Engine) { ... }
/// common::each_engine!(pipelined_requests_are_answered_in_order);
/// ```
#[allow(unused_macros)] // not every test file has pool-mode tests
macro_rules! each_engine {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn shared() {
                super::$name(wsgi_lab::Engine::Shared);
            }

            #[test]
            fn handoff() {
                super::$name(wsgi_lab::Engine::Handoff);
            }
        }
    )+};
}
#[allow(unused_imports)]
pub(crate) use each_engine;

/// How a test server serves, for the tables of cases checked in every mode: single-threaded,
/// or pool mode with an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    Single,
    Pool(Engine),
}

impl Setup {
    /// Single-threaded mode, then pool mode with each engine.
    pub fn all() -> Vec<Setup> {
        std::iter::once(Setup::Single).chain(Engine::ALL.map(Setup::Pool)).collect()
    }
}

/// [`start`] in `setup`: its mode, and in pool mode its engine in place of `options.engine`.
pub fn start_in(app: impl App + 'static, options: Options, setup: Setup) -> TestServer {
    match setup {
        Setup::Single => start(app, options, Mode::Single),
        Setup::Pool(engine) => start(app, Options { engine, ..options }, Mode::Pool),
    }
}

/// A new engine breaks this match, and so the build, until [`each_engine!`] tests it too.
const _: fn(Engine) = |engine| match engine {
    Engine::Shared | Engine::Handoff => {}
};

/// A server running `serve_forever` in a background thread ([`Server::spawn`]). Dropping it
/// shuts it down and joins the thread, so a failing test does not leave a server behind.
pub struct TestServer {
    /// Where the server listens (127.0.0.1 and the port the OS picked).
    pub addr: SocketAddr,
    running: Running,
}

/// Binds 127.0.0.1:0 (a free port) and serves `app` with `options` in `mode`.
pub fn start(app: impl App + 'static, options: Options, mode: Mode) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let server = Server::from_listener(listener, app, options, mode).expect("server from listener");
    let running = server.log_requests(false).spawn();
    TestServer { addr: running.addr(), running }
}

impl TestServer {
    /// Shuts the server down and returns what `serve_forever` returned.
    pub fn stop(self) -> Result<(), wsgi_lab::Error> {
        self.running.stop()
    }

    /// Sends `request` on a new connection and parses the answer (see [`exchange`]).
    pub fn request(&self, request: impl AsRef<[u8]>) -> Response {
        Response::parse(&exchange(self.addr, request.as_ref()))
    }

    /// A plain `GET path`, with `Connection: close` so that it also ends in pool mode.
    pub fn get(&self, path: &str) -> Response {
        self.request(format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"))
    }
}

/// A client socket with read and write timeouts, so a server that never answers fails the
/// test instead of hanging it.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the test server");
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream
}

/// Connects, writes `request`, and reads until the server closes the connection.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    send(&mut stream, request);
    read_to_close(&mut stream)
}

/// Writes all of `bytes`. A server that refuses a request may close before reading all of it;
/// that is not the client's failure, the response tells what happened.
pub fn send(stream: &mut TcpStream, bytes: &[u8]) {
    match stream.write_all(bytes) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {}
        Err(e) => panic!("writing the request failed: {e}"),
    }
}

/// Reads until end of stream (or a reset, after which what arrived is returned). Panics when
/// nothing ends the stream within [`CLIENT_TIMEOUT`].
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return received,
            // A signal arrived during the read: not a failure, read again (as `read_to_end` does).
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => panic!(
                "the server did not close the connection within {CLIENT_TIMEOUT:?}; received so far: {:?}",
                String::from_utf8_lossy(&received)
            ),
            Err(e) => panic!("reading the response failed: {e}"),
        }
    }
}

/// Reads one response head, byte by byte so that nothing after it is consumed: for a
/// `100 Continue` that comes before the final response.
pub fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => panic!("the connection closed after {:?}", String::from_utf8_lossy(&head)),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                panic!("no complete response head ({e}); received {:?}", String::from_utf8_lossy(&head))
            }
        }
    }
    head
}

/// Reads exactly one response from a connection that may stay open (keep-alive): the head,
/// then the body as its framing says: none (a HEAD request, 1xx, 204, 304), Content-Length
/// bytes, chunks up to the last one (kept chunk-encoded, as [`Response::body`] is), or
/// everything until the server closes.
pub fn read_response(stream: &mut TcpStream, head_request: bool) -> Response {
    let (mut response, _) = Response::parse_head(&read_head(stream)).expect("read_head ends at a full head");
    let status = response.status;
    let no_body = head_request || status < 200 || status == 204 || status == 304;
    response.body = if no_body {
        Vec::new()
    } else if response.header("transfer-encoding").is_some() {
        read_chunks(stream)
    } else if let Some(length) = response.header("content-length") {
        let mut body = vec![0u8; length.parse().expect("a numeric Content-Length")];
        stream.read_exact(&mut body).expect("the whole body the Content-Length promised");
        body
    } else {
        read_to_close(stream)
    };
    response
}

/// Reads a chunked body up to and including its last chunk, still encoded.
fn read_chunks(stream: &mut TcpStream) -> Vec<u8> {
    let mut wire = Vec::new();
    loop {
        let mut line = Vec::new();
        while !line.ends_with(b"\r\n") {
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).expect("a chunk size line");
            line.push(byte[0]);
        }
        let size_text = String::from_utf8_lossy(&line[..line.len() - 2]).into_owned();
        let size = usize::from_str_radix(&size_text, 16).expect("a hex chunk size");
        wire.extend_from_slice(&line);
        let mut data = vec![0u8; size + 2]; // the data and its CRLF (for the last chunk, the empty line)
        stream.read_exact(&mut data).expect("a whole chunk");
        wire.extend_from_slice(&data);
        if size == 0 {
            return wire;
        }
    }
}

/// Whether anything (bytes or end of stream) arrives on `stream` within `wait`. Used to show
/// that a client is *not* being answered yet.
pub fn answered_within(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut byte = [0u8; 1];
    let answered = match stream.peek(&mut byte) {
        Ok(_) => true,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(_) => true,
    };
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    answered
}

/// One HTTP response as received.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code, such as 200.
    pub status: u16,
    /// The reason phrase, such as `OK`.
    pub reason: String,
    /// The header lines in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// Every byte after the head, exactly as on the wire (still chunk-encoded, if it is).
    pub body: Vec<u8>,
}

impl Response {
    /// Parses a response head and takes everything after it as the body: right for a server
    /// that closes the connection after the response, as single-threaded mode does.
    pub fn parse(bytes: &[u8]) -> Response {
        let (mut response, head_len) = Response::parse_head(bytes)
            .unwrap_or_else(|| panic!("no complete response head in {:?}", String::from_utf8_lossy(bytes)));
        response.body = bytes[head_len..].to_vec();
        response
    }

    /// Parses the head at the start of `bytes`: the response without its body, and the length
    /// of the head. `None` when the head is not complete yet.
    pub fn parse_head(bytes: &[u8]) -> Option<(Response, usize)> {
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut slots);
        let head_len = match parsed.parse(bytes) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return None,
            Err(e) => panic!("malformed response head ({e}): {:?}", String::from_utf8_lossy(bytes)),
        };
        let headers = parsed
            .headers
            .iter()
            .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned()))
            .collect();
        let response = Response {
            status: parsed.code.expect("a complete head has a status"),
            reason: parsed.reason.unwrap_or_default().to_string(),
            headers,
            body: Vec::new(),
        };
        Some((response, head_len))
    }

    /// The first value of a header, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// How many times a header appears.
    pub fn count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count()
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body with chunked framing removed. Panics if it is not complete, well-formed
    /// chunked framing.
    pub fn dechunked(&self) -> Vec<u8> {
        dechunk(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.text()))
    }
}

/// Decodes a complete chunked body (`size CRLF data CRLF ... 0 CRLF CRLF`), trailers not
/// expected. Says what is wrong instead of panicking, so a test can assert a truncated body.
pub fn dechunk(mut wire: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = wire.windows(2).position(|w| w == b"\r\n").ok_or("a chunk size line is not ended")?;
        let size_text = std::str::from_utf8(&wire[..line_end]).map_err(|_| "chunk size is not text")?;
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        wire = &wire[line_end + 2..];
        if size == 0 {
            return if wire == b"\r\n" { Ok(body) } else { Err("bytes after the last chunk".into()) };
        }
        if wire.len() < size + 2 || &wire[size..size + 2] != b"\r\n" {
            return Err(format!("chunk of {size} bytes is cut short or not followed by CRLF"));
        }
        body.extend_from_slice(&wire[..size]);
        wire = &wire[size + 2..];
    }
}

/// Encodes `body` as chunks of the given sizes (the last size repeats), for requests.
pub fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut rest = body;
    let last = sizes.last().copied().unwrap_or(1024);
    let mut sizes = sizes.iter().copied().chain(std::iter::repeat(last));
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(last).clamp(1, rest.len());
        wire.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        wire.extend_from_slice(&rest[..n]);
        wire.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    wire
}

/// A raw server: each accepted connection goes to `answer` on a thread of its own. The
/// threads are left running when the test ends; the process ending closes their sockets.
pub fn raw_server(answer: impl Fn(TcpStream) + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let answer = answer.clone();
            std::thread::spawn(move || answer(stream));
        }
    });
    addr
}
