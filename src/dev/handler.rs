//! One request on the dev server, from the `tiny_http` request to the access line: refuse it,
//! or build the environ, call the app (inside the validator) and send its answer. The twin of
//! the production server's [`Handler`](crate::handler), on whichever thread the serving loop
//! gives it.

use super::request::{self, MAX_BODY};
use super::response::{self, Answer, Failure};
use crate::app::App;
use crate::environ::Environ;
use crate::environ::ServerEnviron;
use crate::http::Head;
use crate::proxy::ProxyPolicy;
use crate::validate::Validator;
use colored::Colorize;
use std::net::{IpAddr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// Where the server's lines go: stderr unless [`DevServer::log_to`](super::DevServer::log_to)
/// says otherwise.
pub(super) type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// What every request shares, whichever thread answers it. Cloned once when serving starts
/// (each field is a handle or small), so the builder methods of
/// [`DevServer`](super::DevServer) can keep changing their own copy until then.
#[derive(Clone)]
pub(super) struct Handler {
    /// The app inside the contract validator, shared by every request thread.
    pub app: Arc<Validator<Arc<dyn App>>>,
    pub environ: ServerEnviron,
    pub debug: bool,
    /// Which `X-Forwarded-*` headers to believe; by default none, and they are removed, as the
    /// production server removes them.
    pub proxy: ProxyPolicy,
    pub log: LogSink,
    /// Whether an access line is written per request (error lines always are).
    pub log_requests: bool,
    pub color: bool,
}

impl Handler {
    /// Answers one request: refuse it, or build the environ, call the app and send its answer.
    pub fn handle_request(&self, mut request: tiny_http::Request) {
        let request_line = request::request_line(&request);
        let peer = request.remote_addr().map_or(IpAddr::from([0, 0, 0, 0]), SocketAddr::ip);
        if request::declares_too_much(&request) {
            self.log_line(&format!(
                "[{}] refused \"{request_line}\": it declares a body over {MAX_BODY} bytes; left \
                 unanswered (dropping it would make tiny_http allocate the declared size)",
                crate::log::timestamp()
            ));
            std::mem::forget(request);
            return;
        }
        let answer = match request::head_of(&request) {
            Err(refusal) => Answer::refusal(&refusal),
            Ok(head) => match request::environ_of(&self.environ, &self.proxy, &head, &mut request) {
                Err(refusal) => Answer::refusal(&refusal),
                Ok(environ) => self.answer(&head, &environ, &request_line),
            },
        };
        let status = answer.status;
        // A tiny_http bug must not take the thread down with it (in single-threaded mode, the
        // thread that serves everyone).
        let sent = catch_unwind(AssertUnwindSafe(|| request.respond(answer.into_tiny())));
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.error(&request_line, &format!("could not send the response: {e}")),
            Err(payload) => self.error(
                &request_line,
                &format!("tiny_http panicked: {}", crate::http::response::panic_message(payload.as_ref())),
            ),
        }
        if self.log_requests {
            self.log_line(&access_line(peer, &request_line, status, self.color));
        }
    }

    fn answer(&self, head: &Head, environ: &Environ, request_line: &str) -> Answer {
        match response::call(&*self.app, environ, head) {
            Ok(answer) => answer,
            Err(failure) => {
                let message = match &failure {
                    Failure::Panic(message) => format!("the app panicked: {message}"),
                    Failure::Mistake(mistake) => mistake.clone(),
                };
                self.error(request_line, &message);
                Answer::failure(&failure, head, environ, self.debug)
            }
        }
    }

    /// An error line, always written (`--quiet` silences only the access lines).
    pub fn error(&self, request_line: &str, message: &str) {
        self.log_line(&format!("[{}] app error on \"{request_line}\": {message}", crate::log::timestamp()));
    }

    /// A line to the log: stderr, or the sink a test gave.
    pub fn log_line(&self, line: &str) {
        (self.log)(line);
    }
}

/// One access line in werkzeug's format; with `color`, the status is coloured by class
/// (2xx plain, 304 cyan, 3xx green, 404 yellow, 4xx bold red, 5xx bold magenta). The size is
/// `-`, as werkzeug writes it.
///
/// ```
/// use wsgi_lab::dev::access_line;
/// let line = access_line([127, 0, 0, 1].into(), "GET / HTTP/1.1", 200, false);
/// assert!(line.starts_with("127.0.0.1 - - ["));
/// assert!(line.ends_with("] \"GET / HTTP/1.1\" 200 -"));
/// ```
pub fn access_line(peer: IpAddr, request_line: &str, status: u16, color: bool) -> String {
    let code = status.to_string();
    let code = match status {
        _ if !color => code,
        200..=299 => code,
        304 => code.cyan().to_string(),
        300..=399 => code.green().to_string(),
        404 => code.yellow().to_string(),
        400..=499 => code.red().bold().to_string(),
        _ => code.magenta().bold().to_string(),
    };
    format!("{peer} - - [{}] \"{request_line}\" {code} -", crate::log::timestamp())
}
