//! The wsgiref tutorial's program, line for line:
//!
//! ```python
//! from wsgiref.simple_server import make_server
//!
//! def Web_App(environment, response):
//!     status = '200 OK'
//!     headers = [('content-type', 'text/html; charset=utf-8')]
//!     response(status, headers)
//!     return [b'<h2>Hi there, this is WSGI server</h2>']
//!
//! with make_server('', 5000, Web_App) as server:
//!     print('serving on port 5000...\nvisit http://127.0.0.1:5000\nTo exit press ctrl + c')
//!     server.serve_forever()
//! ```
//!
//! Run it with `cargo run --release --example hello_wsgi`, then `curl http://127.0.0.1:5000/`.
//! (`PORT=0` picks a free port instead of 5000, which is how the tests run it.)
//!
//! The Python twin, run on the real servers: `examples/python/hello_wsgi.py` (how to run it:
//! `examples/python/README.md`).

mod common;

use std::process::ExitCode;
use wsgi_lab::{Body, Environ, StartResponse, make_server};

fn web_app(_environ: &Environ, start_response: StartResponse) -> Body {
    let status = "200 OK";
    let headers = vec![("content-type", "text/html; charset=utf-8")];
    start_response(status, headers);
    Body::from(vec![b"<h2>Hi there, this is WSGI server</h2>".to_vec()])
}

fn main() -> ExitCode {
    common::run(|| {
        let server = make_server(&common::host(""), common::port(5000)?, web_app)?;
        let port = server.server_address().port();
        println!("serving on port {port}...\nvisit http://127.0.0.1:{port}\nTo exit press ctrl + c");
        server.serve_forever()
    })
}
