//! `reuse_port` (`serve --reuse-port`, SO_REUSEPORT): servers that all set it share one port and
//! the kernel spreads new connections among them; without it on every one of them, the second
//! bind is refused. Lesson 12 measures how evenly the connections spread.

mod common;

use std::io::{BufRead, BufReader, ErrorKind};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use wsgi_lab::{Error, Mode, Options, Running, Server, apps};

/// A quiet pool server on 127.0.0.1:`port` (0: a free one), with or without `reuse_port`.
fn bind(port: u16, reuse_port: bool) -> Result<Server, Error> {
    Server::bind(apps::hello, Options { port, reuse_port, threads: 2, ..common::options() }, Mode::Pool)
}

/// `connections` new connections to `addr`, one request each; every one must be answered 200.
fn requests(addr: SocketAddr, connections: usize) {
    for _ in 0..connections {
        let response = common::Response::parse(&common::exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
        ));
        assert_eq!(response.status, 200, "{response:?}");
    }
}

#[test]
fn two_servers_with_reuse_port_share_one_port_and_both_serve() {
    let first = bind(0, true).expect("the first server binds a free port").spawn();
    let port = first.addr().port();
    let second = bind(port, true).expect("a second server binds the same port with reuse_port").spawn();
    assert_eq!(second.addr(), first.addr());

    // The kernel picks a listener by a hash of each connection's addresses: with 64 new
    // connections, both get some (the chance that one gets none is 2 in 2^64).
    requests(first.addr(), 64);
    let served = |server: &Running| server.stats().served();
    let (a, b) = (served(&first), served(&second));
    assert_eq!(a + b, 64, "every request served once: {a} + {b}");
    assert!(a > 0 && b > 0, "both servers took connections: {a} and {b}");
    first.stop().unwrap();
    second.stop().unwrap();
}

#[test]
fn without_reuse_port_on_both_the_second_bind_is_refused() {
    for (first_sets_it, second_sets_it) in [(false, false), (true, false), (false, true)] {
        let first = bind(0, first_sets_it).unwrap();
        let port = first.server_address().port();
        match bind(port, second_sets_it) {
            Err(Error::Bind { source, .. }) => assert_eq!(
                source.kind(),
                ErrorKind::AddrInUse,
                "first {first_sets_it}, second {second_sets_it}: {source}"
            ),
            Err(other) => panic!("first {first_sets_it}, second {second_sets_it}: {other}"),
            Ok(_) => panic!("first {first_sets_it}, second {second_sets_it}: the second bound the port"),
        }
    }
}

#[test]
fn a_server_that_stops_leaves_the_port_to_the_others() {
    let first = bind(0, true).unwrap().spawn();
    let addr = first.addr();
    let second = bind(addr.port(), true).unwrap().spawn();
    // Shutdown takes the first socket out of the group at once: no connection is routed to a
    // server that no longer accepts, so every one is answered, by the second.
    first.stop().unwrap();
    requests(addr, 32);
    assert_eq!(second.stats().served(), 32);
    second.stop().unwrap();
}

/// `wsgi-lab serve --port PORT ARGS --quiet` and its startup line, once it listens; or, if it
/// exited instead, its exit status and stderr.
fn serve(port: u16, args: &[&str]) -> Result<(Child, String), String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsgi-lab"))
        .args(["serve", "--app", "hello", "--quiet", "--port", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wsgi-lab");
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    if line.starts_with("Serving on ") {
        return Ok((child, line));
    }
    let output = child.wait_with_output().unwrap();
    Err(format!("{}: {}", output.status, String::from_utf8_lossy(&output.stderr)))
}

#[test]
fn serve_reuse_port_on_the_command_line() {
    let (mut first, line) = serve(0, &["--reuse-port"]).unwrap();
    // `Serving on http://127.0.0.1:PORT/ (...)`
    let port: u16 = line.split(['/', ':']).nth(4).and_then(|p| p.parse().ok()).expect(&line);
    let (mut second, line) = serve(port, &["--reuse-port"]).unwrap();
    assert!(line.contains(&format!("127.0.0.1:{port}/")), "{line}");

    // A third server without the flag is refused, with the CLI's one line and exit code 1.
    let refused = serve(port, &[]).map(|(_, line)| line).unwrap_err();
    assert!(refused.contains("exit status: 1") && refused.contains("the port is in use"), "{refused}");

    // The dev server (tiny_http) has no such option: refused, exit code 2.
    let dev = serve(0, &["--dev", "--reuse-port"]).map(|(_, line)| line).unwrap_err();
    assert!(
        dev.contains("exit status: 2") && dev.contains("'--dev' cannot be used with '--reuse-port'"),
        "{dev}"
    );

    for child in [&mut first, &mut second] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
