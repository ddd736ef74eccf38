//! Calling the app and turning what it returned into a `tiny_http` response that keeps our
//! contract, or into a 500: the debug page (debug on) or a generic one (debug off).

use crate::app::App;
use crate::app::check_content_length;
use crate::environ::Environ;
use crate::environ::SERVER_SOFTWARE;
use crate::handler::call_app;
use crate::http::response::catch_panic;
use crate::http::{Head, HttpError};
use crate::validate::check_body;
use std::io::Cursor;

/// A response ready for tiny_http: a checked status code, checked ASCII headers, the whole body.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The `Content-Length` to send: the body's, or the app's for `HEAD` (where the body may be
    /// left out).
    length: usize,
}

/// What went wrong, when the app's answer cannot be sent.
pub(super) enum Failure {
    /// The app (or its body) panicked: the message.
    Panic(String),
    /// The app broke the contract, or returned something tiny_http cannot send as our contract
    /// requires.
    Mistake(String),
}

/// Calls the app (already wrapped in the validator) as every server does, collects its body,
/// and checks what tiny_http needs on top.
pub(super) fn call(app: &dyn App, environ: &Environ, head: &Head) -> Result<Answer, Failure> {
    // The body is collected inside the same guard: a streaming body runs app code too.
    let collected = catch_panic(|| {
        let response = call_app(app, environ).map_err(|broken| broken.to_string())?;
        Ok((response.code(), response.headers, response.body.flatten().collect()))
    });
    let (code, headers, body) = collected.map_err(Failure::Panic)?.map_err(Failure::Mistake)?;
    checked(code, headers, body, head.method == "HEAD").map_err(Failure::Mistake)
}

/// The last gate before tiny_http: everything it would silently change or refuse.
fn checked(
    code: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    head_only: bool,
) -> Result<Answer, String> {
    let declared = check_content_length(&headers).ok().flatten();
    let mut kept = Vec::new();
    for (name, value) in headers {
        if !value.is_ascii() {
            return Err(format!(
                "header {name} has non-ASCII text ({value:?}), which tiny_http cannot send: \
                 percent-encode it, or use RFC 8187's name*=UTF-8''... form"
            ));
        }
        // tiny_http frames by the length it is given and ignores a Content-Length header.
        if !name.eq_ignore_ascii_case("content-length") {
            kept.push((name, value));
        }
    }
    // The validator checks a listed body; a stream is whole only now. (A `HEAD` body may be
    // left out, so the app's length stands.)
    if !head_only && let Some(mistake) = check_body(code, declared, body.len() as u64) {
        return Err(mistake.message);
    }
    let length = match declared {
        Some(n) if head_only => usize::try_from(n).unwrap_or(usize::MAX),
        _ => body.len(),
    };
    if !kept.iter().any(|(n, _)| n.eq_ignore_ascii_case("server")) {
        kept.push(("Server".into(), SERVER_SOFTWARE.into()));
    }
    Ok(Answer { status: code, headers: kept, body, length })
}

impl Answer {
    /// A short `text/plain` answer from the server itself.
    pub fn plain(status: u16, text: String) -> Self {
        let headers = vec![
            ("Content-Type".into(), "text/plain; charset=utf-8".into()),
            ("Server".into(), SERVER_SOFTWARE.into()),
        ];
        Answer { status, headers, length: text.len(), body: text.into_bytes() }
    }

    /// A refused request, rendered as the production server renders it.
    pub fn refusal(error: &HttpError) -> Self {
        Answer::plain(error.status, error.body())
    }

    /// The 500 for a failure: with `debug`, the page that shows it; without, nothing of it.
    pub fn failure(failure: &Failure, head: &Head, environ: &Environ, debug: bool) -> Self {
        match failure {
            Failure::Mistake(mistake) => Answer::plain(
                500,
                format!("500 Internal Server Error: the app broke the contract\n\n- app: {mistake}\n"),
            ),
            Failure::Panic(message) if debug => {
                let page = debug_page(message, head, environ);
                let mut answer = Answer::plain(500, page);
                answer.headers[0].1 = "text/html; charset=utf-8".into();
                answer
            }
            Failure::Panic(_) => Answer::plain(
                500,
                "500 Internal Server Error\n\nThe app failed while answering this request; the \
                 server's log says why.\n"
                    .into(),
            ),
        }
    }

    /// The response tiny_http will write. Every header was checked to be ASCII, so none is
    /// dropped here.
    pub fn into_tiny(self) -> tiny_http::Response<Cursor<Vec<u8>>> {
        let headers = self
            .headers
            .iter()
            .filter_map(|(n, v)| tiny_http::Header::from_bytes(n.as_bytes(), v.as_bytes()).ok());
        let mut response = tiny_http::Response::new(
            tiny_http::StatusCode(self.status),
            headers.collect(),
            Cursor::new(self.body),
            Some(self.length),
            None,
        );
        // tiny_http switches to chunked past 32 KiB even when it knows the length; we know it.
        response = response.with_chunked_threshold(usize::MAX);
        response
    }
}

