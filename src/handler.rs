//! One request, from a complete [`Request`] to a written response: build the environ, call
//! the app, check what it did (SPEC §1), write the response (SPEC §4), log it. Both server
//! modes call this; they differ only in who calls it and what happens to the connection after.

use crate::app::{check_header, check_status};
use crate::environ::{ServerEnviron, decode_path, split_target};
use crate::http::response::{PanickedBeforeSending, Reply, Written, panic_message, write_response};
use crate::http::{HttpError, Request};
use crate::proxy::ProxyPolicy;
use crate::{App, Body, Environ, Log, StartResponse, UrlPrefix};
use std::cell::RefCell;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};

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

/// The status, headers and body an app answered with, checked against the contract.
#[derive(Debug)]
pub struct AppResponse {
    /// The status line, such as `"200 OK"`.
    pub status: String,
    /// The headers, in the app's order.
    pub headers: Vec<(String, String)>,
    /// The body, not yet iterated.
    pub body: Body,
}

/// Calls an app and checks what it did with `start_response` (SPEC §1). On a mistake or a
/// panic, returns the message the server logs; the client then gets a plain 500.
///
/// ```
/// use wsgi_lab::{handler::call_app, Body, Environ, StartResponse};
/// let forgetful = |_: &Environ, _: StartResponse| Body::from("hi");
/// let err = call_app(&forgetful, &Environ::new()).unwrap_err();
/// assert!(err.contains("start_response was never called"));
/// ```
pub fn call_app(app: &dyn App, environ: &Environ) -> Result<AppResponse, String> {
    type Started = Option<(String, Vec<(String, String)>)>;
    let started: RefCell<Started> = RefCell::new(None);
    let mistake: RefCell<Option<String>> = RefCell::new(None);
    let record = |status: &str, headers: Vec<(&str, &str)>| {
        let headers = headers.into_iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        *started.borrow_mut() = Some((status.to_string(), headers));
    };
    let start = |status: &str, headers: Vec<(&str, &str)>| {
        if started.borrow().is_some() {
            mistake.borrow_mut().get_or_insert_with(|| {
                "start_response was called a second time; to replace the status and headers after \
                 an error, call start_response.error(status, headers) instead"
                    .to_string()
            });
        } else {
            record(status, headers);
        }
    };
    let replace = |status: &str, headers: Vec<(&str, &str)>| record(status, headers);
    let called = catch_unwind(AssertUnwindSafe(|| app.call(environ, StartResponse::new(&start, &replace))));
    let body = called.map_err(|payload| format!("the app panicked: {}", panic_message(payload.as_ref())))?;
    if let Some(mistake) = mistake.into_inner() {
        return Err(mistake);
    }
    let Some((status, headers)) = started.into_inner() else {
        return Err("start_response was never called: call start_response(status, headers) before \
                    returning the body"
            .to_string());
    };
    check_status(&status)?;
    for (name, value) in &headers {
        check_header(name, value)?;
    }
    // The server frames the body by this header, so it must be one number the server can use:
    // otherwise the client would get two conflicting lengths.
    let lengths: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.as_str())
        .collect();
    match lengths.as_slice() {
        [] => {}
        [length] if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(format!(
                "Content-Length {length:?} is not a number: pass the body's size in bytes, or leave it out"
            ));
        }
        [length] if length.parse::<u64>().is_err() => {
            return Err(format!("Content-Length {length} is too large for any body: pass the body's size"));
        }
        [_] => {}
        _ => return Err("Content-Length was set more than once: set it once, or leave it out".to_string()),
    }
    Ok(AppResponse { status, headers, body })
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
                let keep_alive = keep_alive && head.wants_keep_alive();
                let answered = call_app(self.app, &environ).map(|r| {
                    let reply = Reply {
                        minor: head.minor,
                        head_only,
                        keep_alive,
                        status: &r.status,
                        headers: &r.headers,
                    };
                    write_response(out, reply, r.body)
                });
                match answered {
                    Ok(Ok(Ok(written))) => written,
                    Ok(Err(io_error)) => return Err(io_error),
                    Err(mistake) | Ok(Ok(Err(PanickedBeforeSending(mistake)))) => {
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
    let headers = [("Content-Type".to_string(), "text/plain; charset=utf-8".to_string())];
    let status = error.status_line();
    let reply = Reply { minor, head_only, keep_alive: false, status: &status, headers: &headers };
    match write_response(out, reply, Body::from(error.body()))? {
        Ok(written) => Ok(written),
        Err(PanickedBeforeSending(_)) => unreachable!("a list body cannot panic"),
    }
}
