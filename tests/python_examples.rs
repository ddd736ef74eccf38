//! Each Python program in `examples/python/` beside its Rust twin: both run as processes on free
//! ports (`PORT=0`, the port read from what each prints), get the same requests, and must give
//! the same status, `Content-Type` and body. Where the real Python server truly differs, the
//! test asserts the documented difference instead (wsgiref answers `HTTP/1.0`; waitress passes
//! a `url_prefix` miss to the app). `demo_apps.py`'s apps, served by `waitress-serve`, answer
//! as `wsgi-lab serve --app NAME` does.
//!
//! The Python environment comes from `Python::setup(false)` on first use (or `$WSGI_LAB_PYTHON`):
//! without it these tests fail with the one line that says how to get it, never skip.

mod common;

use rustix::process::{Pid, Signal, kill_process_group};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};
use wsgi_lab::python::Python;

/// The environment, set up once per test binary; `$WSGI_LAB_PYTHON` names another, used as is.
fn python() -> &'static Python {
    static PYTHON: OnceLock<Result<Python, String>> = OnceLock::new();
    let found = PYTHON.get_or_init(|| match std::env::var_os("WSGI_LAB_PYTHON") {
        Some(_) => Python::find(None),
        None => Python::setup(false),
    });
    found.as_ref().unwrap_or_else(|e| panic!("the Python environment: {e}"))
}

/// A server process, killed with its whole process group when dropped: Flask's debug mode runs
/// the app in a child process (the reloader), which must not outlive the test.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = kill_process_group(Pid::from_child(&self.child), Signal::KILL);
        let _ = self.child.wait();
    }
}

/// Starts `command` with `PORT=0` in a process group of its own and waits for the line that
/// names its port (`127.0.0.1:PORT` or `0.0.0.0:PORT`, on stdout or stderr).
fn start(what: &str, mut command: Command) -> Server {
    let child = command
        .env("PORT", "0")
        // The tutorials listen on every interface; a test keeps them on loopback.
        .env("HOST", "127.0.0.1")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut server = Server { child, addr: ([127, 0, 0, 1], 0).into() };
    let (stdout, stderr) = (server.child.stdout.take().unwrap(), server.child.stderr.take().unwrap());
    let (lines, said) = mpsc::channel();
    for stream in [Box::new(stdout) as Box<dyn Read + Send>, Box::new(stderr)] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            BufReader::new(stream).lines().map_while(Result::ok).for_each(|l| drop(lines.send(l)))
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let line = said
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("{what} never said its port; it printed {seen:?}"));
        let port = ["127.0.0.1:", "0.0.0.0:"].iter().find_map(|host| {
            let rest = &line[line.find(host)? + host.len()..];
            rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<u16>().ok()
        });
        if let Some(port) = port.filter(|&p| p != 0) {
            server.addr = ([127, 0, 0, 1], port).into();
            return server;
        }
        seen.push(line);
    }
}

/// `examples/NAME`, the Rust twin (cargo builds the examples before the tests).
fn rust_example(name: &str, env: &[(&str, &str)]) -> Server {
    let dir = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("examples");
    let mut command = Command::new(dir.join(name));
    command.envs(env.iter().copied());
    start(name, command)
}

/// A command run in `examples/python` the way a learner runs it, with output unbuffered (so
/// the port shows at once on a pipe) and no `__pycache__` left in the repository.
fn in_examples(program: PathBuf) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(Python::examples_dir())
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// `python examples/python/FILE`.
fn python_example(file: &str, env: &[(&str, &str)]) -> Server {
    let mut command = in_examples(python().interpreter().to_path_buf());
    command.arg(file).envs(env.iter().copied());
    start(file, command)
}

/// `waitress-serve --host 127.0.0.1 --port 0 ARGS...`, in `examples/python`.
fn waitress_serve(args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut command = in_examples(python().script("waitress-serve"));
    command.args(["--host", "127.0.0.1", "--port", "0"]).args(args).envs(env.iter().copied());
    start(&format!("waitress-serve {}", args.join(" ")), command)
}

/// `wsgi-lab serve --app NAME` on a free port of 127.0.0.1.
fn wsgi_lab_serve(app: &str) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wsgi-lab"));
    command.args(["serve", "--app", app, "--port", "0", "--quiet"]);
    start(&format!("wsgi-lab serve --app {app}"), command)
}

