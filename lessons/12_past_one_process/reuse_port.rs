//! Lesson 12, section 4: the same processes sharing one port with `--reuse-port`
//! (SO_REUSEPORT) and no proxy. The kernel spreads the connections by a hash of their
//! addresses: even on average, blind to how busy each process is.

use crate::Lesson;
use crate::balancer::Balancer;
use crate::common::{self, check, heading};
use crate::processes::Summary;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use wsgi_lab::lab::bench::{self, BenchConfig, Stop};

/// Processes sharing the port.
const PROCESSES: usize = 4;

/// Starts [`PROCESSES`] processes of `app` on one port, each with `--reuse-port --watch`;
/// returns the port and their indexes in the fleet.
fn share_one_port(lesson: &mut Lesson, app: &str) -> Result<(u16, Vec<usize>), String> {
    let extra = ["--reuse-port", "--watch"];
    let port = lesson.start(app, 0, &extra)?;
    let first = lesson.fleet.count().0 - 1;
    for _ in 1..PROCESSES {
        lesson.start(app, port, &extra)?;
    }
    Ok((port, (first..first + PROCESSES).collect()))
}

/// Stops the processes with Ctrl+C (SIGINT) and reads each one's `--watch` summary.
fn summaries(lesson: &mut Lesson, indexes: &[usize]) -> Result<Vec<Summary>, String> {
    indexes.iter().map(|&i| lesson.fleet.interrupt(i)).collect()
}

/// Sends `n` requests for `path` at once, each on a new connection; returns the slowest time.
fn burst(addr: SocketAddr, n: usize, path: &str) -> Duration {
    let started = Instant::now();
    std::thread::scope(|scope| {
        let requests: Vec<_> = (0..n).map(|_| scope.spawn(|| common::get(addr, path))).collect();
        requests.into_iter().for_each(|r| drop(r.join()));
    });
    started.elapsed()
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

pub fn one_port(lesson: &mut Lesson) -> Result<(), String> {
    heading("4. One port, no proxy: --reuse-port");
    let connections = if lesson.quick { 400 } else { 2000 };
    let (port, indexes) = share_one_port(lesson, "hello")?;
    println!(
        "{PROCESSES} processes of the hello app, each started with `serve --port {port} --reuse-port --watch`: all\n\
         listen on 127.0.0.1:{port}, each with its own queue of connections, and the kernel picks a\n\
         process for each new connection by a hash of its addresses and ports. The bench opens\n\
         {connections} connections, one request each; each process's --watch summary counts the\n\
         connections it accepted. Prediction: about {} each, spread as by chance, not in turns.",
        connections / PROCESSES
    );
    let config = BenchConfig {
        connections: PROCESSES,
        threads: 1,
        no_keep_alive: true,
        stop: Stop::Requests(connections as u64),
        ..BenchConfig::new(format!("http://127.0.0.1:{port}/"))
    };
    let report = bench::run(&config).map_err(|e| format!("the bench could not run: {e}"))?;
    let counts: Vec<u64> = summaries(lesson, &indexes)?.iter().map(|s| s.accepted).collect();
    let total = counts.iter().sum::<u64>() as f64;
    let p = 1.0 / PROCESSES as f64;
    let (mean, sigma) = (total * p, (total * p * (1.0 - p)).sqrt());
    for (i, count) in counts.iter().enumerate() {
        println!(
            "process {}: {count:>5} connections accepted ({:.1}%)",
            i + 1,
            *count as f64 / total * 100.0
        );
    }
    println!(
        "{} requests answered, {} failed. By chance alone each count is {mean:.0} ± {sigma:.1} (one standard\n\
         deviation); nginx's round-robin would have given exactly {mean:.0} each.",
        report.completed,
        crate::failures(&report)
    );
    let furthest = counts.iter().map(|&c| (c as f64 - mean).abs() / sigma.max(1e-9)).fold(0.0, f64::max);
    let words = format!(
        "the kernel spread {total:.0} connections over all {PROCESSES} processes, as evenly as chance: the furthest count {furthest:.1} standard deviations from {mean:.0} (predicted within 4)"
    );
    check(counts.iter().all(|&c| c > 0) && furthest <= 4.0, &words);

    busy_or_not(lesson)
}

/// Bursts of one slow request per process: the kernel places them blind to who is busy.
fn busy_or_not(lesson: &mut Lesson) -> Result<(), String> {
    let (rounds, ms) = if lesson.quick { (3, 200) } else { (5, 300) };
    let path = format!("/?ms={ms}");
    let chance: f64 = (1..=PROCESSES).map(|k| k as f64 / PROCESSES as f64).product();
    println!(
        "\nNow {PROCESSES} processes of the sleep app on one port, and {PROCESSES} requests for GET {path} at once, each on a new\n\
         connection; {rounds} rounds, with new processes each round. One per process would take {ms} ms. The\n\
         kernel does not look at who is busy: two requests hashed to one process take turns there\n\
         while another process idles. Prediction: the slowest takes (the most requests any process\n\
         got) × {ms} ms; the kernel puts the {PROCESSES} on {PROCESSES} different processes only {:.0}% of the time.",
        chance * 100.0
    );
    let mut within = true;
    let mut uneven = 0;
    for round in 1..=rounds {
        let (port, indexes) = share_one_port(lesson, "sleep")?;
        let slowest = burst(loopback(port), PROCESSES, &path);
        let piles: Vec<u64> = summaries(lesson, &indexes)?.iter().map(|s| s.served).collect();
        let most = piles.iter().copied().max().unwrap_or(0);
        let predicted = most as f64 * ms as f64;
        let measured = slowest.as_secs_f64() * 1000.0;
        within &= measured >= 0.95 * predicted && measured <= 1.2 * predicted + 50.0;
        uneven += usize::from(most > 1);
        println!(
            "round {round}: requests per process {piles:?}; slowest {measured:.0} ms, predicted {most} × {ms} = {predicted:.0} ms"
        );
    }
    let words = format!(
        "every round took (the largest pile) × {ms} ms: a request waited behind another in its process, even while a process had none"
    );
    check(within, &words);
    println!("In {uneven} of {rounds} rounds one process got two or more while another got none.");

    let Some(_) = lesson.nginx else {
        println!("(nginx is not installed: the same burst through nginx is skipped)");
        return Ok(());
    };
    let ports =
        (0..PROCESSES).map(|_| lesson.start("sleep", 0, &[])).collect::<Result<Vec<u16>, String>>()?;
    let nginx = lesson.nginx(Balancer::RoundRobin, &ports, true)?;
    let slowest = burst(loopback(nginx.port), PROCESSES, &path).as_secs_f64() * 1000.0;
    let log = nginx.stop();
    let per_process: Vec<usize> = ports.iter().map(|&p| log.sent_to(p)).collect();
    println!(
        "The same burst through nginx (round-robin) to {PROCESSES} processes on their own ports: requests per\n\
         process {per_process:?}, slowest {slowest:.0} ms."
    );
    let words = format!(
        "nginx gave each process one of the {PROCESSES}: slowest {slowest:.0} ms, predicted about {ms} ms (below {})",
        ms * 3 / 2
    );
    check(per_process.iter().all(|&n| n == 1) && slowest < 1.5 * ms as f64, &words);
    println!(
        "SO_REUSEPORT is a way to run N processes on one port with no proxy, each with its own\n\
         accept queue (no thundering herd at accept), at the price of a spread that ignores load:\n\
         fine for many short requests, a gamble for few long ones. A balancer that sees load\n\
         (least_conn, or gunicorn's master handing one shared socket to its workers, which\n\
         accept only when free) avoids the piles."
    );
    Ok(())
}
