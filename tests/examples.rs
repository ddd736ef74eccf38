//! The examples that serve answer a request: each runs as a process on a free port (`PORT=0`),
//! the test reads the port from what it prints, asks, and stops it. An example that cannot
//! start fails as a program does: one `error:` line and a non-zero exit. (cargo builds every
//! example before running the tests.)

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

/// Every example, by name.
const EXAMPLES: [&str; 6] =
    ["hello_wsgi", "hello_waitress", "url_prefix", "dev_vs_prod", "app_factory", "threads"];

/// `examples/NAME`, ready to run.
fn example(name: &str) -> Command {
    let dir = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("examples");
    Command::new(dir.join(name))
}

/// Starts `examples/NAME` with `PORT=0` and waits for the line that names its port.
fn start(name: &str, env: &[(&str, &str)]) -> Example {
    let child = example(name)
        .env("PORT", "0")
        // The tutorials listen on every interface; a test keeps them on loopback.
        .env("HOST", "127.0.0.1")
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

/// Runs `examples/NAME` with `env` to its end, which must come: returns its exit code and stderr.
/// (A deadline, so that an example that serves instead of failing fails the test, not hangs it.)
fn run_to_failure(name: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = example(name)
        .env("HOST", "127.0.0.1")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start example {name}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{name} with {env:?} kept running: it should have failed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn every_example_with_its_port_taken_says_so_in_one_line() {
    let dir = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")).unwrap();
    let mut found: Vec<String> =
        dir.filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".rs").map(String::from)).collect();
    found.sort();
    let mut listed = EXAMPLES.map(String::from);
    listed.sort();
    assert_eq!(found, listed, "EXAMPLES lists every example");
    // A listener on 127.0.0.1 also keeps the examples that bind 0.0.0.0 from that port: the
    // wildcard address includes loopback.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for name in EXAMPLES {
        let (code, stderr) = run_to_failure(name, &[("PORT", &port)]);
        assert!(code.is_some_and(|c| c != 0), "{name}: exit {code:?}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.starts_with("error: cannot bind "), "{name}: {stderr}");
        assert!(
            stderr
                .trim_end()
                .ends_with(&format!(":{port}: the port is in use; set PORT=0 to pick a free one")),
            "{name}: {stderr}"
        );
    }
}

#[test]
fn a_port_that_is_not_a_number_is_an_error_not_the_tutorials_port() {
    for name in EXAMPLES {
        let (code, stderr) = run_to_failure(name, &[("PORT", "abc")]);
        assert!(code.is_some_and(|c| c != 0), "{name}: exit {code:?}");
        assert_eq!(
            stderr.trim_end(),
            "error: PORT=\"abc\" is not a port number from 0 to 65535 (0 picks a free one)",
            "{name}"
        );
    }
    let (code, stderr) = run_to_failure("threads", &[("PORT", "0"), ("THREADS", "many")]);
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}");
    assert_eq!(stderr.trim_end(), "error: THREADS=\"many\" is not a whole number of workers, such as 1 or 4");
}
