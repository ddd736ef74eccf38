//! From a `tiny_http` request to the environ the production server would build: the same
//! [`Head`], the same [`Environ::from_request`], so an app cannot tell the two servers apart
//! by its environ (`wsgi.multithread` says whether the dev server is threaded).

use crate::environ::Environ;
use crate::environ::{ServerEnviron, decode_path, split_target};
use crate::http::{Head, HttpError, RequestBody, is_tchar};
use crate::proxy::ProxyPolicy;
use std::io::Read;
use std::net::SocketAddr;

/// The largest request body the dev server accepts: it holds bodies in memory.
pub const MAX_BODY: u64 = 64 * 1024 * 1024;

/// Whether tiny_http was told of a body too large to accept. Such a request must never be
/// dropped: tiny_http would allocate the whole declared size to skip it (see the module docs
/// of [`crate::dev`]).
pub(super) fn declares_too_much(request: &tiny_http::Request) -> bool {
    request.body_length().is_some_and(|n| n as u64 > MAX_BODY)
}

/// `GET /path HTTP/1.1`, as the access line shows it, from what tiny_http parsed.
pub(super) fn request_line(request: &tiny_http::Request) -> String {
    let version = request.http_version();
    format!("{} {} HTTP/{}.{}", request.method(), request.url(), version.0, version.1)
}

/// The request head in our own type, or the refusal SPEC §3 names for it. tiny_http is lenient
/// where our parser is strict, so the strict checks are made again here.
pub(super) fn head_of(request: &tiny_http::Request) -> Result<Head, HttpError> {
    let minor = match request.http_version() {
        v if v.0 == 1 && v.1 <= 1 => v.1,
        // tiny_http passes HTTP/0.9 on to the app; PEP 3333 has no place for it.
        _ => return Err(HttpError::new(505, "only HTTP/1.0 and HTTP/1.1 are supported")),
    };
    let method = request.method().as_str().to_string();
    if !method.bytes().all(is_tchar) {
        return Err(HttpError::bad_request(format!("method {method:?} is not an HTTP token")));
    }
    let target = request.url().to_string();
    if !split_target(&target).0.starts_with('/') {
        return Err(HttpError::bad_request(format!(
            "request target {target:?} is not a path: the dev server answers only targets such as /hello"
        )));
    }
    let headers = request
        .headers()
        .iter()
        .map(|h| (h.field.as_str().as_str().to_string(), h.value.as_str().to_string()))
        .collect();
    let head = Head { method, target, minor, headers };
    // tiny_http has already framed the body its own way (the first Content-Length, or chunked
    // for any Transfer-Encoding); refusing here at least keeps an ambiguous request from the app.
    head.framing()?;
    Ok(head)
}

/// Reads the whole body (tiny_http sends `100 Continue` first when the client asked) and
/// builds the environ, with the proxy headers `proxy` does not believe removed.
pub(super) fn environ_of(
    server: &ServerEnviron,
    proxy: &ProxyPolicy,
    head: &Head,
    request: &mut tiny_http::Request,
) -> Result<Environ, HttpError> {
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .map_err(|e| HttpError::bad_request(format!("could not read the request body: {e}")))?;
    if body.len() as u64 > MAX_BODY {
        return Err(HttpError::new(413, format!("request body larger than {MAX_BODY} bytes")));
    }
    // tiny_http ends the body quietly when the client hangs up early: a body shorter than its
    // Content-Length is a broken request, not a short one.
    if let Ok(crate::http::Framing::Length(declared)) = head.framing()
        && (body.len() as u64) < declared
    {
        return Err(HttpError::bad_request(format!(
            "the body ended after {} of {declared} declared bytes",
            body.len()
        )));
    }
    let peer = request.remote_addr().copied().unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let path_info = decode_path(split_target(&head.target).0);
    let mut environ =
        Environ::from_request(server, head, RequestBody::from_bytes(body), peer, ("", &path_info))
            .map_err(|e| HttpError::new(500, format!("could not build the environ: {e}")))?;
    // As the production server's handler does: proxy headers are believed only from the
    // trusted proxy, or a client could claim any address.
    proxy.apply(&mut environ);
    Ok(environ)
}
