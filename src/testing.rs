//! Calling an app in-process, with no socket (wsgiref's in-memory handler, Werkzeug's test
//! client): the same contract checks as the servers, the response as plain values.

use crate::handler::call_app;
use crate::http::response::header;
use crate::util::setup_testing_defaults;
use crate::{App, Environ};

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
    match call_app(app, &environ) {
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

/// A `GET` of `target` (a path with an optional `?query`), percent-decoded as a server would.
pub fn get(app: &dyn App, target: &str) -> TestResponse {
    let (path, query) = crate::environ::split_target(target);
    let mut environ = Environ::new();
    environ.set("REQUEST_URI", target);
    environ.set("PATH_INFO", crate::environ::decode_path(path));
    environ.set("QUERY_STRING", query);
    call(app, environ)
}
