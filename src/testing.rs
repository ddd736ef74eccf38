//! Calling an app in-process, with no socket (Werkzeug's test client, wsgiref's in-memory
//! handler): the request becomes the same environ a server would build, the app runs with the
//! same contract checks, and the response comes back as plain values.

use crate::app::App;
use crate::environ::Environ;
use crate::environ::ServerEnviron;
use crate::handler::call_app;
use crate::http::response::{catch_panic, header};
use crate::http::{Head, RequestBody};
use crate::util::setup_testing_defaults;
use std::net::SocketAddr;

/// An app's answer: status, headers in the app's order, the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResponse {
    /// The status line, such as `"200 OK"`.
    pub status: String,
    /// The headers as the app set them.
    pub headers: Vec<(String, String)>,
    /// Every chunk of the body, joined.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The status code.
    pub fn status_code(&self) -> u16 {
        self.status[..3].parse().unwrap_or(0)
    }

    /// The first value of a header, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The body as UTF-8 text (invalid bytes replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client for one app. Requests are built with [`Client::request`] (or [`Client::get`]) and
/// sent with [`RequestBuilder::send`].
///
/// ```
/// use wsgi_lab::{apps::echo, testing::Client};
/// let client = Client::new(&echo);
/// let response = client.request("POST", "/items?sort=name").header("Content-Type", "text/plain").body("hello").send();
/// let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
/// assert_eq!(json["environ"]["PATH_INFO"], "/items");
/// assert_eq!(json["environ"]["QUERY_STRING"], "sort=name");
/// assert_eq!(json["environ"]["CONTENT_TYPE"], "text/plain");
/// assert_eq!(json["body"], "hello");
/// ```
pub struct Client<'a> {
    app: &'a dyn App,
    server: SocketAddr,
    peer: SocketAddr,
}

impl<'a> Client<'a> {
    /// A client calling `app` as if it were served at `127.0.0.1:80` and the request came from
    /// `127.0.0.1:50000`.
    pub fn new(app: &'a dyn App) -> Self {
        Client { app, server: ([127, 0, 0, 1], 80).into(), peer: ([127, 0, 0, 1], 50000).into() }
    }

    /// Pretends the server is bound to `addr` and the client is `peer` (for comparing with a
    /// real server key by key).
    pub fn addresses(mut self, server: SocketAddr, peer: SocketAddr) -> Self {
        self.server = server;
        self.peer = peer;
        self
    }

    /// Starts a request: a method and a target (path and optional `?query`, percent-encoded
    /// as on the wire).
    pub fn request(&self, method: &str, target: &str) -> RequestBuilder<'_, 'a> {
        let head =
            Head { method: method.to_string(), target: target.to_string(), minor: 1, headers: Vec::new() };
        RequestBuilder { client: self, head, body: Vec::new() }
    }

    /// `GET target`, sent.
    pub fn get(&self, target: &str) -> TestResponse {
        self.request("GET", target).send()
    }
}

/// A request being built by a [`Client`].
pub struct RequestBuilder<'c, 'a> {
    client: &'c Client<'a>,
    head: Head,
    body: Vec<u8>,
}

impl RequestBuilder<'_, '_> {
    /// Adds a request header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.head.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body, and a matching `Content-Length` header.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.head.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-length"));
        self.head.headers.push(("Content-Length".to_string(), self.body.len().to_string()));
        self
    }

    /// The environ the servers would build for this request.
    pub fn environ(self) -> Environ {
        let server = ServerEnviron::new(self.client.server, false);
        let path = crate::environ::decode_path(crate::environ::split_target(&self.head.target).0);
        let body = RequestBody::from_bytes(self.body);
        Environ::from_request(&server, &self.head, body, self.client.peer, ("", &path))
            .expect("an in-memory body is always readable")
    }

    /// Calls the app and collects its response.
    pub fn send(self) -> TestResponse {
        let app = self.client.app;
        call(app, self.environ())
    }
}

/// Calls `app` with `environ` (completed by [`setup_testing_defaults`]). A contract mistake
/// or a panic gives the 500 a server would send, with the reason as the body.
///
/// ```
/// use wsgi_lab::{apps::hello, testing, Environ};
/// let response = testing::call(&hello, Environ::new());
/// assert_eq!((response.status_code(), response.text().as_str()), (200, "Hello, World!"));
/// ```
pub fn call(app: &dyn App, mut environ: Environ) -> TestResponse {
    setup_testing_defaults(&mut environ);
    let called = catch_panic(|| call_app(app, &environ).map_err(|broken| broken.to_string()));
    match called.unwrap_or_else(|panic| Err(format!("the app panicked: {panic}"))) {
        Ok(response) => TestResponse {
            status: response.status,
            headers: response.headers,
            body: response.body.flatten().collect(),
        },
        Err(mistake) => TestResponse {
            status: "500 Internal Server Error".to_string(),
            headers: vec![("Content-Type".to_string(), "text/plain; charset=utf-8".to_string())],
            body: mistake.into_bytes(),
        },
    }
}

/// `GET target` through a [`Client`]: the shortest way to call an app in a test.
pub fn get(app: &dyn App, target: &str) -> TestResponse {
    Client::new(app).get(target)
}
