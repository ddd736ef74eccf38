//! Lesson 10's Python side: where waitress listens when it is not told.
//!
//! waitress's settings table (`waitress/adjustments.py`, class `Adjustments`) has `host`
//! `0.0.0.0` and `port` 8080 by default, so `waitress-serve app:app` (and `serve(app)`) listens
//! on every interface of the machine. The lesson runs the environment's `waitress-serve`
//! without `--host` and with `--host=127.0.0.1`, and asks each at 127.0.0.1 and 127.0.0.2, as
//! section 1 asked wsgi-lab. The first one is reachable from the network for as long as that
//! takes (under a second), and is stopped at once; the lesson itself never leaves loopback.

use super::common::{self, OrExit};
use super::python_side::{Python, PythonServer};
use super::{OTHER_LOOPBACK, get_on_loopback};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// What one `waitress-serve` said and answered.
struct Probe {
    /// waitress's own `Serving on http://HOST:PORT` line.
    said: String,
    /// `GET /` at 127.0.0.1, then at [`OTHER_LOOPBACK`], on the port waitress took.
    answers: [Result<u16, String>; 2],
}

/// Runs `waitress-serve ARGS demo_apps:hello` from `examples/python`, asks it at both loopback
/// addresses, and stops it (its process group, SIGTERM) before returning.
fn probe(python: &Python, args: &[&str]) -> Probe {
    let script = python.script("waitress-serve");
    // The interpreter runs the environment's script: its waitress, whatever the PATH says.
    let script = script.to_string_lossy().into_owned();
    let mut argv = vec![script.as_str()];
    argv.extend(args);
    argv.push("demo_apps:hello");
    println!("$ waitress-serve {} demo_apps:hello", args.join(" "));
    let started = Instant::now();
    let server = PythonServer::start(python, &argv).or_exit("cannot run waitress-serve");
    let said = server.line_with("Serving on", Duration::from_secs(2)).unwrap_or_default();
    println!("  waitress said: {said}");
    let port = server.addr().port();
    let answers = [Ipv4Addr::LOCALHOST, OTHER_LOOPBACK].map(|ip| {
        let at = SocketAddr::from((ip, port));
        let answer = get_on_loopback(at);
        match &answer {
            Ok(status) => println!("  GET / at {at} → answered {status}"),
            Err(error) => println!("  GET / at {at} → {error}"),
        }
        answer
    });
    drop(server);
    println!("  stopped {:.2} s after it was started", started.elapsed().as_secs_f64());
    Probe { said, answers }
}

/// An answer in a verdict: `200`, or the first words of the error.
fn shown(answer: &Result<u16, String>) -> String {
    match answer {
        Ok(status) => status.to_string(),
        Err(error) => error.split(" (").next().unwrap_or(error).to_string(),
    }
}

/// Section 1b: waitress-serve's default address, shown the way section 1 showed ours.
pub fn default_address(python: &Python) {
    common::heading("1b. Where waitress listens when not told (the real Python)");
    println!(
        "waitress's settings default to host 0.0.0.0, port 8080 (waitress/adjustments.py): both\n\
         `waitress-serve app:app` and `serve(app)` listen on every interface unless given a host\n\
         (the tutorial's serve(app, host='0.0.0.0', ...) says it outright). Here the environment's\n\
         waitress-serve, run in examples/python, serves demo_apps:hello on a free port (--port=0),\n\
         without --host, then with --host=127.0.0.1. The first is open to the network for the\n\
         moment it runs (under a second here): it is stopped as soon as it has answered."
    );
    let every = probe(python, &["--port=0"]);
    let local = probe(python, &["--host=127.0.0.1", "--port=0"]);
    println!(
        "difference: waitress-serve binds 0.0.0.0 unless told otherwise; wsgi-lab (`serve`,\n\
         Options::default()) binds {} unless told otherwise. Behind a proxy, tell waitress:\n\
         --host=127.0.0.1, or serve(app, host='127.0.0.1').",
        wsgi_lab::Options::default().host
    );
    let refused = |a: &Result<u16, String>| a.as_ref().is_err_and(|e| e.starts_with("connection refused"));
    let [ours, other] = &every.answers;
    common::check(
        every.said.contains("http://0.0.0.0:") && *ours == Ok(200) && *other == Ok(200),
        &format!(
            "waitress-serve without --host said \"{}\", answered {} at 127.0.0.1 and {} at \
             {OTHER_LOOPBACK}: every address, its default",
            serving(&every.said),
            shown(ours),
            shown(other)
        ),
    );
    let [ours, other] = &local.answers;
    common::check(
        local.said.contains("http://127.0.0.1:") && *ours == Ok(200) && refused(other),
        &format!(
            "waitress-serve --host=127.0.0.1 said \"{}\", answered {} at 127.0.0.1 and {} at \
             {OTHER_LOOPBACK}: one address only",
            serving(&local.said),
            shown(ours),
            shown(other)
        ),
    );
}

/// `Serving on http://…` without the logger's `INFO:waitress:` in front.
fn serving(said: &str) -> &str {
    said.find("Serving on").map_or(said, |at| &said[at..])
}
