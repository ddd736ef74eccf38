//! The built-in apps that `wsgi-lab serve --app NAME` serves, each a plain function of the
//! contract, small enough to read next to its Python twin.
//!
//! Every number an app takes from the query string is a [`Param`]: a default for when it is
//! absent, a largest value, and a `400 Bad Request` naming the parameter for anything else. A
//! client, not the operator, chooses these numbers, so none of them may decide alone how much
//! memory or time one request costs.

use crate::app::{App, Body, StartResponse};
use crate::environ::Environ;
use std::num::IntErrorKind;
use std::sync::Arc;

mod demo;
mod echo;
mod files;

pub use demo::demo_app;
pub use echo::{ECHO_BODY_SHOWN, echo};
pub use files::Files;

/// The names `--app` accepts, with what each does: the text of `serve --help`, so each names
/// its parameters with their defaults and limits (the [`Param`]s below).
pub const APPS: [(&str, &str); 8] = [
    ("hello", "200 text/plain \"Hello, World!\""),
    ("demo", "wsgiref's demo_app: Hello world! and the environ"),
    ("echo", "the environ and the request body (its first 4 MiB), as JSON"),
    ("sleep", "?ms=N: sleeps N ms (default 100, at most 60000), then \"slept N ms\""),
    (
        "stream",
        "?chunks=N&size=B: N chunks (default 3, at most 100000) of B bytes (default 16, at most \
         16777216 = 16 MiB), no Content-Length",
    ),
    ("error", "/before panics before start_response, /after after the first chunk"),
    ("cpu", "?n=N: N steps of CPU-bound work (default 1000000, at most 500000000), then the result"),
    ("files", "static files under --root (default: the current directory)"),
];

/// `sleep`'s `?ms=`. A minute is already longer than any client waits for a page; past it a
/// request would only hold a worker.
pub const MS: Param = Param { name: "ms", default: 100, max: 60_000, unit: "ms" };

/// `stream`'s `?chunks=`. The count costs no memory (one chunk exists at a time), only
/// time; 100,000 is plenty to watch chunked framing at work.
pub const CHUNKS: Param = Param { name: "chunks", default: 3, max: 100_000, unit: "chunks" };

/// `stream`'s `?size=`: every chunk is allocated whole, so this is the memory one request
/// takes. Unbounded, `?size=1099511627776` asked for a terabyte and the allocation failure
/// aborted the whole process, every other client with it.
pub const SIZE: Param = Param { name: "size", default: 16, max: 16 * 1024 * 1024, unit: "bytes (16 MiB)" };

/// `cpu`'s `?n=`. Measured through the app on a 2-core AMD EPYC virtual machine, a step takes
/// 0.9 ns in a release build and 5 ns in a debug build: the bound, 500,000,000 steps, took
/// 0.46 s in release and 2.6 s in debug, so one request stays within a few seconds even on a
/// machine several times slower. The default, 1,000,000, is about a millisecond.
pub const STEPS: Param = Param { name: "n", default: 1_000_000, max: 500_000_000, unit: "steps" };

/// A whole number from the query string, the one rule of every built-in app: absent, it takes
/// its `default`; a whole number from 0 to `max` is accepted; anything else (`abc`, `-1`,
/// `1.5`, an empty `ms=`, a number past `max`) is refused with a one-line message that names
/// the parameter, the value received and the range allowed, for a `400 Bad Request`.
///
/// ```
/// use wsgi_lab::{apps::MS, Environ};
/// let mut environ = Environ::new();
/// assert_eq!(MS.read(&environ), Ok(100));
/// environ.set("QUERY_STRING", "ms=60000");
/// assert_eq!(MS.read(&environ), Ok(60_000));
/// environ.set("QUERY_STRING", "ms=60001");
/// assert_eq!(MS.read(&environ).unwrap_err(), "ms=60001 is out of range: 0..=60000 ms");
/// environ.set("QUERY_STRING", "ms=abc");
/// assert_eq!(MS.read(&environ).unwrap_err(), "ms=\"abc\" is not a whole number: 0..=60000 ms");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// The key in the query string, such as `ms` in `?ms=50`.
    pub name: &'static str,
    /// The value when the key is absent.
    pub default: u64,
    /// The largest value accepted; the smallest is 0.
    pub max: u64,
    /// What the number counts, as the messages show it after the range.
    pub unit: &'static str,
}

