//! The Flask + waitress tutorial's first program:
//!
//! ```python
//! from flask import Flask
//! from waitress import serve
//!
//! app = Flask(__name__)
//!
//! @app.route('/')
//! def index():
//!     return 'Hello, World with waitress!!!'
//!
//! if __name__ == '__main__':
//!     serve(app, host='0.0.0.0', port=50100, threads=1)
//! ```
//!
//! Run it with `cargo run --release --example hello_waitress`, then `curl http://127.0.0.1:50100/`.
//! `host: "0.0.0.0"` listens on every interface, as in the tutorial: other machines can reach
//! it. Leave the host out (127.0.0.1) to keep it private.
//!
//! The Python twin, run on the real servers: `examples/python/hello_waitress.py` (how to run it:
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
        let app = Router::new().route("/", index);
        serve(
            app,
            Options {
                host: common::host("0.0.0.0"),
                port: common::port(50100)?,
                threads: 1,
                ..Options::default()
            },
        )
    })
}
