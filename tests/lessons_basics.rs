//! Lessons 1-4 run as a learner runs them (`--quick`), and say what their pages say: each
//! verdict line is OK, the key lines are there, and the numbers obey the lesson's claim (with
//! margins: ratios and orderings, never tight absolute times).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wsgi_lab::python::Python;

/// What one run printed, and how long it took.
struct Run {
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs a lesson binary with `--quick`; fails if it takes longer than a minute (it should take
/// a few seconds) or exits with an error.
fn run(binary: &str) -> Run {
    let started = Instant::now();
    let mut child = Command::new(binary)
        .arg("--quick")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the lesson binary starts");
    // Read both pipes on threads, so a full pipe cannot stall the lesson.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the lesson") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{binary} --quick ran for more than 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run { stdout: out.join().unwrap(), stderr: err.join().unwrap(), took: started.elapsed() };
    assert!(status.success(), "{binary} failed: {status}\n{}\n{}", run.stdout, run.stderr);
    run
}

impl Run {
    /// Every verdict is OK, and there are at least `n` of them.
    fn all_ok(&self, n: usize) {
        assert!(!self.stdout.contains("NOT AS PREDICTED"), "a verdict failed:\n{}", self.stdout);
        let oks = self.stdout.lines().filter(|l| l.starts_with("OK: ")).count();
        assert!(oks >= n, "{oks} OK lines, expected {n}:\n{}", self.stdout);
    }

    fn has(&self, text: &str) {
        assert!(self.stdout.contains(text), "no {text:?} in:\n{}", self.stdout);
    }

    /// The first stdout line containing `marker`.
    fn line(&self, marker: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.contains(marker))
            .unwrap_or_else(|| panic!("no line with {marker:?} in:\n{}", self.stdout))
    }
}

/// The number of seconds in "... after 1.23 s ...", from the text after `after`.
fn seconds_after(line: &str, after: &str) -> f64 {
    let rest = &line[line.find(after).unwrap_or_else(|| panic!("no {after:?} in {line:?}")) + after.len()..];
    rest.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no seconds in {line:?}"))
}

#[test]
fn lesson_01_shows_the_bytes_the_app_and_the_server_wrote() {
    // The lesson's Python side needs the environment: made here if missing, never skipped.
    Python::setup(false).expect("the Python environment (wsgi-lab python setup)");
    let run = run(env!("CARGO_BIN_EXE_lesson-01-hello-wsgi"));
    run.all_ok(6);
    // The exchange, byte for byte, CR LF made visible.
    run.has("  > GET / HTTP/1.1\\r\\n");
    run.has("  < HTTP/1.1 200 OK\\r\\n");
    run.has("  < content-type: text/html; charset=utf-8\\r\\n");
    run.has("  < Server: wsgi-lab/");
    run.has("  < Date: ");
    run.has("  < Content-Length: 38\\r\\n");
    run.has("  < Connection: close\\r\\n");
    run.has("  < <h2>Hi there, this is WSGI server</h2>");
    run.has("added by the server  Date, Server, Content-Length, Connection");
    // The byte count printed for the response is the real one: head + body.
    let received = run.line("received (");
    let bytes: usize = received["received (".len()..].split_whitespace().next().unwrap().parse().unwrap();
    assert!(bytes > 38 + 100 && bytes < 400, "{received}");
    // The loop: one response per connection, one round per connection.
    run.has("2 requests written on one connection: 1 response(s)");
    run.has("over these 4 connections: 4 accepted, 4 answered");
    // The Python side: wsgiref's program got the same request, each difference on its own line.
    let status_row = run.line("  HTTP/1.0 200 OK ");
    assert!(status_row.trim_end().ends_with("HTTP/1.1 200 OK"), "{status_row}");
    run.has("  difference: wsgiref: HTTP/1.0; wsgi-lab: HTTP/1.1, see SPEC.md §4");
    run.has("  difference: wsgiref: no Connection; wsgi-lab: Connection: close");
    run.has("OK: wsgiref answers HTTP/1.0 to an HTTP/1.1 request; wsgi-lab answers HTTP/1.1");
    let bodies: Vec<&str> = run.line("  body: ").split("body: ").skip(1).map(str::trim).collect();
    assert_eq!(bodies, ["38 bytes", "38 bytes"], "the two bodies' lengths");
    run.has("OK: the same 38-byte body, content-type and Content-Length from both");
    run.has("  wsgiref: 2 requests written on one connection: 1 response(s)");
    run.has("OK: wsgiref's serve_forever also answers one request per connection");
    assert!(run.took < Duration::from_secs(20), "took {:?}", run.took);
}

#[test]
fn lesson_02_shows_the_environ_and_its_rules() {
    // The Python side (wsgiref and waitress building the same environ) needs the environment:
    // made here if missing, never skipped.
    Python::setup(false).expect("the Python environment (wsgi-lab python setup)");
    let run = run(env!("CARGO_BIN_EXE_lesson-02-environ"));
    run.all_ok(15);
    // demo_app's page, as served.
    run.has("  | Hello world!");
    run.has("  | wsgi.version = '(1, 0)'");
    run.has("  | PATH_INFO = '/cafÃ©'");
    run.has("  | QUERY_STRING = 'name=Ada+L%C3%B6&lang=en'");
    run.has("  | HTTP_X_TAG = 'one, two'");
    run.has("  | GATEWAY_INTERFACE = 'CGI/1.1'");
    run.has("  | wsgi.multithread = 'false'");
    assert!(
        !run.stdout.contains("AUTH_USER ="),
        "a header name with '_' reached the environ:\n{}",
        run.stdout
    );
    // Latin-1: six characters for the five letters of /café, and to_utf8 undoes it.
    run.has("6 characters: U+002F U+0063 U+0061 U+0066 U+00C3 U+00A9");
    run.has("to_utf8(...)    \"/café\"");
    run.has("its second character is U+00FF");
    run.has("name, decoded   \"Ada Lö\"");
    // The body's keys keep their CGI names.
    run.has("CONTENT_TYPE         \"application/x-www-form-urlencoded\"");
    run.has("CONTENT_LENGTH       \"16\"");
    run.has("HTTP_CONTENT_TYPE    (absent)");
    run.has("(absent: CONTENT_TYPE, CONTENT_LENGTH)");
    // Whose rule each one is, and wsgi-lab's column checked against what the app saw.
    run.has("Whose rule is it: wsgiref's, waitress's, or ours");
    run.has("a header name with '_' (X_Auth_User)       HTTP_X_AUTH_USER   dropped            dropped, as waitress");
    run.has("CONTENT_TYPE on a GET with no body         'text/plain'       absent");
    run.has("the process's environment (PATH, HOME...)  copied in          not there");
    run.has("the response's HTTP version                HTTP/1.0           the request's");
    run.has("OK: wsgi.version is (1, 0), as PEP 3333 requires of every server");
    run.has("OK: none of this process's environment variables is in the environ");
    // The Python side: each key that differs, on its own line naming every server.
    run.has("The same GET to the real servers: wsgiref and waitress");
    run.has("  HTTP_X_AUTH_USER: wsgiref 'admin'; waitress absent; wsgi-lab absent");
    run.has("  HTTP_X_TAG: wsgiref 'one,two'; waitress 'one, two'; wsgi-lab 'one, two'");
    run.has("  CONTENT_TYPE: wsgiref 'text/plain'; waitress absent; wsgi-lab absent");
    run.has("  CONTENT_LENGTH: wsgiref ''; waitress absent; wsgi-lab absent");
    run.has("  GATEWAY_INTERFACE: wsgiref 'CGI/1.1'; waitress absent; wsgi-lab 'CGI/1.1'");
    run.has("  REMOTE_PORT: wsgiref absent; waitress set; wsgi-lab set");
    run.has("  the response's status line: wsgiref HTTP/1.0; waitress HTTP/1.1; wsgi-lab HTTP/1.1");
    let copied = run.line("  the process's environment: wsgiref ");
    assert!(copied.ends_with(" keys (PATH, HOME...); waitress none; wsgi-lab none"), "{copied}");
    // wsgiref copies the environment it was started with: at least PATH and python_side's PORT.
    let count: usize = copied["  the process's environment: wsgiref ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {copied:?}"));
    assert!(count >= 2, "{copied}");
    // The keys that agree are not listed: one value in all three.
    assert!(!run.stdout.contains("  REQUEST_METHOD: "), "{}", run.stdout);
    // The measured table, in the table's words, and the verdicts that compare the two.
    run.has("  a header name with '_' (X_Auth_User)       HTTP_X_AUTH_USER   dropped            dropped\n");
    run.has("  REQUEST_URI                                absent             the target as sent the target as sent\n");
    for server in ["wsgiref", "waitress", "wsgi-lab"] {
        run.has(&format!("OK: the table's {server} column is what {server} built: 11 of 11 rules"));
    }
}

