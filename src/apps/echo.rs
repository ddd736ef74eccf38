//! The `echo` app: what the server made of the request, as JSON.

use crate::app::{Body, StartResponse};
use crate::environ::Environ;
use std::io::{self, Read};

/// How much of the request body `echo` shows: 4 MiB. The body itself is bounded by the server's
/// `max_request_body_size` (1 GiB by default), but showing it costs far more than its size: the
/// bytes, their UTF-8 text (an invalid byte becomes the 3-byte U+FFFD) and the JSON (a control
/// byte becomes the 6-byte `\u0000`), so a 1 GiB body could take several GiB per request, in
/// every worker at once. 4 MiB keeps that under ~40 MiB and still shows whole the multi-MiB
/// bodies that the request parser's tests send through `echo` (tests/environ.rs sends 3 MiB).
pub const ECHO_BODY_SHOWN: u64 = 4 * 1024 * 1024;

/// `{"environ": {...every string entry...}, "body": "...", "body_length": N,
/// "body_truncated": false}`. The body is read from `wsgi.input` as bytes and shown as UTF-8
/// with invalid bytes replaced; `body_length` counts all its bytes. Past [`ECHO_BODY_SHOWN`]
/// bytes the rest is read and counted but not shown, and `body_truncated` is `true` (a
/// character cut at the limit shows as U+FFFD).
///
/// ```
/// use wsgi_lab::{apps::echo, testing, Environ};
/// let mut environ = Environ::new();
/// environ.set("REQUEST_METHOD", "POST");
/// environ.set_input(b"caf\xc3\xa9 \xff".to_vec());
/// let json: serde_json::Value = serde_json::from_slice(&testing::call(&echo, environ).body).unwrap();
/// assert_eq!(json["body"], "café \u{fffd}");
/// assert_eq!((json["body_length"].as_u64(), json["body_truncated"].as_bool()), (Some(7), Some(false)));
/// assert_eq!(json["environ"]["REQUEST_METHOD"], "POST");
/// ```
pub fn echo(environ: &Environ, start_response: StartResponse) -> Body {
    let mut input = environ.input();
    let mut shown = Vec::new();
    // What is shown is kept; the rest is only counted, through a sink, without being stored.
    let length = (&mut input)
        .take(ECHO_BODY_SHOWN)
        .read_to_end(&mut shown)
        .and_then(|kept| Ok(kept as u64 + io::copy(&mut input, &mut io::sink())?));
    let length = match length {
        Ok(length) => length,
        Err(e) => {
            start_response("500 Internal Server Error", vec![("Content-Type", "text/plain; charset=utf-8")]);
            return Body::from(format!("could not read the request body: {e}"));
        }
    };
    let entries: serde_json::Map<String, serde_json::Value> =
        environ.iter().map(|(k, v)| (k.to_string(), v.into())).collect();
    let json = serde_json::json!({
        "environ": entries,
        "body": String::from_utf8_lossy(&shown),
        "body_length": length,
        "body_truncated": length > shown.len() as u64,
    });
    start_response("200 OK", vec![("Content-Type", "application/json")]);
    Body::from(json.to_string())
}
