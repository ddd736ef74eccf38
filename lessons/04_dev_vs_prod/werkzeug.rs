//! Lesson 4's Python side: the tutorial's Flask app (`examples/python/dev_vs_prod.py`) on the
//! real Werkzeug development server, as `flask run` starts it, with the debugger off, under
//! the requests the lesson sent to our dev server.

use super::common::{self, OrExit, heading, secs, verdict};
use super::python_side::{Python, PythonServer};
use super::slow_clients::half_head;
use super::{PANIC_MESSAGE, precise};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How many half heads hang on Werkzeug while a visitor comes (lesson 9 sends 200).
const SLOW: usize = 3;

/// Flask's command line on Werkzeug, the debugger and the reloader off *explicitly*: the
/// debugger is a Python console for whoever can reach the port, and the lesson never starts it
/// (`python_side` also removes `FLASK_DEBUG` from the environment).
const FLASK_RUN: &str = "-m flask --app dev_vs_prod run --host 127.0.0.1 --port 0 --no-debugger --no-reload";

pub fn beside_werkzeug(python: &Python, ours: &str, hold: Duration) {
    heading("The real dev server: Werkzeug (the Python side)");
    let werkzeug = PythonServer::start(python, &FLASK_RUN.split(' ').collect::<Vec<_>>())
        .or_exit("cannot start flask run");
    let addr = werkzeug.addr();
    println!(
        "examples/python/dev_vs_prod.py's Flask app on Werkzeug, `flask run --no-debugger --no-reload`,"
    );
    println!("at http://{addr}: Flask's development server with the interactive debugger off.");
    let banner = werkzeug.log();
    for line in banner.iter().filter(|l| l.contains("Debug mode") || l.starts_with("WARNING")) {
        println!("  its banner: {line}");
    }

    let good = common::get(addr, "/");
    println!(
        "\n  GET /      werkzeug {} {:?}; ours (dev) {ours:?}",
        common::status(&good),
        common::body(&good)
    );
    verdict(
        common::status(&good) == 200 && common::body(&good) == ours,
        "Werkzeug serves GET / as our dev server does: same 200, same body",
        "Werkzeug's answer to GET / differs from our dev server's",
    );

    let oops = common::get(addr, "/oops");
    let page = common::body(&oops);
    std::thread::sleep(Duration::from_millis(200)); // its log line comes after the answer
    let logged = werkzeug.log().iter().any(|l| l.contains("ZeroDivisionError"));
    println!(
        "  GET /oops  werkzeug {} {:?}; the traceback (ZeroDivisionError) in its log: {}",
        common::status(&oops),
        page.lines().find(|l| l.starts_with("<h1>")).unwrap_or(""),
        if logged { "yes" } else { "no" }
    );
    let probe = common::get(addr, "/?__debugger__=yes&cmd=resource&f=style.css");
    println!(
        "  GET /?__debugger__=yes&cmd=resource&f=style.css  werkzeug {} {:?}",
        common::status(&probe),
        common::body(&probe)
    );
    verdict(
        banner.iter().any(|l| l.contains("Debug mode: off"))
            && common::status(&oops) == 500
            && !page.contains("Traceback")
            && !page.contains(PANIC_MESSAGE)
            && logged
            && common::body(&probe) == ours,
        "with the debugger off (its banner says so), Werkzeug answers /oops with a generic 500 and logs the traceback; the \
         debugger's URL reached the app: no debugger is running",
        "Werkzeug's /oops page or its debugger URL is not what debugger-off gives",
    );
    // Described, never started: Werkzeug's debugger (werkzeug.debug.DebuggedApplication).
    println!("With debug=True (the tutorial's app.run(debug=True)), that 500 page is Werkzeug's interactive");
    println!("debugger: each frame of the traceback opens a Python console in the browser, and what is");
    println!("typed there runs inside the server, as its user. A PIN printed on the server's terminal");
    println!("guards it (Werkzeug stops taking guesses after a few wrong ones), but the PIN is computed");
    println!("from facts about the machine (user name, paths, MAC address, machine id) that a file-reading");
    println!("bug can leak. So it must never face a network; this lesson never starts it.");

    // Slow clients, as above: half heads, a visitor meanwhile, and Werkzeug's threads counted
    // while they hang (bounded wait for its threads to start).
    let slow: Vec<TcpStream> = (0..SLOW)
        .filter_map(|_| {
            let mut stream = TcpStream::connect(addr).ok()?;
            stream.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\n").as_bytes()).ok()?;
            Some(stream)
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut during = werkzeug.threads();
    while during <= SLOW && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        during = werkzeug.threads();
    }
    let (visitor, took) = common::timed(|| common::get(addr, "/"));
    drop(slow);
    let (status, open_for) = half_head(addr, hold);
    println!(
        "\n  half a head: werkzeug {}; with {SLOW} such clients hanging, GET / got {} after {}, and its \
         process had {during} threads (/proc/{}/task)",
        match (status, open_for) {
            (_, None) => format!("still open after {}: no timeout, as tiny_http", secs(hold)),
            (Some(s), Some(t)) => format!("answered {s} after {}", secs(t)),
            (None, Some(t)) => format!("closed after {} without an answer", secs(t)),
        },
        common::status(&visitor),
        precise(took),
        werkzeug.pid()
    );
    verdict(
        open_for.is_none() && common::status(&visitor) == 200 && took < hold / 2 && during > SLOW,
        &format!(
            "Werkzeug is threaded, not single-threaded as the tutorial says: GET / was answered in {} while \
             {SLOW} half heads held a thread each ({during} threads: its main thread and one per connection); \
             and it has no header timeout either",
            precise(took)
        ),
        "Werkzeug did not behave as a threaded server without timeouts",
    );
}
