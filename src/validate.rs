//! The contract checker, wsgiref's `validate.py` in Rust: middleware that sits between a
//! server and an app and checks both sides of the contract (SPEC §1 and §2).
//!
//! - The server's side: the environ it built ([`check_environ`]).
//! - The app's side: what it passed to `start_response` ([`check_response`]), whether it
//!   called `start_response` at all, or twice, and, for a body held in a list, whether the body
//!   agrees with the headers.
//!
//! Every failure is a [`Violation`] that names the mistake *and* what to do instead. The
//! [`Validator`] logs each one (`wsgi-lab validate: app: ...` on stderr), and answers the
//! request with a `500` whose text body lists them, so a learner running the dev server sees
//! the list in the browser:
//!
//! ```
//! use wsgi_lab::validate::{validate, Rule};
//! use wsgi_lab::{testing, Body, Environ, StartResponse};
//!
//! // Forgot the Content-Type.
//! let app = validate(|_: &Environ, start_response: StartResponse| {
//!     start_response("200 OK", vec![]);
//!     Body::from("hi")
//! })
//! .with_reporter(|_| {}); // keep the doctest quiet; the default logs to stderr
//!
//! let response = testing::get(&app, "/");
//! assert_eq!(response.status_code(), 500);
//! assert!(response.text().contains("needs a Content-Type header"));
//! assert_eq!(app.last_violations()[0].rule, Rule::ContentType);
//! ```
//!
//! What the validator does not do: it never catches a panic (that is the server's business),
//! and it does not iterate a streaming body (that would change when its chunks are produced).

use crate::app::{check_header, check_status};
use crate::{App, Body, Environ, StartResponse};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::Mutex;

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
    /// App: the response `Content-Length` is not a number, is set twice, or disagrees with
    /// the body.
    ContentLength,
    /// App: a `204` or `304` response came with body bytes.
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

/// The keys every environ must hold (PEP 3333's required CGI keys plus `wsgi.url_scheme`).
pub const REQUIRED_KEYS: [&str; 8] = [
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "wsgi.url_scheme",
];

/// Checks the environ a server built. An empty list means it keeps the contract.
///
/// ```
/// use wsgi_lab::validate::{check_environ, Rule};
/// use wsgi_lab::{util::setup_testing_defaults, Environ};
/// let mut environ = Environ::new();
/// setup_testing_defaults(&mut environ);
/// assert!(check_environ(&environ).is_empty());
/// environ.set("PATH_INFO", "hello");
/// assert_eq!(check_environ(&environ)[0].rule, Rule::PathInfo);
/// ```
pub fn check_environ(environ: &Environ) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut fail = |rule, message: String| found.push(Violation::new(rule, message));
    for key in REQUIRED_KEYS {
        if environ.get(key).is_none() {
            fail(
                Rule::MissingKey,
                format!(
                    "the environ has no {key}: a server must set every key PEP 3333 requires; \
                     set it, to \"\" when there is nothing to say"
                ),
            );
        }
    }
    if let Some(script_name) = environ.get("SCRIPT_NAME")
        && !script_name.is_empty()
        && (!script_name.starts_with('/') || script_name.ends_with('/'))
    {
        fail(
            Rule::ScriptName,
            format!(
                "SCRIPT_NAME {script_name:?} must be empty or start with '/' and not end with '/': \
                 it is the mount prefix, such as \"/my-app\"; normalise it with UrlPrefix::new"
            ),
        );
    }
    if let Some(path_info) = environ.get("PATH_INFO")
        && !path_info.is_empty()
        && !path_info.starts_with('/')
    {
        fail(
            Rule::PathInfo,
            format!(
                "PATH_INFO {path_info:?} must be empty or start with '/': it is the path below \
                 SCRIPT_NAME, such as \"/hello\"; reduce the request target to its path \
                 (environ::split_target) before decoding it"
            ),
        );
    }
    if let Some(length) = environ.get("CONTENT_LENGTH")
        && (length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()))
    {
        fail(
            Rule::RequestContentLength,
            format!(
                "CONTENT_LENGTH {length:?} is not all digits: set it to the body's length in bytes, \
                 or leave the key out when the request has no body"
            ),
        );
    }
    if let Some(method) = environ.get("REQUEST_METHOD")
        && (method.is_empty() || !method.bytes().all(crate::http::is_tchar))
    {
        fail(
            Rule::RequestMethod,
            format!(
                "REQUEST_METHOD {method:?} is not an HTTP token: pass the method as the client sent \
                 it (GET, POST, ...), and answer 400 to a request whose method is not a token"
            ),
        );
    }
    if let Some(scheme) = environ.get("wsgi.url_scheme")
        && scheme != "http"
        && scheme != "https"
    {
        fail(
            Rule::UrlScheme,
            format!(
                "wsgi.url_scheme {scheme:?} must be \"http\" or \"https\": set it to the scheme the client used"
            ),
        );
    }
    found
}

