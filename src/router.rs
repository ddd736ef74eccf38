//! A tiny Flask-like framework, to show that a framework is just an app: a [`Router`] maps
//! paths and methods to view functions (Flask's name for them), and implements [`App`] like any
//! other app.
//!
//! ```
//! use wsgi_lab::router::{Request, Router};
//! use wsgi_lab::testing;
//!
//! let app = Router::new()
//!     .route("/", |_: &Request| "Hello, World!")
//!     .route("/users/<name>", |request: &Request| format!("Hello, {}!", request.param("name").unwrap()))
//!     .route_methods("/items", &["GET", "POST"], |request: &Request| {
//!         (201, vec![("Content-Type", "text/plain")], format!("{} /items", request.method()))
//!     });
//!
//! let home = testing::get(&app, "/");
//! assert_eq!((home.status_code(), home.text().as_str()), (200, "Hello, World!"));
//! assert_eq!(home.header("content-type"), Some("text/html; charset=utf-8"));
//! assert_eq!(testing::get(&app, "/users/Ada").text(), "Hello, Ada!");
//! assert_eq!(testing::get(&app, "/nowhere").status_code(), 404);
//! ```
//!
//! As in Flask: a route answers `GET` (and `HEAD`) unless told otherwise; a path with routes
//! but none for the method is a `405` with an `Allow` header; `OPTIONS` is answered from the
//! same list; returned text is `200 text/html; charset=utf-8`. Unlike Flask, routes are tried
//! in the order they were added (Flask sorts them by how specific they are), and a missing or
//! extra trailing slash is a 404, never a redirect.
//!
//! Routes match `PATH_INFO`, so a router mounted under a prefix (`Mount::new("/my-app",
//! router)`, or `url_prefix`) sees only the part below it. [`Router::run`] is Flask's
//! `app.run(host, port, debug)`: it starts the [development server](crate::dev).

mod response;

pub use response::{IntoResponse, Response};

use crate::app::{App, Body, StartResponse};
use crate::apps::query_value;
use crate::environ::Environ;
use crate::util::to_utf8;
use std::io::Read;

/// A view function as it is stored: the request in, a response out.
type View = Box<dyn Fn(&Request) -> Response + Send + Sync>;

/// An app made of routes: a path pattern, the methods it answers, and a view function.
///
/// Patterns are literal segments and parameters: `<name>` matches one segment, `<int:id>` one
/// segment of digits, `<path:rest>` the rest of the path, slashes included.
///
/// ```
/// use wsgi_lab::router::{Request, Router};
/// use wsgi_lab::testing;
/// let app = Router::new().route("/files/<path:rest>", |r: &Request| r.param("rest").unwrap().to_string());
/// assert_eq!(testing::get(&app, "/files/a/b.txt").text(), "a/b.txt");
/// ```
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
}

struct Route {
    pattern: Vec<Segment>,
    methods: Vec<String>,
    view: View,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Literal(String),
    /// A parameter: its name and what it accepts.
    Param(String, Kind),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Segment,
    Int,
    Path,
}

impl Router {
    /// A router with no routes: every path is a 404.
    pub fn new() -> Self {
        Router::default()
    }

    /// Adds a `GET` route (`@app.route(path)` in Flask).
    ///
    /// # Panics
    /// When `pattern` is malformed (not starting with `/`, an empty or unknown `<...>`, a
    /// `<path:...>` that is not last): a mistake in the program, found when it starts.
    pub fn route<R: IntoResponse>(
        self,
        pattern: &str,
        view: impl Fn(&Request) -> R + Send + Sync + 'static,
    ) -> Self {
        self.route_methods(pattern, &["GET"], view)
    }

    /// Adds a `GET` route; the same as [`Router::route`].
    pub fn get<R: IntoResponse>(
        self,
        pattern: &str,
        view: impl Fn(&Request) -> R + Send + Sync + 'static,
    ) -> Self {
        self.route(pattern, view)
    }

    /// Adds a `POST` route.
    ///
    /// ```
    /// use wsgi_lab::router::{Request, Router};
    /// use wsgi_lab::{testing, Environ};
    /// let app = Router::new().post("/echo", |request: &Request| request.text());
    /// let mut environ = Environ::new();
    /// environ.set("REQUEST_METHOD", "POST");
    /// environ.set("PATH_INFO", "/echo");
    /// environ.set_input(b"hi".to_vec());
    /// assert_eq!(testing::call(&app, environ).text(), "hi");
    /// ```
    pub fn post<R: IntoResponse>(
        self,
        pattern: &str,
        view: impl Fn(&Request) -> R + Send + Sync + 'static,
    ) -> Self {
        self.route_methods(pattern, &["POST"], view)
    }

