//! `wsgi-lab bench` and `wsgi-lab compare`: the lab bench from the command line.

use super::panic_tally::PanicTally;
use super::{Failure, Output, app_name, http_url, seconds};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;
use wsgi_lab::lab::bench::{self, BenchConfig, BenchError, Progress, Stop};
use wsgi_lab::lab::compare::servers::{Lineup, Server};
use wsgi_lab::lab::compare::{self, Config, Setup, Workload};
use wsgi_lab::python::Python;
use wsgi_lab::{Engine, Options, apps};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The URL to load, such as http://127.0.0.1:8080/ (the host an IP address or localhost).
    #[arg(value_parser = http_url)]
    url: String,
    /// Concurrent connections, each one request at a time.
    #[arg(long, short, default_value_t = 10, value_parser = bench::parse_connections)]
    connections: usize,
    /// Threads driving the connections, each with its own event loop, as wrk's -t [default:
    /// the number of cores].
    #[arg(long, short, value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: Option<u32>,
    /// How long to run: 10, 2.5s, 500ms.
    #[arg(long, short, value_parser = seconds, conflicts_with = "requests")]
    duration: Option<Duration>,
    /// Stop after exactly this many requests instead.
    #[arg(long, short = 'n', value_parser = request_count)]
    requests: Option<u64>,
    /// A new connection for every request.
    #[arg(long)]
    no_keep_alive: bool,
    /// The request method.
    #[arg(long, short = 'X', default_value = "GET")]
    method: String,
    /// The request body, sent with Content-Length.
    #[arg(long)]
    body: Option<String>,
    /// An extra header, `Name: value`; repeat for more.
    #[arg(long = "header", short = 'H', value_parser = header)]
    headers: Vec<(String, String)>,
    /// The report as JSON, for scripts.
    #[arg(long)]
    json: bool,
    /// Open loop: send this many requests per second in total, each at its scheduled time
    /// rather than when the previous one returns; latency is then also measured from the
    /// schedule (corrected for coordinated omission).
    #[arg(long, value_name = "PER_SEC", value_parser = rate)]
    rate: Option<f64>,
}

/// A positive number of requests, for `-n`.
fn request_count(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{text:?} is not a number of requests: give 1 or more, such as 1000")),
    }
}

/// A positive number of requests per second (the bench checks the range it supports).
fn rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!("{text:?} is not a rate: give requests per second, such as 2000")),
    }
}

fn header(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!("{text:?} is not a header: write it as `Name: value`")),
    }
}

pub fn bench(args: BenchArgs, output: Output) -> Result<(), Failure> {
    let stop = match (args.requests, args.duration) {
        (Some(n), _) => Stop::Requests(n),
        (None, Some(d)) => Stop::Duration(d),
        (None, None) => Stop::Duration(Duration::from_secs(10)),
    };
    let config = BenchConfig {
        connections: args.connections,
        threads: args.threads.map_or_else(bench::default_threads, |t| t as usize),
        stop,
        no_keep_alive: args.no_keep_alive,
        method: args.method,
        body: args.body.unwrap_or_default().into_bytes(),
        headers: args.headers,
        progress: if output.progress { Progress::Stderr } else { Progress::Quiet },
        rate: args.rate,
        ..BenchConfig::new(args.url)
    };
    let (json, text) = if config.rate.is_some() {
        let report = bench::run_open_loop(&config).map_err(bench_failure)?;
        (report.to_json(), report.render(output.color))
    } else {
        let report = bench::run(&config).map_err(bench_failure)?;
        (report.to_json(), report.render(output.color))
    };
    match args.json {
        true => println!("{json}"),
        false => print!("{text}"),
    }
    Ok(())
}