/// Whether a status code carries no body (and so no `Content-Type`): 1xx, 204 and 304.
fn bodiless(code: u16) -> bool {
    code < 200 || code == 204 || code == 304
}

/// Checks what an app passed to `start_response`: the status, each header, `Content-Type`
/// and `Content-Length`. An empty list means it keeps the contract.
///
/// ```
/// use wsgi_lab::validate::{check_response, Rule};
/// assert!(check_response("200 OK", &[("Content-Type", "text/plain")]).is_empty());
/// let found = check_response("204 No Content", &[("Content-Type", "text/plain")]);
/// assert_eq!(found[0].rule, Rule::ContentType);
/// ```
pub fn check_response<N: AsRef<str>, V: AsRef<str>>(status: &str, headers: &[(N, V)]) -> Vec<Violation> {
    let mut found = Vec::new();
    let code = match check_status(status) {
        Ok(code) => Some(code),
        Err(message) => {
            found.push(Violation::new(Rule::Status, message));
            None
        }
    };
    for (name, value) in headers {
        if let Err(message) = check_header(name.as_ref(), value.as_ref()) {
            found.push(Violation::new(Rule::Header, message));
        }
    }
    let values = |wanted: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(n, _)| n.as_ref().eq_ignore_ascii_case(wanted))
            .map(|(_, v)| v.as_ref())
            .collect()
    };
    let types = values("content-type");
    match (code, types.len()) {
        (Some(code), 0) if !bodiless(code) => found.push(Violation::new(
            Rule::ContentType,
            format!(
                "status {code} needs a Content-Type header: add (\"Content-Type\", \"text/plain; \
                 charset=utf-8\") or the type your body really has"
            ),
        )),
        (Some(code), n) if n > 0 && bodiless(code) => found.push(Violation::new(
            Rule::ContentType,
            format!("status {code} has no body, so it must not carry a Content-Type: remove the header"),
        )),
        (_, n) if n > 1 => found.push(Violation::new(
            Rule::ContentType,
            format!("Content-Type was set {n} times ({types:?}): set it once"),
        )),
        _ => {}
    }
    match values("content-length").as_slice() {
        [] => {}
        [length] if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) => {
            found.push(Violation::new(
                Rule::ContentLength,
                format!("Content-Length {length:?} is not a number: pass the body's size in bytes, or leave it out"),
            ))
        }
        [_] => {}
        more => found.push(Violation::new(
            Rule::ContentLength,
            format!("Content-Length was set {} times: set it once, or leave it out", more.len()),
        )),
    }
    found
}

/// The status and headers an app passed to `start_response`, once it has.
type Started = Option<(String, Vec<(String, String)>)>;

/// What the validator does with each violation it finds.
type Reporter = Box<dyn Fn(&Violation) + Send + Sync>;

/// Middleware that checks the server and the app against the contract (see the module docs).
///
/// Environ violations are the server's: the app is not called with a broken environ. App
/// violations are found after the app returns, before anything is passed on, so the server
/// receives either the app's response untouched or the validator's `500`, never a mix.
///
/// A validator is an app like any other, so it goes wherever middleware goes: around a mounted
/// app it checks the environ the mount built.
///
/// ```
/// use wsgi_lab::{apps::demo_app, testing, Mount, Validator};
/// let app = Mount::new("/my-app", Validator::new(demo_app));
/// assert_eq!(testing::get(&app, "/my-app/x").status_code(), 200);
/// ```
pub struct Validator<A> {
    app: A,
    reporter: Reporter,
    /// The violations of the call that finished last (on any thread), for tests and lessons.
    last: Mutex<Vec<Violation>>,
}

/// Wraps `app` in a [`Validator`], as `wsgiref.validate.validator(app)` does.
///
/// ```
/// use wsgi_lab::{apps::hello, testing, validate::validate};
/// let app = validate(hello);
/// assert_eq!(testing::get(&app, "/").status_code(), 200);
/// assert!(app.last_violations().is_empty());
/// ```
pub fn validate<A: App>(app: A) -> Validator<A> {
    Validator::new(app)
}

impl<A: App> Validator<A> {
    /// Wraps `app`; violations are logged to stderr as `wsgi-lab validate: ...`.
    pub fn new(app: A) -> Self {
        Validator {
            app,
            reporter: Box::new(|violation| eprintln!("wsgi-lab validate: {violation}")),
            last: Mutex::new(Vec::new()),
        }
    }