    /// Adds a route for the given methods (`@app.route(path, methods=[...])`). `GET` also
    /// answers `HEAD`, whose body the server drops.
    ///
    /// ```
    /// use wsgi_lab::router::{Request, Router};
    /// use wsgi_lab::{testing, Environ};
    /// let app = Router::new().route_methods("/items", &["GET", "POST"], |r: &Request| r.method().to_string());
    /// let mut environ = Environ::new();
    /// environ.set("REQUEST_METHOD", "DELETE");
    /// environ.set("PATH_INFO", "/items");
    /// let refused = testing::call(&app, environ);
    /// assert_eq!(refused.status_code(), 405);
    /// assert_eq!(refused.header("allow"), Some("GET, HEAD, OPTIONS, POST"));
    /// ```
    pub fn route_methods<R: IntoResponse>(
        mut self,
        pattern: &str,
        methods: &[&str],
        view: impl Fn(&Request) -> R + Send + Sync + 'static,
    ) -> Self {
        let methods = methods.iter().map(|m| m.to_ascii_uppercase()).collect();
        let view: View = Box::new(move |request| view(request).into_response());
        self.routes.push(Route { pattern: parse_pattern(pattern), methods, view });
        self
    }

    /// Serves this router on the [development server](crate::dev), as Flask's
    /// `app.run(host=..., port=..., debug=...)`. Blocks until the process ends.
    ///
    /// ```no_run
    /// use wsgi_lab::router::{Request, Router};
    /// Router::new().route("/", |_: &Request| "Hello, World!").run("127.0.0.1", 5000, true)?;
    /// # Ok::<(), wsgi_lab::Error>(())
    /// ```
    pub fn run(self, host: &str, port: u16, debug: bool) -> Result<(), crate::server::Error> {
        crate::dev::run_dev(self, host, port, debug)
    }

    /// The methods some route of `path` answers, for `Allow`: sorted, `HEAD` with `GET`, and
    /// `OPTIONS`, which the router answers itself.
    fn allowed(&self, path: &str) -> Vec<String> {
        let mut allowed: Vec<String> = Vec::new();
        for route in self.routes.iter().filter(|r| match_pattern(&r.pattern, path).is_some()) {
            allowed.extend(route.methods.iter().cloned());
            if route.methods.iter().any(|m| m == "GET") {
                allowed.push("HEAD".into());
            }
        }
        if !allowed.is_empty() {
            allowed.push("OPTIONS".into());
        }
        allowed.sort();
        allowed.dedup();
        allowed
    }
}

impl App for Router {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let method = environ.get("REQUEST_METHOD").unwrap_or("GET");
        // PATH_INFO holds one char per byte (PEP 3333); routes and parameters are UTF-8 text.
        let path = match to_utf8(environ.get("PATH_INFO").unwrap_or("")) {
            empty if empty.is_empty() => "/".to_string(),
            path => path,
        };
        let answers =
            |route: &Route| route.methods.iter().any(|m| m == method || (m == "GET" && method == "HEAD"));
        let found = self
            .routes
            .iter()
            .filter(|r| answers(r))
            .find_map(|r| Some((r, match_pattern(&r.pattern, &path)?)));
        let response = match found {
            Some((route, params)) => match read_body(environ) {
                Ok(body) => (route.view)(&Request { environ, path, params, body }),
                Err(e) => Response::text(format!("could not read the request body: {e}\n")).status(400),
            },
            None => {
                let allowed = self.allowed(&path).join(", ");
                if allowed.is_empty() {
                    Response::text(format!("404 Not Found: no route matches {path}\n")).status(404)
                } else if method == "OPTIONS" {
                    Response::new(200, Body::empty()).header("Allow", &allowed)
                } else {
                    Response::text(format!(
                        "405 Method Not Allowed: {path} answers {allowed}, not {method}\n"
                    ))
                    .status(405)
                    .header("Allow", &allowed)
                }
            }
        };
        response.send(start_response)
    }
}

fn read_body(environ: &Environ) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    environ.input().read_to_end(&mut body)?;
    Ok(body)
}

