//! `compare` drives any server (issue 11): `--cmd` starts an external server per row, waits
//! until it listens and always stops it; `--url` measures one already running.

use std::sync::Arc;
use std::time::Duration;
use wsgi_lab::apps::sleep;
use wsgi_lab::lab::compare::{Setup, Workload};

/// A short load on `path`: 4 connections for 200 ms.
fn workload(path: &str) -> Workload {
    let (connections, duration) = (4, Duration::from_millis(200));
    Workload { app: Arc::new(sleep), path: path.to_string(), connections, duration, progress: false }
}

/// `compare` run as the command line does, with NO_COLOR: `(exit code, stdout, stderr)`.
fn run_compare(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsgi-lab"))
        .arg("compare")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

#[test]
fn cmd_starts_an_external_server_per_row_and_stops_each() {
    let command =
        format!("{} serve --threads {{threads}} --port {{port}} --quiet", env!("CARGO_BIN_EXE_wsgi-lab"));
    let workload = workload("/");
    let mut out = Vec::new();
    let rows = wsgi_lab::lab::compare::external::compare_commands(
        &workload,
        &[4],
        &[command],
        &[1, 2],
        &mut out,
        false,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    for label in ["wsgi-lab, 1 thread ", "wsgi-lab, 2 threads "] {
        assert!(text.contains(label), "{label} missing from:\n{text}");
    }
    assert!(!text.contains("FAILED") && !text.contains("shared"), "{text}");
    // Scaling is read within the command, as within an engine.
    assert!(text.contains("against wsgi-lab, 1 thread, the pool with the fewest workers"), "{text}");
    assert_eq!(
        rows.iter().map(|r| r.config.setup).collect::<Vec<_>>(),
        [Setup::Threads(1), Setup::Threads(2)]
    );
    // Each row had its own process on its own port, and each was stopped after its row.
    let ports: Vec<&str> =
        rows.iter().map(|r| r.report.url.trim_start_matches("http://").trim_end_matches('/')).collect();
    assert_ne!(ports[0], ports[1]);
    for port in ports {
        assert!(std::net::TcpStream::connect(port).is_err(), "{port} still listens");
    }
}

#[test]
fn a_command_that_exits_at_once_is_a_one_line_error_naming_it() {
    let (code, _, stderr) = run_compare(&[
        "--cmd",
        "echo starting {threads} {port}; echo no app >&2; exit 3",
        "--threads",
        "1",
        "-d",
        "200ms",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("command `echo starting 1 "), "{stderr}");
    assert!(
        stderr.contains("; echo no app >&2; exit 3` exited with code 3 before listening on 127.0.0.1:"),
        "{stderr}"
    );
    // Both streams, in whichever order they arrived.
    assert!(stderr.contains("its last output: "), "{stderr}");
    assert!(stderr.contains("starting 1 ") && stderr.contains("no app"), "{stderr}");
}

#[test]
fn a_command_without_its_placeholders_is_refused() {
    let (code, _, stderr) = run_compare(&["--cmd", "sleep 5", "--threads", "1", "-d", "200ms"]);
    assert_eq!(code, 2, "a bad argument: {stderr}");
    assert!(stderr.contains("command `sleep 5` needs both {threads} and {port}"), "{stderr}");
}

#[test]
fn single_is_not_a_thread_count_of_a_command() {
    let (code, _, stderr) =
        run_compare(&["--cmd", "true {threads} {port}", "--threads", "single", "-d", "200ms"]);
    assert_eq!(code, 2, "a bad argument: {stderr}");
    assert!(stderr.contains("`single` is a mode of the built-in server"), "{stderr}");
}

#[test]
fn url_measures_a_running_server_as_one_row() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let options = wsgi_lab::Options { threads: 2, quiet: true, ..wsgi_lab::Options::default() };
    let server = wsgi_lab::Server::from_listener(listener, sleep, options, wsgi_lab::Mode::Pool).unwrap();
    let running = server.spawn();
    let url = format!("{}/?ms=1", running.url());
    let workload = workload("/?ms=20");
    let mut out = Vec::new();
    let rows = wsgi_lab::lab::compare::external::compare_url(&workload, &[4], &url, &mut out, false).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].server.as_deref(), Some(url.as_str()));
    assert!(!rows[0].failed() && rows[0].ok_per_sec() > 0.0);
    let text = String::from_utf8(out).unwrap();
    assert!(text.lines().nth(1).unwrap().starts_with(&url), "{text}");
    assert!(text.contains("one server whose workers we do not know"), "{text}");
    // Still running: --url neither starts nor stops the server.
    assert!(std::net::TcpStream::connect(running.url().trim_start_matches("http://")).is_ok());
}
