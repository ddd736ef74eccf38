//! The built-in apps bound every number they take from the query string: a bad one (past the
//! limit, not a whole number, negative, empty) is a 400 whose one-line body names the parameter,
//! the value and the range; the limits themselves are accepted; an absent one takes its default.

mod common;

use std::net::TcpListener;
use wsgi_lab::apps::{self, APPS, CHUNKS, ECHO_BODY_SHOWN, MS, Param, SIZE, STEPS};
use wsgi_lab::{App, Mode, Options, Server, testing};

/// Values no parameter accepts, whatever its limit.
const NOT_NUMBERS: [&str; 6] = ["abc", "-1", "1.5", "", "%2010", "1e3"];

/// Asserts `target` is refused with a 400 whose body names `param` and its range.
fn assert_refused(app: &dyn App, target: &str, param: &Param) {
    let response = testing::get(app, target);
    let text = response.text();
    assert_eq!(response.status_code(), 400, "{target}: {text}");
    assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"), "{target}");
    assert!(text.starts_with(&format!("{}=", param.name)), "{target}: {text}");
    assert!(text.contains(&format!("0..={} {}", param.max, param.unit)), "{target}: {text}");
    assert_eq!(text.lines().count(), 1, "{target}: one line, {text:?}");
}

/// Every bad value of `param` on `app`, with `rest` (the other parameters) appended.
fn assert_every_bad_value_refused(app: &dyn App, param: &Param, rest: &str) {
    let past = param.max + 1;
    let huge = "9".repeat(40); // more digits than a u64 holds
    let mut values = vec![past.to_string(), huge];
    values.extend(NOT_NUMBERS.iter().map(|v| v.to_string()));
    for value in values {
        assert_refused(app, &format!("/?{}={value}{rest}", param.name), param);
    }
}

#[test]
fn sleep_refuses_bad_ms() {
    assert_every_bad_value_refused(&apps::sleep, &MS, "");
    let response = testing::get(&apps::sleep, "/?ms=abc");
    assert_eq!(response.text(), "ms=\"abc\" is not a whole number: 0..=60000 ms\n");
}

#[test]
fn stream_refuses_bad_chunks_and_size() {
    assert_every_bad_value_refused(&apps::stream, &CHUNKS, "&size=1");
    assert_every_bad_value_refused(&apps::stream, &SIZE, "&chunks=1");
    let response = testing::get(&apps::stream, "/?chunks=1&size=1099511627776");
    assert_eq!(response.text(), "size=1099511627776 is out of range: 0..=16777216 bytes (16 MiB)\n");
}

#[test]
fn cpu_refuses_bad_n() {
    assert_every_bad_value_refused(&apps::cpu, &STEPS, "");
}

#[test]
fn the_limits_themselves_are_accepted() {
    assert_eq!(testing::get(&apps::sleep, "/?ms=0").text(), "slept 0 ms");
    let biggest = testing::get(&apps::stream, "/?chunks=1&size=16777216");
    assert_eq!((biggest.status_code(), biggest.body.len()), (200, 16 * 1024 * 1024));
    let most = testing::get(&apps::stream, "/?chunks=100000&size=0");
    assert_eq!((most.status_code(), most.body.len()), (200, 0));
    let none = testing::get(&apps::stream, "/?chunks=0&size=16777216");
    assert_eq!((none.status_code(), none.body.len()), (200, 0));
    // n at its limit would cost seconds of a debug build; 0 is the other end of the range.
    assert!(testing::get(&apps::cpu, "/?n=0").text().starts_with("computed 0 steps"));
}

#[test]
fn absent_parameters_take_their_defaults() {
    assert_eq!(testing::get(&apps::stream, "/").body.len(), 3 * 16);
    assert_eq!(testing::get(&apps::stream, "/?chunks=2").body.len(), 2 * 16);
    assert!(testing::get(&apps::cpu, "/").text().starts_with("computed 1000000 steps"));
    assert_eq!(testing::get(&apps::sleep, "/?other=abc").text(), "slept 100 ms");
}

#[test]
fn the_app_list_names_each_default_and_limit() {
    let describe = |name: &str| APPS.iter().find(|(n, _)| *n == name).unwrap().1;
    for (app, params) in [("sleep", vec![MS]), ("stream", vec![CHUNKS, SIZE]), ("cpu", vec![STEPS])] {
        for param in params {
            let text = describe(app);
            assert!(text.contains(&format!("{}=", param.name)), "{app}: {text}");
            assert!(text.contains(&format!("default {}", param.default)), "{app} {}: {text}", param.name);
            assert!(text.contains(&format!("at most {}", param.max)), "{app} {}: {text}", param.name);
        }
    }
}

#[test]
fn echo_shows_the_first_part_of_a_large_body_and_counts_all_of_it() {
    let body = vec![b'x'; ECHO_BODY_SHOWN as usize + 10];
    let response = testing::Client::new(&apps::echo).request("POST", "/").body(body).send();
    let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(json["body"].as_str().map(str::len), Some(ECHO_BODY_SHOWN as usize));
    assert_eq!(json["body_length"].as_u64(), Some(ECHO_BODY_SHOWN + 10));
    assert_eq!(json["body_truncated"], true);
}

/// The bug this file exists for: `size=1099511627776` made the stream app allocate a terabyte,
/// and the allocation failure aborted the process. Now it is a 400, and the server answers the
/// next connection.
#[test]
fn a_huge_size_is_refused_and_the_server_survives() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options { quiet: true, ..Default::default() };
    let running = Server::from_listener(listener, apps::stream, options, Mode::Pool).unwrap().spawn();

    let huge = common::exchange(
        running.addr(),
        b"GET /?chunks=1&size=1099511627776 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    let refused = common::Response::parse(&huge);
    assert_eq!(refused.status, 400, "{:?}", String::from_utf8_lossy(&huge));
    assert!(huge.starts_with(b"HTTP/1.1 400"), "{:?}", String::from_utf8_lossy(&huge));
    assert!(refused.text().contains("size=1099511627776"), "{}", refused.text());

    let normal = common::exchange(
        running.addr(),
        b"GET /?chunks=2&size=4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    let served = common::Response::parse(&normal);
    assert_eq!((served.status, served.dechunked()), (200, b"aaaabbbb".to_vec()));
    running.stop().unwrap();
}
