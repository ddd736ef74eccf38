//! The request target (RFC 9112 §3.2): which of its four forms a request may use, and how a
//! target becomes the path and the query the app sees.
//!
//! A target that is no URL path is refused here, before any app sees it: two parsers that read
//! the same odd target differently (ours and a proxy's in front) are how a request slips past
//! a rule the proxy was meant to enforce.

use super::HttpError;
use std::borrow::Cow;

/// Checks that `target` has a form `method` may use (SPEC §3):
///
/// - origin-form, `/path?query`: any method;
/// - absolute-form, `http://host/path?query`: any method (its path is used, see [`split_target`]);
/// - asterisk-form, `*`: only `OPTIONS`;
/// - authority-form, `host:port`: only `CONNECT`, which asks a proxy for a tunnel. This server
///   is no proxy, so `CONNECT` is always `501 Not Implemented`.
///
/// Every byte must be visible ASCII: raw bytes above 0x7F and control bytes must be
/// percent-encoded (`%C3%A0`, not `à`).
///
/// ```
/// use wsgi_lab::http::check_target;
/// assert!(check_target("GET", "/a%20b?x=1").is_ok());
/// assert!(check_target("GET", "http://example.com/a").is_ok());
/// assert!(check_target("OPTIONS", "*").is_ok());
/// assert_eq!(check_target("GET", "foo/bar").unwrap_err().status, 400);
/// assert_eq!(check_target("GET", "example.com:443").unwrap_err().status, 400);
/// assert_eq!(check_target("CONNECT", "example.com:443").unwrap_err().status, 501);
/// ```
pub fn check_target(method: &str, target: &str) -> Result<(), HttpError> {
    if let Some(b) = target.bytes().find(|b| !(0x21..=0x7e).contains(b)) {
        return Err(HttpError::bad_request(format!(
            "byte 0x{b:02X} in the request target: percent-encode it (%{b:02X})"
        )));
    }
    if method == "CONNECT" {
        return Err(HttpError::new(501, "CONNECT asks a proxy for a tunnel; this server is not a proxy"));
    }
    match target {
        "*" if method == "OPTIONS" => Ok(()),
        "*" => Err(HttpError::bad_request(format!("the target * is only for OPTIONS, not for {method}"))),
        t if t.starts_with('/') || is_absolute_form(t) => Ok(()),
        _ => Err(HttpError::bad_request(format!(
            "request target {target:?} is not a URL path: send /path (or http://host/path)"
        ))),
    }
}

/// `http://host[:port][/path][?query]` (or `https`): the form a client uses with a proxy, which
/// RFC 9112 §3.2.2 says a server must accept too.
fn is_absolute_form(target: &str) -> bool {
    let Some((scheme, rest)) = target.split_once("://") else { return false };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    is_authority(&rest[..end])
}

/// `[userinfo@]host[:port]` (RFC 3986 §3.2), with a host that is not empty: a registered name
/// or IPv4 address, or an IPv6 address in brackets.
fn is_authority(authority: &str) -> bool {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host_port)| host_port);
    // The port follows the last ':', unless that ':' is inside an IPv6 address's brackets.
    let (host, port) = match host_port.rfind(':') {
        Some(i) if !host_port[i..].contains(']') => (&host_port[..i], &host_port[i + 1..]),
        _ => (host_port, ""),
    };
    let reg_name = |b: u8| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b);
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ip6) => !ip6.is_empty() && ip6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.'),
        None => !host.is_empty() && host.bytes().all(reg_name),
    };
    host_ok && port.bytes().all(|b| b.is_ascii_digit())
}

/// Splits a request target into its path and its raw query. An absolute-form target
/// (`http://host/p?q`) is reduced to its path; a `#fragment`, which a conforming client never
/// sends, is dropped (as waitress does) so it can reach neither `PATH_INFO` nor `QUERY_STRING`.
///
/// ```
/// use wsgi_lab::environ::split_target;
/// assert_eq!(split_target("/a/b?x=1&y"), ("/a/b", "x=1&y"));
/// assert_eq!(split_target("http://example.com:8080/p?q"), ("/p", "q"));
/// assert_eq!(split_target("http://example.com"), ("/", ""));
/// assert_eq!(split_target("/go/http://example.com/p"), ("/go/http://example.com/p", ""));
/// assert_eq!(split_target("/a#frag?x"), ("/a", ""));
/// ```
pub fn split_target(target: &str) -> (&str, &str) {
    let target = target.split_once('#').map_or(target, |(before, _)| before);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    // Only a target that does not start with "/" is absolute-form: "/go/http://x/y" is a path.
    let absolute = if path.starts_with('/') { None } else { path.split_once("://") };
    (absolute.map_or(path, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..])), query)
}

/// Percent-decodes a path and maps each byte to the char of the same number (PEP 3333's
/// latin-1 "bytes as native strings"): `/caf%C3%A9` becomes `/cafÃ©`. Use
/// [`crate::util::to_utf8`] to get `/café` back.
///
/// ```
/// use wsgi_lab::environ::decode_path;
/// assert_eq!(decode_path("/a%20b/c%2Fd%C3%A9"), "/a b/c/dÃ©");
/// ```
pub fn decode_path(path: &str) -> String {
    // Borrowed when there is nothing to decode.
    latin1(&Cow::from(percent_encoding::percent_decode_str(path)))
}

/// Bytes to a string, one char per byte (ISO-8859-1), as PEP 3333 does for headers and paths.
pub fn latin1(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        // The common case, and a shortcut: ASCII is the same in both.
        Ok(ascii) if ascii.is_ascii() => ascii.to_string(),
        _ => bytes.iter().map(|&b| b as char).collect(),
    }
}
