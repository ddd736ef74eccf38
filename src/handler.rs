//! One request, from a complete [`Request`] to a written response: build the environ, call
//! the app, check what it did (SPEC §1), write the response (SPEC §4), log it. Both server
//! modes call this; they differ only in who calls it and what happens to the connection after.
//!
//! [`call_app`] is wsgiref's `BaseHandler.start_response` and the call in `BaseHandler.run`:
//! the one place an app is called with a recording `start_response` and judged by the
//! contract's rules. The development server, the test client and the
//! [validator](mod@crate::validate) call apps through it too, so all of them judge an app alike.

use crate::app::{App, Body, StartResponse};
use crate::app::{AppResponse, Rule, Violation, check_content_length, check_header, check_status};
use crate::environ::Environ;
use crate::environ::{ServerEnviron, decode_path, split_target};
use crate::http::response::{Reply, Written, catch_panic, prepare, write_response};
use crate::http::{HttpError, Request};
use crate::log::Log;
use crate::mount::UrlPrefix;
use crate::proxy::ProxyPolicy;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;

/// Everything a worker needs to answer requests, shared by all connections of a server.
pub struct Handler<'a> {
    /// The app being served.
    pub app: &'a dyn App,
    /// The server-level environ keys, built once.
    pub environ: &'a ServerEnviron,
    /// Where the app is mounted.
    pub prefix: &'a UrlPrefix,
    /// Which proxy headers to believe.
    pub proxy: &'a ProxyPolicy,
    /// Where access lines and errors go.
    pub log: &'a Log,
}

impl Handler<'_> {
    /// Answers one complete request on `out`. `keep_alive` says whether the mode allows the
    /// connection to stay open; the client and the framing have their say too.
    pub fn handle<W: Write>(
        &self,
        request: Request,
        peer: SocketAddr,
        keep_alive: bool,
        out: &mut W,
    ) -> io::Result<Written> {
        let Request { head, body } = request;
        let request_line = head.request_line();
        let head_only = head.method == "HEAD";
        let path = decode_path(split_target(&head.target).0);
        let written = match self.prefix.split(&path) {
            None => {
                let refusal = HttpError::new(404, self.prefix.outside(&path));
                write_error(out, &refusal, head.minor, head_only)?
            }
            Some(rest) => {
                let mount = (self.prefix.as_str(), rest);
                let mut environ = Environ::from_request(self.environ, &head, body, peer, mount)?;
                self.proxy.apply(&mut environ);
                let reply =
                    Reply { minor: head.minor, head_only, keep_alive: keep_alive && head.wants_keep_alive() };
                let panicked = |message| format!("the app panicked: {message}");
                // Each step may fail before a byte is sent: then the client gets a clean 500.
                let prepared = catch_panic(|| call_app(self.app, &environ))
                    .map_err(panicked)
                    .and_then(|called| called.map_err(|broken| broken.to_string()))
                    .and_then(|response| prepare(reply, response).map_err(panicked));
                match prepared {
                    Ok(prepared) => write_response(out, prepared)?,
                    Err(mistake) => {
                        self.log.app_error(&request_line, &mistake);
                        let failure = HttpError::new(500, "the app failed; the server log says why");
                        write_error(out, &failure, head.minor, head_only)?
                    }
                }
            }
        };
        if let Some(message) = &written.aborted {
            self.log.app_error(
                &request_line,
                &format!("the body panicked after the headers were sent, connection aborted: {message}"),
            );
        }
        self.log.access(peer.ip(), &request_line, written.status, written.body_bytes);
        Ok(written)
    }
}

/// Writes a server-generated error through the normal response path, with `Connection: close`.
pub fn write_error<W: Write>(
    out: &mut W,
    error: &HttpError,
    minor: u8,
    head_only: bool,
) -> io::Result<Written> {
    let response = AppResponse {
        status: error.status_line(),
        headers: vec![("Content-Type".to_string(), "text/plain; charset=utf-8".to_string())],
        body: Body::from(error.body()),
    };
    let reply = Reply { minor, head_only, keep_alive: false };
    let prepared = prepare(reply, response).expect("a list body cannot panic");
    write_response(out, prepared)
}

