//! Lesson 6's Python side: the same N slow requests at waitress itself.
//!
//! The tutorial's `serve(app, threads=1)` is a claim about waitress, so the lesson runs the real
//! one: the environment's `waitress-serve` (waitress 3.0.2, pinned in `src/python.rs`) with
//! `--threads=1`, and with as many threads as the lesson's pool, serving the `sleep` app of
//! `examples/python/demo_apps.py` (the twin of ours: `GET /?ms=d` sleeps d ms and answers
//! `slept d ms`). The same [`fire`] sends the requests and the same [`judge`](super::judge)
//! gives the verdicts, so waitress is held to exactly the predictions our servers are.

use super::python_side::{Python, PythonServer};
use super::{Measured, Setup, fire};
use std::net::SocketAddr;
use std::time::Duration;
use wsgi_lab::Mode;

/// The two waitress servers: the tutorial's `threads=1`, and `threads` like the lesson's pool.
pub fn setups(threads: usize) -> Vec<Setup> {
    [1, threads]
        .into_iter()
        .map(|t| Setup {
            label: format!("waitress threads={t}"),
            // waitress's own thread pool of t; `mode` and `threads` only describe it: the
            // lesson's `measure` never starts these, `measure` below does.
            mode: Mode::Pool,
            threads: t,
            claimed: t,
        })
        .collect()
}

/// How the lesson runs waitress with `threads` threads, as a learner would type it in
/// `examples/python` (where `demo_apps` is importable: waitress-serve adds the current directory
/// to `sys.path`). `--port=0` asks the kernel for a free port, which waitress then prints.
pub fn command(threads: usize) -> String {
    format!("waitress-serve --threads={threads} --host=127.0.0.1 --port=0 demo_apps:sleep")
}

/// What one waitress did: the arrivals, and the deepest queue it reported.
pub struct Run {
    pub measured: Measured,
    /// The largest K of waitress's `Task queue depth is K` warnings: requests it had read and
    /// queued with no thread free to run them. `None`: it never warned.
    pub deepest_queue: Option<usize>,
}

/// Starts one `waitress-serve` per setup, fires `n` requests of `d` at all of them at the same
/// moment, and stops them (their process groups, as each [`PythonServer`] drops).
pub fn measure(python: &Python, setups: &[Setup], n: usize, d: Duration) -> Result<Vec<Run>, String> {
    let script = python.script("waitress-serve");
    let script = script.to_str().ok_or("the path of waitress-serve is not UTF-8")?;
    let mut servers = Vec::new();
    for setup in setups {
        // The interpreter runs the environment's script, so it is the environment's waitress
        // whatever the PATH says.
        let args: Vec<String> = command(setup.threads).split(' ').skip(1).map(String::from).collect();
        let mut argv = vec![script];
        argv.extend(args.iter().map(String::as_str));
        let server = PythonServer::start(python, &argv)?;
        println!("  {:<18} {} → http://{}", setup.label, command(setup.threads), server.addr());
        servers.push(server);
    }
    let addrs: Vec<SocketAddr> = servers.iter().map(PythonServer::addr).collect();
    let measured = fire(setups, &addrs, n, d);
    let runs = measured
        .into_iter()
        .zip(&servers)
        .map(|(measured, server)| Run { measured, deepest_queue: deepest_queue(&server.log()) })
        .collect();
    drop(servers);
    Ok(runs)
}

/// The largest K in waitress's `WARNING:waitress.queue:Task queue depth is K` lines.
fn deepest_queue(log: &[String]) -> Option<usize> {
    log.iter().filter_map(|line| line.split_once("Task queue depth is ")?.1.trim().parse().ok()).max()
}

/// What waitress's log says about its queue, one line per server.
pub fn describe_queues(setups: &[Setup], deepest: &[Option<usize>], n: usize) {
    println!("\nwaitress's own log, the deepest `Task queue depth is K` warning of each run:");
    for (setup, deepest) in setups.iter().zip(deepest) {
        let said = match deepest {
            Some(k) => format!("Task queue depth is {k}"),
            None => "no queue warning".to_string(),
        };
        println!(
            "  {:<18} {said} (at most N − threads = {} could wait)",
            setup.label,
            n.saturating_sub(setup.threads)
        );
    }
    println!("waitress's main thread reads each request as it comes and queues it for a free thread");
    println!("(waitress/task.py, ThreadedTaskDispatcher.add_task): the requests of the later waves wait");
    println!("in that queue, already read, until a thread is free. More threads, shorter queue.");
}
