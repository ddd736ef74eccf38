//! Lessons 8 to 10 (keep-alive and fairness, hardening, behind a proxy), each run as its binary
//! in quick mode: the lines the pages quote are printed, and the numbers obey the lessons'
//! claims, checked with margins wider than the lessons' own (ratios and orderings, not times).

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// The lessons measure servers on a 2-core machine: one at a time, so that one lesson's load
/// is not another's noise.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs a lesson binary with `args` and returns its stdout; it must exit 0.
fn run(binary: &str, args: &[&str]) -> String {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let output = Command::new(binary).args(args).output().expect("run the lesson binary");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{binary} {args:?} exited with {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The first line that starts with `prefix`.
fn line<'a>(output: &'a str, prefix: &str) -> &'a str {
    output
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{output}"))
}

/// The numbers in a line, in order (`min 210, median 268.5` → `[210.0, 268.5]`).
fn numbers(line: &str) -> Vec<f64> {
    line.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|word| word.trim_matches('.').parse().ok())
        .collect()
}

/// Asserts a verdict line starting `OK: {claim}` was printed.
fn assert_ok(output: &str, claim: &str) {
    let wanted = format!("OK: {claim}");
    assert!(output.lines().any(|l| l.starts_with(&wanted)), "no line starting with {wanted:?} in:\n{output}");
}

/// `(min, median, max, starved, connections)` from a lesson 8 fairness line.
fn fairness(output: &str, server: &str) -> (f64, f64, f64, f64, f64) {
    let n = numbers(line(output, &format!("{server} fairness: per connection min ")));
    assert_eq!(n.len(), 5, "{n:?}");
    (n[0], n[1], n[2], n[3], n[4])
}

#[test]
fn lesson_08_a_worker_per_connection_starves_the_rest_and_the_pool_does_not() {
    let output = run(env!("CARGO_BIN_EXE_lesson-08-keep-alive-and-fairness"), &["--quick"]);
    const WORKERS: f64 = 5.0;

    let (_, _, naive_max, naive_starved, connections) = fairness(&output, "naive");
    assert!(connections >= 10.0 * WORKERS, "the bench needs many more connections than workers:\n{output}");
    assert!(naive_starved >= connections - WORKERS, "the naive server should starve all but K:\n{output}");
    assert!(naive_max > 0.0, "the K served connections completed requests:\n{output}");
    assert_ok(&output, "naive: ");

    let (min, median, _, pool_starved, pool_connections) = fairness(&output, "wsgi-lab");
    assert_eq!(pool_connections, connections);
    assert_eq!(pool_starved, 0.0, "wsgi-lab's pool serves every connection:\n{output}");
    // The lesson claims min ≥ 0.5 × median; the test allows more noise.
    assert!(
        min >= 0.3 * median && min > 0.0,
        "wsgi-lab's fewest completions far below the median:\n{output}"
    );
    assert_ok(&output, "wsgi-lab: 0 of");

    // The naive total "looks fine": the same order as the pool's, or better.
    let naive_total = numbers(line(&output, "naive total: "))[0];
    let pool_total = numbers(line(&output, "wsgi-lab total: "))[0];
    assert!(
        pool_total > 0.0 && naive_total >= 0.1 * pool_total,
        "totals {naive_total} vs {pool_total}:\n{output}"
    );

    // Idle keep-alive connections hold the naive workers, not wsgi-lab's.
    assert!(output.contains("naive: no answer within"), "{output}");
    assert!(output.contains("wsgi-lab: the visitor got 200 OK after"), "{output}");
    assert_ok(&output, "naive: the visitor got no answer");
    assert_ok(&output, "wsgi-lab: the visitor was answered");
}

