//! A development server for the tests: serving in a background thread on 127.0.0.1:0, its
//! log lines collected, and the responses it sends (each framed by its Content-Length: the dev
//! server always sends one).

use super::{CLIENT_TIMEOUT, Response, exchange};
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wsgi_lab::dev::DevShutdown;
use wsgi_lab::{App, DevServer};

/// A dev server serving in a background thread, its log lines collected. Dropping it shuts it
/// down and joins the thread.
pub struct Dev {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: DevShutdown,
    log: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<Result<(), wsgi_lab::Error>>>,
}

/// Starts `app` on the dev server, with `debug` as asked.
pub fn start(app: impl App + 'static, debug: bool) -> Dev {
    serve(DevServer::bind(app, "127.0.0.1", 0, debug).expect("bind 127.0.0.1:0"))
}

/// Serves a dev server configured by the test (bound to 127.0.0.1), its log lines collected.
pub fn serve(server: DevServer) -> Dev {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let server = server.log_to(move |line| sink.lock().unwrap().push(line.to_string()));
    let (addr, stop) = (server.server_address(), server.shutdown_handle());
    let thread = Some(std::thread::spawn(move || server.serve_forever()));
    Dev { addr, stop, log, thread }
}

/// How long a probe waits for more bytes: the dev server answers on loopback in far less, and
/// a probe that gets no end of stream (tiny_http keeps the connection) stops waiting here.
pub const PROBE_WAIT: Duration = Duration::from_secs(2);

/// Sends `raw` on a new connection and returns every byte received until the server closes
/// it or [`PROBE_WAIT`] passes without a byte. Never panics on a timeout: a probe asserts what
/// it received, not when.
pub fn probe(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect to the dev server");
    stream.set_read_timeout(Some(PROBE_WAIT)).unwrap();
    super::send(&mut stream, raw);
    let mut received = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Every response in `bytes`, in order (each framed by its Content-Length).
pub fn replies(bytes: &[u8]) -> Vec<Reply> {
    let mut all = Vec::new();
    let mut rest = bytes.to_vec();
    while !rest.is_empty() {
        let mut reply = Reply::parse(&rest);
        rest = std::mem::take(&mut reply.rest);
        all.push(reply);
    }
    all
}

impl Dev {
    /// `GET path` with `Connection: close`.
    pub fn get(&self, path: &str) -> Reply {
        self.request(&format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"))
    }

    /// Sends `raw` on a new connection and parses the first response.
    pub fn request(&self, raw: &str) -> Reply {
        Reply::parse(&exchange(self.addr, raw.as_bytes()))
    }

    /// The log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until a log line contains `text` (the server writes it after answering).
    pub fn wait_for_log(&self, text: &str) -> String {
        let deadline = Instant::now() + CLIENT_TIMEOUT;
        loop {
            if let Some(line) = self.log().into_iter().find(|l| l.contains(text)) {
                return line;
            }
            assert!(Instant::now() < deadline, "no log line with {text:?} in {:?}", self.log());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Shuts down and returns what `serve_forever` returned.
    pub fn stop(mut self) -> Result<(), wsgi_lab::Error> {
        self.stop.shutdown();
        self.thread.take().unwrap().join().expect("the server thread panicked")
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stop.shutdown();
            let _ = thread.join();
        }
    }
}

/// One response, framed by its Content-Length, and the bytes after it.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The header lines in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Bytes after this response: the next response on the connection, if any.
    pub rest: Vec<u8>,
}

impl Reply {
    /// The first response in `bytes`.
    pub fn parse(bytes: &[u8]) -> Reply {
        // tiny_http echoes the request's version, so an HTTP/0.9 request gets an `HTTP/0.9`
        // status line, which httparse refuses; read it as 1.0 (same length, same offsets).
        let mut bytes = bytes.to_vec();
        if bytes.starts_with(b"HTTP/0.9 ") {
            bytes[5..8].copy_from_slice(b"1.0");
        }
        let bytes = bytes.as_slice();
        let (head, head_len) = Response::parse_head(bytes)
            .unwrap_or_else(|| panic!("no complete response head in {:?}", String::from_utf8_lossy(bytes)));
        let length: usize = head.header("content-length").map_or(0, |v| v.parse().unwrap());
        let body = bytes[head_len..head_len + length].to_vec();
        let rest = bytes[head_len + length..].to_vec();
        Reply { status: head.status, reason: head.reason, headers: head.headers, body, rest }
    }

    /// The first value of a header, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Starts `wsgi-lab serve --dev --port 0 ARGS` and reads its stderr up to the line that
/// contains `until`. Returns the server, its address, what it printed, and its stderr, which
/// must stay open while the server runs (it writes its access lines there).
pub fn serve_dev(args: &[&str], until: &str) -> (Child, String, String, BufReader<ChildStderr>) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_wsgi-lab"))
        .args(["serve", "--dev", "--port", "0"])
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut printed = String::new();
    while !printed.contains(until) {
        assert_ne!(stderr.read_line(&mut printed).unwrap(), 0, "no {until:?} in: {printed}");
    }
    let addr = printed
        .split(" * Running on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in: {printed}"))
        .to_string();
    (server, addr, printed, stderr)
}
