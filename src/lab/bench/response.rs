//! Reading one response from a connection: the head with `httparse`, then the body by
//! whichever framing the head announces. The body is counted and thrown away: a load
//! generator needs to know where a response ends, not what it says.
//!
//! The reader is *pushed* bytes rather than pulling them from a socket, because the sockets
//! are non-blocking: an event loop reads whatever has arrived into its thread's buffer and
//! hands it over ([`ResponseReader::feed`]), and "not complete yet" is an answer (`Ok(None)`),
//! as httparse's `Partial` is, not an error. So the reader keeps its place between reads: in
//! the head, in a body with so many bytes left, in a chunk-size line... Body bytes are skipped
//! where they lie; only a head or a line cut in two by a read boundary is copied, into the
//! connection's small `carry`, to be parsed whole once the rest arrives.
//!
//! The tests below feed it a byte at a time, 7 at a time and 4 KiB at a time, with no socket.

use std::io;

/// A response head larger than this is refused as malformed.
const MAX_HEAD: usize = 64 * 1024;
/// A chunk-size or trailer line longer than this is refused as malformed.
const MAX_LINE: usize = 8 * 1024;
/// How many header lines a response may carry.
const MAX_HEADERS: usize = 64;

/// What the bench needs from a response once it has been read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// The status code of the final (non-1xx) response.
    pub status: u16,
    /// Whether the connection may carry the next request; false after `Connection: close`,
    /// an HTTP/1.0 response without `keep-alive`, or a body that ended with the connection.
    pub keep_alive: bool,
}

/// Why a response could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The socket failed (reset, ...).
    Io(io::Error),
    /// The connection ended before the response did.
    Closed,
    /// The bytes are not an HTTP/1.x response; the text says what was wrong.
    Malformed(&'static str),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::Closed => f.write_str("the connection closed before the response was complete"),
            ReadError::Malformed(what) => f.write_str(what),
        }
    }
}

/// Where the reader is in the current response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for (the rest of) a head; also between responses.
    Head,
    /// In a body with a Content-Length: this many bytes left.
    Length(u64),
    /// Waiting for a chunk-size line.
    ChunkSize,
    /// In a chunk's data: this many bytes left.
    ChunkData(u64),
    /// Waiting for the empty line that ends a chunk's data.
    ChunkEnd,
    /// After the `0` chunk: trailer lines up to an empty one.
    Trailer,
    /// No length given: the body runs to the end of the connection.
    UntilClose,
}

/// How the body of a response is delimited, as its head says.
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// One connection's response reading: where it is in the current response, and the few bytes
/// that could not be parsed yet. Reused for every response on the connection, and after
/// [`ResponseReader::reset`] on the next one, so the hot path allocates nothing.
#[derive(Debug)]
pub struct ResponseReader {
    /// The request was `HEAD`: its response has no body, whatever its headers say.
    head_request: bool,
    state: State,
    /// The response being read, once its head is parsed.
    current: Response,
    /// Bytes received but not consumed: a head or a line cut by a read boundary (or bytes past
    /// the end of the previous response). Empty almost always; its capacity is kept.
    carry: Vec<u8>,
}

impl ResponseReader {
    /// A reader for the responses to `HEAD` requests if `head_request`, to others if not.
    pub fn new(head_request: bool) -> Self {
        ResponseReader {
            head_request,
            state: State::Head,
            current: Response { status: 0, keep_alive: false },
            carry: Vec::new(),
        }
    }

    /// Forgets the response in progress and any unread bytes, for a new connection.
    pub fn reset(&mut self) {
        self.state = State::Head;
        self.carry.clear();
    }

    /// Whether bytes from earlier reads wait to be parsed: then `feed(&[])` may complete a
    /// response with no new read.
    pub fn has_unread(&self) -> bool {
        !self.carry.is_empty()
    }

    /// Takes the bytes just read. `Ok(Some(response))` when they complete one (the bytes after
    /// it are kept for the next), `Ok(None)` when more are needed.
    pub fn feed(&mut self, fresh: &[u8]) -> Result<Option<Response>, ReadError> {
        if self.carry.is_empty() {
            // The usual case: parse straight from the caller's buffer, copy nothing.
            let (used, done) = self.advance(fresh)?;
            self.carry.extend_from_slice(&fresh[used..]);
            return self.checked(done);
        }
        // A head or line was cut: join its start to what came now, and parse them together.
        self.carry.extend_from_slice(fresh);
        let mut carry = std::mem::take(&mut self.carry);
        let result = self.advance(&carry);
        if let Ok((used, _)) = result {
            carry.drain(..used);
        }
        self.carry = carry;
        self.checked(result?.1)
    }

    /// The connection ended (a read returned 0 bytes): completes a response whose body runs
    /// to the end of the connection; any other response in progress was cut short.
    pub fn end_of_stream(&mut self) -> Result<Response, ReadError> {
        match self.state {
            State::UntilClose => {
                self.state = State::Head;
                Ok(Response { keep_alive: false, ..self.current })
            }
            _ => Err(ReadError::Closed),
        }
    }

    /// Refuses an unfinished head or line that has grown past its limit.
    fn checked(&self, done: Option<Response>) -> Result<Option<Response>, ReadError> {
        match self.state {
            _ if done.is_some() => {}
            State::Head if self.carry.len() >= MAX_HEAD => {
                return Err(ReadError::Malformed("response head larger than 64 KiB"));
            }
            State::ChunkSize | State::ChunkEnd | State::Trailer if self.carry.len() > MAX_LINE => {
                return Err(ReadError::Malformed("chunk-size or trailer line too long"));
            }
            _ => {}
        }
        Ok(done)
    }

