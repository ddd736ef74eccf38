//! `wsgi-lab bench` and `wsgi-lab compare`: the lab bench from the command line.

use super::{Output, seconds};
use clap::Args;
use std::io::IsTerminal;
use std::time::Duration;
use wsgi_lab::lab::bench::{self, BenchConfig, Progress, Stop};
use wsgi_lab::lab::compare::{self, Config, Setup, Workload};
use wsgi_lab::{Engine, Options, apps};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The URL to load, such as http://127.0.0.1:8080/ (the host an IP address or localhost).
    url: String,
    /// Concurrent connections, each one request at a time.
    #[arg(long, short, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    connections: u32,
    /// How long to run: 10, 2.5s, 500ms.
    #[arg(long, short, value_parser = seconds, conflicts_with = "requests")]
    duration: Option<Duration>,
    /// Stop after exactly this many requests instead.
    #[arg(long, short = 'n', value_parser = clap::value_parser!(u64).range(1..))]
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
}

fn header(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!("{text:?} is not a header: write it as `Name: value`")),
    }
}

pub fn bench(args: BenchArgs, output: Output) -> Result<(), String> {
    let stop = match (args.requests, args.duration) {
        (Some(n), _) => Stop::Requests(n),
        (None, Some(d)) => Stop::Duration(d),
        (None, None) => Stop::Duration(Duration::from_secs(10)),
    };
    let config = BenchConfig {
        connections: args.connections as usize,
        stop,
        no_keep_alive: args.no_keep_alive,
        method: args.method,
        body: args.body.unwrap_or_default().into_bytes(),
        headers: args.headers,
        progress: if output.progress { Progress::Stderr } else { Progress::Quiet },
        ..BenchConfig::new(args.url)
    };
    let report = bench::run(&config).map_err(|e| e.to_string())?;
    match args.json {
        true => println!("{}", report.to_json()),
        false => print!("{}", report.render(output.color)),
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The configurations: thread counts and `single`, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "single,1,2,5,10")]
    threads: Vec<Setup>,
    /// Pool engines, comma-separated (shared, handoff): each thread count is measured once on
    /// each, side by side; `single` runs once, having no engine.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = Options::default().engine.name())]
    engine: Vec<Engine>,
    /// The built-in app to serve.
    #[arg(long, default_value = "sleep")]
    app: String,
    /// The path (and query) to request.
    #[arg(long, default_value = "/?ms=50")]
    path: String,
    /// Concurrent keep-alive connections.
    #[arg(long, short, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    connections: u32,
    /// How long each configuration is measured.
    #[arg(long, short, default_value = "2", value_parser = seconds)]
    duration: Duration,
    /// Ask for thread counts one at a time, adding a row each time (a row per engine; reads
    /// standard input).
    #[arg(long, short)]
    interactive: bool,
}

pub fn compare(args: CompareArgs, output: Output) -> Result<(), String> {
    let app = apps::by_name(&args.app).ok_or_else(|| {
        let names: Vec<&str> = apps::APPS.iter().map(|(n, _)| *n).collect();
        format!("no built-in app {:?}; choose one of {}", args.app, names.join(", "))
    })?;
    let workload = Workload {
        app,
        path: args.path,
        connections: args.connections as usize,
        duration: args.duration,
        progress: output.progress && std::io::stderr().is_terminal(),
    };
    let mut out = std::io::stdout();
    match args.interactive {
        true => compare::interactive(
            &workload,
            &args.engine,
            &mut std::io::stdin().lock(),
            &mut out,
            output.color,
        ),
        false => {
            compare::compare(&workload, &Config::all(&args.threads, &args.engine), &mut out, output.color)
        }
    }
    .map(|_| ())
}
