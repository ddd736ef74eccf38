//! wsgiref's `util` helpers, for apps and middleware: [`shift_path_info`], [`request_uri`],
//! [`application_uri`], [`setup_testing_defaults`], plus [`to_utf8`] for PEP 3333's latin-1
//! strings.

use crate::environ::Environ;
use crate::environ::SERVER_SOFTWARE;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};

/// Moves one path segment from `PATH_INFO` to `SCRIPT_NAME` and returns it, as a router
/// descending into a sub-app does. `None` when `PATH_INFO` is empty.
///
/// ```
/// use wsgi_lab::{util::shift_path_info, Environ};
/// let mut environ = Environ::new();
/// environ.set("SCRIPT_NAME", "/a");
/// environ.set("PATH_INFO", "/b/c");
/// assert_eq!(shift_path_info(&mut environ).as_deref(), Some("b"));
/// assert_eq!((&environ["SCRIPT_NAME"], &environ["PATH_INFO"]), ("/a/b", "/c"));
/// assert_eq!(shift_path_info(&mut environ).as_deref(), Some("c"));
/// assert_eq!((&environ["SCRIPT_NAME"], &environ["PATH_INFO"]), ("/a/b/c", ""));
/// assert_eq!(shift_path_info(&mut environ), None);
/// ```
pub fn shift_path_info(environ: &mut Environ) -> Option<String> {
    let path_info = environ.get("PATH_INFO").unwrap_or("").to_string();
    let rest = path_info.strip_prefix('/')?;
    // Empty and "." segments are dropped, except the last one, which keeps a trailing slash.
    let mut segments: Vec<&str> = rest.split('/').collect();
    let last = segments.pop().unwrap_or("");
    segments.retain(|s| !s.is_empty() && *s != ".");
    segments.push(last);
    let name = segments.remove(0).to_string();
    let script_name = environ.get("SCRIPT_NAME").unwrap_or("");
    let mut script_name = normpath(&format!("{script_name}/{name}"));
    if name.is_empty() {
        script_name.push('/');
    }
    let path_info = if segments.is_empty() { String::new() } else { format!("/{}", segments.join("/")) };
    environ.set("SCRIPT_NAME", script_name);
    environ.set("PATH_INFO", path_info);
    (name != ".").then_some(name)
}

/// `/a/./b/../c` → `/a/c`; the root is `""`.
fn normpath(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    out.iter().map(|s| format!("/{s}")).collect()
}

/// What Python's `urllib.parse.quote` leaves alone besides letters and digits.
const QUOTE_SAFE: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-').remove(b'~').remove(b'/');
const PATH_SAFE: &AsciiSet = &QUOTE_SAFE.remove(b';').remove(b'=').remove(b',');

fn quote(latin1: &str, safe: &'static AsciiSet) -> String {
    let bytes: Vec<u8> = latin1.chars().map(|c| c as u32 as u8).collect();
    percent_encode(&bytes, safe).to_string()
}

/// The URL of the app itself: scheme, host (from `HTTP_HOST`, else `SERVER_NAME` and a
/// non-default port) and `SCRIPT_NAME`.
///
/// ```
/// use wsgi_lab::{util::{application_uri, setup_testing_defaults}, Environ};
/// let mut environ = Environ::new();
/// setup_testing_defaults(&mut environ);
/// environ.set("SCRIPT_NAME", "/my app");
/// assert_eq!(application_uri(&environ), "http://127.0.0.1/my%20app");
/// ```
pub fn application_uri(environ: &Environ) -> String {
    let scheme = environ.get("wsgi.url_scheme").unwrap_or("http");
    let host = match environ.get("HTTP_HOST") {
        Some(host) if !host.is_empty() => host.to_string(),
        _ => {
            let name = environ.get("SERVER_NAME").unwrap_or("");
            let port = environ.get("SERVER_PORT").unwrap_or("");
            let default = if scheme == "https" { "443" } else { "80" };
            if port.is_empty() || port == default { name.to_string() } else { format!("{name}:{port}") }
        }
    };
    let script_name = environ.get("SCRIPT_NAME").filter(|s| !s.is_empty()).unwrap_or("/");
    format!("{scheme}://{host}{}", quote(script_name, QUOTE_SAFE))
}

/// The full URL of the request: [`application_uri`], `PATH_INFO`, and the query if asked.
///
/// ```
/// use wsgi_lab::{util::{request_uri, setup_testing_defaults}, Environ};
/// let mut environ = Environ::new();
/// setup_testing_defaults(&mut environ);
/// environ.set("PATH_INFO", "/a b");
/// environ.set("QUERY_STRING", "x=1");
/// assert_eq!(request_uri(&environ, true), "http://127.0.0.1/a%20b?x=1");
/// assert_eq!(request_uri(&environ, false), "http://127.0.0.1/a%20b");
/// ```
pub fn request_uri(environ: &Environ, include_query: bool) -> String {
    let mut url = application_uri(environ);
    let path_info = quote(environ.get("PATH_INFO").unwrap_or(""), PATH_SAFE);
    // application_uri ends in "/" when SCRIPT_NAME is empty; don't double it.
    match environ.get("SCRIPT_NAME") {
        Some(s) if !s.is_empty() => url.push_str(&path_info),
        _ => url.push_str(path_info.strip_prefix('/').unwrap_or(&path_info)),
    }
    match environ.get("QUERY_STRING") {
        Some(q) if include_query && !q.is_empty() => format!("{url}?{q}"),
        _ => url,
    }
}

/// Fills in every key a server would set, for calling an app in a test (wsgiref's function of
/// the same name). Keys already present are kept.
///
/// ```
/// use wsgi_lab::{util::setup_testing_defaults, Environ};
/// let mut environ = Environ::new();
/// environ.set("PATH_INFO", "/x");
/// setup_testing_defaults(&mut environ);
/// assert_eq!((&environ["REQUEST_METHOD"], &environ["PATH_INFO"], &environ["SCRIPT_NAME"]), ("GET", "/x", ""));
/// ```
pub fn setup_testing_defaults(environ: &mut Environ) {
    let server_name = environ.get("SERVER_NAME").unwrap_or("127.0.0.1").to_string();
    let defaults = [
        ("SERVER_NAME", server_name.as_str()),
        ("SERVER_PORT", "80"),
        ("SERVER_PROTOCOL", "HTTP/1.0"),
        ("SERVER_SOFTWARE", SERVER_SOFTWARE),
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("HTTP_HOST", server_name.as_str()),
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", ""),
        ("PATH_INFO", "/"),
        ("QUERY_STRING", ""),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("wsgi.url_scheme", "http"),
    ];
    for (key, value) in defaults {
        if environ.get(key).is_none() {
            environ.set(key, value);
        }
    }
}

/// PEP 3333's recipe `s.encode('latin-1').decode('utf-8')`: turns `PATH_INFO`'s one-char-per-byte
/// text back into UTF-8, replacing invalid sequences.
///
/// ```
/// assert_eq!(wsgi_lab::util::to_utf8("/cafÃ©"), "/café");
/// ```
pub fn to_utf8(latin1: &str) -> String {
    let bytes: Vec<u8> = latin1.chars().map(|c| c as u32 as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}
