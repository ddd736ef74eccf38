//! # wsgi-lab: how a Python web app is served, in Rust you can run, read and measure
//!
//! Python's tutorials serve an app in two lines: wsgiref's `make_server('', 5000, app)` and
//! `serve_forever()`, or waitress's `serve(app, threads=4)`. This page walks the same road in
//! five steps, each one idea; the lessons then measure what each step claims.
//!
//! ## 1. An app, served by `make_server`
//!
//! An app is a function of `environ` (the request, as CGI-style keys) and `start_response`
//! (how the app sets the status and headers), returning the body as byte chunks. This is the
//! program of the wsgiref tutorial [Use a Production WSGI Server to Run a Flask
//! App](https://www.delftstack.com/howto/python-flask/use-a-production-wsgi-server-instead/),
//! line for line. [`make_server`] serves it on one thread, one request at a time.
//!
//! ```no_run
//! use wsgi_lab::{make_server, Body, Environ, StartResponse};
//!
//! fn web_app(environ: &Environ, start_response: StartResponse) -> Body {
//!     let status = "200 OK";
//!     let headers = vec![("content-type", "text/html; charset=utf-8")];
//!     start_response(status, headers);
//!     Body::from(vec![b"<h2>Hi there, this is WSGI server</h2>".to_vec()])
//! }
//!
//! let server = make_server("", 5000, web_app)?;
//! println!("serving on port 5000...\nvisit http://127.0.0.1:5000\nTo exit press ctrl + c");
//! server.serve_forever()?;
//! # Ok::<(), wsgi_lab::Error>(())
//! ```
//!
//! ## 2. Threads and a URL prefix: `serve`
//!
//! [waitress](https://docs.pylonsproject.org/projects/waitress/en/stable/)'s `serve(app,
//! host='0.0.0.0', port=50100, threads=4, url_prefix='/my-app')` is [`serve`] with
//! [`Options`]. A pool of workers runs the app, so a slow request no longer
//! holds up the others; under the prefix the app sees `/my-app/hi` as `SCRIPT_NAME=/my-app`
//! and `PATH_INFO=/hi`, and any path outside it is a 404.
//!
//! ```no_run
//! use wsgi_lab::{apps::hello, serve, Options};
//!
//! let options = Options {
//!     host: "0.0.0.0".into(),
//!     port: 50100,
//!     threads: 4,
//!     url_prefix: "/my-app".into(),
//!     ..Options::default()
//! };
//! serve(hello, options)?;
//! # Ok::<(), wsgi_lab::Error>(())
//! ```
//!
//! The same server from step 1: `make_server("", 50100, hello)?.threads(4).url_prefix("/my-app")`.
//!
//! ## 3. A framework is an app: `Router`
//!
//! Flask's `@app.route` maps paths to view functions; [`Router`] does the same, and is itself
//! an app, so it is served (or wrapped, or mounted) like `web_app` above. Here it is called
//! with no server at all, which is the next step.
//!
//! ```
//! use wsgi_lab::{router::Request, testing, Router};
//!
//! let app = Router::new()
//!     .route("/hi/<name>", |request: &Request| format!("Hi, {}!", request.param("name").unwrap()));
//! assert_eq!(testing::get(&app, "/hi/Ada").text(), "Hi, Ada!");
//! assert_eq!(testing::get(&app, "/bye").status_code(), 404);
//! ```
//!
//! ## 4. Testing without a socket: the test client
//!
//! [`testing::Client`] builds the environ a server would build for a request, calls the app
//! with the same contract checks, and returns status, headers and body as plain values
//! (Werkzeug's test client). No port, no thread, no waiting.
//!
//! ```
//! use wsgi_lab::{apps::echo, testing::Client};
//!
//! let client = Client::new(&echo);
//! let response = client.request("POST", "/items?sort=name").body("hello").send();
//! let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
//! assert_eq!(json["environ"]["QUERY_STRING"], "sort=name");
//! assert_eq!(json["body"], "hello");
//! ```
//!
//! ## 5. Checking the contract: the validator
//!
//! [`validate()`] wraps an app, as `wsgiref.validate.validator(app)` does, and turns each
//! broken rule into a 500 whose text says what is wrong and what to do instead. Wrap an app
//! in it while writing it (the dev server, [`run_dev`], always does).
//!
//! ```
//! use wsgi_lab::{testing, validate, Body, Environ, StartResponse};
//!
//! let forgetful = |_: &Environ, start_response: StartResponse| {
//!     start_response("200 OK", vec![]); // no Content-Type
//!     Body::from("hi")
//! };
//! let app = validate(forgetful).with_reporter(|_| {}); // the default reporter logs to stderr
//! let response = testing::get(&app, "/");
//! assert_eq!(response.status_code(), 500);
//! assert!(response.text().contains("needs a Content-Type header"));
//! ```
//!
//! ## Next: the lessons
//!
//! Each lesson is a runnable binary and a page in the repository's `lessons/` folder, which
//! measure what the steps above claim; `lessons/README.md` is the index and says how to run
//! them.
//!
//! - `lessons/01_hello_wsgi.md`: step 1 line by line, and the bytes on the wire.
//! - `lessons/02_environ.md`: every environ key, and why `PATH_INFO` is latin-1.
//! - `lessons/03_framework_is_an_app.md`: steps 3 and 4: a router served, wrapped, called.
//! - `lessons/04_dev_vs_prod.md`: the dev server (step 5's validator always on) and the
//!   production server, side by side.
//! - `lessons/05_url_prefix.md`: step 2's prefix, and where waitress differs.
//! - `lessons/06_concurrency.md`, `lessons/07_workers_formula.md`: step 2's threads, measured.
//! - `lessons/08_keep_alive_and_fairness.md`, `lessons/09_hardening.md`,
//!   `lessons/10_behind_a_proxy.md`, `lessons/11_the_handoff.md`: what a production server
//!   adds.
//!
//! The behaviour every server here keeps is written down in `SPEC.md` at the repository's
//! root, and checked by the tests in `tests/`.
//!
//! ## Map of the crate
//!
//! The server turns bytes from the network into an environ, calls the app, and turns what it
//! returns back into bytes. Each step has a module of its own:
//!
//! | module | what it holds | Python twin |
//! |---|---|---|
//! | [`app`] | the contract: [`App`], [`StartResponse`], [`Body`] | PEP 3333 |
//! | [`environ`] | [`Environ`] and `wsgi.input` | the `environ` dict |
//! | [`http`] | request heads and bodies in, responses out, [`HttpError`] | `wsgiref.handlers`, waitress's parser |
//! | [`handler`] | one request: environ → app → response | `BaseHandler.run` |
//! | [`options`] | [`Options`]: every setting in one table, `default_threads` | waitress's `adjustments` |
//! | [`server`] | [`make_server`], [`serve`], [`Server`], [`Running`]; its modes: single-threaded, and pool mode's two [`Engine`]s | `wsgiref.simple_server`, `waitress.serve` |
//! | `server::single` | single-threaded mode: accept, answer, close | `wsgiref.simple_server` |
//! | `server::pool` | pool mode's epoll instance and table of connections | waitress's `server.py` and `asyncore` loop |
//! | `server::channel` | one connection in pool mode: its parser, its wait, its turn | waitress's `channel.py` |
//! | `server::handoff`, `server::shared` | who waits on epoll: a poller thread (waitress), or the workers | waitress's `task.py` dispatcher |
//! | [`shutdown`] | [`ShutdownHandle`], Ctrl+C | `server.shutdown()`, `KeyboardInterrupt` |
//! | [`pool`] | the Rust Book's `ThreadPool` of `Worker`s, with what a server adds, and waitress's queue | the Book, ch. 21; waitress's `ThreadedTaskDispatcher` |
//! | `sync` | `lock`: a mutex taken whether or not a panic poisoned it | — |
//! | [`stats`] | what each worker is doing, for the live view | — |
//! | [`mount`] | `url_prefix` | waitress's `url_prefix` |
//! | [`validate`](mod@validate) | [`Validator`]: the contract checked on both sides, as middleware | `wsgiref.validate` |
//! | [`router`] | [`Router`]: a tiny framework, routes to views (a framework is just an app) | Flask's `app.route` |
//! | [`dev`] | [`run_dev`], [`DevServer`]: the development server on `tiny_http` | Flask's `app.run` |
//! | [`proxy`] | `trusted_proxy`: believing `X-Forwarded-*` only from the proxy | waitress's `trusted_proxy` |
//! | [`util`] | `shift_path_info`, `request_uri`, … | `wsgiref.util` |
//! | [`apps`] | the built-in demo apps, [`apps::demo_app`] | `wsgiref.simple_server.demo_app` |
//! | [`testing`] | calling an app with no socket | wsgiref's in-memory handler |
//! | [`log`] | the access log | `WSGIRequestHandler.log_message` |
//! | [`lab`] | `bench` (load generator with a fairness report), `compare`, `watch` (live view) | wrk, htop |
//! | [`panics`] | an app's panic reported once, with its place | the traceback in the server's log |
//! | [`python`] | the real Python beside the twin: the pinned environment under `target/python` | waitress, Werkzeug, gunicorn |

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod apps;
pub mod dev;
pub mod environ;
pub mod handler;
pub mod http;
pub mod lab;
pub mod log;
pub mod mount;
pub mod options;
pub mod panics;
pub mod pool;
pub mod proxy;
pub mod python;
pub mod router;
pub mod server;
pub mod shutdown;
pub mod stats;
mod sync;
pub mod testing;
pub mod util;
pub mod validate;

pub use app::{App, Body, StartResponse};
pub use dev::{DevServer, run_dev};
pub use environ::Environ;
pub use http::HttpError;
pub use log::Log;
pub use mount::{Mount, UrlPrefix};
pub use router::Router;
pub use server::{Engine, Error, Mode, Options, Running, Server, make_server, serve};
pub use shutdown::ShutdownHandle;
pub use validate::{Validator, Violation, validate};
