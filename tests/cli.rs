//! The `wsgi-lab` binary: a bad argument is one line naming the cause and a non-zero exit;
//! `serve` prints its startup line; `bench` reports on a server it did not start.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

fn wsgi_lab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wsgi-lab")).args(args).env("NO_COLOR", "1").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn bad_arguments_get_one_line_and_a_non_zero_exit() {
    let cases: &[(&[&str], &str)] = &[
        (&["serve", "--port", "abc"], "--port"),
        (&["serve", "--app", "nope"], "no built-in app \"nope\""),
        (&["serve", "--threads", "0"], "--threads"),
        (&["serve", "--header-timeout", "soon"], "not a positive duration"),
        (&["serve", "--host", "no-such-host.invalid", "--port", "0"], "cannot resolve host"),
        (&["serve", "--debug"], "--dev"),
        (&["bench", "ftp://x/"], "bad URL"),
        (&["bench", "http://127.0.0.1:9/", "-n", "1"], "cannot connect"),
        (&["bench", "http://127.0.0.1:9/", "-H", "no-colon"], "not a header"),
        (&["compare", "--threads", "0"], "not a configuration"),
        (&["frobnicate"], "frobnicate"),
    ];
    for (args, cause) in cases {
        let (code, _, stderr) = wsgi_lab(args);
        assert_ne!(code, 0, "{args:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(cause), "{args:?}: {stderr}");
    }
}

#[test]
fn a_taken_port_is_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, stderr) = wsgi_lab(&["serve", "--port", &port]);
    assert_eq!(code, 1);
    assert!(stderr.contains("the port is taken"), "{stderr}");
}

/// Starts `wsgi-lab serve ARGS --port 0` and returns it with its startup line and its URL.
fn serve(args: &[&str]) -> (Child, String, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_wsgi-lab"))
        .args(["serve", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.split_whitespace().nth(2).unwrap_or_default().to_string();
    (server, line, url)
}

#[test]
fn serve_prints_where_it_listens_and_bench_measures_it() {
    let (mut server, line, url) = serve(&["--threads", "2", "--quiet"]);
    assert!(line.starts_with("Serving on http://127.0.0.1:") && line.contains("pool of 2 workers"), "{line}");
    let (code, stdout, _) = wsgi_lab(&["bench", &url, "-n", "200", "-c", "4", "--json", "--no-progress"]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((report["completed"].as_u64(), report["fairness"]["starved"].as_u64()), (Some(200), Some(0)));
    assert_eq!(report["statuses"]["200"].as_u64(), Some(200));
}

#[test]
fn watch_off_a_terminal_prints_plain_lines_and_a_summary_at_exit() {
    let (mut server, _, url) = serve(&["--threads", "3", "--watch"]);
    let (code, _, _) = wsgi_lab(&["bench", &url, "-n", "50", "-c", "2"]);
    assert_eq!(code, 0);
    // A status line comes every two seconds; wait for one, then stop the server as Ctrl+C does.
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut status = String::new();
    stderr.read_line(&mut status).unwrap();
    assert!(status.contains("queued 0") && status.contains("50 served"), "{status}");
    Command::new("kill").args(["-INT", &server.id().to_string()]).status().unwrap();
    let rest: Vec<String> = stderr.lines().map_while(Result::ok).collect();
    assert!(server.wait().unwrap().success());
    assert!(rest.iter().any(|l| l.starts_with("watch summary: 50 served")), "{rest:?}");
}

#[test]
fn serve_dev_debug_shows_the_panic_in_the_page() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_wsgi-lab"))
        .args(["serve", "--dev", "--debug", "--app", "error", "--port", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut banner = String::new();
    while !banner.contains("Running on http://127.0.0.1:") {
        assert_ne!(stderr.read_line(&mut banner).unwrap(), 0, "no banner: {banner}");
    }
    assert!(banner.contains("development server"), "{banner}");
    let addr =
        banner.split("Running on http://").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let page = {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream.write_all(b"GET /before HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut page = String::new();
        let _ = stream.read_to_string(&mut page);
        page
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(page.starts_with("HTTP/1.1 500"), "{page}");
    assert!(page.contains("the error app panicked before start_response"), "{page}");
}
