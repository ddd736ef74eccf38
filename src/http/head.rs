//! The request head (request line + header lines), parsed with `httparse`, and what it says
//! about the body that follows (SPEC §3).

use super::HttpError;
use super::target::{check_target, latin1};
use std::fmt;
use std::mem::MaybeUninit;

/// How many header lines a request may carry (SPEC §3: more is a 431).
pub const MAX_HEADERS: usize = 100;

/// A parsed request head. Header values are kept as PEP 3333 "native strings": each byte becomes
/// the char with the same number (latin-1), so no byte the client sent is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The method as sent, such as `GET`.
    pub method: String,
    /// The request target exactly as sent, such as `/search?q=rust`.
    pub target: String,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// The header lines in the order they came, names as sent.
    pub headers: Vec<(String, String)>,
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all.
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Parses a request head from the start of `buf`.
///
/// `Ok(None)` means "need more bytes" (a state, not an error). `Ok(Some((head, n)))` means the
/// head took the first `n` bytes; what follows is the body or the next request.
///
/// ```
/// use wsgi_lab::http::parse_head;
/// let (head, n) = parse_head(b"GET /hi HTTP/1.1\r\nHost: x\r\n\r\n", 65536).unwrap().unwrap();
/// assert_eq!((head.method.as_str(), head.target.as_str(), head.minor, n), ("GET", "/hi", 1, 29));
/// assert_eq!(parse_head(b"GET /hi HTTP/1.1\r\n\r\n", 65536).unwrap_err().status, 400); // no Host
/// assert!(parse_head(b"GET /hi HTTP/1.1\r\nHo", 65536).unwrap().is_none());
/// assert_eq!(parse_head(b"GET /hi HTTP/2.0\r\n\r\n", 65536).unwrap_err().status, 505);
/// ```
pub fn parse_head(buf: &[u8], max_size: usize) -> Result<Option<(Head, usize)>, HttpError> {
    // Slots httparse fills in: left uninitialised, as filling 100 empty headers for each request
    // costs more than parsing a short head.
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let too_large = || HttpError::new(431, format!("request head larger than {max_size} bytes"));
    match req.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Partial) if buf.len() > max_size => Err(too_large()),
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(n)) if n > max_size => Err(too_large()),
        Ok(httparse::Status::Complete(n)) => {
            check_head_bytes(&buf[..n])?;
            let head = Head {
                method: req.method.unwrap_or_default().to_string(),
                target: req.path.unwrap_or_default().to_string(),
                minor: req.version.unwrap_or(1),
                headers: req.headers.iter().map(|h| (h.name.to_string(), latin1(h.value))).collect(),
            };
            check_target(&head.method, &head.target)?;
            head.check_host()?;
            Ok(Some((head, n)))
        }
        Err(httparse::Error::TooManyHeaders) => {
            Err(HttpError::new(431, format!("more than {MAX_HEADERS} header lines")))
        }
        Err(httparse::Error::Version) if looks_like_other_version(buf) => {
            Err(HttpError::new(505, "only HTTP/1.0 and HTTP/1.1 are supported"))
        }
        Err(e) => Err(HttpError::bad_request(format!("malformed request head: {e}"))),
    }
}

/// `HTTP/2.0` or `HTTP/1.2` is a version we do not speak (505); `HTPT/1.1`, `HTTP/1.1x` or a
/// request line with a space too many (`GET /a b HTTP/1.1`) is garbage (400). Only the third
/// word counts, and only its digits and dots: httparse fails at the first byte that cannot be
/// `HTTP/1.0` or `HTTP/1.1`, so the answer is the same however much of the line has arrived.
fn looks_like_other_version(buf: &[u8]) -> bool {
    let line_end = buf.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(buf.len());
    let Some(version) = buf[..line_end].splitn(3, |&b| b == b' ').nth(2) else { return false };
    let Some(number) = version.strip_prefix(b"HTTP/") else { return false };
    let number = &number[..number.iter().take_while(|&&b| b.is_ascii_digit() || b == b'.').count()];
    number.first().is_some_and(u8::is_ascii_digit)
        && !b"1.0".starts_with(number)
        && !b"1.1".starts_with(number)
}

