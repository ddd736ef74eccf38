//! The calls that run an app, as in wsgiref: `handle_request` answers exactly one request
//! (the next client waits in the backlog until it is called again), and a shutdown from
//! another thread makes `serve_forever` return `Ok(())`.

mod common;

use common::{Response, answered_within, connect, read_to_close, send};
use std::net::TcpListener;
use std::time::Duration;
use wsgi_lab::{Mode, Server, apps};

const GET: &str = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn handle_request_serves_exactly_one_request() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = Server::from_listener(listener, apps::hello, common::options(), Mode::Single)
        .unwrap()
        .log_requests(false)
        .ctrl_c(false);
    let addr = server.server_address();

    let mut first = connect(addr);
    send(&mut first, GET.as_bytes());
    server.handle_request().unwrap();
    assert_eq!(Response::parse(&read_to_close(&mut first)).text(), "Hello, World!");

    // handle_request has returned: a second client waits in the backlog, unanswered.
    let mut second = connect(addr);
    send(&mut second, GET.as_bytes());
    assert!(!answered_within(&mut second, Duration::from_millis(300)), "answered without handle_request");
    server.handle_request().unwrap();
    assert_eq!(Response::parse(&read_to_close(&mut second)).text(), "Hello, World!");
}

#[test]
fn shutdown_from_another_thread_makes_serve_forever_return_ok() {
    let server = common::start(apps::hello, common::options(), Mode::Single);
    assert_eq!(server.request(GET).text(), "Hello, World!");
    let (done, stopped) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(server.stop().map_err(|e| e.to_string())));
    let result = stopped.recv_timeout(common::CLIENT_TIMEOUT).expect("serve_forever did not return");
    assert!(result.is_ok(), "serve_forever returned {result:?}");
}