    /// Replaces the stderr log with `reporter`, called once per violation.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use wsgi_lab::{testing, validate::validate, Body, Environ, StartResponse};
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// let app = validate(|_: &Environ, _: StartResponse| Body::from("no status"))
    ///     .with_reporter(move |v| sink.lock().unwrap().push(v.to_string()));
    /// testing::get(&app, "/");
    /// assert!(seen.lock().unwrap()[0].contains("without calling start_response"));
    /// ```
    pub fn with_reporter(mut self, reporter: impl Fn(&Violation) + Send + Sync + 'static) -> Self {
        self.reporter = Box::new(reporter);
        self
    }

    /// The violations found in the call that finished last (empty when it kept the contract).
    /// With several threads calling, "last" is whichever finished last.
    pub fn last_violations(&self) -> Vec<Violation> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Calls the app with a recording `start_response`, and checks what it did.
    fn call_checked(&self, environ: &Environ) -> (Vec<Violation>, Started, Body) {
        let started: RefCell<Started> = RefCell::new(None);
        let twice = Cell::new(false);
        let record = |status: &str, headers: Vec<(&str, &str)>| {
            let headers = headers.into_iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            *started.borrow_mut() = Some((status.to_string(), headers));
        };
        let start = |status: &str, headers: Vec<(&str, &str)>| {
            if started.borrow().is_some() {
                twice.set(true);
            } else {
                record(status, headers);
            }
        };
        let body = self.app.call(environ, StartResponse::new(&start, &record));
        let mut found = Vec::new();
        if twice.get() {
            found.push(Violation::new(
                Rule::StartedTwice,
                "start_response was called a second time without the error form: call it once, or \
                 use start_response.error(status, headers) to replace the status and headers after an error",
            ));
        }
        let started = started.into_inner();
        let Some((status, headers)) = &started else {
            found.push(Violation::new(
                Rule::NotStarted,
                "the app returned its body without calling start_response: call \
                 start_response(status, headers) before returning the body",
            ));
            return (found, None, body);
        };
        found.extend(check_response(status, headers));
        let (body_found, body) = check_listed_body(status, headers, body);
        found.extend(body_found);
        (found, started, body)
    }
}

/// Checks a body held in a list against the headers. A list is already in memory, so reading
/// it and building it again changes nothing the client could see; a stream is left alone.
fn check_listed_body(status: &str, headers: &[(String, String)], body: Body) -> (Vec<Violation>, Body) {
    if body.known_chunks().is_none() {
        return (Vec::new(), body);
    }
    let chunks: Vec<Vec<u8>> = body.collect();
    let size: usize = chunks.iter().map(Vec::len).sum();
    let mut found = Vec::new();
    let code = check_status(status).unwrap_or(200);
    if (code == 204 || code == 304) && size > 0 {
        found.push(Violation::new(
            Rule::BodyNotAllowed,
            format!("status {code} must have an empty body, but it has {size} bytes: return Body::empty()"),
        ));
    }
    let declared = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    if let Some((_, declared)) = declared
        && let Ok(declared) = declared.parse::<usize>()
        && declared != size
        && !bodiless(code)
    {
        found.push(Violation::new(
            Rule::ContentLength,
            format!(
                "Content-Length says {declared} but the body has {size} bytes: pass the body's real \
                 size, or leave the header out and let the server count"
            ),
        ));
    }
    (found, Body::from(chunks))
}

impl<A: App> App for Validator<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let mut found = check_environ(environ);
        // A broken environ is the server's mistake: the app would only trip over it.
        let (started, body) = if found.is_empty() {
            let (app_found, started, body) = self.call_checked(environ);
            found.extend(app_found);
            (started, body)
        } else {
            (None, Body::empty())
        };
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = found.clone();
        match started {
            Some((status, headers)) if found.is_empty() => {
                start_response(&status, headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect());
                body
            }
            _ => {
                found.iter().for_each(|violation| (self.reporter)(violation));
                // The app's body is dropped unread: that is its close().
                drop(body);
                start_response(
                    "500 Internal Server Error",
                    vec![("Content-Type", "text/plain; charset=utf-8")],
                );
                Body::from(report(&found))
            }
        }
    }
}

/// The text of the validator's 500: one line per violation.
///
/// ```
/// use wsgi_lab::validate::{report, Rule, Violation};
/// let text = report(&[Violation::new(Rule::NotStarted, "call start_response first")]);
/// assert_eq!(text, "500 Internal Server Error: the contract was broken (1 violation)\n\n\
///                   - app: call start_response first\n");
/// ```
pub fn report(violations: &[Violation]) -> String {
    let plural = if violations.len() == 1 { "" } else { "s" };
    let mut text = format!(
        "500 Internal Server Error: the contract was broken ({} violation{plural})\n\n",
        violations.len()
    );
    for violation in violations {
        text.push_str(&format!("- {violation}\n"));
    }
    text
}
