//! The URL a bench aims at, and the request it sends there, built once.
//!
//! Only what a lab needs: `http://`, a host that is an IP address or `localhost`, a port, a
//! path with its query. No DNS, no TLS, no redirects: what is measured is the server, not the
//! client's name resolution.

use super::BenchError;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Where a bench sends its requests: `http://host:port/path?query`, parsed.
///
/// ```
/// use wsgi_lab::lab::bench::Target;
/// let target = Target::parse("http://localhost:8200/hello?name=Ada")?;
/// assert_eq!(target.addr.to_string(), "127.0.0.1:8200");
/// assert_eq!(target.host_header, "localhost:8200");
/// assert_eq!(target.path, "/hello?name=Ada");
/// assert!(Target::parse("https://127.0.0.1/").is_err());
/// # Ok::<(), wsgi_lab::lab::bench::BenchError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The address to connect to.
    pub addr: SocketAddr,
    /// The `Host` header: the URL's `host[:port]` as written.
    pub host_header: String,
    /// The request target: the path and query, `/` when the URL has none.
    pub path: String,
}

impl Target {
    /// Parses an `http://` URL. The host must be an IP address (`[::1]` for IPv6) or
    /// `localhost`; the port defaults to 80; a `#fragment` is dropped, as browsers do.
    pub fn parse(url: &str) -> Result<Target, BenchError> {
        let bad = |reason: &str| BenchError::Url { url: url.to_string(), reason: reason.to_string() };
        let scheme_end = url.find("://").ok_or_else(|| bad("expected http://host:port/path"))?;
        match url[..scheme_end].to_ascii_lowercase().as_str() {
            "http" => {}
            "https" => return Err(bad("https is not supported (the lab speaks plain HTTP only)")),
            _ => return Err(bad("only http:// URLs are supported")),
        }
        let rest = &url[scheme_end + 3..];
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let path = match path {
            "" => "/".to_string(),
            query if query.starts_with('?') => format!("/{query}"),
            path => path.to_string(),
        };
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad("the path has a space or a control character; percent-encode it"));
        }
        if authority.contains('@') {
            return Err(bad("user:password@ is not supported"));
        }
        let (host, port) = split_port(authority).ok_or_else(|| bad("the port is not a number"))?;
        let port = port.unwrap_or(80);
        if port == 0 {
            return Err(bad("port 0 cannot be connected to"));
        }
        // `localhost` is pinned to 127.0.0.1 rather than resolved: resolvers often answer ::1
        // first, and a lab server bound to 127.0.0.1 would then look down.
        let ip = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
            bare.parse().map_err(|_| bad("the host must be an IP address or localhost"))?
        };
        Ok(Target { addr: SocketAddr::new(ip, port), host_header: authority.to_string(), path })
    }

    /// The bytes of one request, built once and sent as they are for every request: `method`,
    /// the path, `Host`, `Content-Length` when there is a body (or the method expects one),
    /// `Connection: close` when `close`, then `headers`. A `Host` or `User-Agent` among
    /// `headers` replaces the default one.
    ///
    /// ```
    /// use wsgi_lab::lab::bench::Target;
    /// let target = Target::parse("http://127.0.0.1:8200/")?;
    /// let request = target.request("POST", &[("X-Lab".into(), "1".into())], b"hi", true);
    /// let text = String::from_utf8(request).unwrap();
    /// assert!(text.starts_with("POST / HTTP/1.1\r\nHost: 127.0.0.1:8200\r\n"));
    /// assert!(text.contains("Content-Length: 2\r\nConnection: close\r\nX-Lab: 1\r\n\r\nhi"));
    /// # Ok::<(), wsgi_lab::lab::bench::BenchError>(())
    /// ```
    pub fn request(&self, method: &str, headers: &[(String, String)], body: &[u8], close: bool) -> Vec<u8> {
        let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        let mut head = format!("{method} {} HTTP/1.1\r\n", self.path);
        if !has("host") {
            head += &format!("Host: {}\r\n", self.host_header);
        }
        if !has("user-agent") {
            head += "User-Agent: wsgi-lab-bench\r\n";
        }
        // A POST with no body still says `Content-Length: 0`, or a server would wait for one.
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            head += &format!("Content-Length: {}\r\n", body.len());
        }
        if close {
            head += "Connection: close\r\n";
        }
        for (name, value) in headers {
            head += &format!("{name}: {value}\r\n");
        }
        head += "\r\n";
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        request
    }
}

/// `host:port`, `host`, `[::1]:port` or `[::1]` → the host and the port if any; `None` when
/// the port is there but not a number.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let colon = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => i,
        _ => return Some((authority, None)),
    };
    let port = authority[colon + 1..].parse().ok()?;
    Some((&authority[..colon], Some(port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_that_parse() {
        let cases = [
            ("http://127.0.0.1:8200/", "127.0.0.1:8200", "127.0.0.1:8200", "/"),
            ("http://127.0.0.1", "127.0.0.1:80", "127.0.0.1", "/"),
            ("HTTP://localhost:9/a/b?x=1&y=2", "127.0.0.1:9", "localhost:9", "/a/b?x=1&y=2"),
            ("http://127.0.0.1:8200?q=1", "127.0.0.1:8200", "127.0.0.1:8200", "/?q=1"),
            ("http://[::1]:8080/p#frag", "[::1]:8080", "[::1]:8080", "/p"),
            ("http://[::1]/", "[::1]:80", "[::1]", "/"),
        ];
        for (url, addr, host, path) in cases {
            let target = Target::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(target.addr.to_string(), addr, "{url}");
            assert_eq!(target.host_header, host, "{url}");
            assert_eq!(target.path, path, "{url}");
        }
    }

    #[test]
    fn urls_that_do_not_parse_say_why() {
        let cases = [
            ("127.0.0.1:8200/", "expected http://"),
            ("https://127.0.0.1/", "https is not supported"),
            ("ftp://127.0.0.1/", "only http://"),
            ("http://example.com/", "IP address or localhost"),
            ("http://127.0.0.1:http/", "port is not a number"),
            ("http://127.0.0.1:99999/", "port is not a number"),
            ("http://127.0.0.1:0/", "port 0"),
            ("http://u:p@127.0.0.1/", "user:password@"),
            ("http://127.0.0.1/a b", "percent-encode"),
        ];
        for (url, reason) in cases {
            let error = Target::parse(url).expect_err(url).to_string();
            assert!(error.contains(reason), "{url}: {error}");
        }
    }

    #[test]
    fn user_headers_replace_the_defaults() {
        let target = Target::parse("http://127.0.0.1/").unwrap();
        let request = target.request("GET", &[("host".into(), "lab".into())], b"", false);
        let text = String::from_utf8(request).unwrap();
        assert_eq!(text, "GET / HTTP/1.1\r\nUser-Agent: wsgi-lab-bench\r\nhost: lab\r\n\r\n");
    }
}
