//! The command line. `run` returns the exit code, so it can be tested like a function.

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::time::Duration;
use wsgi_lab::{Mode, Options, Server, apps};

#[derive(Parser, Debug)]
#[command(name = "wsgi-lab", version, about = "Serve, read and measure WSGI-style apps in Rust")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve a built-in app (hello, demo, echo, sleep, stream, error).
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// The built-in app to serve.
    #[arg(long, default_value = "hello", value_parser = app_name)]
    app: String,
    /// Interface to bind: 127.0.0.1 is this machine only; 0.0.0.0 is every interface.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Single-threaded mode, as wsgiref: one request at a time, one per connection.
    #[arg(long, conflicts_with = "threads")]
    single: bool,
    /// Workers in pool mode [default: 2 × cores + 1].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// Mount the app under this URL prefix, such as /my-app.
    #[arg(long, default_value = "")]
    url_prefix: String,
    /// Seconds a client may take to send a request head.
    #[arg(long, default_value = "10", value_parser = seconds)]
    header_timeout: Duration,
    /// Seconds an idle keep-alive connection is kept.
    #[arg(long, default_value = "5", value_parser = seconds)]
    idle_timeout: Duration,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    max_body: u64,
    /// Largest request head in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    max_header: usize,
    /// Open connections at most (pool mode).
    #[arg(long, default_value_t = 2048)]
    connection_limit: usize,
    /// No access line per request.
    #[arg(long, short)]
    quiet: bool,
}

fn app_name(name: &str) -> Result<String, String> {
    match apps::by_name(name) {
        Some(_) => Ok(name.to_string()),
        None => {
            let names: Vec<&str> = apps::APPS.iter().map(|(n, _)| *n).collect();
            Err(format!("no built-in app {name:?}; choose one of {}", names.join(", ")))
        }
    }
}

fn seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}

/// Runs the command line and returns the process's exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            return 0;
        }
        Err(e) => {
            // One line that names the cause; `--help` has the rest.
            let text = e.to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: invalid arguments"));
            return 2;
        }
    };
    match cli.command {
        Command::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> i32 {
    let app = apps::by_name(&args.app).expect("checked by the parser");
    let options = Options {
        host: args.host,
        port: args.port,
        threads: args.threads.map_or_else(wsgi_lab::server::default_threads, usize::from),
        url_prefix: args.url_prefix,
        header_timeout: args.header_timeout,
        idle_timeout: args.idle_timeout,
        max_request_body_size: args.max_body,
        max_request_header_size: args.max_header,
        connection_limit: args.connection_limit,
        log_requests: !args.quiet,
        ..Options::default()
    };
    let mode = if args.single { Mode::Single } else { Mode::Pool };
    let result = Server::bind(app, options, mode).and_then(|server| {
        println!("{}", server.startup_line());
        server.serve_forever()
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
