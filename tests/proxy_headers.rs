//! Proxy headers (waitress's `trusted_proxy`): believed only from the trusted proxy, removed
//! from everyone else's requests. Through a real server, with the `echo` app showing the environ.

mod common;

use serde_json::Value;
use std::net::IpAddr;
use wsgi_lab::{Mode, Options, apps::echo};

const FORWARDED: &str = "GET / HTTP/1.1\r\nHost: internal:8080\r\nX-Forwarded-For: 203.0.113.7, 198.51.100.2\r\n\
    X-Forwarded-Proto: https\r\nX-Forwarded-Host: www.example.com\r\nConnection: close\r\n\r\n";

fn environ_behind(trusted_proxy: &str, headers: &[&str], request: &str) -> Value {
    let options = Options {
        trusted_proxy: Some(trusted_proxy.parse::<IpAddr>().unwrap()),
        trusted_proxy_headers: headers.iter().map(|h| h.to_string()).collect(),
        ..common::options()
    };
    let server = common::start(echo, options, Mode::Pool);
    let response = server.request(request);
    let json: Value = serde_json::from_slice(&response.body).expect("echo answers JSON");
    json["environ"].clone()
}

#[test]
fn the_trusted_proxy_sets_the_client_address_scheme_and_host() {
    let all = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"];
    let environ = environ_behind("127.0.0.1", &all, FORWARDED);
    // The last X-Forwarded-For entry is the one the trusted proxy itself added.
    assert_eq!(environ["REMOTE_ADDR"], "198.51.100.2");
    assert_eq!(environ["wsgi.url_scheme"], "https");
    assert_eq!(environ["HTTP_HOST"], "www.example.com");
    assert_eq!(environ["HTTP_X_FORWARDED_FOR"], "203.0.113.7, 198.51.100.2");
}

#[test]
fn headers_not_named_are_removed_even_from_the_trusted_proxy() {
    let environ = environ_behind("127.0.0.1", &["x-forwarded-for"], FORWARDED);
    assert_eq!(environ["REMOTE_ADDR"], "198.51.100.2");
    assert_eq!(environ["wsgi.url_scheme"], "http");
    assert_eq!(environ["HTTP_HOST"], "internal:8080");
    assert!(environ.get("HTTP_X_FORWARDED_PROTO").is_none());
    assert!(environ.get("HTTP_X_FORWARDED_HOST").is_none());
}

#[test]
fn anyone_else_cannot_claim_an_address() {
    let all = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"];
    // The test client is 127.0.0.1; the trusted proxy is another address.
    let environ = environ_behind("127.0.0.2", &all, FORWARDED);
    assert_eq!(environ["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(environ["wsgi.url_scheme"], "http");
    assert_eq!(environ["HTTP_HOST"], "internal:8080");
    for key in ["HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST"] {
        assert!(environ.get(key).is_none(), "{key} should be removed");
    }
}

#[test]
fn without_a_trusted_proxy_proxy_headers_are_removed() {
    let server = common::start(echo, common::options(), Mode::Single);
    let response = server.request(FORWARDED);
    let json: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(json["environ"]["REMOTE_ADDR"], "127.0.0.1");
    assert!(json["environ"].get("HTTP_X_FORWARDED_FOR").is_none());
}

#[test]
fn the_forwarded_header_works_too() {
    let request = "GET / HTTP/1.1\r\nHost: internal\r\nForwarded: for=192.0.2.60;proto=https;host=shop.example\r\n\
        Connection: close\r\n\r\n";
    let environ = environ_behind("127.0.0.1", &["forwarded"], request);
    assert_eq!(
        (&environ["REMOTE_ADDR"], &environ["wsgi.url_scheme"]),
        (&Value::from("192.0.2.60"), &Value::from("https"))
    );
    assert_eq!(environ["HTTP_HOST"], "shop.example");
}

#[test]
fn an_unknown_proxy_header_name_is_a_configuration_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options { trusted_proxy_headers: vec!["x-real-ip".into()], ..Options::default() };
    let error = wsgi_lab::Server::from_listener(listener, echo, options, Mode::Pool).err().expect("refused");
    assert!(error.to_string().contains("unknown proxy header \"x-real-ip\""), "{error}");
}
