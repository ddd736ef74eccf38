//! The contract checker, wsgiref's `validate.py` in Rust: middleware that sits between a
//! server and an app and checks both sides of the contract (SPEC §1 and §2).
//!
//! - The server's side: the environ it built ([`check_environ`]).
//! - The app's side: first the rules every server enforces, found by calling the app exactly
//!   as a server does ([`call_app`]: `start_response` called once, before the body; the
//!   status, the headers, `Content-Length`); then the validator's own, stricter ones:
//!   `Content-Type`, and, for a body held in a list, whether the body agrees with the status
//!   and the headers ([`check_response`] checks a status and headers alone).
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

pub use crate::app::{Rule, Violation};
pub(crate) use rules::check_body;
pub use rules::{REQUIRED_KEYS, check_environ, check_response};

use crate::app::{App, Body, StartResponse};
use crate::app::{AppResponse, check_content_length, check_status};
use crate::environ::Environ;
use crate::handler::{Broken, call_app};
use crate::sync::lock;
use std::sync::Mutex;

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
        lock(&self.last).clone()
    }
}

impl<A: App> App for Validator<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let mut found = check_environ(environ);
        // A broken environ is the server's mistake: the app would only trip over it.
        let answered = if found.is_empty() {
            // Called as every server calls it, so the rules a server enforces are found alike;
            // then the validator's own rules, on what the app answered even if it broke those.
            let (broken, answered) = match call_app(&self.app, environ) {
                Ok(response) => (Vec::new(), Some(response)),
                Err(Broken { violations, response }) => (violations, response),
            };
            found.extend(broken);
            answered.map(|response| check_own_rules(response, &mut found))
        } else {
            None
        };
        *lock(&self.last) = found.clone();
        match answered {
            Some(response) if found.is_empty() => {
                let headers = response.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                start_response(&response.status, headers);
                response.body
            }
            _ => {
                found.iter().for_each(|violation| (self.reporter)(violation));
                // The app's body is dropped unread: that is its close().
                drop(answered);
                start_response(
                    "500 Internal Server Error",
                    vec![("Content-Type", "text/plain; charset=utf-8")],
                );
                Body::from(report(&found))
            }
        }
    }
}

/// The validator's own rules on a response: `Content-Type`, and a body held in a list against
/// its headers. A list is already in memory, so reading it and building it again changes
/// nothing the client could see; a stream is left alone.
fn check_own_rules(mut response: AppResponse, found: &mut Vec<Violation>) -> AppResponse {
    found.extend(rules::check_content_type(&response.status, &response.headers));
    if response.body.known_chunks().is_some() {
        let chunks: Vec<Vec<u8>> = response.body.collect();
        let size = chunks.iter().map(|chunk| chunk.len() as u64).sum();
        let declared = check_content_length(&response.headers).ok().flatten();
        let code = check_status(&response.status).unwrap_or(200);
        found.extend(check_body(code, declared, size));
        response.body = Body::from(chunks);
    }
    response
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
