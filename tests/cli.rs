//! The `wsgi-lab` binary: a bad argument is one line naming the cause and exit code 2 in every
//! subcommand, a failure while running one line and exit code 1; `serve` prints its startup
//! line; `bench` reports on a server it did not start.

mod common;

use common::dev::serve_dev;
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

/// Runs each case and checks its exit code and its one line of stderr, which names `cause`.
fn check_failures(code: i32, cases: &[(&[&str], &str)]) {
    for (args, cause) in cases {
        let (got, _, stderr) = wsgi_lab(args);
        assert_eq!(got, code, "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains(cause), "{args:?}: {stderr}");
    }
}

#[test]
fn a_bad_argument_is_one_line_and_exit_code_2_in_every_subcommand() {
    check_failures(
        2,
        &[
            (&["frobnicate"], "frobnicate"),
            (&["serve", "--port", "abc"], "--port"),
            (&["serve", "--app", "nope"], "no built-in app \"nope\""),
            (&["serve", "--threads", "0"], "--threads"),
            (&["serve", "--header-timeout", "soon"], "not a positive duration"),
            (&["serve", "--debug"], "--dev"),
            (&["serve", "--backlog", "0"], "--backlog"),
            (&["serve", "--root", "."], "--root is for the files app, not hello"),
            (&["serve", "--app", "files", "--root", "/no/such/dir", "--port", "0"], "--root /no/such/dir"),
            (&["serve", "--connection-limit", "0", "--port", "0"], "connection_limit = 0"),
            (&["serve", "--trusted-proxy", "127.0.0.1", "--trusted-proxy-headers", "x-nope"], "x-nope"),
            (&["bench", "ftp://x/"], "bad URL"),
            (&["bench", "http://127.0.0.1:9/", "-H", "no-colon"], "not a header"),
            (
                &["bench", "http://127.0.0.1:9/", "-c", "0"],
                "\"0\" is not a number of connections: give one from 1",
            ),
            (&["bench", "http://127.0.0.1:9/", "--rate", "0"], "--rate"),
            (
                &["bench", "http://127.0.0.1:9/", "-n", "0"],
                "\"0\" is not a number of requests: give 1 or more",
            ),
            (&["bench", "http://127.0.0.1:9/", "-X", "GE T", "-n", "1"], "bad bench settings"),
            (&["compare", "--threads", "0"], "not a configuration"),
            (&["compare", "--app", "nope"], "for '--app <APP>': no built-in app \"nope\""),
            (&["compare", "--path", "noslash"], "for '--path <PATH>': a path starts with /"),
            (&["compare", "--path", "/a b"], "for '--path <PATH>': the path has a space"),
            (&["compare", "--url", "ftp://x/"], "for '--url <URL>': bad URL"),
            (&["compare", "--engine", "nope"], "--engine"),
            (&["compare", "-i", "-c", "1,2"], "interactive mode measures one connection count"),
            (&["compare", "-c", "3,x"], "for '--connections <LIST>': \"x\" is not a number of connections"),
            (
                &["compare", "--cmd", "true {threads} {port}", "--threads", "single"],
                "with --cmd, give thread counts",
            ),
        ],
    );
}

#[test]
fn a_failure_while_running_is_one_line_and_exit_code_1() {
    check_failures(
        1,
        &[
            (&["serve", "--host", "no-such-host.invalid", "--port", "0"], "cannot resolve host"),
            (&["bench", "http://127.0.0.1:9/", "-n", "1"], "cannot connect"),
        ],
    );
}

#[test]
fn a_url_prefix_that_is_not_a_path_is_refused_by_both_servers() {
    for server in [&["serve"][..], &["serve", "--dev"]] {
        for prefix in ["/app?x=1", "/app#top", "/a/../b", "/a/./b", "/my app", "/tab\there"] {
            let args: Vec<&str> =
                server.iter().copied().chain(["--url-prefix", prefix, "--port", "0"]).collect();
            check_failures(2, &[(&args, "for '--url-prefix <PREFIX>'")]);
        }
    }
}

#[test]
fn compare_takes_a_list_of_engines() {
    let args = "compare --engine shared,handoff --threads 1 -c 2 -d 100ms --path /?ms=5";
    let (code, stdout, stderr) = wsgi_lab(&args.split(' ').collect::<Vec<_>>());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("1 thread (shared)") && stdout.contains("1 thread (handoff)"), "{stdout}");
    let (code, _, stderr) = wsgi_lab(&["compare", "--engine", "shared,nope"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "error: invalid value 'nope' for '--engine <LIST>': no engine \"nope\": choose shared or handoff"
    );
}

#[test]
fn dev_refuses_the_production_servers_options_in_one_line() {
    // The dev server (tiny_http) has no timeouts, no limits, one worker and no stats: each of
    // these is refused with --dev, never silently ignored.
    let cases: &[(&[&str], &str)] = &[
        (&["--threads", "2"], "'--threads <N>'"),
        (&["--single"], "'--single'"),
        (&["--header-timeout", "5"], "'--header-timeout <SECONDS>'"),
        (&["--idle-timeout", "5"], "'--idle-timeout <SECONDS>'"),
        (&["--max-body", "100"], "'--max-body <BYTES>'"),
        (&["--max-header", "100"], "'--max-header <BYTES>'"),
        (&["--connection-limit", "10"], "'--connection-limit <N>'"),
        (&["--backlog", "10"], "'--backlog <N>'"),
        (&["--watch"], "'--watch'"),
    ];
    for (option, named) in cases {
        let args: Vec<&str> =
            ["serve", "--dev", "--port", "0"].iter().chain(option.iter()).copied().collect();
        let (code, _, stderr) = wsgi_lab(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!("error: the argument '--dev' cannot be used with {named}"),
            "{args:?}"
        );
    }
}

#[test]
fn serve_help_lists_the_built_in_apps() {
    let (code, stdout, _) = wsgi_lab(&["serve", "--help"]);
    assert_eq!(code, 0);
    let list = stdout.split("Built-in apps (--app NAME):").nth(1).unwrap_or_else(|| panic!("{stdout}"));
    for (name, about) in wsgi_lab::apps::APPS {
        assert!(
            list.lines().any(|l| l.trim_start().starts_with(name) && l.ends_with(about)),
            "{name}: {list}"
        );
    }
    assert!(list.contains("at most 60000"), "the sleep app's limit: {list}");
    assert!(list.contains("past its limit, is answered 400"), "what a bad parameter gets: {list}");
    // The defaults come from Options::default(), printed, not repeated.
    assert!(stdout.contains("[default: 10s]") && stdout.contains("[default: 1024]"), "{stdout}");
}

#[test]
fn a_taken_port_is_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, stderr) = wsgi_lab(&["serve", "--port", &port]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim_end(),
        format!("error: cannot bind 127.0.0.1:{port}: the port is in use; give --port 0 to pick a free one")
    );
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
    let (mut server, line, url) = serve(&["--threads", "2", "--backlog", "64", "--quiet"]);
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
fn bench_with_a_rate_runs_an_open_loop() {
    let (mut server, _, url) = serve(&["--threads", "2", "--quiet"]);
    let args = ["bench", &url, "--rate", "200", "-c", "2", "-d", "0.5", "--json", "--no-progress"];
    let (code, stdout, stderr) = wsgi_lab(&args);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["open_loop"]["rate_asked"].as_f64(), Some(200.0), "{stdout}");
    assert_eq!(report["statuses"]["200"].as_u64(), report["completed"].as_u64(), "{stdout}");
    let (code, _, stderr) = wsgi_lab(&["bench", &url, "--rate", "0"]);
    assert_eq!(code, 2, "a rate of 0 is refused as a bad argument: {stderr}");
}

