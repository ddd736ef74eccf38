//! The app contract (SPEC §1): an app is called as `app(environ, start_response)` and returns
//! a [`Body`] of byte chunks, exactly as in PEP 3333:
//!
//! ```
//! use wsgi_lab::{Body, Environ, StartResponse};
//!
//! fn web_app(environ: &Environ, start_response: StartResponse) -> Body {
//!     let status = "200 OK";
//!     let headers = vec![("content-type", "text/html; charset=utf-8")];
//!     start_response(status, headers);
//!     Body::from(vec![b"<h2>Hi there, this is WSGI server</h2>".to_vec()])
//! }
//! # let _ = wsgi_lab::testing::call(&web_app, Environ::new());
//! ```
//!
//! The rules an app must keep are written here once ([`check_status`], [`check_header`],
//! [`check_content_length`]), and a broken one is a [`Violation`] that says what is wrong and
//! what to do instead. [`call_app`](crate::handler::call_app) applies them; the
//! [validator](mod@crate::validate) adds stricter ones of its own.

use crate::environ::Environ;
use std::fmt;
use std::ops::Deref;

/// Anything that can be served: plain `fn`s, closures, and structs such as middleware.
///
/// Every `Fn(&Environ, StartResponse) -> Body` that is `Send + Sync` is an app, so a closure
/// that captures state works as it would in Python. A middleware is a struct holding the app it
/// wraps and implementing `App` itself.
///
/// ```
/// use wsgi_lab::{App, Body, Environ, StartResponse};
///
/// /// Adds a header to every response of the app it wraps.
/// struct PoweredBy<A>(A);
///
/// impl<A: App> App for PoweredBy<A> {
///     fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
///         let start = |status: &str, mut headers: Vec<(&str, &str)>| {
///             headers.push(("X-Powered-By", "wsgi-lab"));
///             start_response(status, headers)
///         };
///         let error = |status: &str, headers: Vec<(&str, &str)>| start_response.error(status, headers);
///         self.0.call(environ, StartResponse::new(&start, &error))
///     }
/// }
///
/// let greeting = String::from("Hello");
/// let app = PoweredBy(move |_: &Environ, start_response: StartResponse| {
///     start_response("200 OK", vec![("Content-Type", "text/plain")]);
///     Body::from(greeting.clone())
/// });
/// let response = wsgi_lab::testing::call(&app, Environ::new());
/// assert_eq!(response.header("x-powered-by"), Some("wsgi-lab"));
/// ```
pub trait App: Send + Sync {
    /// Handles one request.
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body;
}

impl<F> App for F
where
    F: Fn(&Environ, StartResponse) -> Body + Send + Sync,
{
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        self(environ, start_response)
    }
}

/// A shared app is an app: servers started in turn can serve the same one.
impl<A: App + ?Sized> App for std::sync::Arc<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        (**self).call(environ, start_response)
    }
}

/// The type of both forms of `start_response`: a status and the headers in the app's order.
pub type StartFn<'a> = dyn Fn(&str, Vec<(&str, &str)>) + 'a;

/// The `start_response` callable handed to an app. Call it like a function:
/// `start_response("200 OK", headers)`.
///
/// PEP 3333's third argument, `exc_info`, is the separate method [`StartResponse::error`]: it
/// replaces the status and headers chosen earlier, for an app that fails after calling
/// `start_response`. Because headers are sent only after the app returns, they are never
/// already on the wire when the app calls it.
#[derive(Clone, Copy)]
pub struct StartResponse<'a> {
    start: &'a StartFn<'a>,
    replace: &'a StartFn<'a>,
}

impl<'a> StartResponse<'a> {
    /// Builds a `start_response` from its two forms: what a server or a middleware does.
    pub fn new(start: &'a StartFn<'a>, replace: &'a StartFn<'a>) -> Self {
        StartResponse { start, replace }
    }

    /// The error form (`exc_info` in PEP 3333): replaces a status and headers set before.
    pub fn error(&self, status: &str, headers: Vec<(&str, &str)>) {
        (self.replace)(status, headers)
    }
}

impl<'a> Deref for StartResponse<'a> {
    type Target = StartFn<'a>;

    fn deref(&self) -> &Self::Target {
        self.start
    }
}

impl fmt::Debug for StartResponse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StartResponse")
    }
}