#[test]
fn lesson_03_gets_the_same_answers_from_every_caller() {
    let run = run(env!("CARGO_BIN_EXE_lesson-03-framework-is-an-app"));
    run.all_ok(5);
    run.has("start_response   (\"200 OK\", [(\"Content-Type\", \"text/html; charset=utf-8\")])");
    run.has("OK: 6 of 6 answers identical over the socket (a) and in-process (c)");
    // The table: the same status from the three callers, and a Server-Timing with a number.
    let expected = [
        ("GET /hi/Ada", 200),
        ("GET /whoami", 200),
        ("POST /items", 201),
        ("GET /nowhere", 404),
        ("DELETE /hi/Ada", 405),
    ];
    for (request, code) in expected {
        let row = run.line(&format!("  {request:<20} "));
        let codes = format!(" {code} {code} {code}  app;dur=");
        assert!(row.contains(&codes), "row {row:?} lacks {codes:?}");
        let dur: f64 = row.rsplit("app;dur=").next().unwrap().trim().parse().expect("a duration");
        assert!((0.0..1000.0).contains(&dur), "{row}");
    }
    run.has("SCRIPT_NAME=\"/my-app\" PATH_INFO=\"/whoami\"");
    run.has("GET /hi/Ada (no prefix)   404 \"/hi/Ada is outside /my-app");
    run.has("Server-Timing: (none)");
}

