//! Writing a response (SPEC §4): the status line, the app's headers plus `Date`, `Server` and
//! the framing headers, then the body by length, chunked, or delimited by closing.

use crate::app::Body;
use crate::environ::SERVER_SOFTWARE;
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What to answer, as far as framing is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    /// The request's minor version (0 or 1).
    pub minor: u8,
    /// `HEAD`: send the headers a `GET` would get, and no body.
    pub head_only: bool,
    /// Whether the connection may stay open after this response (mode and client agree).
    pub keep_alive: bool,
    /// The status line text, already checked: `"200 OK"`.
    pub status: &'a str,
    /// The app's headers, already checked, in the app's order.
    pub headers: &'a [(String, String)],
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

/// The app's body panicked before anything was sent: the caller answers 500 instead.
#[derive(Debug)]
pub struct PanickedBeforeSending(pub String);

enum Framing {
    NoBody,
    Length(u64),
    Chunked,
    UntilClose,
}

/// Responses are assembled in memory and sent in pieces of about this size.
const FLUSH_AT: usize = 64 * 1024;

/// Writes one response. The first chunk is produced before anything is written, so a body that
/// panics at once still gets a clean 500 from the caller.
pub fn write_response<W: Write>(
    out: &mut W,
    reply: Reply<'_>,
    mut body: Body,
) -> io::Result<Result<Written, PanickedBeforeSending>> {
    let code: u16 = reply.status[..3].parse().unwrap_or(500);
    let app_length = header(reply.headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let mut first = None;
    let framing = if code < 200 || code == 204 || code == 304 {
        Framing::NoBody
    } else if let Some(n) = app_length {
        Framing::Length(n)
    } else if body.known_chunks().is_some_and(|n| n <= 1) {
        first = Some(next_chunk(&mut body).map_err(PanickedBeforeSending));
        match &first {
            Some(Ok(Some(chunk))) => Framing::Length(chunk.len() as u64),
            _ => Framing::Length(0),
        }
    } else if reply.minor == 1 {
        Framing::Chunked
    } else {
        Framing::UntilClose
    };
    let sends_body = !reply.head_only && !matches!(framing, Framing::NoBody);
    if first.is_none() && sends_body {
        first = Some(next_chunk(&mut body).map_err(PanickedBeforeSending));
    }
    let mut first = match first {
        Some(Err(panicked)) => return Ok(Err(panicked)),
        Some(Ok(chunk)) => chunk,
        None => None,
    };
    let keep_alive = reply.keep_alive && !matches!(framing, Framing::UntilClose);

    let mut buf = Vec::with_capacity(512);
    write!(buf, "HTTP/1.1 {}\r\n", reply.status)?;
    for (name, value) in reply.headers {
        write!(buf, "{name}: {value}\r\n")?;
    }
    if header(reply.headers, "date").is_none() {
        write!(buf, "Date: {}\r\n", httpdate::fmt_http_date(std::time::SystemTime::now()))?;
    }
    if header(reply.headers, "server").is_none() {
        write!(buf, "Server: {SERVER_SOFTWARE}\r\n")?;
    }
    match framing {
        Framing::Length(n) if app_length.is_none() => write!(buf, "Content-Length: {n}\r\n")?,
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
        let mut remaining = match framing {
            Framing::Length(n) => n,
            _ => u64::MAX,
        };
        while let Some(mut chunk) = first.take() {
            // An app-supplied Content-Length is a promise: extra bytes are cut off.
            chunk.truncate(remaining.min(chunk.len() as u64) as usize);
            remaining -= chunk.len() as u64;
            written.body_bytes += chunk.len() as u64;
            append_chunk(out, &mut buf, &chunk, matches!(framing, Framing::Chunked))?;
            if remaining == 0 {
                break;
            }
            match next_chunk(&mut body) {
                Ok(next) => first = next,
                Err(message) => {
                    // Headers are on their way: a truncated response is the only signal left.
                    out.write_all(&buf)?;
                    written.keep_alive = false;
                    written.aborted = Some(message);
                    return Ok(Ok(written));
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
    Ok(Ok(written))
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

/// The next chunk of the body, with a panic in a streaming body caught and turned into its
/// message.
pub fn next_chunk(body: &mut Body) -> Result<Option<Vec<u8>>, String> {
    catch_unwind(AssertUnwindSafe(|| body.next())).map_err(|payload| panic_message(payload.as_ref()))
}

/// The text of a panic payload (`panic!("...")` carries a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// The first value of a header, case-insensitively.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}
