//! Lesson 7's Python side: the GIL, measured. waitress with 1, 2, 4 threads and gunicorn with
//! 1, 2, 4 sync worker processes serve `demo_apps.py`'s `sleep` and `cpu` beside wsgi-lab's
//! pool of 1, 2, 4 threads, through `compare --server`'s machinery (a server started per row on
//! a free port of 127.0.0.1, measured by the lab bench, its process group stopped).

use crate::common::{check, heading};
use crate::python_side::Python;
use std::sync::Arc;
use std::time::Duration;
use wsgi_lab::lab::compare::servers::{Lineup, Server};
use wsgi_lab::lab::compare::{Setup, Workload, measure};
use wsgi_lab::{App, apps};

/// The counts of threads or processes of every server's rows.
const COUNTS: [usize; 3] = [1, 2, 4];

/// Steps of `demo_apps.py`'s `cpu` loop: about 4 ms of one core in CPython, the service time
/// of the Rust rows' calibrated `n` (CPython runs about seventy times fewer steps of the same
/// loop in that time), so the two kinds of rows compare the same service time.
const PYTHON_STEPS: u64 = 60_000;

/// One server's rows: requests per second at each of [`COUNTS`], on `sleep` and on `cpu`.
struct Rows {
    name: &'static str,
    /// What is counted, for 1 and for more: `thread`/`threads`, `process`/`processes`.
    unit: (&'static str, &'static str),
    sleep: [f64; 3],
    cpu: [f64; 3],
}

impl Rows {
    fn multiple(rates: &[f64; 3], i: usize) -> f64 {
        rates[i] / rates[0].max(1e-9)
    }
}

/// The rates of `servers` on the Python twin of `app` at the workload's path: per server, in
/// order, one rate per count.
fn python_rows(
    python: &Python,
    servers: &[Server],
    app: &str,
    workload: &Workload,
) -> Result<Vec<[f64; 3]>, String> {
    let setups = COUNTS.map(Setup::Threads);
    let lineup = Lineup::new(servers, app, &setups, &[])?;
    // The table `compare` prints is not the lesson's: the lesson prints its own below.
    let rows =
        lineup.compare(workload, &[workload.connections], Some(python), &mut std::io::sink(), false)?;
    Ok(rows.chunks(COUNTS.len()).map(|r| [r[0].ok_per_sec(), r[1].ok_per_sec(), r[2].ok_per_sec()]).collect())
}

/// wsgi-lab's pool at each of [`COUNTS`], the same way (0 where the bench failed).
fn our_rates(app: Arc<dyn App>, path: &str, connections: usize, duration: Duration) -> [f64; 3] {
    COUNTS.map(|n| {
        let workload =
            Workload { app: Arc::clone(&app), path: path.to_string(), connections, duration, progress: true };
        measure(&workload, Setup::Threads(n)).map_or(0.0, |row| row.ok_per_sec())
    })
}