/// What an app returns: byte chunks, produced lazily. Dropping the body is its `close()`.
///
/// A list of chunks is built with `Body::from(vec![...])` (or from one `&str`, `String` or
/// `Vec<u8>`); a streaming body is any iterator of chunks, with [`Body::stream`].
///
/// ```
/// use wsgi_lab::Body;
/// let listed = Body::from(vec![b"a".to_vec(), b"b".to_vec()]);
/// let streamed = Body::stream((0..3).map(|i| format!("line {i}\n").into_bytes()));
/// assert_eq!(listed.flatten().count() + streamed.count(), 5);
/// ```
pub struct Body {
    chunks: Chunks,
}

enum Chunks {
    List(std::vec::IntoIter<Vec<u8>>),
    Stream(Box<dyn Iterator<Item = Vec<u8>>>),
}

impl Body {
    /// No chunks at all.
    pub fn empty() -> Self {
        Body::from(Vec::<Vec<u8>>::new())
    }

    /// A streaming body: chunks are produced one by one while the response is being written.
    pub fn stream(chunks: impl Iterator<Item = Vec<u8>> + 'static) -> Self {
        Body { chunks: Chunks::Stream(Box::new(chunks)) }
    }

    /// How many chunks are left, when the body is a list (a stream does not know).
    pub fn known_chunks(&self) -> Option<usize> {
        match &self.chunks {
            Chunks::List(list) => Some(list.len()),
            Chunks::Stream(_) => None,
        }
    }
}

impl Iterator for Body {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        match &mut self.chunks {
            Chunks::List(list) => list.next(),
            Chunks::Stream(stream) => stream.next(),
        }
    }
}

impl From<Vec<Vec<u8>>> for Body {
    fn from(chunks: Vec<Vec<u8>>) -> Self {
        Body { chunks: Chunks::List(chunks.into_iter()) }
    }
}

impl From<Vec<u8>> for Body {
    fn from(chunk: Vec<u8>) -> Self {
        Body::from(vec![chunk])
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::from(text.into_bytes())
    }
}

impl From<&str> for Body {
    fn from(text: &str) -> Self {
        Body::from(text.as_bytes().to_vec())
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.known_chunks() {
            Some(n) => write!(f, "Body({n} chunks)"),
            None => f.write_str("Body(stream)"),
        }
    }
}

/// The status, headers and body an app answered with.
#[derive(Debug)]
pub struct AppResponse {
    /// The status line, such as `"200 OK"`.
    pub status: String,
    /// The headers, in the app's order.
    pub headers: Vec<(String, String)>,
    /// The body, not yet iterated.
    pub body: Body,
}

impl AppResponse {
    /// The status code (the status was checked: three digits first).
    pub fn code(&self) -> u16 {
        self.status.get(..3).and_then(|code| code.parse().ok()).unwrap_or(500)
    }
}

/// Headers that describe the connection, not the response. Framing is the server's job, so an
/// app must not set them (SPEC §1).
pub const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Checks a status line such as `"200 OK"` and returns its code, or says what is wrong and what
/// to do instead.
///
/// ```
/// use wsgi_lab::app::check_status;
/// assert_eq!(check_status("404 Not Found"), Ok(404));
/// assert!(check_status("200").unwrap_err().contains("\"200 OK\""));
/// ```
pub fn check_status(status: &str) -> Result<u16, String> {
    let bytes = status.as_bytes();
    let well_formed = bytes.len() > 4
        && bytes[..3].iter().all(u8::is_ascii_digit)
        && bytes[0] != b'0'
        && bytes[3] == b' '
        && !status[4..].chars().any(char::is_control);
    if !well_formed {
        return Err(format!(
            "status {status:?} is not \"NNN Reason\": pass three digits, a space and a reason \
             without control characters, such as \"200 OK\""
        ));
    }
    Ok(status[..3].parse().unwrap_or(500))
}

/// Checks one response header: the name must be an HTTP token, neither part may hold CR, LF or
/// NUL (response splitting), and hop-by-hop headers are the server's.
///
/// ```
/// use wsgi_lab::app::check_header;
/// assert!(check_header("Content-Type", "text/plain").is_ok());
/// assert!(check_header("X-Evil", "a\r\nSet-Cookie: x").unwrap_err().contains("CR"));
/// assert!(check_header("Connection", "close").unwrap_err().contains("hop-by-hop"));
/// ```
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    if name.is_empty() || !name.bytes().all(crate::http::is_tchar) {
        return Err(format!("header name {name:?} is not an HTTP token: use letters, digits and '-' only"));
    }
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | b'\0')) {
        return Err(format!(
            "header {name} has a value with CR, LF or NUL ({value:?}): that would split the response; \
             remove the line break"
        ));
    }
    if HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h)) {
        return Err(format!(
            "header {name} is hop-by-hop: framing and connections are the server's job; remove it"
        ));
    }
    Ok(())
}

