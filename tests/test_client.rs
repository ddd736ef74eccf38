//! The in-process test client builds the same environ as a real request through the server:
//! compared key by key with the `echo` app. It calls the app as the servers do, so a panic or a
//! broken contract is the 500 a server would send, its reason as the body.

mod common;

use std::io::Write;
use wsgi_lab::{Body, Environ, Mode, StartResponse, apps::echo, testing, testing::Client};

#[test]
fn the_test_client_environ_equals_the_servers_key_by_key() {
    let server = common::start(echo, common::options(), Mode::Single);
    let mut stream = common::connect(server.addr);
    let request = "POST /a%20b/caf%C3%A9?x=1&y=%20 HTTP/1.1\r\nHost: test\r\nX-Thing: one\r\nX-Thing: two\r\n\
        Content-Type: text/plain\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello";
    stream.write_all(request.as_bytes()).unwrap();
    let peer = stream.local_addr().unwrap();
    let real = common::Response::parse(&common::read_to_close(&mut stream));
    let real: serde_json::Value = serde_json::from_slice(&real.body).unwrap();

    let client = Client::new(&echo).addresses(server.addr, peer);
    let fake = client
        .request("POST", "/a%20b/caf%C3%A9?x=1&y=%20")
        .header("Host", "test")
        .header("X-Thing", "one")
        .header("X-Thing", "two")
        .header("Content-Type", "text/plain")
        .header("Connection", "close")
        .body("hello")
        .send();
    let fake: serde_json::Value = serde_json::from_slice(&fake.body).unwrap();

    let (real_env, fake_env) = (real["environ"].as_object().unwrap(), fake["environ"].as_object().unwrap());
    let keys = |m: &serde_json::Map<String, serde_json::Value>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(real_env), keys(fake_env));
    for (key, value) in real_env {
        assert_eq!(Some(value), fake_env.get(key), "environ key {key}");
    }
    assert_eq!(real_env["PATH_INFO"], "/a b/cafÃ©");
    assert_eq!(
        (&real["body"], &fake["body"]),
        (&serde_json::Value::from("hello"), &serde_json::Value::from("hello"))
    );
}

#[test]
fn a_panic_or_a_broken_contract_is_a_500_with_the_reason() {
    let panics = |_: &Environ, _: StartResponse| -> Body { panic!("fixture: boom") };
    let response = testing::get(&panics, "/");
    assert_eq!(response.status_code(), 500);
    // The message, then where the panic happened.
    let text = response.text();
    assert!(text.starts_with("the app panicked: fixture: boom (at tests/test_client.rs:"), "{text}");

    let careless = |_: &Environ, start_response: StartResponse| {
        start_response("200", vec![("Connection", "close")]);
        Body::empty()
    };
    let response = testing::get(&careless, "/");
    assert_eq!(response.status_code(), 500);
    let text = response.text();
    assert!(text.contains("\"NNN Reason\"") && text.contains("; header Connection is hop-by-hop"), "{text}");
}