/// A bench that did not run: settings it refuses are a bad argument (exit 2), nothing to
/// connect to is a failure to run (exit 1).
fn bench_failure(error: BenchError) -> Failure {
    match error {
        BenchError::Url { .. } | BenchError::Settings(_) => Failure::Usage(error.to_string()),
        BenchError::Connect { .. } => Failure::Run(error.to_string()),
    }
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The configurations: thread counts and `single`, comma-separated [default:
    /// single,1,2,5,10; with --cmd or --server 1,2,5,10].
    #[arg(long, value_delimiter = ',', conflicts_with = "url")]
    threads: Vec<Setup>,
    /// Pool engines, comma-separated (shared, handoff): each thread count is measured once on
    /// each, side by side; `single` runs once, having no engine.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = Options::default().engine.name())]
    engine: Vec<Engine>,
    /// Measure an external server instead, started once per row through `sh -c` with
    /// `{threads}` and `{port}` replaced, such as `waitress-serve --threads={threads}
    /// --port={port} app:app`; measured once it has answered a first request, stopped after its
    /// row (SIGTERM, then SIGKILL after 2 s). Repeat for more commands: the rows are the
    /// commands × the thread counts.
    #[arg(
        long = "cmd",
        value_name = "TEMPLATE",
        value_parser = compare::external::check_template,
        conflicts_with_all = ["engine", "interactive", "url", "app"]
    )]
    commands: Vec<String>,
    /// Measure real servers beside wsgi-lab, comma-separated, each serving the app's twin in
    /// examples/python/demo_apps.py (hello, sleep, cpu, echo, stream) on 127.0.0.1, started
    /// per row and stopped after it: waitress (N threads), gunicorn (gthread worker, 1 process
    /// of N threads), gunicorn-processes (N sync worker processes), werkzeug (Flask's dev
    /// server, threaded=True: a thread per connection, one row), wsgiref (single-threaded, one
    /// row), wsgi-lab (this server, as without --server). The Python servers run in the
    /// environment of `wsgi-lab python setup` (or --python).
    #[arg(
        long = "server",
        value_name = "LIST",
        value_delimiter = ',',
        conflicts_with_all = ["commands", "interactive", "url"]
    )]
    servers: Vec<Server>,
    /// Measure the server already running at URL (path included) as one row (one per
    /// connection count): nothing is started or stopped.
    #[arg(long, value_parser = http_url, conflicts_with_all = ["engine", "interactive", "path", "app"])]
    url: Option<String>,
    /// The built-in app to serve (`wsgi-lab serve --help` lists them).
    #[arg(long, default_value = "sleep", value_parser = app_name)]
    app: String,
    /// The path (and query) to request [default: /?ms=50 for the sleep app, / for the others].
    #[arg(long, value_parser = request_path)]
    path: Option<String>,
    /// Concurrent keep-alive connections, comma-separated: with more than one count, every
    /// configuration is measured at each, and each count is read on its own.
    #[arg(long, short, value_name = "LIST", value_delimiter = ',', default_value = "10",
          value_parser = bench::parse_connections)]
    connections: Vec<usize>,
    /// How long each configuration is measured.
    #[arg(long, short, default_value = "2", value_parser = seconds)]
    duration: Duration,
    /// Ask for thread counts one at a time, adding a row each time (a row per engine; reads
    /// standard input); commands change the app, path, connections, duration or engines
    /// (`help` lists them).
    #[arg(long, short)]
    interactive: bool,
    /// Also write every row to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also write every row to FILE as CSV.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Also draw ok req/s and p99 against workers to FILE as SVG, a line per connection count
    /// and engine or server (a log axis when lines lie two decades apart).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

/// `--path`: what follows the server's address in a URL, so it starts with `/`, and the rest
/// follows the bench's rule for URLs ([`http_url`]).
fn request_path(text: &str) -> Result<String, String> {
    if !text.starts_with('/') {
        return Err("a path starts with /, such as / or /?ms=50".into());
    }
    match bench::Target::parse(&format!("http://127.0.0.1{text}")) {
        Ok(_) => Ok(text.to_string()),
        Err(BenchError::Url { reason, .. }) => Err(reason),
        Err(other) => Err(other.to_string()),
    }
}

pub fn compare(args: CompareArgs, output: Output) -> Result<(), Failure> {
    let app = apps::by_name(&args.app).ok_or_else(|| format!("cannot start the {} app", args.app))?;
    let mut connections = args.connections.clone();
    connections.dedup();
    if args.interactive && connections.len() > 1 {
        let message = "interactive mode measures one connection count: give --connections one number";
        return Err(Failure::Usage(message.into()));
    }
    let workload = Workload {
        app,
        path: args.path.clone().unwrap_or_else(|| compare::default_path(&args.app).into()),
        connections: connections[0],
        duration: args.duration,
        progress: output.progress && std::io::stderr().is_terminal(),
    };
    let default: &[Setup] = match args.commands.is_empty() && args.servers.is_empty() {
        true => &[Setup::Single, Setup::Threads(1), Setup::Threads(2), Setup::Threads(5), Setup::Threads(10)],
        false => &[Setup::Threads(1), Setup::Threads(2), Setup::Threads(5), Setup::Threads(10)],
    };
    let setups = if args.threads.is_empty() { default } else { &args.threads[..] };
    if !args.servers.is_empty() {
        return compare_servers(&args, &workload, &connections, setups, output);
    }
    if !args.commands.is_empty() || args.url.is_some() {
        return compare_external(&args, &workload, &connections, setups, output);
    }
    let configs = Config::all(setups, &args.engine);
    let mut out = std::io::stdout();
    if !args.interactive {
        // Interactive mode prints its own, at start and after each command that changes it.
        println!("{}\n", compare::header(&args.app, &workload, &connections, &configs, compare::cores()));
    }
    // The app runs in this process: without this, each of its panics (the `error` app panics
    // on every request) would print its own lines on stderr, tens of thousands of them.
    let panics = PanicTally::install();
    let result = match args.interactive {
        true => compare::interactive(
            &args.app,
            &workload,
            &args.engine,
            &mut std::io::stdin().lock(),
            &mut out,
            output.color,
        ),
        false => compare::compare_grid(&workload, &connections, &configs, &mut out, output.color),
    };
    print!("{}", panics.finish());
    let rows = result?;
    Ok(export(&args, &rows)?)
}