/// The app's `Content-Length`, when it set one. The server frames the body by it (SPEC §4), so
/// it must be one number the server can use: one header, all digits, and small enough for a
/// `u64`. Anything else would reach the client as two conflicting lengths, or none.
///
/// ```
/// use wsgi_lab::app::check_content_length;
/// assert_eq!(check_content_length(&[("Content-Length", "5")]), Ok(Some(5)));
/// assert_eq!(check_content_length(&[("Content-Type", "text/plain")]), Ok(None));
/// assert!(check_content_length(&[("Content-Length", "5 ")]).unwrap_err().contains("not a number"));
/// assert!(check_content_length(&[("Content-Length", "1"), ("content-length", "1")]).is_err());
/// ```
pub fn check_content_length<N: AsRef<str>, V: AsRef<str>>(headers: &[(N, V)]) -> Result<Option<u64>, String> {
    let mut lengths = headers.iter().filter(|(n, _)| n.as_ref().eq_ignore_ascii_case("content-length"));
    let Some((_, length)) = lengths.next() else { return Ok(None) };
    let length = length.as_ref();
    let more = lengths.count();
    if more > 0 {
        return Err(format!("Content-Length was set {} times: set it once, or leave it out", more + 1));
    }
    if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "Content-Length {length:?} is not a number: pass the body's size in bytes, or leave it out"
        ));
    }
    match length.parse() {
        Ok(length) => Ok(Some(length)),
        Err(_) => Err(format!("Content-Length {length} is too large for any body: pass the body's size")),
    }
}

/// Which rule of the contract a [`Violation`] breaks: tests and lessons match on it rather
/// than on the wording of the message.
///
/// ```
/// use wsgi_lab::validate::{check_response, Rule};
/// let found = check_response("200 OK", &[("Content-Type", "text/plain"), ("Connection", "close")]);
/// assert_eq!(found.iter().map(|v| v.rule).collect::<Vec<_>>(), [Rule::Header]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Server: a key PEP 3333 requires is missing from the environ.
    MissingKey,
    /// Server: `SCRIPT_NAME` is neither empty nor `/something` without a trailing `/`.
    ScriptName,
    /// Server: `PATH_INFO` is neither empty nor starting with `/`.
    PathInfo,
    /// Server: `CONTENT_LENGTH` is present but not all digits.
    RequestContentLength,
    /// Server: `REQUEST_METHOD` is not an HTTP token.
    RequestMethod,
    /// Server: `wsgi.url_scheme` is neither `http` nor `https`.
    UrlScheme,
    /// App: the status is not `NNN Reason`.
    Status,
    /// App: a header name is not a token, a value holds CR/LF/NUL, or the header is hop-by-hop.
    Header,
    /// App: `Content-Type` is missing, set twice, or set on a status that has no body.
    ContentType,
    /// App: the response `Content-Length` is not a number, is too large, is set twice, or
    /// disagrees with the body.
    ContentLength,
    /// App: a response whose status has no body (1xx, 204, 304) came with body bytes.
    BodyNotAllowed,
    /// App: `start_response` was called a second time without the error form.
    StartedTwice,
    /// App: the body was returned before `start_response` was called.
    NotStarted,
}

impl Rule {
    /// Who broke the rule: `"server"` (the environ) or `"app"` (the response).
    ///
    /// ```
    /// use wsgi_lab::validate::Rule;
    /// assert_eq!(Rule::PathInfo.culprit(), "server");
    /// assert_eq!(Rule::StartedTwice.culprit(), "app");
    /// ```
    pub fn culprit(self) -> &'static str {
        use Rule::*;
        match self {
            MissingKey | ScriptName | PathInfo | RequestContentLength | RequestMethod | UrlScheme => "server",
            _ => "app",
        }
    }
}

/// One broken rule: which one, and a message that says what is wrong and what to do instead.
///
/// ```
/// use wsgi_lab::validate::{Rule, Violation};
/// let v = Violation::new(Rule::NotStarted, "the body came first: call start_response first");
/// assert_eq!(v.to_string(), "app: the body came first: call start_response first");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule broken.
    pub rule: Rule,
    /// The mistake and its fix, in one sentence.
    pub message: String,
}

impl Violation {
    /// A violation of `rule`, explained by `message`.
    pub fn new(rule: Rule, message: impl Into<String>) -> Self {
        Violation { rule, message: message.into() }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule.culprit(), self.message)
    }
}
