//! Proxy headers, as waitress's `trusted_proxy` does them. Behind a reverse proxy every request
//! comes from the proxy's address; the proxy says who the client was in `X-Forwarded-*` or
//! `Forwarded` headers. Those headers are believed only from the trusted proxy: from anyone
//! else they are removed, or any client could claim any address.

use crate::environ::Environ;
use std::net::IpAddr;

/// The environ keys of the proxy headers we know.
pub const PROXY_HEADERS: [(&str, &str); 6] = [
    ("x-forwarded-for", "HTTP_X_FORWARDED_FOR"),
    ("x-forwarded-host", "HTTP_X_FORWARDED_HOST"),
    ("x-forwarded-proto", "HTTP_X_FORWARDED_PROTO"),
    ("x-forwarded-port", "HTTP_X_FORWARDED_PORT"),
    ("x-forwarded-by", "HTTP_X_FORWARDED_BY"),
    ("forwarded", "HTTP_FORWARDED"),
];

/// Which peer to believe, and which of its headers.
///
/// ```
/// use wsgi_lab::{proxy::ProxyPolicy, testing::Client, Environ};
/// let policy = ProxyPolicy::new(Some("10.0.0.1".parse().unwrap()), &["x-forwarded-for", "x-forwarded-proto"]).unwrap();
/// let request = |peer: &str| {
///     let mut environ = Environ::new();
///     environ.set("REMOTE_ADDR", peer);
///     environ.set("wsgi.url_scheme", "http");
///     environ.set("HTTP_X_FORWARDED_FOR", "203.0.113.7, 10.0.0.9");
///     environ.set("HTTP_X_FORWARDED_PROTO", "https");
///     policy.apply(&mut environ);
///     environ
/// };
/// let trusted = request("10.0.0.1");
/// assert_eq!((&trusted["REMOTE_ADDR"], &trusted["wsgi.url_scheme"]), ("10.0.0.9", "https"));
/// let stranger = request("192.0.2.5");
/// assert_eq!((&stranger["REMOTE_ADDR"], stranger.get("HTTP_X_FORWARDED_FOR")), ("192.0.2.5", None));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyPolicy {
    trusted_proxy: Option<IpAddr>,
    /// Environ keys of the headers believed from the trusted proxy.
    trusted_headers: Vec<&'static str>,
}

impl ProxyPolicy {
    /// Trusts `trusted_proxy` for the named headers (`x-forwarded-for`, `x-forwarded-host`,
    /// `x-forwarded-proto`, `x-forwarded-port`, `x-forwarded-by`, `forwarded`). An unknown
    /// name is an error that lists the known ones.
    pub fn new(trusted_proxy: Option<IpAddr>, headers: &[&str]) -> Result<Self, String> {
        let mut trusted_headers = Vec::new();
        for name in headers {
            match PROXY_HEADERS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name.trim())) {
                Some((_, key)) => trusted_headers.push(*key),
                None => {
                    let known: Vec<&str> = PROXY_HEADERS.iter().map(|(n, _)| *n).collect();
                    return Err(format!("unknown proxy header {name:?}: use one of {}", known.join(", ")));
                }
            }
        }
        Ok(ProxyPolicy { trusted_proxy, trusted_headers })
    }

    /// Rewrites `REMOTE_ADDR`, `wsgi.url_scheme` and `HTTP_HOST` from the trusted proxy's
    /// headers, and removes every proxy header that is not believed.
    pub fn apply(&self, environ: &mut Environ) {
        let from_proxy = self.trusted_proxy.is_some_and(|proxy| {
            environ.get("REMOTE_ADDR").and_then(|a| a.parse::<IpAddr>().ok()) == Some(proxy)
        });
        // One pass: only the `HTTP_` keys can be proxy headers.
        environ.retain(|key| {
            let proxy_header = key.starts_with("HTTP_") && PROXY_HEADERS.iter().any(|(_, k)| *k == key);
            !proxy_header || (from_proxy && self.trusted_headers.contains(&key))
        });
        if !from_proxy {
            return;
        }
        // The proxy appends the address it saw: the last entry is the one it vouches for.
        let forwarded = environ.get("HTTP_FORWARDED").map(last_forwarded);
        let client = environ
            .get("HTTP_X_FORWARDED_FOR")
            .and_then(last_entry)
            .or(forwarded.as_ref().and_then(|f| f.0.clone()));
        let scheme = environ
            .get("HTTP_X_FORWARDED_PROTO")
            .and_then(last_entry)
            .or(forwarded.as_ref().and_then(|f| f.1.clone()));
        let host = environ.get("HTTP_X_FORWARDED_HOST").and_then(last_entry).or(forwarded.and_then(|f| f.2));
        if let Some(client) = client {
            environ.set("REMOTE_ADDR", client);
        }
        if let Some(scheme) = scheme.map(|s| s.to_ascii_lowercase()).filter(|s| s == "http" || s == "https") {
            environ.set("wsgi.url_scheme", scheme);
        }
        if let Some(host) = host {
            environ.set("HTTP_HOST", host);
        }
    }
}

fn last_entry(list: &str) -> Option<String> {
    list.rsplit(',').next().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// `for`, `proto` and `host` of the last element of an RFC 7239 `Forwarded` header.
fn last_forwarded(header: &str) -> (Option<String>, Option<String>, Option<String>) {
    let element = header.rsplit(',').next().unwrap_or("");
    let mut found = (None, None, None);
    for pair in element.split(';') {
        let Some((name, value)) = pair.split_once('=') else { continue };
        let value = value.trim().trim_matches('"');
        // `for="[2001:db8::1]:4711"` and `for=192.0.2.60:8080`: the address without the port.
        let value = match value.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6).to_string(),
            None => value
                .rsplit_once(':')
                .filter(|(_, p)| p.parse::<u16>().is_ok())
                .map_or(value, |(a, _)| a)
                .to_string(),
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "for" => found.0 = Some(value),
            "proto" => found.1 = Some(value),
            "host" => found.2 = Some(value),
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_header_elements() {
        assert_eq!(
            last_forwarded("for=1.2.3.4, for=\"[2001:db8::1]:4711\";proto=https;host=example.com"),
            (Some("2001:db8::1".into()), Some("https".into()), Some("example.com".into()))
        );
        assert_eq!(last_forwarded("for=192.0.2.60:8080").0.as_deref(), Some("192.0.2.60"));
    }

    #[test]
    fn unknown_header_names_are_refused() {
        assert!(ProxyPolicy::new(None, &["x-real-ip"]).unwrap_err().contains("x-forwarded-for"));
    }
}
