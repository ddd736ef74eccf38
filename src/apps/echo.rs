//! The `echo` app: what the server made of the request, as JSON.

use crate::{Body, Environ, StartResponse};
use std::io::Read;

/// `{"environ": {...every string entry...}, "body": "...", "body_length": N}`. The body is read
/// from `wsgi.input` as bytes and shown as UTF-8 with invalid bytes replaced; `body_length`
/// counts the bytes.
///
/// ```
/// use wsgi_lab::{apps::echo, testing, Environ};
/// let mut environ = Environ::new();
/// environ.set("REQUEST_METHOD", "POST");
/// environ.set_input(b"caf\xc3\xa9 \xff".to_vec());
/// let json: serde_json::Value = serde_json::from_slice(&testing::call(&echo, environ).body).unwrap();
/// assert_eq!(json["body"], "café \u{fffd}");
/// assert_eq!(json["body_length"], 7);
/// assert_eq!(json["environ"]["REQUEST_METHOD"], "POST");
/// ```
pub fn echo(environ: &Environ, start_response: StartResponse) -> Body {
    let mut body = Vec::new();
    if let Err(e) = environ.input().read_to_end(&mut body) {
        start_response("500 Internal Server Error", vec![("Content-Type", "text/plain; charset=utf-8")]);
        return Body::from(format!("could not read the request body: {e}"));
    }
    let entries: serde_json::Map<String, serde_json::Value> =
        environ.iter().map(|(k, v)| (k.to_string(), v.into())).collect();
    let json = serde_json::json!({
        "environ": entries,
        "body": String::from_utf8_lossy(&body),
        "body_length": body.len(),
    });
    start_response("200 OK", vec![("Content-Type", "application/json")]);
    Body::from(json.to_string())
}
