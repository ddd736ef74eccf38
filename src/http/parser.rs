//! The request parser (waitress's `HTTPRequestParser`): bytes in, complete requests out. Both
//! server modes feed it whatever the socket delivered (a blocking read in single-threaded mode,
//! a non-blocking one in pool mode), so the framing rules of SPEC §3 live in one place and are
//! testable without sockets.

use super::HttpError;
use super::body::{BodyDecoder, Chunked, RequestBody};
use super::head::{Framing, Head, parse_head};
use std::cell::RefCell;
use std::io::{self, Read};

/// The most one read takes from the socket.
pub const READ_CHUNK: usize = 16 * 1024;

/// The limits a parser enforces (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head (request line + headers), default 64 KiB.
    pub max_request_header_size: usize,
    /// Largest request body, declared or decoded, default 1 GiB.
    pub max_request_body_size: u64,
    /// Bodies above this many bytes move to a temporary file, default 1 MiB.
    pub spool_threshold: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_header_size: 64 * 1024,
            max_request_body_size: 1 << 30,
            spool_threshold: 1 << 20,
        }
    }
}

/// A complete request: its head and its whole body (SPEC §2: the app is not called before the
/// body is complete).
#[derive(Debug)]
pub struct Request {
    /// Request line and headers.
    pub head: Head,
    /// The decoded body.
    pub body: RequestBody,
}

/// What the parser needs next.
#[derive(Debug)]
pub enum Step {
    /// More bytes from the client.
    NeedMore,
    /// The client waits for `HTTP/1.1 100 Continue` before it sends the body: send it, then
    /// keep feeding.
    SendContinue,
    /// A request is complete. Bytes after it stay buffered (a pipelined request).
    Ready(Request),
}

enum State {
    Head,
    Body { head: Head, decoder: BodyDecoder, body: RequestBody },
}

/// Turns a connection's bytes into requests, one at a time, in order.
///
/// ```
/// use wsgi_lab::http::{Limits, RequestParser, Step};
/// let mut rx = RequestParser::new(Limits::default());
/// rx.push(b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel");
/// assert!(matches!(rx.step(), Ok(Step::NeedMore)));
/// rx.push(b"loGET / HTTP/1.1\r\nHost: a\r\n\r\n");
/// let Ok(Step::Ready(req)) = rx.step() else { panic!() };
/// assert_eq!((req.head.target.as_str(), req.body.len()), ("/up", 5));
/// assert!(matches!(rx.step(), Ok(Step::Ready(_)))); // the pipelined GET
/// ```
pub struct RequestParser {
    buf: Vec<u8>,
    /// Bytes before `start` are consumed; a cursor avoids shifting the buffer on every request.
    start: usize,
    state: State,
    limits: Limits,
}

impl RequestParser {
    /// A parser at the start of a connection.
    pub fn new(limits: Limits) -> Self {
        RequestParser { buf: Vec::new(), start: 0, state: State::Head, limits }
    }

    /// Appends bytes that arrived from the client.
    pub fn push(&mut self, data: &[u8]) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Reads once from `reader` into the buffer; `Ok(0)` is end of stream. A read that fills
    /// [`READ_CHUNK`] may have left more bytes in the socket.
    pub fn read_from(&mut self, reader: &mut impl Read) -> io::Result<usize> {
        // One chunk per thread, zeroed once: a fresh 16 KiB array per read would be zeroed on
        // every request, which costs more than parsing a small request does.
        thread_local!(static CHUNK: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into()));
        CHUNK.with_borrow_mut(|chunk| {
            let n = reader.read(chunk)?;
            self.push(&chunk[..n]);
            Ok(n)
        })
    }

    /// Whether there are no pending bytes and no request half-received: the connection is idle.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head) && self.pending().is_empty()
    }

    /// Whether the head is complete and the body is being received.
    pub fn receiving_body(&self) -> bool {
        matches!(self.state, State::Body { .. })
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Advances with the bytes buffered so far. After an error the connection must be closed:
    /// the stream's framing can no longer be trusted.
    pub fn step(&mut self) -> Result<Step, HttpError> {
        if matches!(self.state, State::Head) {
            // Leading empty lines before a request line are ignored (RFC 9112 §2.2).
            let blank = self.pending().iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
            self.start += blank;
            let Some((head, used)) = parse_head(self.pending(), self.limits.max_request_header_size)? else {
                return Ok(Step::NeedMore);
            };
            self.start += used;
            let decoder = match head.framing()? {
                Framing::None => return Ok(Step::Ready(Request { head, body: RequestBody::new(0) })),
                Framing::Length(n) if n > self.limits.max_request_body_size => {
                    let max = self.limits.max_request_body_size;
                    let detail = format!("Content-Length {n} is larger than the limit of {max} bytes");
                    return Err(HttpError::new(413, detail));
                }
                Framing::Length(n) => BodyDecoder::Length(n),
                // A chunked body starts with the first chunk's size line.
                Framing::Chunked => BodyDecoder::Chunked(Chunked::Size(Vec::new())),
            };
            let continue_first = head.expects_continue();
            let body = RequestBody::new(self.limits.spool_threshold);
            self.state = State::Body { head, decoder, body };
            if continue_first {
                return Ok(Step::SendContinue);
            }
        }
        let State::Body { decoder, body, .. } = &mut self.state else { unreachable!() };
        let (used, done) =
            decoder.decode(&self.buf[self.start..], body, self.limits.max_request_body_size)?;
        self.start += used;
        if !done {
            return Ok(Step::NeedMore);
        }
        let State::Body { head, body, .. } = std::mem::replace(&mut self.state, State::Head) else {
            unreachable!()
        };
        Ok(Step::Ready(Request { head, body }))
    }
}