#[test]
fn lesson_04_contrasts_the_dev_and_the_production_server() {
    Python::setup(false).expect("the Python environment (wsgi-lab python setup)");
    let run = run(env!("CARGO_BIN_EXE_lesson-04-dev-vs-prod"));
    run.all_ok(14);
    // The banner, as app.run prints it: the mode, wsgi-lab's validator, the warning.
    run.has("  * Threaded: a thread per request, no limit (as Werkzeug's threaded=True, Flask's default)");
    run.has("  * Contract validator: on (wsgi-lab's own, our twin of wsgiref.validate; Werkzeug has none)");
    run.has("  WARNING: this is a development server, not for production");
    // The panic: in dev's page with its place, in prod's log (stderr), never in prod's page.
    let panic = "division by zero in the oops route";
    assert!(run.line("  dev   500").contains(panic));
    run.has("          and on the line below it: at lessons/04_dev_vs_prod.rs:");
    run.has("OK: dev always runs wsgi-lab's validator (our twin of wsgiref's validate.py; Werkzeug's dev server has none)");
    let prod_oops = run
        .stdout
        .lines()
        .skip_while(|l| !l.contains("GET /oops"))
        .find(|l| l.starts_with("  prod"))
        .unwrap();
    assert!(prod_oops.contains("500") && !prod_oops.contains(panic), "{prod_oops}");
    assert!(
        run.stderr.contains(&format!("app error on \"GET /oops HTTP/1.1\": the app panicked: {panic}")),
        "prod's log lacks the panic:\n{}",
        run.stderr
    );
    // The contract: the validator's list in dev, the reason only in prod's log.
    run.has("- app: header X-Note has a value with CR, LF or NUL");
    run.has("- app: status 200 needs a Content-Type header");
    run.has("  prod  200 (no Content-Type)");
    assert!(run.stderr.contains("app error on \"GET /split HTTP/1.1\": header X-Note"), "{}", run.stderr);
    // Slow clients (quick mode: header_timeout 0.5 s, the client gives up after 2 s, and the
    // GET starts 0.2 s after the stalled POST, so a GET that waits for it waits about 1.8 s).
    run.has("dev:                  still open after 2.00 s");
    let prod_head = run.line("prod:                 answered 408 and closed after");
    let closed = seconds_after(prod_head, "closed after ");
    assert!(
        (0.3..1.9).contains(&closed),
        "prod closed the half head after {closed} s (header_timeout 0.5 s)"
    );
    // Threaded (Flask's default), the stalled POST holds a thread of its own and GET / goes by;
    // with threaded=False, GET / waits for it; prod never waits.
    let threaded = run.line("2. GET / behind it   dev:                  200 after");
    assert!(
        threaded.contains("running, the stalled POST's)") && !threaded.contains("(0 request"),
        "{threaded}"
    );
    let dev_wait = seconds_after(threaded, "after ");
    let single_wait = seconds_after(run.line("dev, threaded=False:  200 after"), "after ");
    let prod_wait =
        seconds_after(run.line("                       prod:                 200 after"), "after ");
    assert!(
        single_wait >= 1.4,
        "threaded=False: GET / should wait for the stalled body (about 1.8 s), waited {single_wait} s"
    );
    assert!(
        dev_wait * 2.0 < single_wait && prod_wait * 2.0 < single_wait,
        "threaded dev ({dev_wait} s) and prod ({prod_wait} s) should not wait; threaded=False did ({single_wait} s)"
    );
    assert!(run.stderr.contains("code 408"), "prod's log lacks the 408:\n{}", run.stderr);
    // dev's own log, captured with log_to.
    run.has("\"GET /oops HTTP/1.1\" 500 -");
    run.has("\"POST / HTTP/1.1\" 400 -");
    // The Python side: the real Werkzeug (flask run, debugger off) under the same requests.
    run.has("  its banner:  * Debug mode: off");
    assert!(run.line("  GET /      werkzeug ").contains("werkzeug 200 \"Hello, World with waitress!!!\""));
    run.has("OK: Werkzeug serves GET / as our dev server does");
    let oops = run.line("  GET /oops  werkzeug ");
    assert!(
        oops.contains("werkzeug 500 \"<h1>Internal Server Error</h1>\"") && oops.ends_with("in its log: yes"),
        "{oops}"
    );
    // The debugger's URL reached the app: no debugger answered it.
    assert!(run.line("__debugger__=yes").ends_with("werkzeug 200 \"Hello, World with waitress!!!\""));
    run.has("OK: with the debugger off (its banner says so), Werkzeug answers /oops with a generic 500");
    // Threaded: with 3 half heads hanging, more than 3 threads, and the visitor not kept waiting.
    let werkzeug = run.line("  half a head: werkzeug still open after 2.00 s");
    let threads = seconds_after(werkzeug, "process had ");
    assert!(threads > 3.0, "3 hanging clients, {threads} threads: {werkzeug}");
    assert!(seconds_after(werkzeug, "got 200 after ") < 1.0, "{werkzeug}");
    run.has("OK: Werkzeug is threaded, not single-threaded as the tutorial says");
    assert!(run.took < Duration::from_secs(30), "took {:?}", run.took);
}