/// Calls an app with a recording `start_response` and checks what it did (SPEC §1): called
/// `start_response` once (or replaced it with the error form), before returning, with a status
/// and headers that keep [`check_start_response`]. The body is returned unread.
///
/// A panic is not caught here: what to do with one is each server's business.
///
/// ```
/// use wsgi_lab::{app::Rule, handler::call_app, Body, Environ, StartResponse};
/// let forgetful = |_: &Environ, _: StartResponse| Body::from("hi");
/// let broken = call_app(&forgetful, &Environ::new()).unwrap_err();
/// assert_eq!(broken.violations[0].rule, Rule::NotStarted);
/// assert!(broken.to_string().contains("without calling start_response"));
/// ```
pub fn call_app(app: &dyn App, environ: &Environ) -> Result<AppResponse, Broken> {
    type Started = Option<(String, Vec<(String, String)>)>;
    let started: RefCell<Started> = RefCell::new(None);
    let twice = Cell::new(false);
    let record = |status: &str, headers: Vec<(&str, &str)>| {
        let headers = headers.into_iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        *started.borrow_mut() = Some((status.to_string(), headers));
    };
    // Only the error form may replace what was started: a second plain call is a mistake to
    // report, not an order to obey.
    let start = |status: &str, headers: Vec<(&str, &str)>| {
        if started.borrow().is_some() {
            twice.set(true);
        } else {
            record(status, headers);
        }
    };
    let body = app.call(environ, StartResponse::new(&start, &record));
    let mut violations = Vec::new();
    if twice.get() {
        violations.push(Violation::new(
            Rule::StartedTwice,
            "start_response was called a second time without the error form: call it once, or use \
             start_response.error(status, headers) to replace the status and headers after an error",
        ));
    }
    let response = started.into_inner().map(|(status, headers)| AppResponse { status, headers, body });
    match &response {
        Some(response) => violations.extend(check_start_response(&response.status, &response.headers)),
        None => violations.push(Violation::new(
            Rule::NotStarted,
            "the app returned its body without calling start_response: call \
             start_response(status, headers) before returning the body",
        )),
    }
    match response {
        Some(response) if violations.is_empty() => Ok(response),
        response => Err(Broken { violations, response }),
    }
}

/// An app that broke the contract: every rule it broke, and what it answered, if it called
/// `start_response` (a checker may look further). Displayed, the messages joined by `; `.
#[derive(Debug)]
pub struct Broken {
    /// The rules broken, in the order they were found.
    pub violations: Vec<Violation>,
    /// The app's answer, when it called `start_response`.
    pub response: Option<AppResponse>,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let messages: Vec<&str> = self.violations.iter().map(|v| v.message.as_str()).collect();
        f.write_str(&messages.join("; "))
    }
}

/// Checks what an app passed to `start_response` against the rules every server enforces: the
/// status, each header, and `Content-Length`. An empty list means it keeps them.
///
/// ```
/// use wsgi_lab::{app::Rule, handler::check_start_response};
/// assert!(check_start_response("200 OK", &[("Content-Length", "2")]).is_empty());
/// let found = check_start_response("OK", &[("Content-Length", "two")]);
/// assert_eq!(found.iter().map(|v| v.rule).collect::<Vec<_>>(), [Rule::Status, Rule::ContentLength]);
/// ```
pub fn check_start_response<N: AsRef<str>, V: AsRef<str>>(
    status: &str,
    headers: &[(N, V)],
) -> Vec<Violation> {
    let mut found = Vec::new();
    if let Err(message) = check_status(status) {
        found.push(Violation::new(Rule::Status, message));
    }
    for (name, value) in headers {
        if let Err(message) = check_header(name.as_ref(), value.as_ref()) {
            found.push(Violation::new(Rule::Header, message));
        }
    }
    if let Err(message) = check_content_length(headers) {
        found.push(Violation::new(Rule::ContentLength, message));
    }
    found
}