impl Param {
    /// The value in the request, its default, or why it is refused.
    pub fn read(&self, environ: &Environ) -> Result<u64, String> {
        let Param { name, max, unit, .. } = *self;
        let Some(text) = query_value(environ, name) else {
            return Ok(self.default);
        };
        match text.parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            Ok(n) => Err(format!("{name}={n} is out of range: 0..={max} {unit}")),
            // Too many digits for a u64 is still a number, only a very large one.
            Err(e) if *e.kind() == IntErrorKind::PosOverflow => {
                Err(format!("{name}={text} is out of range: 0..={max} {unit}"))
            }
            // Quoted, so that an empty value or a stray space shows, and a line break in the
            // value cannot start a second line of the message.
            Err(_) => Err(format!("{name}={text:?} is not a whole number: 0..={max} {unit}")),
        }
    }
}

/// The answer to a refused parameter: a `400` through `start_response`, like any response.
fn bad_request(start_response: StartResponse, message: String) -> Body {
    start_response("400 Bad Request", vec![("Content-Type", "text/plain; charset=utf-8")]);
    Body::from(message + "\n")
}

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

/// Sleeps `?ms=N` milliseconds (default 100, at most 60,000: [`MS`]), then says so: a slow,
/// blocking request, the kind a pool of workers is for.
///
/// ```
/// use wsgi_lab::{apps::sleep, testing};
/// assert_eq!(testing::get(&sleep, "/?ms=5").text(), "slept 5 ms");
/// assert_eq!(testing::get(&sleep, "/?ms=abc").status_code(), 400);
/// ```
pub fn sleep(environ: &Environ, start_response: StartResponse) -> Body {
    let ms = match MS.read(environ) {
        Ok(ms) => ms,
        Err(message) => return bad_request(start_response, message),
    };
    std::thread::sleep(std::time::Duration::from_millis(ms));
    start_response("200 OK", vec![("Content-Type", "text/plain; charset=utf-8")]);
    Body::from(format!("slept {ms} ms"))
}

/// `?chunks=N&size=B` (default 3 chunks of 16 bytes; [`CHUNKS`], [`SIZE`]) yielded one by one,
/// with no Content-Length: the server frames it (chunked on HTTP/1.1).
///
/// The total, chunks × size, is not capped: up to 100,000 × 16 MiB, 1.6 TB. Chunks are made
/// one at a time, as the server writes them, so memory stays one chunk whatever the total; the
/// time is paced by the client, who must read every byte, and a client that stops reading is
/// cut off by the server's write timeout. A long download costs a worker, as a large file
/// served by `files` does.
///
/// ```
/// use wsgi_lab::{apps::stream, testing};
/// assert_eq!(testing::get(&stream, "/?chunks=4&size=2").body.len(), 8);
/// assert_eq!(testing::get(&stream, "/?chunks=1&size=1099511627776").status_code(), 400);
/// ```
pub fn stream(environ: &Environ, start_response: StartResponse) -> Body {
    let (chunks, size) = match (CHUNKS.read(environ), SIZE.read(environ)) {
        (Ok(chunks), Ok(size)) => (chunks, size as usize),
        (Err(message), _) | (_, Err(message)) => return bad_request(start_response, message),
    };
    start_response("200 OK", vec![("Content-Type", "application/octet-stream")]);
    Body::stream((0..chunks).map(move |i| vec![b'a' + (i % 26) as u8; size]))
}

/// `?n=N` steps of pure computation (default 1,000,000, about a millisecond; at most
/// 500,000,000: [`STEPS`]): work that needs a core the whole time, so more threads than cores
/// do not make it faster.
///
/// ```
/// use wsgi_lab::{apps::cpu, testing};
/// assert!(testing::get(&cpu, "/?n=1000").text().starts_with("computed 1000 steps"));
/// assert_eq!(testing::get(&cpu, "/?n=-1").status_code(), 400);
/// ```
pub fn cpu(environ: &Environ, start_response: StartResponse) -> Body {
    let steps = match STEPS.read(environ) {
        Ok(steps) => steps,
        Err(message) => return bad_request(start_response, message),
    };
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

/// A number from the query string, such as `ms` in `?ms=50`, or `None` when it is absent or not
/// a whole number. Lenient, for fixture apps that fall back to a default; the built-in apps use
/// [`Param`], which bounds the number and refuses anything else with a 400.
///
/// ```
/// use wsgi_lab::{apps::query_number, Environ};
/// let mut environ = Environ::new();
/// environ.set("QUERY_STRING", "ms=50&n=abc");
/// assert_eq!((query_number(&environ, "ms"), query_number(&environ, "n")), (Some(50), None));
/// ```
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
