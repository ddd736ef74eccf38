//! The rules themselves: what the validator checks in the environ and in the response, each
//! failure a [`Violation`] that says what is wrong and what to do instead.

use crate::Environ;
use crate::app::{check_header, check_status};
use std::fmt;

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
pub(super) fn bodiless(code: u16) -> bool {
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
