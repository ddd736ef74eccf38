//! Mounting an app under a URL prefix (`url_prefix`, SPEC §5), in the server options or as
//! middleware of its own.

use crate::app::{App, Body, StartResponse};
use crate::environ::Environ;

/// A normalised URL prefix: one leading `/`, no trailing `/`; the empty prefix mounts at the root.
///
/// ```
/// use wsgi_lab::UrlPrefix;
/// assert_eq!(UrlPrefix::new("my-app/").as_str(), "/my-app");
/// assert_eq!(UrlPrefix::new("/").as_str(), "");
/// let p = UrlPrefix::new("/app");
/// assert_eq!(p.split("/app"), Some(""));
/// assert_eq!(p.split("/app/x/y"), Some("/x/y"));
/// assert_eq!(p.split("/application"), None);
/// assert_eq!(p.split("/App"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlPrefix(String);

impl UrlPrefix {
    /// Normalises a prefix once, at configuration time.
    pub fn new(prefix: &str) -> Self {
        let trimmed = prefix.trim().trim_matches('/');
        if trimmed.is_empty() { UrlPrefix(String::new()) } else { UrlPrefix(format!("/{trimmed}")) }
    }

    /// Reads a prefix given as text from outside (a command line): normalised as by
    /// [`UrlPrefix::new`], and refused when it has a `?` or `#` (they end the path in a URL), a
    /// `.` or `..` segment (clients resolve those before they send a path, so nothing would
    /// match), a space or a control character. The message names the cause and what to give.
    ///
    /// ```
    /// use wsgi_lab::UrlPrefix;
    /// assert_eq!(UrlPrefix::parse("my-app/").unwrap().as_str(), "/my-app");
    /// for bad in ["/app?x=1", "/app#top", "/a/../b", "/my app"] {
    ///     assert!(UrlPrefix::parse(bad).unwrap_err().contains("is not a URL prefix"), "{bad}");
    /// }
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let prefix = UrlPrefix::new(text);
        let path = prefix.as_str();
        let cause = if path.contains('?') {
            "a `?` starts the query string, after the path"
        } else if path.contains('#') {
            "a `#` starts the fragment, after the path"
        } else if path.split('/').any(|segment| segment == "." || segment == "..") {
            "a `.` or `..` segment is resolved away before a request is sent, so no path would match"
        } else if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            "it has a space or a control character"
        } else {
            return Ok(prefix);
        };
        Err(format!("{text:?} is not a URL prefix: {cause}; give a path such as /my-app"))
    }

    /// The normalised prefix, `""` at the root.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The rest of a decoded path below the prefix, or `None` when the path is outside it.
    /// Matching is case-sensitive and segment-aware.
    pub fn split<'p>(&self, path: &'p str) -> Option<&'p str> {
        let rest = path.strip_prefix(self.0.as_str())?;
        (rest.is_empty() || rest.starts_with('/') || self.0.is_empty()).then_some(rest)
    }

    /// The 404 body for a path outside the prefix.
    pub fn outside(&self, path: &str) -> String {
        format!("{path} is outside {}: this server mounts its app at {} and below", self.0, self.0)
    }
}

impl From<&str> for UrlPrefix {
    fn from(prefix: &str) -> Self {
        UrlPrefix::new(prefix)
    }
}

impl From<String> for UrlPrefix {
    fn from(prefix: String) -> Self {
        UrlPrefix::new(&prefix)
    }
}

/// Middleware: serves `app` under `prefix`, moving the prefix from `PATH_INFO` to
/// `SCRIPT_NAME`, and answers 404 outside it.
///
/// ```
/// use wsgi_lab::{Body, Environ, Mount, StartResponse, testing};
///
/// let app = Mount::new("/my-app", |environ: &Environ, start_response: StartResponse| {
///     start_response("200 OK", vec![("Content-Type", "text/plain")]);
///     Body::from(format!("{} | {}", &environ["SCRIPT_NAME"], &environ["PATH_INFO"]))
/// });
/// assert_eq!(testing::get(&app, "/my-app/hi").text(), "/my-app | /hi");
/// assert_eq!(testing::get(&app, "/other").status_code(), 404);
/// ```
pub struct Mount<A> {
    prefix: UrlPrefix,
    app: A,
}

impl<A: App> Mount<A> {
    /// Mounts `app` at `prefix` (normalised here, once).
    pub fn new(prefix: &str, app: A) -> Self {
        Mount { prefix: UrlPrefix::new(prefix), app }
    }
}

impl<A: App> App for Mount<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let path = environ.get("PATH_INFO").unwrap_or("");
        match self.prefix.split(path) {
            Some(rest) => {
                let mut inner = environ.clone();
                let script_name =
                    format!("{}{}", environ.get("SCRIPT_NAME").unwrap_or(""), self.prefix.as_str());
                inner.set("PATH_INFO", rest);
                inner.set("SCRIPT_NAME", script_name);
                self.app.call(&inner, start_response)
            }
            None => {
                start_response("404 Not Found", vec![("Content-Type", "text/plain; charset=utf-8")]);
                Body::from(self.prefix.outside(path))
            }
        }
    }
}
