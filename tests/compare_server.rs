//! `compare --server` (issue 12): the real Python servers beside wsgi-lab, serving the same
//! app, each started per row and stopped after it. The Python environment is created on first
//! use (`Python::setup`), never skipped: without it these tests fail.

use std::time::Duration;
use wsgi_lab::apps;
use wsgi_lab::lab::compare::servers::{Lineup, Server};
use wsgi_lab::lab::compare::{Row, Setup, Workload, cores};
use wsgi_lab::python::Python;

/// The environment of `wsgi-lab python setup`, made now if it is not there yet.
fn python() -> Python {
    Python::setup(false).unwrap_or_else(|e| panic!("the Python environment is needed: {e}"))
}

/// `servers` serving `app` at `path` with each thread count, `connections` connections for
/// 400 ms per row: the rows and the printed table and reading.
fn compare(
    servers: &[Server],
    app: &str,
    path: &str,
    threads: &[usize],
    connections: usize,
) -> (Vec<Row>, String) {
    let setups: Vec<Setup> = threads.iter().map(|&n| Setup::Threads(n)).collect();
    let lineup = Lineup::new(servers, app, &setups, &[]).unwrap();
    let workload = Workload {
        app: apps::by_name(app).unwrap(),
        path: path.to_string(),
        connections,
        duration: Duration::from_millis(400),
        progress: false,
    };
    let mut out = Vec::new();
    let rows = lineup.compare(&workload, &[connections], Some(&python()), &mut out, false).unwrap();
    (rows, String::from_utf8(out).unwrap())
}

