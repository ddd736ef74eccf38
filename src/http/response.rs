//! Writing a response (SPEC §4): the status line, the app's headers plus `Date`, `Server` and
//! the framing headers, then the body by length, chunked, or delimited by closing.
//!
//! It takes two steps. [`prepare`] decides the framing and produces the first chunk; nothing is
//! written yet, so a body that panics at once can still be answered with a clean 500.
//! [`write_response`] then writes, and a panic after that can only cut the response short.

use crate::app::{AppResponse, check_content_length};
use crate::environ::SERVER_SOFTWARE;
pub use crate::panics::{catch_panic, panic_message};
use std::cell::RefCell;
use std::io::{self, Write};
use std::time::SystemTime;

/// Whether a response with this status code has a body. 1xx, 204 and 304 never do (RFC 9110):
/// they are sent without body bytes and without framing, and need no `Content-Type`.
///
/// ```
/// use wsgi_lab::http::response::status_has_body;
/// assert!(status_has_body(200) && status_has_body(404));
/// assert!(!status_has_body(103) && !status_has_body(204) && !status_has_body(304));
/// ```
pub fn status_has_body(code: u16) -> bool {
    code >= 200 && code != 204 && code != 304
}

/// What the request and the server mode allow the response, as far as framing is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    /// The request's minor version (0 or 1).
    pub minor: u8,
    /// `HEAD`: send the headers a `GET` would get, and no body.
    pub head_only: bool,
    /// Whether the connection may stay open after this response (mode and client agree).
    pub keep_alive: bool,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The status code sent.
    pub status: u16,
    /// Body bytes sent (framing not counted), for the access log.
    pub body_bytes: u64,
    /// Whether the connection can carry another request.
    pub keep_alive: bool,
    /// The panic message, when the body panicked after the headers were sent and the response
    /// was cut short.
    pub aborted: Option<String>,
}

enum Framing {
    NoBody,
    Length(u64),
    Chunked,
    UntilClose,
}

/// A response whose framing is decided and whose first chunk, when one will be sent, is
/// produced: built by [`prepare`], written by [`write_response`].
pub struct Prepared {
    reply: Reply,
    /// The checked status and headers, and the body still to be read.
    response: AppResponse,
    framing: Framing,
    first: Option<Vec<u8>>,
}

/// Responses are assembled in memory and sent in pieces of about this size.
const FLUSH_AT: usize = 64 * 1024;

/// Decides how `response` (already checked against the contract) will be framed, and produces
/// its first chunk. A panic there comes back as its message: nothing was sent, so the caller
/// answers 500 instead.
pub fn prepare(reply: Reply, mut response: AppResponse) -> Result<Prepared, String> {
    let code = response.code();
    let body = &mut response.body;
    let mut first = None;
    let framing = if !status_has_body(code) {
        Framing::NoBody
    } else if let Ok(Some(length)) = check_content_length(&response.headers) {
        Framing::Length(length)
    } else if body.known_chunks().is_some_and(|n| n <= 1) {
        // A list of one chunk (or none): its length is known once it is produced (as waitress
        // does for a sized iterable of one).
        first = catch_panic(|| body.next())?;
        Framing::Length(first.as_ref().map_or(0, |chunk| chunk.len() as u64))
    } else if reply.minor == 1 {
        Framing::Chunked
    } else {
        Framing::UntilClose
    };
    if first.is_none() && !reply.head_only && !matches!(framing, Framing::NoBody) {
        first = catch_panic(|| body.next())?;
    }
    Ok(Prepared { reply, response, framing, first })
}

/// Calls `f` with the `Date` header's value for now. It changes once a second, so each thread
/// formats it once a second: formatting a date costs more than writing a small response's head.
fn with_date<T>(f: impl FnOnce(&str) -> T) -> T {
    thread_local!(static DATE: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) });
    let now = SystemTime::now();
    let second = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(at, date)| {
        if *at != second || date.is_empty() {
            *at = second;
            *date = httpdate::fmt_http_date(now);
        }
        f(date)
    })
}

/// Writes a prepared response: the head, then the body as framed.
pub fn write_response<W: Write>(out: &mut W, prepared: Prepared) -> io::Result<Written> {
    let Prepared { reply, response, framing, mut first } = prepared;
    let code = response.code();
    let AppResponse { status, headers, mut body } = response;
    let sends_body = !reply.head_only && !matches!(framing, Framing::NoBody);
    let keep_alive = reply.keep_alive && !matches!(framing, Framing::UntilClose);

    let mut buf = Vec::with_capacity(512);
    let mut line = |parts: &[&[u8]]| {
        parts.iter().for_each(|part| buf.extend_from_slice(part));
        buf.extend_from_slice(b"\r\n");
    };
    line(&[b"HTTP/1.1 ", status.as_bytes()]);
    for (name, value) in &headers {
        line(&[name.as_bytes(), b": ", value.as_bytes()]);
    }
    if header(&headers, "date").is_none() {
        with_date(|date| line(&[b"Date: ", date.as_bytes()]));
    }
    if header(&headers, "server").is_none() {
        line(&[b"Server: ", SERVER_SOFTWARE.as_bytes()]);
    }
    match framing {
        Framing::Length(n) if header(&headers, "content-length").is_none() => {
            line(&[b"Content-Length: ", itoa::Buffer::new().format(n).as_bytes()])
        }
        Framing::Chunked => buf.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        _ => {}
    }
    if !keep_alive {
        buf.extend_from_slice(b"Connection: close\r\n");
    } else if reply.minor == 0 {
        buf.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    buf.extend_from_slice(b"\r\n");

    let mut written = Written { status: code, body_bytes: 0, keep_alive, aborted: None };
    if sends_body {
        let mut remaining = if let Framing::Length(n) = framing { n } else { u64::MAX };
        while let Some(mut chunk) = first.take() {
            // An app-supplied Content-Length is a promise: extra bytes are cut off.
            chunk.truncate(remaining.min(chunk.len() as u64) as usize);
            remaining -= chunk.len() as u64;
            written.body_bytes += chunk.len() as u64;
            append_chunk(out, &mut buf, &chunk, matches!(framing, Framing::Chunked))?;
            if remaining == 0 {
                break;
            }
            match catch_panic(|| body.next()) {
                Ok(next) => first = next,
                Err(message) => {
                    // Headers are on their way: a truncated response is the only signal left.
                    out.write_all(&buf)?;
                    written.keep_alive = false;
                    written.aborted = Some(message);
                    return Ok(written);
                }
            }
        }
        match framing {
            Framing::Chunked => buf.extend_from_slice(b"0\r\n\r\n"),
            // Fewer bytes than promised: only closing the connection tells the client.
            Framing::Length(_) if remaining > 0 => written.keep_alive = false,
            _ => {}
        }
    }
    out.write_all(&buf)?;
    out.flush()?;
    Ok(written)
}

fn append_chunk<W: Write>(out: &mut W, buf: &mut Vec<u8>, chunk: &[u8], chunked: bool) -> io::Result<()> {
    if chunk.is_empty() {
        return Ok(()); // an empty chunk would end a chunked body early
    }
    if chunked {
        write!(buf, "{:x}\r\n", chunk.len())?;
    }
    if buf.len() + chunk.len() > FLUSH_AT {
        out.write_all(buf)?;
        buf.clear();
        out.write_all(chunk)?;
    } else {
        buf.extend_from_slice(chunk);
    }
    if chunked {
        buf.extend_from_slice(b"\r\n");
    }
    Ok(())
}

/// The first value of a header, case-insensitively.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}
