//! HTTP errors are data that render themselves: a status and a short `text/plain` reason.

use std::fmt;

/// A request the server refuses, with the status SPEC §3 names for it.
///
/// The server answers it through the normal response path (see [`crate::handler`]) with
/// `Connection: close`, then closes the connection.
///
/// ```
/// use wsgi_lab::HttpError;
/// let e = HttpError::new(413, "request body larger than 1024 bytes");
/// assert_eq!(e.status_line(), "413 Content Too Large");
/// assert_eq!(e.to_string(), "413 Content Too Large: request body larger than 1024 bytes");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The status code: 400, 404, 408, 413, 431, 500, 501 or 505.
    pub status: u16,
    /// What was wrong, in words for the client (it becomes the body).
    pub detail: String,
}

impl HttpError {
    /// An error with a status code and a one-line explanation.
    pub fn new(status: u16, detail: impl Into<String>) -> Self {
        HttpError { status, detail: detail.into() }
    }

    /// `400 Bad Request`: the request does not follow HTTP/1.1's grammar.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(400, detail)
    }

    /// The status line text, such as `"400 Bad Request"`.
    pub fn status_line(&self) -> String {
        format!("{} {}", self.status, reason(self.status))
    }

    /// The body sent to the client: the status line, then what was wrong.
    pub fn body(&self) -> String {
        format!("{}\n\n{}\n", self.status_line(), self.detail)
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status_line(), self.detail)
    }
}

impl std::error::Error for HttpError {}

/// The reason phrase of each status the server refuses or fails a request with (an
/// [`HttpError`]'s); RFC 9110's names.
pub fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}
