//! One variable switches between the development server and the production server, as in the
//! tutorial:
//!
//! ```python
//! mode = "dev"
//!
//! if __name__ == '__main__':
//!     if mode == "dev":
//!         app.run(host='0.0.0.0', port=50100, debug=True)
//!     else:
//!         serve(app, host='0.0.0.0', port=50100, threads=1)
//! ```
//!
//! Run it with `cargo run --release --example dev_vs_prod` (dev, the default), or
//! `WSGI_LAB_MODE=prod cargo run --release --example dev_vs_prod`. Then compare what each shows for
//! `curl http://127.0.0.1:50100/` and for a route that fails, `curl http://127.0.0.1:50100/oops`:
//! the dev server prints a banner, colours its log, checks the app with the validator and, in
//! debug mode, shows the panic in the page; the production server answers a plain 500 and keeps
//! the reason in its log.
//!
//! The Python twin, run on the real servers: `examples/python/dev_vs_prod.py` (how to run it:
//! `examples/python/README.md`).

mod common;

use std::process::ExitCode;
use wsgi_lab::router::{Request, Router};
use wsgi_lab::{Options, serve};

fn index(_request: &Request) -> &'static str {
    "Hello, World with waitress!!!"
}

fn oops(_request: &Request) -> &'static str {
    panic!("division by zero in the oops route");
}

fn main() -> ExitCode {
    common::run(|| {
        let app = Router::new().route("/", index).route("/oops", oops);
        let mode = std::env::var("WSGI_LAB_MODE").unwrap_or_else(|_| "dev".to_string());
        let port = common::port(50100)?;
        if mode == "dev" {
            app.run(&common::host("0.0.0.0"), port, true)
        } else {
            serve(app, Options { host: common::host("0.0.0.0"), port, threads: 1, ..Options::default() })
        }
    })
}