/// The debug page: the panic message, where it happened on a line of its own, the request,
/// its headers and the environ, all HTML-escaped (header values come from the client, and a
/// page that ran them as HTML would be an XSS hole). `message` is what
/// [`catch_panic`] reports: the panic's text, then ` (at FILE:LINE:COL)`, then the backtrace
/// when `RUST_BACKTRACE` asked for one.
///
/// Long values wrap, anywhere if they must (a cookie, a URL), so the page never scrolls
/// sideways; header names and environ keys stay whole on their line.
///
/// ```
/// use wsgi_lab::{dev::debug_page, http::Head, Environ};
/// let head = Head { method: "GET".into(), target: "/".into(), minor: 1, headers: vec![] };
/// let page = debug_page("index out of bounds <3> (at src/app.rs:7:5)", &head, &Environ::new());
/// assert!(page.contains("<pre class=\"message\">index out of bounds &lt;3&gt;</pre>"));
/// assert!(page.contains("<p class=\"where\">at <code>src/app.rs:7:5</code></p>"));
/// assert!(page.contains("GET / HTTP/1.1"));
/// ```
pub fn debug_page(message: &str, head: &Head, environ: &Environ) -> String {
    let rows = |pairs: &mut dyn Iterator<Item = (String, String)>| -> String {
        pairs.map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>\n", escape(&k), escape(&v))).collect()
    };
    let headers = rows(&mut head.headers.iter().cloned());
    let environ = rows(&mut environ.describe().into_iter());
    let (text, place, backtrace) = split_panic(message);
    let place = place.map_or_else(
        || "<p class=\"where\">at an unknown place</p>".to_string(),
        |place| format!("<p class=\"where\">at <code>{}</code></p>", escape(place)),
    );
    let backtrace = match backtrace.trim_start_matches('\n').trim_end() {
        "" => "<p>Run the server with <code>RUST_BACKTRACE=1</code> for a backtrace here.</p>".to_string(),
        trace => format!("<pre>{}</pre>", escape(trace)),
    };
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>500: the app panicked</title>\n\
         <style>{STYLE}</style>\n\
         </head><body>\n<h1>The app panicked</h1>\n<pre class=\"message\">{}</pre>\n{place}\n\
         <p>You see this page because the dev server runs with debug on. Never turn debug on where \
         others can reach the server: this page shows the request and the environ.</p>\n\
         <h2>Request</h2>\n<pre>{}</pre>\n<h2>Headers</h2>\n<table>\n{headers}</table>\n\
         <h2>Environ</h2>\n<table>\n{environ}</table>\n<h2>Backtrace</h2>\n{backtrace}\n</body></html>\n",
        escape(text),
        escape(&head.request_line().text()),
    )
}

/// The debug page's style. Values wrap at spaces and, where a word is longer than the line,
/// anywhere (`overflow-wrap:anywhere`, which also lets a table column shrink below its longest
/// word); line breaks in a value are kept (`pre-wrap`). Names never break (`nowrap`).
const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:80em}\
    pre{background:#fee;padding:1em;white-space:pre-wrap;overflow-wrap:anywhere}\
    .where{font-family:monospace;font-size:1.1em}\
    table{border-collapse:collapse;width:100%}\
    td,th{font-family:monospace;vertical-align:top;text-align:left;padding:0.1em 1em 0.1em 0}\
    th{white-space:nowrap}\
    td{white-space:pre-wrap;overflow-wrap:anywhere}";

/// Splits what [`catch_panic`] reports into the panic's text, its place and the backtrace
/// (empty when none was captured). The place is the last ` (at ...)` that ends a line, since
/// the text itself may hold anything.
fn split_panic(message: &str) -> (&str, Option<&str>, &str) {
    for (at, _) in message.rmatch_indices(" (at ") {
        let rest = &message[at + " (at ".len()..];
        let Some(close) = rest.find(')') else { continue };
        let (place, after) = (&rest[..close], &rest[close + 1..]);
        if !place.contains('\n') && (after.is_empty() || after.starts_with('\n')) {
            return (&message[..at], Some(place), after);
        }
    }
    (message, None, "")
}

/// Escapes the five characters that mean something in HTML.
///
/// ```
/// assert_eq!(wsgi_lab::dev::escape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split_panic;

    #[test]
    fn the_place_is_the_last_at_that_ends_a_line() {
        let cases = [
            ("boom (at src/a.rs:1:2)", ("boom", Some("src/a.rs:1:2"), "")),
            (
                "boom (at src/a.rs:1:2)\n   0: frame\n at x",
                ("boom", Some("src/a.rs:1:2"), "\n   0: frame\n at x"),
            ),
            (
                "it said (at noon) twice\nno (at src/b.rs:3:4)",
                ("it said (at noon) twice\nno", Some("src/b.rs:3:4"), ""),
            ),
            ("no place (at all", ("no place (at all", None, "")),
            ("a panic without a message", ("a panic without a message", None, "")),
        ];
        for (message, expected) in cases {
            assert_eq!(split_panic(message), expected, "{message:?}");
        }
    }
}
