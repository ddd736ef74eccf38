//! The tutorial's sub-mounted app: the same server, with every URL under `/my-app`.
//!
//! ```python
//! @app.route('/hi')
//! def index():
//!     return 'Hello, World with waitress!!!'
//!
//! if __name__ == '__main__':
//!     serve(app, host='0.0.0.0', port=50100, threads=1, url_prefix="/my-app")
//! ```
//!
//! Run it with `cargo run --release --example url_prefix`, then:
//!
//! ```text
//! curl http://127.0.0.1:50100/my-app/hi     # the route: SCRIPT_NAME=/my-app, PATH_INFO=/hi
//! curl http://127.0.0.1:50100/hi            # outside the prefix: 404
//! ```
//!
//! waitress would call the app for `/hi` too (with the full path in PATH_INFO); wsgi-lab
//! answers 404 itself, naming the prefix. A reverse proxy forwards `/my-app/...` here, so one
//! host can serve several apps, each under its own prefix.
//!
//! The Python twin, run on the real servers: `examples/python/url_prefix.py` (how to run it:
//! `examples/python/README.md`).

mod common;

use std::process::ExitCode;
use wsgi_lab::router::{Request, Router};
use wsgi_lab::{Options, serve};

fn index(_request: &Request) -> &'static str {
    "Hello, World with waitress!!!"
}

fn main() -> ExitCode {
    common::run(|| {
        let app = Router::new().route("/hi", index);
        let options = Options {
            host: common::host("0.0.0.0"),
            port: common::port(50100)?,
            threads: 1,
            url_prefix: "/my-app".into(),
            ..Options::default()
        };
        serve(app, options)
    })
}
