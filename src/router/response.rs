//! What a view function returns, and how it becomes a response: [`Response`] and
//! [`IntoResponse`] (Flask's `make_response`).

use crate::app::{Body, StartResponse};
use crate::http::response::status_has_body;

/// A response as a view function builds it: a status code, headers, and a body.
///
/// Without a `Content-Type`, Flask's default is added when sent: `text/html; charset=utf-8`
/// (except on 1xx, 204 and 304, which have no body).
///
/// ```
/// use wsgi_lab::router::{Request, Response, Router};
/// use wsgi_lab::testing;
/// let app = Router::new().route("/", |_: &Request| Response::text("made").status(201).header("X-Id", "7"));
/// let response = testing::get(&app, "/");
/// assert_eq!(response.status, "201 Created");
/// assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"));
/// assert_eq!(response.header("x-id"), Some("7"));
/// ```
#[derive(Debug)]
pub struct Response {
    /// The status code, such as 200.
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body: a list of chunks or a stream.
    pub body: Body,
}

impl Response {
    /// A response with this status and body, and no headers yet.
    pub fn new(status: u16, body: impl Into<Body>) -> Self {
        Response { status, headers: Vec::new(), body: body.into() }
    }

    /// `200`, `text/plain; charset=utf-8`.
    pub fn text(body: impl Into<Body>) -> Self {
        Response::new(200, body).header("Content-Type", "text/plain; charset=utf-8")
    }

    /// `200`, `application/json`, the value serialised (Flask's `jsonify`).
    pub fn json(value: &serde_json::Value) -> Self {
        Response::new(200, value.to_string()).header("Content-Type", "application/json")
    }

    /// The same response with another status code.
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The same response with one more header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Passes the status and headers to `start_response` and returns the body.
    pub fn send(mut self, start_response: StartResponse) -> Body {
        let has_type = self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
        if !has_type && status_has_body(self.status) {
            self.headers.push(("Content-Type".into(), "text/html; charset=utf-8".into()));
        }
        let status = format!("{} {}", self.status, reason(self.status));
        start_response(&status, self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect());
        self.body
    }
}

/// The reason phrase of a status code: tiny_http's table (RFC 9110's phrases), reused.
fn reason(status: u16) -> &'static str {
    tiny_http::StatusCode(status).default_reason_phrase()
}

/// What a view function may return (Flask's `make_response`): text (`200 text/html`), a
/// `(status, body)` or `(status, headers, body)` tuple, a JSON value, or a [`Response`].
///
/// ```
/// use wsgi_lab::router::IntoResponse;
/// assert_eq!("hi".into_response().status, 200);
/// assert_eq!((404, "gone").into_response().status, 404);
/// let r = (302, vec![("Location", "/")], "").into_response();
/// assert_eq!(r.headers, vec![("Location".to_string(), "/".to_string())]);
/// assert_eq!(serde_json::json!({"ok": true}).into_response().headers[0].1, "application/json");
/// ```
pub trait IntoResponse {
    /// Converts into a response.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for &str {
    fn into_response(self) -> Response {
        Response::new(200, self)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::new(200, self)
    }
}

impl IntoResponse for serde_json::Value {
    fn into_response(self) -> Response {
        Response::json(&self)
    }
}

impl<B: Into<Body>> IntoResponse for (u16, B) {
    fn into_response(self) -> Response {
        Response::new(self.0, self.1)
    }
}

impl<B: Into<Body>> IntoResponse for (u16, Vec<(&str, &str)>, B) {
    fn into_response(self) -> Response {
        let (status, headers, body) = self;
        headers.into_iter().fold(Response::new(status, body), |r, (n, v)| r.header(n, v))
    }
}