    /// Consumes what it can of `bytes`: how many bytes it used, and the response if they
    /// complete one. It stops right after a response, and before a head or line it cannot
    /// see the end of.
    fn advance(&mut self, bytes: &[u8]) -> Result<(usize, Option<Response>), ReadError> {
        let mut pos = 0;
        loop {
            let rest = &bytes[pos..];
            match self.state {
                State::Head => {
                    if rest.is_empty() {
                        return Ok((pos, None));
                    }
                    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    let mut response = httparse::Response::new(&mut slots);
                    let n = match response.parse(rest) {
                        Ok(httparse::Status::Complete(n)) => n,
                        Ok(httparse::Status::Partial) => return Ok((pos, None)),
                        Err(_) => return Err(ReadError::Malformed("not an HTTP/1.x response head")),
                    };
                    let (status, framing, keep_alive) = understand(&response)?;
                    pos += n;
                    // 1xx responses (100 Continue, 103 Early Hints) come before the real one.
                    if status == 101 {
                        return Err(ReadError::Malformed("101 Switching Protocols is not HTTP/1.1 any more"));
                    }
                    if (100..200).contains(&status) {
                        continue;
                    }
                    self.current = Response { status, keep_alive };
                    let bodyless = self.head_request || status == 204 || status == 304;
                    self.state = match framing {
                        _ if bodyless => return Ok((pos, Some(self.current))),
                        Framing::None => return Ok((pos, Some(self.current))),
                        Framing::Length(n) => State::Length(n),
                        Framing::Chunked => State::ChunkSize,
                        Framing::UntilClose => State::UntilClose,
                    };
                }
                State::Length(left) => {
                    let here = left.min(rest.len() as u64);
                    pos += here as usize;
                    if here < left {
                        self.state = State::Length(left - here);
                        return Ok((pos, None));
                    }
                    self.state = State::Head;
                    return Ok((pos, Some(self.current)));
                }
                State::ChunkData(left) => {
                    let here = left.min(rest.len() as u64);
                    pos += here as usize;
                    if here < left {
                        self.state = State::ChunkData(left - here);
                        return Ok((pos, None));
                    }
                    self.state = State::ChunkEnd;
                }
                State::ChunkSize | State::ChunkEnd | State::Trailer => {
                    let Some(end) = rest.iter().position(|&b| b == b'\n') else { return Ok((pos, None)) };
                    let line = &rest[..end];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    pos += end + 1;
                    self.state = match self.state {
                        State::ChunkSize => match parse_chunk_size(line)? {
                            0 => State::Trailer,
                            size => State::ChunkData(size),
                        },
                        State::ChunkEnd if line.is_empty() => State::ChunkSize,
                        State::ChunkEnd => {
                            return Err(ReadError::Malformed("chunk data longer than its size"));
                        }
                        _ if line.is_empty() => {
                            self.state = State::Head;
                            return Ok((pos, Some(self.current)));
                        }
                        _ => State::Trailer,
                    };
                }
                State::UntilClose => return Ok((bytes.len(), None)),
            }
        }
    }
}

/// What a parsed head says: status, framing, keep-alive (RFC 9112 §6.3 and §9.3).
fn understand(response: &httparse::Response<'_, '_>) -> Result<(u16, Framing, bool), ReadError> {
    let status = response.code.unwrap_or(0);
    let has_token = |name: &str, token: &str| {
        (response.headers.iter())
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .flat_map(|h| h.value.split(|&b| b == b','))
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    };
    let keep_alive = match response.version {
        Some(1) => !has_token("connection", "close"),
        _ => has_token("connection", "keep-alive"),
    };
    // Transfer-Encoding wins over Content-Length; chunked must be the last coding, and any
    // other coding leaves the body running to the end of the connection. (Only the last
    // coding matters, so none is collected: this runs once per response.)
    let last_coding = (response.headers.iter())
        .filter(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|h| h.value.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .next_back();
    if let Some(last) = last_coding {
        let framing =
            if last.eq_ignore_ascii_case(b"chunked") { Framing::Chunked } else { Framing::UntilClose };
        return Ok((status, framing, keep_alive));
    }
    let mut length = None;
    for header in response.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("content-length")) {
        let value = header.value.trim_ascii();
        let n = (std::str::from_utf8(value).ok())
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or(ReadError::Malformed("Content-Length is not a number"))?;
        if length.is_some_and(|earlier| earlier != n) {
            return Err(ReadError::Malformed("two different Content-Length values"));
        }
        length = Some(n);
    }
    let framing = match length {
        Some(0) => Framing::None,
        Some(n) => Framing::Length(n),
        None => Framing::UntilClose,
    };
    Ok((status, framing, keep_alive))
}

/// `1a;name=value` → 26: hex digits, then anything after `;` (an extension) is ignored.
fn parse_chunk_size(line: &[u8]) -> Result<u64, ReadError> {
    let digits = line.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
    let bad = ReadError::Malformed("chunk size is not a hex number");
    if digits.is_empty() || digits.len() > 15 {
        return Err(bad);
    }
    let text = std::str::from_utf8(digits).map_err(|_| ReadError::Malformed("chunk size is not ASCII"))?;
    u64::from_str_radix(text, 16).map_err(|_| bad)
}

#[cfg(test)]
mod tests;