/// Section 4: measures, prints the table, the verdicts and what they mean for the rule. Whether
/// the sleep claims and the cpu claims held (the caller explains a cpu miss by the load
/// average), or why a Python server would not run.
pub fn the_gil_measured(
    python: &Python,
    quick: bool,
    cores: usize,
    rust_steps: u64,
    connections: usize,
) -> Result<(bool, bool), String> {
    let sleep_ms = 20;
    // Short rows: each Python row also pays for its server's start (gunicorn forks its workers).
    let sleep_duration = Duration::from_millis(sleep_ms) * if quick { 31 } else { 61 } / 2;
    let cpu_duration = Duration::from_millis(if quick { 300 } else { 800 });
    heading(&format!(
        "4. The GIL, measured: waitress threads, gunicorn processes, wsgi-lab threads ({connections} connections)"
    ));
    println!("The same two apps on the real servers (examples/python/demo_apps.py, `compare --server`):");
    println!(
        "sleep GET /?ms={sleep_ms} for {:.2} s per row; cpu for {:.2} s per row, GET /?n={PYTHON_STEPS} in",
        sleep_duration.as_secs_f64(),
        cpu_duration.as_secs_f64()
    );
    println!("Python (about 4 ms of CPython) and /?n={rust_steps} in wsgi-lab (about 4 ms of Rust).");
    println!("Predicted, as a multiple of the same server with 1: on sleep ×N for all three; on cpu");
    println!(
        "×1 for waitress (its threads share one interpreter lock), ×min(N, {cores} cores) for gunicorn's"
    );
    println!("processes (one interpreter each) and for wsgi-lab's threads (no lock).");
    let servers = [Server::Waitress, Server::GunicornProcesses];
    let template = Workload {
        app: Arc::new(apps::sleep),
        path: format!("/?ms={sleep_ms}"),
        connections,
        duration: sleep_duration,
        progress: true,
    };
    let sleep = python_rows(python, &servers, "sleep", &template)?;
    let cpu_workload = Workload {
        app: Arc::new(apps::cpu),
        path: format!("/?n={PYTHON_STEPS}"),
        duration: cpu_duration,
        ..template.clone()
    };
    let cpu = python_rows(python, &servers, "cpu", &cpu_workload)?;
    let ours = Rows {
        name: "wsgi-lab",
        unit: ("thread", "threads"),
        sleep: our_rates(Arc::new(apps::sleep), &template.path, connections, sleep_duration),
        cpu: our_rates(Arc::new(apps::cpu), &format!("/?n={rust_steps}"), connections, cpu_duration),
    };
    let all = [
        Rows { name: "waitress", unit: ("thread", "threads"), sleep: sleep[0], cpu: cpu[0] },
        Rows { name: "gunicorn", unit: ("process", "processes"), sleep: sleep[1], cpu: cpu[1] },
        ours,
    ];

    println!("\n{:<24} {:>12} {:>7} {:>12} {:>7}", "server", "sleep req/s", "× 1", "cpu req/s", "× 1");
    for rows in &all {
        for (i, n) in COUNTS.iter().enumerate() {
            let label = format!("{}, {n} {}", rows.name, if *n == 1 { rows.unit.0 } else { rows.unit.1 });
            println!(
                "{label:<24} {:>12.1} {:>7} {:>12.1} {:>7}",
                rows.sleep[i],
                format!("×{:.2}", Rows::multiple(&rows.sleep, i)),
                rows.cpu[i],
                format!("×{:.2}", Rows::multiple(&rows.cpu, i)),
            );
        }
    }
    println!(
        "(one cpu request took {:.1} ms in waitress and {:.1} ms in wsgi-lab with 1 worker: 1000 ÷ req/s)",
        1000.0 / all[0].cpu[0].max(1e-9),
        1000.0 / all[2].cpu[0].max(1e-9)
    );
    println!();

    // Waiting scales everywhere: the lock is let go while a thread sleeps.
    let mut sleep_ok = true;
    for rows in &all {
        let (two, four) = (Rows::multiple(&rows.sleep, 1), Rows::multiple(&rows.sleep, 2));
        sleep_ok &= check(
            (1.4..=2.6).contains(&two) && (2.8..=5.2).contains(&four),
            &format!(
                "{} {} scale waiting work: sleep ×{two:.2} at 2 and ×{four:.2} at 4 (predicted ×2 and ×4, within ×1.4–×2.6 and ×2.8–×5.2)",
                rows.name, rows.unit.1
            ),
        );
    }
    // Computing: waitress stays at ×1; processes and our threads reach the cores.
    let (w2, w4) = (Rows::multiple(&all[0].cpu, 1), Rows::multiple(&all[0].cpu, 2));
    let mut cpu_ok = check(
        w2 <= 1.4 && w4 <= 1.4,
        &format!(
            "waitress's threads do not scale computing work, one interpreter lock: cpu ×{w2:.2} at 2 threads and ×{w4:.2} at 4 (predicted ×1, at most ×1.4)"
        ),
    );
    let at = |n: usize| (n.min(cores)) as f64;
    for rows in &all[1..] {
        let (two, four) = (Rows::multiple(&rows.cpu, 1), Rows::multiple(&rows.cpu, 2));
        cpu_ok &= check(
            (0.7 * at(2)..=1.3 * at(2)).contains(&two) && (0.7 * at(4)..=1.5 * at(4)).contains(&four),
            &format!(
                "{} {} compute on the {cores} cores: cpu ×{two:.2} at 2 and ×{four:.2} at 4 (predicted ×{:.0} and ×{:.0}, within ×{:.1}–×{:.1} and ×{:.1}–×{:.1})",
                rows.name,
                rows.unit.1,
                at(2),
                at(4),
                0.7 * at(2),
                1.3 * at(2),
                0.7 * at(4),
                1.5 * at(4)
            ),
        );
    }

    let (g4, o4) = (Rows::multiple(&all[1].cpu, 2), Rows::multiple(&all[2].cpu, 2));
    println!();
    println!("So where 2 × cores + 1 comes from: gunicorn's advice counts worker processes, and only");
    println!(
        "processes got past the lock here: 4 gunicorn processes computed ×{g4:.2}, 4 waitress threads ×{w4:.2}."
    );
    println!("On sleep every server gained with every worker it had: a worker that waits holds no core,");
    println!(
        "so a sync worker process per core is not enough; 2 × {cores} + 1 = {} processes keep the {cores} cores",
        2 * cores + 1
    );
    println!("busy while some of them wait. In waitress, threads only buy waiting; wsgi-lab's threads");
    println!("(×{o4:.2} at 4 on cpu) do what gunicorn's processes do, in one process.");
    Ok((sleep_ok, cpu_ok))
}
