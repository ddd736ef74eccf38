//! The built-in apps that `wsgi-lab serve --app NAME` serves, each a plain function of the
//! contract, small enough to read next to its Python twin.

use crate::{App, Body, Environ, StartResponse};
use std::sync::Arc;

mod demo;
mod echo;
mod files;

pub use demo::demo_app;
pub use echo::echo;
pub use files::Files;

/// The names `--app` accepts, with what each does.
pub const APPS: [(&str, &str); 8] = [
    ("hello", "200 text/plain \"Hello, World!\""),
    ("demo", "wsgiref's demo_app: Hello world! and the environ"),
    ("echo", "the environ and the request body, as JSON"),
    ("sleep", "?ms=N (default 100): sleeps, then \"slept N ms\""),
    ("stream", "?chunks=N&size=B: N chunks of B bytes, no Content-Length"),
    ("error", "/before panics before start_response, /after after the first chunk"),
    ("cpu", "?n=N (default 1000000): N steps of CPU-bound work, then the result"),
    ("files", "static files under --root (default: the current directory)"),
];

/// The built-in app of that name.
///
/// ```
/// assert!(wsgi_lab::apps::by_name("hello").is_some());
/// assert!(wsgi_lab::apps::by_name("nope").is_none());
/// ```
pub fn by_name(name: &str) -> Option<Arc<dyn App>> {
    let app: Arc<dyn App> = match name {
        "hello" => Arc::new(hello),
        "demo" => Arc::new(demo_app),
        "echo" => Arc::new(echo),
        "sleep" => Arc::new(sleep),
        "stream" => Arc::new(stream),
        "error" => Arc::new(error),
        "cpu" => Arc::new(cpu),
        "files" => Arc::new(Files::new(".").ok()?),
        _ => return None,
    };
    Some(app)
}

/// `Hello, World!` as `text/plain`.
pub fn hello(_environ: &Environ, start_response: StartResponse) -> Body {
    start_response("200 OK", vec![("Content-Type", "text/plain; charset=utf-8")]);
    Body::from("Hello, World!")
}

/// Sleeps `?ms=N` milliseconds (default 100), then says so: a slow, blocking request, the kind
/// a pool of workers is for.
///
/// ```
/// use wsgi_lab::{apps::sleep, testing};
/// assert_eq!(testing::get(&sleep, "/?ms=5").text(), "slept 5 ms");
/// ```
pub fn sleep(environ: &Environ, start_response: StartResponse) -> Body {
    let ms = query_number(environ, "ms").unwrap_or(100);
    std::thread::sleep(std::time::Duration::from_millis(ms));
    start_response("200 OK", vec![("Content-Type", "text/plain; charset=utf-8")]);
    Body::from(format!("slept {ms} ms"))
}

/// `?chunks=N&size=B` (default 3 chunks of 16 bytes) yielded one by one, with no
/// Content-Length: the server frames it (chunked on HTTP/1.1).
///
/// ```
/// use wsgi_lab::{apps::stream, testing};
/// assert_eq!(testing::get(&stream, "/?chunks=4&size=2").body.len(), 8);
/// ```
pub fn stream(environ: &Environ, start_response: StartResponse) -> Body {
    let chunks = query_number(environ, "chunks").unwrap_or(3);
    let size = query_number(environ, "size").unwrap_or(16) as usize;
    start_response("200 OK", vec![("Content-Type", "application/octet-stream")]);
    Body::stream((0..chunks).map(move |i| vec![b'a' + (i % 26) as u8; size]))
}

/// `?n=N` steps of pure computation (default 1,000,000, about a millisecond): work that needs a
/// core the whole time, so more threads than cores do not make it faster.
///
/// ```
/// use wsgi_lab::{apps::cpu, testing};
/// assert!(testing::get(&cpu, "/?n=1000").text().starts_with("computed 1000 steps"));
/// ```
pub fn cpu(environ: &Environ, start_response: StartResponse) -> Body {
    let steps = query_number(environ, "n").unwrap_or(1_000_000);
    let mut x: u64 = 1;
    for _ in 0..steps {
        // A linear congruential step; black_box keeps the optimiser from skipping the loop.
        x = std::hint::black_box(
            x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407),
        );
    }
    start_response("200 OK", vec![("Content-Type", "text/plain; charset=utf-8")]);
    Body::from(format!("computed {steps} steps: {x:016x}"))
}

/// Fails on purpose: `/before` panics before calling `start_response` (the client gets a 500),
/// `/after` panics after the first chunk (the response is cut short). Other paths explain.
pub fn error(environ: &Environ, start_response: StartResponse) -> Body {
    match environ.get("PATH_INFO").unwrap_or("") {
        "/before" => panic!("the error app panicked before start_response, as asked"),
        "/after" => {
            start_response("200 OK", vec![("Content-Type", "text/plain; charset=utf-8")]);
            let mut sent = false;
            Body::stream(std::iter::from_fn(move || {
                if sent {
                    panic!("the error app panicked after the first chunk, as asked");
                }
                sent = true;
                Some(b"first chunk\n".to_vec())
            }))
        }
        _ => {
            start_response("200 OK", vec![("Content-Type", "text/plain; charset=utf-8")]);
            Body::from("try /before or /after\n")
        }
    }
}

/// A number from the query string, such as `ms` in `?ms=50`.
pub fn query_number(environ: &Environ, name: &str) -> Option<u64> {
    query_value(environ, name)?.parse().ok()
}

/// A value from the query string, percent-decoded (`+` as space).
///
/// ```
/// use wsgi_lab::{apps::query_value, Environ};
/// let mut environ = Environ::new();
/// environ.set("QUERY_STRING", "a=1&name=Ada+L%C3%B6");
/// assert_eq!(query_value(&environ, "name").as_deref(), Some("Ada Lö"));
/// ```
pub fn query_value(environ: &Environ, name: &str) -> Option<String> {
    let query = environ.get("QUERY_STRING")?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| {
            let value = value.replace('+', " ");
            percent_encoding::percent_decode_str(&value).decode_utf8_lossy().into_owned()
        })
    })
}
