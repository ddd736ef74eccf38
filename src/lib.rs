//! # wsgi-lab: how a Python web app is served, in Rust you can run, read and measure
//!
//! Python's tutorials serve an app in two lines: wsgiref's `make_server('', 5000, app)` and
//! `serve_forever()`, or waitress's `serve(app, threads=4)`. wsgi-lab is the same, in Rust:
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
//! An app is a function of `environ` (the request, as CGI-style keys) and `start_response`
//! (how the app sets the status and headers), returning the body as byte chunks. The server
//! turns bytes from the network into an environ, calls the app, and turns what it returns back
//! into bytes. Each step has a module of its own:
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
//! | [`pool`] | the Rust Book's `ThreadPool` of `Worker`s, with what a server adds | the Book, ch. 21 |
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
pub mod pool;
pub mod proxy;
pub mod router;
pub mod server;
pub mod shutdown;
pub mod stats;
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
