//! An app's panic is reported once, by the server's log, with where it happened: not a second
//! time by Rust's default panic hook. The backtrace comes only when `RUST_BACKTRACE` asks.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

/// Serves the `error` app, asks `/before` (a panic before `start_response`) three times, stops
/// the server as Ctrl+C does, and returns what it wrote on stderr.
fn three_panics(backtrace: &str) -> String {
    let mut server = Command::new(env!("CARGO_BIN_EXE_wsgi-lab"))
        .args(["serve", "--app", "error", "--port", "0", "--threads", "2"])
        .env("RUST_BACKTRACE", backtrace)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split_whitespace().nth(2).and_then(|url| url.strip_prefix("http://"));
    let addr = addr.and_then(|a| a.trim_end_matches('/').parse().ok()).unwrap_or_else(|| panic!("{line}"));
    for _ in 0..3 {
        let answer = common::exchange(addr, b"GET /before HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        assert!(answer.starts_with(b"HTTP/1.1 500 "), "{}", String::from_utf8_lossy(&answer));
    }
    Command::new("kill").args(["-INT", &server.id().to_string()]).status().unwrap();
    let mut stderr = String::new();
    server.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(server.wait().unwrap().success(), "{stderr}");
    stderr
}

#[test]
fn a_panicking_app_is_logged_once_per_panic_with_its_place() {
    let stderr = three_panics("0");
    let reports: Vec<&str> = stderr.lines().filter(|l| l.contains("panicked")).collect();
    assert_eq!(reports.len(), 3, "one line per panic:\n{stderr}");
    for report in reports {
        assert!(report.contains("app error on \"GET /before HTTP/1.1\""), "{report}");
        assert!(report.contains("(at src/apps/mod.rs:"), "the place of the panic: {report}");
    }
    assert!(!stderr.contains("RUST_BACKTRACE"), "the default hook's hint:\n{stderr}");
}

#[test]
fn the_backtrace_comes_when_rust_backtrace_asks() {
    let stderr = three_panics("1");
    assert_eq!(stderr.lines().filter(|l| l.contains("panicked")).count(), 3, "{stderr}");
    // Below each report, the frames, the app's among them.
    assert!(stderr.matches("wsgi_lab::apps::error").count() >= 3, "{stderr}");
    assert!(!stderr.contains("thread 'worker"), "the default hook's line:\n{stderr}");
}