#[test]
fn watch_off_a_terminal_prints_plain_lines_and_a_summary_at_exit() {
    let (mut server, _, url) = serve(&["--threads", "3", "--watch"]);
    let (code, _, _) = wsgi_lab(&["bench", &url, "-n", "50", "-c", "2"]);
    assert_eq!(code, 0);
    // A status line comes each second in which the totals changed; wait for one, then stop the
    // server as Ctrl+C does.
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut status = String::new();
    stderr.read_line(&mut status).unwrap();
    // The default engine has no queue to count: `queued —`.
    assert!(status.contains("queued —") && status.contains("50 served"), "{status}");
    Command::new("kill").args(["-INT", &server.id().to_string()]).status().unwrap();
    let rest: Vec<String> = stderr.lines().map_while(Result::ok).collect();
    assert!(server.wait().unwrap().success());
    assert!(rest.iter().any(|l| l.starts_with("watch summary: 50 served")), "{rest:?}");
}

/// `GET path` over HTTP/1.1, with `Host` and `Connection: close`; the raw response.
fn get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

#[test]
fn serve_dev_alone_takes_no_production_default_for_a_conflict() {
    // The production options have defaults (from Options::default()), but only an option the
    // user gave conflicts with --dev.
    let (mut server, addr, banner, _stderr) = serve_dev(&[], "Running on http://127.0.0.1:");
    let hello = get(&addr, "/");
    let _ = server.kill();
    let _ = server.wait();
    assert!(banner.contains("WARNING: this is a development server"), "{banner}");
    assert!(!banner.contains("reachable from other machines"), "127.0.0.1 is loopback: {banner}");
    assert!(hello.starts_with("HTTP/1.1 200 OK") && hello.ends_with("Hello, World!"), "{hello}");
}

#[test]
fn serve_dev_mounts_the_url_prefix() {
    let (mut server, addr, printed, _stderr) =
        serve_dev(&["--app", "echo", "--url-prefix", "/x"], "Mounted at");
    let inside = get(&addr, "/x/y?q=1");
    let outside = get(&addr, "/other");
    let _ = server.kill();
    let _ = server.wait();
    assert!(printed.contains(" * Mounted at /x/: SCRIPT_NAME=/x; other paths get 404"), "{printed}");
    assert!(inside.starts_with("HTTP/1.1 200 OK"), "{inside}");
    let json: serde_json::Value = serde_json::from_str(inside.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(
        (&json["environ"]["SCRIPT_NAME"], &json["environ"]["PATH_INFO"]),
        (&"/x".into(), &"/y".into())
    );
    assert!(outside.starts_with("HTTP/1.1 404 Not Found"), "{outside}");
    assert!(
        outside.ends_with("/other is outside /x: this server mounts its app at /x and below"),
        "{outside}"
    );
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