#[test]
fn lesson_09_the_production_server_refuses_what_the_dev_server_lets_through() {
    let output = run(env!("CARGO_BIN_EXE_lesson-09-hardening"), &["--quick"]);

    // Slowloris: 408 after about the 500 ms header timeout, and the dev server holds on.
    let slowloris = line(&output, "production: answered 408; closed by the server after ");
    let cut_after = numbers(slowloris)[1];
    assert!((0.25..1.0).contains(&cut_after), "cut after {cut_after} s, header_timeout 0.5 s:\n{output}");
    assert!(line(&output, "dev:        answered nothing; still open after").contains("we stopped waiting"));
    assert_ok(&output, "production: 408 and closed");
    assert_ok(&output, "dev: no answer and still open");

    // A stalled body: production serves the visitor, the dev server's one worker does not.
    assert_ok(&output, "production: the visitor was served at once, and the stalled upload got 408");
    assert_ok(&output, "dev: the visitor waited behind the stalled upload");

    // Smuggling: one 400 and a close from production; the hidden request reaches the dev app.
    for probe in ["Content-Length twice", "Content-Length with chunked"] {
        assert_ok(
            &output,
            &format!("production ({probe}): one 400, connection closed, nothing reached the app"),
        );
        assert_ok(
            &output,
            &format!("dev ({probe}): 400 to the POST, but the hidden request reached the app"),
        );
    }
    assert_eq!(output.matches("production: answered 400; closed by the server").count(), 2, "{output}");
    assert_eq!(output.matches("the app saw: GET /smuggled").count(), 2, "{output}");

    // A huge declared body: 413 at once, and it is never sent to the dev server.
    assert!(output.contains("production: answered 413; closed by the server"), "{output}");
    assert_ok(&output, "production: 413 after");
    assert!(output.contains("dev:        not sent."), "{output}");
    assert!(!output.contains("NOT AS PREDICTED"), "{output}");
}

/// The checks that hold whichever proxy lesson 10 used.
fn check_lesson_10(output: &str) {
    assert_ok(output, "127.0.0.1: reports 127.0.0.1:");
    assert_ok(output, "0.0.0.0: reports 0.0.0.0:");
    assert!(line(output, "effective user id: ").contains("/proc/self/status"), "{output}");

    // (a) through the proxy: the proxy's appended entry is REMOTE_ADDR, the prefix is split.
    let through = &output[output.find("(a) Through the proxy").expect("section (a)")..];
    let through = &through[..through.find("(b) ").expect("section (b)")];
    for expected in [
        "REMOTE_ADDR            = 127.0.0.1",
        "SCRIPT_NAME            = /my-app",
        "PATH_INFO              = /hello",
        "HTTP_X_FORWARDED_FOR   = 203.0.113.9, 127.0.0.1",
        "HTTP_X_FORWARDED_PROTO = http",
    ] {
        assert!(through.contains(expected), "{expected:?} missing in:\n{through}");
    }
    assert_ok(output, "REMOTE_ADDR = 127.0.0.1");
    assert_ok(output, "SCRIPT_NAME = /my-app, PATH_INFO = /hello");

    // (b) an untrusted client: the header is removed. (c) the trusted address is believed.
    let direct = &output[output.find("(b) ").unwrap()..output.find("(c) ").expect("section (c)")];
    assert!(direct.contains("REMOTE_ADDR            = 127.0.0.1"), "{direct}");
    assert!(direct.contains("HTTP_X_FORWARDED_FOR   = (absent)"), "{direct}");
    assert_ok(output, "untrusted client: REMOTE_ADDR is its own address and X-Forwarded-For was removed");
    assert_ok(output, "a client on the trusted address is believed: REMOTE_ADDR = 203.0.113.9");
    assert!(!output.contains("NOT AS PREDICTED"), "{output}");
}

#[test]
fn lesson_10_the_app_behind_a_proxy_sees_the_proxys_view() {
    let binary = env!("CARGO_BIN_EXE_lesson-10-behind-a-proxy");
    let output = run(binary, &["--quick"]);
    let proxy = line(&output, "proxy: ");
    if std::env::var("CI").as_deref() == Ok("true") {
        // .ci/run installs nginx, so CI must exercise the real proxy.
        assert!(proxy.starts_with("proxy: nginx"), "CI installs nginx, yet: {proxy}\n{output}");
    }
    if proxy.starts_with("proxy: nginx") {
        // Everything nginx wrote was in a temporary directory, removed once nginx stopped.
        let dir = line(&output, "nginx files: ").split(' ').nth(2).unwrap();
        assert!(!Path::new(dir).exists(), "{dir} should be removed after nginx stopped");
    } else {
        assert!(proxy.starts_with("proxy: built-in"), "{output}");
        assert!(
            output.contains("nginx not found: apt-get install nginx") || output.contains("did not start")
        );
    }
    check_lesson_10(&output);

    // The lesson's own proxy, on any machine.
    let built_in = run(binary, &["--quick", "--built-in-proxy"]);
    assert!(line(&built_in, "proxy: ").starts_with("proxy: built-in"), "{built_in}");
    check_lesson_10(&built_in);
}