/// `compare` run as the command line does, with NO_COLOR and the environment named by
/// `--python`: `(exit code, stdout, stderr)`.
fn run_compare(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsgi-lab"))
        .arg("compare")
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("WSGI_LAB_PYTHON")
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

/// waitress with 1 thread, then 4, measured in two rounds (each with its own reading) so that
/// a burst of other work on the machine cannot fall on one thread count only: the rate of 4
/// threads over that of 1 over both rounds, and each round's ratio and text.
fn waitress_1_and_4(app: &str, path: &str) -> (f64, Vec<(f64, String)>) {
    let (mut one, mut four, mut rounds) = (0.0, 0.0, Vec::new());
    for _ in 0..2 {
        let (rows, text) = compare(&[Server::Waitress], app, path, &[1, 4], 4);
        assert_eq!(rows.len(), 2, "{text}");
        assert!(rows.iter().all(|r| !r.failed() && r.ok_per_sec() > 0.0), "{text}");
        one += rows[0].ok_per_sec();
        four += rows[1].ok_per_sec();
        rounds.push((rows[1].ok_per_sec() / rows[0].ok_per_sec(), text));
    }
    (four / one, rounds)
}

#[test]
fn waitress_threads_scale_sleeping_work() {
    // 20 ms of sleep releases the interpreter lock: 4 threads serve 4 connections at once.
    let (ratio, rounds) = waitress_1_and_4("sleep", "/?ms=20");
    let text = &rounds[0].1;
    assert!(ratio >= 2.5, "4 threads gained ×{ratio:.2} over 1 on sleeping work, expected about ×4:\n{text}");
    assert!(text.contains("waitress, 4 threads ×"), "{text}");
    assert!(!text.contains("interpreter lock"), "sleeping work says nothing of the lock:\n{text}");
}

#[test]
fn waitress_threads_do_not_scale_computing_work() {
    // 100,000 steps of the loop: several milliseconds of Python, holding the lock throughout
    // (long enough that the lock's hand-overs between waitress's threads cost little beside it).
    let (ratio, rounds) = waitress_1_and_4("cpu", "/?n=100000");
    assert!(
        ratio <= 1.6,
        "4 threads gained ×{ratio:.2} over 1 on computing work, expected about ×1:\n{}",
        rounds[0].1
    );
    // The reading names the lock exactly when its round's numbers show it.
    for (ratio, text) in rounds {
        let shown = cores() >= 2 && ratio < 1.3;
        assert_eq!(
            text.contains("threads in CPython share one interpreter lock"),
            shown,
            "×{ratio:.2}:\n{text}"
        );
    }
}

#[test]
fn every_server_answers_a_row_and_is_stopped_after_it() {
    let (rows, text) = compare(&Server::ALL, "hello", "/", &[2], 2);
    let labels = [
        "waitress, 2 threads ",
        "gunicorn, 2 threads ",
        "gunicorn-processes, 2 processes ",
        "werkzeug, a thread per connection ",
        "wsgiref, single ",
        "wsgi-lab, 2 threads ",
    ];
    assert_eq!(rows.len(), labels.len(), "{text}");
    // The table's lines, after its column names, in the order the servers were given.
    for ((row, label), line) in rows.iter().zip(labels).zip(text.lines().skip(1)) {
        assert!(line.starts_with(label), "{label}:\n{text}");
        assert!(!row.failed() && row.ok_per_sec() > 0.0, "{label}:\n{text}");
    }
    // The one-row servers are read on their own; the others scale among themselves.
    assert!(text.contains("werkzeug, a thread per connection: 2 requests in service"), "{text}");
    assert!(text.contains("wsgiref, single: 1 request in service"), "{text}");
    // Each row's server was stopped with its process group: nothing listens on its port.
    for row in &rows {
        let addr = row.report.url.trim_start_matches("http://").trim_end_matches('/');
        assert!(std::net::TcpStream::connect(addr).is_err(), "{addr} still listens:\n{text}");
    }
}

#[test]
fn the_gil_processes_and_our_threads_on_one_table_and_chart() {
    let python = python();
    let plot = std::env::temp_dir().join(format!("wsgi-lab-compare-server-{}.svg", std::process::id()));
    let (code, stdout, stderr) = run_compare(&[
        "--python",
        python.interpreter().to_str().unwrap(),
        "--app",
        "cpu",
        "--path",
        "/?n=20000",
        "--server",
        "waitress,gunicorn-processes,wsgi-lab",
        "--threads",
        "1,2",
        "-c",
        "2",
        "-d",
        "300ms",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("cpu served by waitress, gunicorn-processes, wsgi-lab at /?n=20000, 2 keep-alive"),
        "{stdout}"
    );
    for label in ["waitress, 2 threads ", "gunicorn-processes, 2 processes ", "wsgi-lab, 2 threads "] {
        assert!(stdout.lines().any(|l| l.starts_with(label) && l.ends_with("OK")), "{label}:\n{stdout}");
    }
    // Each server's scaling is read against its own fewest workers.
    for base in ["waitress, 1 thread", "gunicorn-processes, 1 process", "wsgi-lab, 1 thread"] {
        assert!(stdout.contains(&format!("against {base}, the pool with the fewest workers")), "{stdout}");
    }
    let svg = std::fs::read_to_string(&plot).unwrap();
    std::fs::remove_file(&plot).unwrap();
    for series in ["2 conns, waitress", "2 conns, gunicorn-processes", "2 conns, wsgi-lab"] {
        assert_eq!(svg.lines().filter(|l| *l == series).count(), 2, "{series} in each legend:\n{svg}");
    }
}

#[test]
fn an_unknown_server_is_a_bad_argument_naming_the_servers() {
    let (code, _, stderr) = run_compare(&["--server", "waitress,uwsgi", "-d", "300ms"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no server \"uwsgi\"; choose among waitress, gunicorn, gunicorn-processes, werkzeug, wsgiref, wsgi-lab"), "{stderr}");
}

#[test]
fn an_app_the_python_twins_lack_is_a_bad_argument() {
    let (code, _, stderr) = run_compare(&["--server", "wsgiref", "--app", "files", "-d", "300ms"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("wsgiref serves the apps of examples/python/demo_apps.py"), "{stderr}");
}

#[test]
fn without_the_python_environment_the_rows_are_not_skipped_but_refused() {
    let (code, stdout, stderr) =
        run_compare(&["--python", "/nonexistent/bin/python", "--server", "waitress,wsgi-lab", "-d", "300ms"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: --server waitress needs Python: "), "{stderr}");
    assert!(stdout.is_empty(), "nothing measured without the Python rows:\n{stdout}");
    // wsgi-lab alone needs no Python.
    let (code, stdout, stderr) = run_compare(&[
        "--python",
        "/nonexistent/bin/python",
        "--server",
        "wsgi-lab",
        "--app",
        "hello",
        "--threads",
        "1",
        "-d",
        "200ms",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("wsgi-lab, 1 thread "), "{stdout}");
}

/// A made-up row of `server` with `threads` workers (`None`: its one setup) and 10 connections,
/// serving `rate` requests a second.
fn row(server: &str, threads: Option<usize>, rate: f64) -> Row {
    use std::collections::BTreeMap;
    use wsgi_lab::lab::bench::{BenchReport, Fairness};
    use wsgi_lab::lab::compare::Config;
    let n = rate as u64;
    Row {
        config: Config::from(threads.map_or(Setup::Single, Setup::Threads)),
        server: Some(server.to_string()),
        report: BenchReport {
            url: "http://127.0.0.1:1/".into(),
            connections: 10,
            keep_alive: true,
            duration: Duration::from_secs(1),
            completed: n,
            requests_per_sec: rate,
            latency: None,
            statuses: BTreeMap::from([(200, n)]),
            errors: BTreeMap::new(),
            first_errors: BTreeMap::new(),
            bytes_received: 0,
            reconnects: 0,
            in_flight: 0,
            fairness: Fairness::from_counts(vec![n / 10; 10]),
        },
    }
}

#[test]
fn the_reading_names_the_lock_only_where_the_numbers_show_it() {
    use wsgi_lab::lab::compare::servers::reading;
    // The figures: waitress flat on computing work, processes and our threads gaining.
    let rows = [
        row("waitress", Some(1), 544.0),
        row("waitress", Some(2), 482.0),
        row("waitress", Some(4), 485.0),
        row("gunicorn-processes", Some(1), 500.0),
        row("gunicorn-processes", Some(2), 950.0),
        row("wsgi-lab", Some(1), 900.0),
        row("wsgi-lab", Some(2), 1700.0),
        row("werkzeug", None, 400.0),
        row("wsgiref", None, 300.0),
    ];
    let text = reading(&rows, true, 2);
    let lock = text.lines().filter(|l| l.contains("interpreter lock")).collect::<Vec<_>>();
    assert_eq!(
        lock,
        [
            "waitress, 4 threads ×0.9: threads in CPython share one interpreter lock (the GIL), so only one of \
          them runs Python code at a time, and computing work gains nothing from more of them; processes each \
          have their own (gunicorn-processes, 2 processes ×1.9) and wsgi-lab's threads have none (wsgi-lab, 2 \
          threads ×1.9)"
        ],
        "{text}"
    );
    // Each server's scaling is read on its own, and each one-row server gets its line.
    for line in [
        "against waitress, 1 thread, the pool with the fewest workers",
        "against gunicorn-processes, 1 process, the pool with the fewest workers",
        "werkzeug, a thread per connection: 10 requests in service at a time ÷ 400.0 req/s = 25.0 ms per request",
        "wsgiref, single: 1 request in service at a time ÷ 300.0 req/s = 3.3 ms per request (Little's law): \
         its one thread is the limit",
    ] {
        assert!(text.contains(line), "{line}:\n{text}");
    }
    // Not for sleeping work, not where the threads gained, not without room for two cores.
    assert!(!reading(&rows, false, 2).contains("interpreter lock"));
    let scaling = [row("waitress", Some(1), 50.0), row("waitress", Some(4), 190.0)];
    assert!(!reading(&scaling, true, 2).contains("interpreter lock"));
    assert!(!reading(&rows, true, 1).contains("interpreter lock"));
}