/// What a test compares of a response.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    /// Without its framing (chunks decoded).
    body: String,
}

/// A request on a new connection; the answer, and the status line's version (`HTTP/1.1`).
fn ask(server: &Server, request: &str) -> (Answer, String) {
    let bytes = common::exchange(server.addr, request.as_bytes());
    let response = common::Response::parse(&bytes);
    let chunked = response.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked { response.dechunked() } else { response.body.clone() };
    let answer = Answer {
        status: response.status,
        content_type: response.header("content-type").map(String::from),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    (answer, String::from_utf8_lossy(&bytes[..bytes.len().min(8)]).into_owned())
}

/// `GET path`, one request per connection.
fn get(server: &Server, path: &str) -> Answer {
    ask(server, &format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")).0
}

#[test]
fn hello_wsgi_differs_from_wsgiref_only_in_the_status_line_version() {
    let (python, rust) = (python_example("hello_wsgi.py", &[]), rust_example("hello_wsgi", &[]));
    let request = "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    let ((from_python, python_version), (from_rust, rust_version)) =
        (ask(&python, request), ask(&rust, request));
    assert_eq!(from_python, from_rust);
    assert_eq!(from_rust.body, "<h2>Hi there, this is WSGI server</h2>");
    // SPEC §4: ours always says HTTP/1.1; wsgiref's BaseHandler answers with its own version.
    assert_eq!((python_version.as_str(), rust_version.as_str()), ("HTTP/1.0", "HTTP/1.1"));
}

#[test]
fn hello_waitress_answers_as_flask_on_waitress() {
    let (python, rust) = (python_example("hello_waitress.py", &[]), rust_example("hello_waitress", &[]));
    let expected = Answer {
        status: 200,
        content_type: Some("text/html; charset=utf-8".into()),
        body: "Hello, World with waitress!!!".into(),
    };
    assert_eq!(get(&python, "/"), expected);
    assert_eq!(get(&rust, "/"), expected);
    assert_eq!(get(&python, "/nowhere").status, get(&rust, "/nowhere").status, "both 404");
}

#[test]
fn url_prefix_agrees_under_the_prefix_and_differs_outside_it() {
    let (python, rust) = (python_example("url_prefix.py", &[]), rust_example("url_prefix", &[]));
    assert_eq!(get(&python, "/my-app/hi"), get(&rust, "/my-app/hi"));
    assert_eq!(get(&rust, "/my-app/hi").body, "Hello, World with waitress!!!");
    // SPEC §5: waitress calls the app for a path outside the prefix (SCRIPT_NAME=/my-app,
    // PATH_INFO=/hi), so Flask's /hi route answers; wsgi-lab answers 404 itself, naming it.
    let (outside_python, outside_rust) = (get(&python, "/hi"), get(&rust, "/hi"));
    assert_eq!((outside_python.status, outside_python.body.as_str()), (200, "Hello, World with waitress!!!"));
    assert_eq!(outside_rust.status, 404);
    assert!(outside_rust.body.contains("/my-app"), "{outside_rust:?}");
}

#[test]
fn dev_vs_prod_shows_the_error_in_dev_only_on_both_sides() {
    let (python, rust) = (python_example("dev_vs_prod.py", &[]), rust_example("dev_vs_prod", &[]));
    assert_eq!(get(&python, "/"), get(&rust, "/"));
    for (side, server) in [("Werkzeug's debugger", &python), ("wsgi-lab's dev server", &rust)] {
        let page = get(server, "/oops");
        assert_eq!(page.status, 500, "{side}");
        assert!(page.body.contains("division by zero"), "{side} shows the error in the page: {}", page.body);
    }
    drop((python, rust));
    let prod = [("WSGI_LAB_MODE", "prod")];
    let (python, rust) = (python_example("dev_vs_prod.py", &prod), rust_example("dev_vs_prod", &prod));
    assert_eq!(get(&python, "/"), get(&rust, "/"));
    for (side, server) in [("waitress", &python), ("wsgi-lab", &rust)] {
        let page = get(server, "/oops");
        assert_eq!(page.status, 500, "{side}");
        assert!(
            !page.body.contains("division by zero"),
            "{side} keeps the error out of the page: {}",
            page.body
        );
    }
}

#[test]
fn app_factory_under_waitress_serve_call_builds_the_same_app() {
    let greeting = [("GREETING", "Bonjour")];
    let python = waitress_serve(&["--call", "app_factory:create_app"], &greeting);
    let rust = rust_example("app_factory", &greeting);
    for path in ["/", "/config"] {
        assert_eq!(get(&python, path), get(&rust, path), "{path}");
    }
    assert_eq!(get(&rust, "/").body, "Bonjour from the factory");
}

#[test]
fn threads_answer_fast_while_slow_works_on_both() {
    let (python, rust) = (python_example("threads.py", &[]), rust_example("threads", &[]));
    assert_eq!(get(&python, "/fast"), get(&rust, "/fast"));
    for (side, server) in [("waitress", &python), ("wsgi-lab", &rust)] {
        let addr = server.addr;
        let slow = std::thread::spawn(move || {
            let started = Instant::now();
            common::exchange(addr, b"GET /slow?ms=1500 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
            started.elapsed()
        });
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        assert_eq!(get(server, "/fast").body, "fast: done at once\n");
        let fast = started.elapsed();
        let slow = slow.join().unwrap();
        assert!(fast * 3 < slow, "{side}: fast took {fast:?} while slow took {slow:?}");
    }
}

/// Serves `app` from `demo_apps.py` with waitress and as a built-in with wsgi-lab, and checks
/// that each request gets the same status, type and body from both.
fn demo_app_answers_alike(app: &str, paths: &[&str]) {
    let python = waitress_serve(&[&format!("demo_apps:{app}")], &[]);
    let rust = wsgi_lab_serve(app);
    for path in paths {
        assert_eq!(get(&python, path), get(&rust, path), "{app} {path}");
    }
}

#[test]
fn demo_hello() {
    demo_app_answers_alike("hello", &["/", "/anything?x=1"]);
}

#[test]
fn demo_sleep_with_its_limits() {
    demo_app_answers_alike(
        "sleep",
        &["/?ms=5", "/?ms=60001", "/?ms=abc", "/?ms=", "/?ms=99999999999999999999999"],
    );
}

#[test]
fn demo_cpu_computes_the_same_number() {
    demo_app_answers_alike("cpu", &["/?n=0", "/?n=1000", "/?n=500000001", "/?n=-1"]);
}

#[test]
fn demo_stream_in_chunks() {
    demo_app_answers_alike(
        "stream",
        &["/?chunks=4&size=2", "/?chunks=30&size=1", "/?size=16777217", "/?chunks=x"],
    );
}

#[test]
fn demo_echo_shows_the_same_request() {
    let python = waitress_serve(&["demo_apps:echo"], &[]);
    let rust = wsgi_lab_serve("echo");
    let request = "POST /items?sort=name HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
                   Content-Type: text/plain\r\nContent-Length: 6\r\n\r\ncaf\u{e9}!";
    let json = |server: &Server| {
        let (answer, _) = ask(server, request);
        assert_eq!((answer.status, answer.content_type.as_deref()), (200, Some("application/json")));
        serde_json::from_str::<serde_json::Value>(&answer.body).unwrap()
    };
    let (from_python, from_rust) = (json(&python), json(&rust));
    // The environs differ (each server adds its own keys); what the request said must not.
    for key in ["body", "body_length", "body_truncated"] {
        assert_eq!(from_python[key], from_rust[key], "{key}");
    }
    assert_eq!(from_rust["body"], "café!");
    for key in
        ["REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH", "SCRIPT_NAME"]
    {
        assert_eq!(from_python["environ"][key], from_rust["environ"][key], "environ[{key}]");
    }
}

/// Every Rust example names its Python twin in its top comment, the twin exists, and the
/// README of `examples/python` lists it.
#[test]
fn every_example_names_its_python_twin() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("examples/python/README.md")).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".rs").map(String::from))
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for name in names {
        let twin = format!("examples/python/{name}.py");
        let source = std::fs::read_to_string(root.join(format!("examples/{name}.rs"))).unwrap();
        let top: String = source.lines().take_while(|l| l.starts_with("//!")).collect::<Vec<_>>().join("\n");
        assert!(top.contains(&format!("`{twin}`")), "examples/{name}.rs's top comment names {twin}");
        assert!(root.join(&twin).is_file(), "{twin} exists");
        assert!(readme.contains(&format!("{name}.py")), "examples/python/README.md lists {name}.py");
    }
}
