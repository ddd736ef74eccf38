//! The validator's own rules, stricter than the ones every server enforces
//! ([`check_start_response`]): the environ the server built, `Content-Type`, and a body held in
//! a list against its headers. Each failure is a [`Violation`] that says what is wrong and what
//! to do instead.

use crate::app::{Rule, Violation, check_status};
use crate::environ::Environ;
use crate::handler::check_start_response;
use crate::http::response::status_has_body;

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

/// Checks what an app passed to `start_response`: the rules every server enforces
/// ([`check_start_response`]: the status, each header, `Content-Length`), and `Content-Type`.
/// An empty list means it keeps the contract.
///
/// ```
/// use wsgi_lab::validate::{check_response, Rule};
/// assert!(check_response("200 OK", &[("Content-Type", "text/plain")]).is_empty());
/// let found = check_response("204 No Content", &[("Content-Type", "text/plain")]);
/// assert_eq!(found[0].rule, Rule::ContentType);
/// ```
pub fn check_response<N: AsRef<str>, V: AsRef<str>>(status: &str, headers: &[(N, V)]) -> Vec<Violation> {
    let mut found = check_start_response(status, headers);
    found.extend(check_content_type(status, headers));
    found
}

/// A status with a body needs one `Content-Type`; a status without one must not have it.
pub(super) fn check_content_type<N: AsRef<str>, V: AsRef<str>>(
    status: &str,
    headers: &[(N, V)],
) -> Option<Violation> {
    let types: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.as_ref().eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_ref())
        .collect();
    let message = match (check_status(status).ok(), types.len()) {
        (Some(code), 0) if status_has_body(code) => format!(
            "status {code} needs a Content-Type header: add (\"Content-Type\", \"text/plain; \
             charset=utf-8\") or the type your body really has"
        ),
        (Some(code), n) if n > 0 && !status_has_body(code) => {
            format!("status {code} has no body, so it must not carry a Content-Type: remove the header")
        }
        (_, n) if n > 1 => format!("Content-Type was set {n} times ({types:?}): set it once"),
        _ => return None,
    };
    Some(Violation::new(Rule::ContentType, message))
}

/// Checks a whole body of `size` bytes against its status and its `Content-Length`.
pub(crate) fn check_body(code: u16, declared: Option<u64>, size: u64) -> Option<Violation> {
    match declared {
        _ if !status_has_body(code) && size > 0 => Some(Violation::new(
            Rule::BodyNotAllowed,
            format!("status {code} must have an empty body, but it has {size} bytes: return Body::empty()"),
        )),
        Some(declared) if declared != size && status_has_body(code) => Some(Violation::new(
            Rule::ContentLength,
            format!(
                "Content-Length says {declared} but the body has {size} bytes: pass the body's real \
                 size, or leave the header out and let the server count"
            ),
        )),
        _ => None,
    }
}
