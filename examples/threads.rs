//! "A slow request does not block the others": a slow route and a fast route on a pool of
//! workers. While one worker sleeps in `/slow`, another answers `/fast` at once.
//!
//! Run it with `cargo run --release --example threads`, then in two more terminals:
//!
//! ```text
//! curl http://127.0.0.1:50100/slow      # takes 3 seconds
//! curl http://127.0.0.1:50100/fast      # answers at once, even while /slow works
//! ```
//!
//! With `THREADS=1 cargo run --release --example threads`, `/fast` waits for `/slow`: one
//! worker, one request at a time. That is the single-threaded server's life, and the waitress tutorial's
//! `threads=1`.
//!
//! The Python twin, run on the real servers: `examples/python/threads.py` (how to run it:
//! `examples/python/README.md`).

mod common;

use std::process::ExitCode;
use std::time::{Duration, Instant};
use wsgi_lab::router::{Request, Router};
use wsgi_lab::{Options, serve};

/// Sleeps 3 seconds, or `?ms=N` milliseconds.
fn slow(request: &Request) -> String {
    let ms = request.query("ms").and_then(|ms| ms.parse().ok()).unwrap_or(3000);
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(ms));
    format!("slow: done after {:.1} s\n", started.elapsed().as_secs_f64())
}

fn fast(_request: &Request) -> &'static str {
    "fast: done at once\n"
}

fn main() -> ExitCode {
    common::run(|| {
        let threads = common::setting("THREADS", 4, "a whole number of workers, such as 1 or 4")?;
        let app = Router::new().route("/slow", slow).route("/fast", fast);
        serve(app, Options { port: common::port(50100)?, threads, ..Options::default() })
    })
}