/// `compare --cmd` and `compare --url`: the servers are not ours, so no app runs here (no
/// panic tally) and no engine is named.
fn compare_external(
    args: &CompareArgs,
    workload: &Workload,
    connections: &[usize],
    setups: &[Setup],
    output: Output,
) -> Result<(), Failure> {
    let mut out = std::io::stdout();
    let rows = match &args.url {
        Some(url) => {
            let shown = Workload { path: url.clone(), ..workload.clone() };
            println!("{}\n", compare::header("the server", &shown, connections, &[], compare::cores()));
            compare::external::compare_url(workload, connections, url, &mut out, output.color)?
        }
        None => {
            let mut threads = Vec::new();
            for setup in setups {
                match setup {
                    Setup::Threads(n) => threads.push(*n),
                    Setup::Single => {
                        let message =
                            "`single` is a mode of the built-in server: with --cmd, give thread counts";
                        return Err(Failure::Usage(message.into()));
                    }
                }
            }
            let names: Vec<String> = args.commands.iter().map(|c| compare::external::name(c)).collect();
            let header = compare::header(&names.join(" and "), workload, connections, &[], compare::cores());
            println!("{header}\n");
            compare::external::compare_commands(
                workload,
                connections,
                &args.commands,
                &threads,
                &mut out,
                output.color,
            )?
        }
    };
    Ok(export(args, &rows)?)
}

/// `compare --server`: the plan is checked first (a bad argument), then the Python environment
/// is found if a Python server is named (a failure, with how to get it: never a table without
/// the rows asked for).
fn compare_servers(
    args: &CompareArgs,
    workload: &Workload,
    connections: &[usize],
    setups: &[Setup],
    output: Output,
) -> Result<(), Failure> {
    let lineup = Lineup::new(&args.servers, &args.app, setups, &args.engine).map_err(Failure::Usage)?;
    let names: Vec<String> = lineup.servers.iter().map(|(s, _)| s.to_string()).collect();
    let python = match lineup.needs_python() {
        true => {
            let needing: Vec<&str> =
                lineup.servers.iter().filter(|(s, _)| s.is_python()).map(|(s, _)| s.name()).collect();
            let found = Python::find(output.python)
                .map_err(|e| format!("--server {} needs Python: {e}", needing.join(",")))?;
            Some(found)
        }
        false => None,
    };
    let app = format!("{} served by {}", args.app, names.join(", "));
    println!("{}", compare::header(&app, workload, connections, &lineup.ours(), compare::cores()));
    if let Some(python) = &python {
        println!("the Python servers run in {}", python.interpreter().display());
    }
    println!();
    // wsgi-lab's rows run the app in this process: its panics are counted, as in plain compare.
    let panics = PanicTally::install();
    let mut out = std::io::stdout();
    let result = lineup.compare(workload, connections, python.as_ref(), &mut out, output.color);
    print!("{}", panics.finish());
    let rows = result?;
    Ok(export(args, &rows)?)
}

/// `--json`, `--csv` and `--plot`, each if asked for.
fn export(args: &CompareArgs, rows: &[compare::Row]) -> Result<(), String> {
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    if let Some(path) = &args.json {
        write(path, compare::export::to_json(rows))?;
    }
    if let Some(path) = &args.csv {
        write(path, compare::export::to_csv(rows))?;
    }
    if let Some(path) = &args.plot {
        write(path, compare::plot::svg(rows)?)?;
    }
    Ok(())
}
