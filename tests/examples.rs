//! The examples that serve answer a request: each runs as a process on a free port (`PORT=0`),
//! the test reads the port from what it prints, asks, and stops it. (cargo builds every example
//! before running the tests.)

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running example, killed when dropped.
struct Example {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `examples/NAME` with `PORT=0` and waits for the line that names its port.
fn start(name: &str, env: &[(&str, &str)]) -> Example {
    let dir = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("examples");
    let child = Command::new(dir.join(name))
        .env("PORT", "0")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start example {name}: {e}"));
    // From here on, a failing test still kills the process (Drop).
    let mut example = Example { child, addr: ([127, 0, 0, 1], 0).into() };
    let (stdout, stderr) = (example.child.stdout.take().unwrap(), example.child.stderr.take().unwrap());
    let (lines, found) = mpsc::channel();
    for stream in [Box::new(stdout) as Box<dyn Read + Send>, Box::new(stderr)] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            BufReader::new(stream).lines().map_while(Result::ok).for_each(|l| drop(lines.send(l)))
        });
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = found
            .recv_timeout(deadline - Instant::now())
            .unwrap_or_else(|_| panic!("{name} never said its port"));
        let port = ["127.0.0.1:", "0.0.0.0:"].iter().find_map(|host| {
            let rest = &line[line.find(host)? + host.len()..];
            rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<u16>().ok()
        });
        if let Some(port) = port.filter(|&p| p != 0) {
            example.addr = ([127, 0, 0, 1], port).into();
            return example;
        }
    }
}

fn get(example: &Example, path: &str) -> common::Response {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    common::Response::parse(&common::exchange(example.addr, request.as_bytes()))
}

#[test]
fn hello_wsgi_serves_the_tutorial_page() {
    let example = start("hello_wsgi", &[]);
    assert_eq!(get(&example, "/").text(), "<h2>Hi there, this is WSGI server</h2>");
}

#[test]
fn hello_waitress_serves_the_route() {
    let example = start("hello_waitress", &[]);
    let response = get(&example, "/");
    assert_eq!((response.status, response.text().as_str()), (200, "Hello, World with waitress!!!"));
}

#[test]
fn url_prefix_mounts_the_app_under_my_app() {
    let example = start("url_prefix", &[]);
    assert_eq!(get(&example, "/my-app/hi").text(), "Hello, World with waitress!!!");
    let outside = get(&example, "/hi");
    assert_eq!(outside.status, 404);
    assert!(outside.text().contains("/my-app"));
}

#[test]
fn dev_vs_prod_switches_on_one_variable() {
    let dev = start("dev_vs_prod", &[]);
    assert_eq!(get(&dev, "/").text(), "Hello, World with waitress!!!");
    let page = get(&dev, "/oops");
    assert_eq!(page.status, 500);
    assert!(page.text().contains("division by zero in the oops route"), "the dev debug page shows the panic");
    drop(dev);
    let prod = start("dev_vs_prod", &[("WSGI_LAB_MODE", "prod")]);
    let plain = get(&prod, "/oops");
    assert_eq!(plain.status, 500);
    assert!(!plain.text().contains("division by zero"), "prod never shows the panic: {}", plain.text());
}

#[test]
fn app_factory_builds_a_configured_app() {
    let example = start("app_factory", &[("GREETING", "Bonjour")]);
    assert_eq!(get(&example, "/").text(), "Bonjour from the factory");
}

#[test]
fn threads_answers_fast_while_slow_works() {
    let example = start("threads", &[]);
    let addr = example.addr;
    let slow = std::thread::spawn(move || {
        let started = Instant::now();
        let request = b"GET /slow?ms=1500 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
        common::exchange(addr, request);
        started.elapsed()
    });
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(get(&example, "/fast").text(), "fast: done at once\n");
    let fast = started.elapsed();
    let slow = slow.join().unwrap();
    assert!(fast * 3 < slow, "fast took {fast:?} while slow took {slow:?}");
}