/// Every line of the head ends with CRLF, and no byte but HTAB is a control character
/// (SPEC §3). httparse accepts a bare LF as a line end, as RFC 9112 allows a recipient to; but a
/// proxy in front may read it as part of a header value, and then the two disagree on which
/// headers the request has (`X-Inj: a\nContent-Length: 5` is one header to one of them and two
/// to the other). So, as waitress and gunicorn do, refuse it.
fn check_head_bytes(head: &[u8]) -> Result<(), HttpError> {
    for (i, &b) in head.iter().enumerate() {
        let what = match b {
            b'\n' if i == 0 || head[i - 1] != b'\r' => "a bare LF (a line end without CR)",
            b'\r' if head.get(i + 1) != Some(&b'\n') => "a bare CR",
            b'\t' | b'\r' | b'\n' => continue,
            0..=0x1f | 0x7f => "a control character",
            _ => continue,
        };
        return Err(HttpError::bad_request(format!("{what} (0x{b:02X}) at byte {i} of the request head")));
    }
    Ok(())
}

impl Head {
    /// `GET /path HTTP/1.1`, as the access log shows it (formatted only when it is shown).
    pub fn request_line(&self) -> RequestLine<'_> {
        RequestLine(self)
    }

    /// All values of a header, case-insensitively, in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The first value of a header, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header (such as `Connection`) holds `token`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.values(name).flat_map(|v| v.split(',')).any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the client wants the connection kept open after this request (SPEC §4):
    /// HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub fn wants_keep_alive(&self) -> bool {
        if self.minor == 1 {
            !self.has_token("connection", "close")
        } else {
            self.has_token("connection", "keep-alive")
        }
    }

    /// Whether the client waits for `100 Continue` before sending its body.
    pub fn expects_continue(&self) -> bool {
        self.minor == 1 && self.values("expect").any(|v| v.trim().eq_ignore_ascii_case("100-continue"))
    }

    /// RFC 9112 §3.2: an HTTP/1.1 request carries exactly one `Host` header, an HTTP/1.0 request
    /// at most one. Two would let the app and a proxy each believe a different one.
    fn check_host(&self) -> Result<(), HttpError> {
        match (self.values("host").count(), self.minor) {
            (0, 1) => Err(HttpError::bad_request("an HTTP/1.1 request must carry a Host header")),
            (0 | 1, _) => Ok(()),
            (n, _) => Err(HttpError::bad_request(format!("{n} Host headers: a request carries one"))),
        }
    }

    /// How the body is delimited, or the error SPEC §3 names for a head that does not say so
    /// unambiguously. Checked in this order, so a smuggling attempt is always a 400.
    pub fn framing(&self) -> Result<Framing, HttpError> {
        let lengths: Vec<&str> = self.values("content-length").collect();
        let codings: Vec<String> = self
            .values("transfer-encoding")
            .flat_map(|v| v.split(','))
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty())
            .collect();
        let has_te = self.values("transfer-encoding").next().is_some();
        if has_te && self.minor == 0 {
            return Err(HttpError::bad_request("Transfer-Encoding is not allowed in HTTP/1.0"));
        }
        if has_te && !lengths.is_empty() {
            return Err(HttpError::bad_request(
                "both Content-Length and Transfer-Encoding: refused as a request smuggling signal",
            ));
        }
        if has_te {
            return match codings.as_slice() {
                [only] if only == "chunked" => Ok(Framing::Chunked),
                _ => Err(HttpError::new(
                    501,
                    format!("Transfer-Encoding {codings:?} not implemented: only \"chunked\" is"),
                )),
            };
        }
        match lengths.as_slice() {
            [] => Ok(Framing::None),
            [one] => parse_length(one),
            _ => Err(HttpError::bad_request("Content-Length present more than once")),
        }
    }
}

fn parse_length(value: &str) -> Result<Framing, HttpError> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HttpError::bad_request(format!("Content-Length {value:?} is not a number")));
    }
    match value.parse::<u64>() {
        Ok(0) => Ok(Framing::None),
        Ok(n) => Ok(Framing::Length(n)),
        Err(_) => Err(HttpError::new(413, format!("Content-Length {value} is too large"))),
    }
}

/// A request's first line, written out when displayed ([`Head::request_line`]).
pub struct RequestLine<'a>(&'a Head);

impl RequestLine<'_> {
    /// The line as text, in one allocation (the live view keeps a copy for each request).
    pub fn text(&self) -> String {
        let version = if self.0.minor == 0 { "HTTP/1.0" } else { "HTTP/1.1" };
        [self.0.method.as_str(), " ", &self.0.target, " ", version].concat()
    }
}

impl fmt::Display for RequestLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}
