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

mod rules;

pub use rules::{REQUIRED_KEYS, Rule, Violation, check_environ, check_response};

use crate::app::check_status;
use rules::bodiless;

use crate::{App, Body, Environ, StartResponse};
use std::cell::{Cell, RefCell};
use std::sync::Mutex;

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
