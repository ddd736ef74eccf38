//! wsgiref's `demo_app`.

use crate::app::{Body, StartResponse};
use crate::environ::Environ;

/// `Hello world!`, a blank line, then every environ entry sorted by key, one `KEY = 'value'`
/// line each, as wsgiref's `demo_app` prints them.
///
/// ```
/// use wsgi_lab::{apps::demo_app, testing};
/// let text = testing::get(&demo_app, "/x?y=1").text();
/// assert!(text.starts_with("Hello world!\n\n"));
/// assert!(text.contains("PATH_INFO = '/x'\nQUERY_STRING = 'y=1'\n"));
/// ```
pub fn demo_app(environ: &Environ, start_response: StartResponse) -> Body {
    // Bounded although it echoes the request: the environ comes from the request head, which the
    // server caps (max_request_header_size, 64 KiB), and quoting at most quadruples a character.
    let mut text = String::from("Hello world!\n\n");
    for (key, value) in environ.describe() {
        text.push_str(&format!("{key} = {}\n", quoted(&value)));
    }
    start_response("200 OK", vec![("Content-Type", "text/plain; charset=utf-8")]);
    Body::from(text)
}

/// A value in single quotes, with quotes, backslashes and control characters escaped, as
/// Python's `repr` shows a string.
fn quoted(value: &str) -> String {
    let mut out = String::from("'");
    for c in value.chars() {
        match c {
            '\'' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}