fn parse_pattern(pattern: &str) -> Vec<Segment> {
    let Some(rest) = pattern.strip_prefix('/') else {
        panic!("route {pattern:?} must start with '/': write \"/{pattern}\"");
    };
    let segments: Vec<Segment> = rest
        .split('/')
        .map(|part| match part.strip_prefix('<').and_then(|p| p.strip_suffix('>')) {
            None => Segment::Literal(part.to_string()),
            Some(inner) => {
                let (kind, name) = match inner.split_once(':') {
                    None => (Kind::Segment, inner),
                    Some(("int", name)) => (Kind::Int, name),
                    Some(("path", name)) => (Kind::Path, name),
                    Some((other, _)) => panic!(
                        "route {pattern:?}: unknown converter {other:?}; use <name>, <int:name> or <path:name>"
                    ),
                };
                if name.is_empty() {
                    panic!("route {pattern:?}: a parameter needs a name, such as <name> or <int:id>");
                }
                Segment::Param(name.to_string(), kind)
            }
        })
        .collect();
    let path_params = segments.iter().position(|s| matches!(s, Segment::Param(_, Kind::Path)));
    if path_params.is_some_and(|i| i + 1 != segments.len()) {
        panic!("route {pattern:?}: <path:...> takes the rest of the path, so it must come last");
    }
    segments
}

/// The parameters of `path` if it matches `pattern`.
fn match_pattern(pattern: &[Segment], path: &str) -> Option<Vec<(String, String)>> {
    let parts: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let mut params = Vec::new();
    for (i, segment) in pattern.iter().enumerate() {
        let part = *parts.get(i)?;
        match segment {
            Segment::Literal(literal) if literal == part => {}
            Segment::Literal(_) => return None,
            Segment::Param(name, Kind::Path) => {
                let rest = parts[i..].join("/");
                return (!rest.is_empty()).then(|| {
                    params.push((name.clone(), rest));
                    params
                });
            }
            Segment::Param(_, Kind::Int) if !part.bytes().all(|b| b.is_ascii_digit()) => return None,
            Segment::Param(_, _) if part.is_empty() => return None,
            Segment::Param(name, _) => params.push((name.clone(), part.to_string())),
        }
    }
    (parts.len() == pattern.len()).then_some(params)
}

/// What a view function sees of the request (Flask's `request`): the method, the path, the query,
/// the route's parameters, the body, and the whole environ.
///
/// ```
/// use wsgi_lab::router::{Request, Router};
/// use wsgi_lab::testing;
/// let app = Router::new().route("/users/<int:id>", |r: &Request| {
///     format!("{} {} id={} tab={}", r.method(), r.path(), r.param("id").unwrap(), r.query("tab").unwrap_or_default())
/// });
/// assert_eq!(testing::get(&app, "/users/7?tab=posts").text(), "GET /users/7 id=7 tab=posts");
/// assert_eq!(testing::get(&app, "/users/ada").status_code(), 404);
/// ```
pub struct Request<'a> {
    environ: &'a Environ,
    path: String,
    params: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request<'_> {
    /// `REQUEST_METHOD`, such as `GET`.
    pub fn method(&self) -> &str {
        self.environ.get("REQUEST_METHOD").unwrap_or("GET")
    }

    /// `PATH_INFO` as UTF-8 text (`/` when empty): the path below the mount prefix.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A route parameter, such as `name` in `/users/<name>`, percent-decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// A value of the query string (`request.args.get(name)` in Flask), percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        query_value(self.environ, name)
    }

    /// A field of a form posted as `application/x-www-form-urlencoded` (`request.form`).
    pub fn form(&self, name: &str) -> Option<String> {
        let mut fields = Environ::new();
        fields.set("QUERY_STRING", String::from_utf8_lossy(&self.body).into_owned());
        query_value(&fields, name)
    }

    /// A request header, case-insensitively (`Content-Type` and `Content-Length` included).
    ///
    /// ```
    /// use wsgi_lab::router::{Request, Router};
    /// use wsgi_lab::{testing, Environ};
    /// let app = Router::new().route("/", |r: &Request| r.header("user-agent").unwrap_or("?").to_string());
    /// let mut environ = Environ::new();
    /// environ.set("HTTP_USER_AGENT", "curl/8");
    /// assert_eq!(testing::call(&app, environ).text(), "curl/8");
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        let key = name.to_ascii_uppercase().replace('-', "_");
        match key.as_str() {
            "CONTENT_TYPE" | "CONTENT_LENGTH" => self.environ.get(&key),
            _ => self.environ.get(&format!("HTTP_{key}")),
        }
    }

    /// The request body, already read from `wsgi.input`.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The request body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The environ, for anything else.
    pub fn environ(&self) -> &Environ {
        self.environ
    }
}
