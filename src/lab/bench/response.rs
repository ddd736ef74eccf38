//! Reading one response from a connection: the head with `httparse`, then the body by
//! whichever framing the head announces. The body is counted and thrown away: a load
//! generator needs to know where a response ends, not what it says.
//!
//! The reader works over any `Read`, so the tests below feed it bytes with no socket.

use std::io::{self, Read};

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
    /// The socket failed (reset, timed out, ...).
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

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// How the body of a response is delimited.
enum Framing {
    None,
    Length(u64),
    Chunked,
    /// No length given: the body runs to the end of the connection.
    UntilClose,
}

/// One connection's receive buffer, reused for every response on it (and, after
/// [`ResponseReader::reset`], on the next connection), so the hot loop allocates nothing.
pub struct ResponseReader {
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Every byte read from the network, heads included.
    pub received: u64,
}

impl ResponseReader {
    /// A reader with a 64 KiB buffer.
    pub fn new() -> Self {
        ResponseReader { buf: vec![0; 64 * 1024], start: 0, end: 0, received: 0 }
    }

    /// Forgets unread bytes, for a new connection.
    pub fn reset(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Reads one response to its end. `head_request` says the request was `HEAD`, whose
    /// response has no body whatever its headers say.
    pub fn read_response(&mut self, r: &mut impl Read, head_request: bool) -> Result<Response, ReadError> {
        loop {
            let (status, framing, keep_alive) = self.read_head(r)?;
            // 1xx responses (100 Continue, 103 Early Hints) come before the real one.
            if (100..200).contains(&status) && status != 101 {
                continue;
            }
            if status == 101 {
                return Err(ReadError::Malformed("101 Switching Protocols is not HTTP/1.1 any more"));
            }
            let bodyless = head_request || status == 204 || status == 304;
            let framing = if bodyless { Framing::None } else { framing };
            match framing {
                Framing::None => {}
                Framing::Length(n) => self.skip(r, n)?,
                Framing::Chunked => self.skip_chunked(r)?,
                Framing::UntilClose => {
                    self.skip_to_eof(r)?;
                    return Ok(Response { status, keep_alive: false });
                }
            }
            return Ok(Response { status, keep_alive });
        }
    }

    /// Parses the next head: its status, the body's framing and whether the connection stays.
    fn read_head(&mut self, r: &mut impl Read) -> Result<(u16, Framing, bool), ReadError> {
        loop {
            if self.start < self.end {
                let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut response = httparse::Response::new(&mut slots);
                match response.parse(&self.buf[self.start..self.end]) {
                    Ok(httparse::Status::Complete(n)) => {
                        let found = understand(&response)?;
                        self.start += n;
                        return Ok(found);
                    }
                    Ok(httparse::Status::Partial) if self.end - self.start >= MAX_HEAD => {
                        return Err(ReadError::Malformed("response head larger than 64 KiB"));
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(_) => return Err(ReadError::Malformed("not an HTTP/1.x response head")),
                }
            }
            if self.fill(r)? == 0 {
                return Err(ReadError::Closed);
            }
        }
    }

    /// Reads more bytes after the unconsumed ones; `Ok(0)` is the end of the connection.
    fn fill(&mut self, r: &mut impl Read) -> io::Result<usize> {
        if self.start == self.end {
            self.reset();
        } else if self.end == self.buf.len() {
            // Full: slide the unconsumed bytes to the front (they are less than MAX_HEAD or
            // MAX_LINE, both smaller than the buffer).
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = loop {
            match r.read(&mut self.buf[self.end..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        self.end += n;
        self.received += n as u64;
        Ok(n)
    }

    /// Consumes `n` body bytes.
    fn skip(&mut self, r: &mut impl Read, mut n: u64) -> Result<(), ReadError> {
        loop {
            let here = (n.min((self.end - self.start) as u64)) as usize;
            self.start += here;
            n -= here as u64;
            if n == 0 {
                return Ok(());
            }
            if self.fill(r)? == 0 {
                return Err(ReadError::Closed);
            }
        }
    }

    /// Consumes everything until the server closes the connection.
    fn skip_to_eof(&mut self, r: &mut impl Read) -> Result<(), ReadError> {
        self.start = self.end;
        while self.fill(r)? > 0 {
            self.start = self.end;
        }
        Ok(())
    }

    /// Consumes a chunked body: `size[;extension]` lines, data, and after the `0` chunk the
    /// trailer lines up to an empty one.
    fn skip_chunked(&mut self, r: &mut impl Read) -> Result<(), ReadError> {
        loop {
            let line = self.line(r)?;
            let size = parse_chunk_size(line)?;
            if size == 0 {
                while !self.line(r)?.is_empty() {}
                return Ok(());
            }
            self.skip(r, size)?;
            if !self.line(r)?.is_empty() {
                return Err(ReadError::Malformed("chunk data longer than its size"));
            }
        }
    }

    /// Consumes one line and returns it without its line ending (CRLF, or a bare LF).
    fn line(&mut self, r: &mut impl Read) -> Result<&[u8], ReadError> {
        loop {
            let unread = &self.buf[self.start..self.end];
            if let Some(i) = unread.iter().position(|&b| b == b'\n') {
                let line_start = self.start;
                self.start += i + 1;
                let line = &self.buf[line_start..line_start + i];
                return Ok(line.strip_suffix(b"\r").unwrap_or(line));
            }
            if unread.len() > MAX_LINE {
                return Err(ReadError::Malformed("chunk-size or trailer line too long"));
            }
            if self.fill(r)? == 0 {
                return Err(ReadError::Closed);
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
    let codings: Vec<&[u8]> = (response.headers.iter())
        .filter(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|h| h.value.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .collect();
    // Transfer-Encoding wins over Content-Length; chunked must be the last coding, and any
    // other coding leaves the body running to the end of the connection.
    if let Some(last) = codings.last() {
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
mod tests {
    use super::*;

    /// The responses read, or the error that stopped the reading.
    type Answers = Vec<Result<Response, String>>;

    /// A reader that hands out its bytes a few at a time, as a slow network would.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// Reads every response in `wire` (a HEAD request if `head`), with reads of 1, 7 and
    /// 4096 bytes, and checks all three give the same answer.
    fn read_all(wire: &[u8], head: bool) -> Answers {
        let answers: Vec<_> = [1, 7, 4096]
            .into_iter()
            .map(|step| {
                let mut reader = ResponseReader::new();
                let mut input = Trickle(wire, step);
                let mut out = Vec::new();
                loop {
                    match reader.read_response(&mut input, head) {
                        Ok(r) => out.push(Ok(r)),
                        Err(ReadError::Closed) => break,
                        Err(e) => {
                            out.push(Err(format!("{e:?}")));
                            break;
                        }
                    }
                }
                if out.last().is_none_or(Result::is_ok) {
                    assert_eq!(reader.received, wire.len() as u64, "every byte counted");
                }
                out
            })
            .collect();
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
        answers.into_iter().next().unwrap()
    }

    fn ok(status: u16, keep_alive: bool) -> Result<Response, String> {
        Ok(Response { status, keep_alive })
    }

    #[test]
    fn framings() {
        let cases: [(&str, bool, Answers); 8] = [
            (
                concat!(
                    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                ),
                false,
                vec![ok(200, true), ok(404, true)],
            ),
            (
                concat!(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                    "5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n",
                ),
                false,
                vec![ok(200, true)],
            ),
            ("HTTP/1.0 200 OK\r\n\r\nuntil the end", false, vec![ok(200, false)]),
            (
                "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
                false,
                vec![ok(200, true)],
            ),
            (
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
                false,
                vec![ok(200, false)],
            ),
            // A HEAD response announces a length but has no body; neither has a 204.
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
                true,
                vec![ok(200, true), ok(204, true)],
            ),
            (
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
                false,
                vec![ok(304, true)],
            ),
            // Cut short: the connection ends before the body does.
            ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", false, vec![]),
        ];
        for (wire, head, expected) in cases {
            assert_eq!(read_all(wire.as_bytes(), head), expected, "{wire}");
        }
    }

    #[test]
    fn malformed_responses() {
        let cases: [&[u8]; 6] = [
            b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        ];
        for wire in cases {
            let answers = read_all(wire, false);
            assert!(matches!(answers.as_slice(), [Err(e)] if e.starts_with("Malformed")), "{answers:?}");
        }
    }
}
