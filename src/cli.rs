//! The command line. [`run`] returns the exit code, so it can be tested like a function: 0 when
//! all went well, 2 for a bad argument (clap's code, in every subcommand), 1 for a failure while
//! running.

mod lab;
mod panic_tally;
mod python;
mod serve;

use clap::{Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wsgi_lab::apps;
use wsgi_lab::lab::bench::Target;

#[derive(Parser, Debug)]
#[command(name = "wsgi-lab", version, about = "Serve, read and measure WSGI-style apps in Rust")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour in reports and logs: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// No progress bars (they only ever show on a terminal).
    #[arg(long, global = true)]
    no_progress: bool,
    /// The python of an environment with waitress, Flask and gunicorn, for the commands that
    /// run the real Python servers [default: $WSGI_LAB_PYTHON, else the one `wsgi-lab python
    /// setup` made in target/python].
    #[arg(long, global = true, value_name = "PATH")]
    python: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve a built-in app: the production server (pool or single-threaded), or the dev server.
    Serve(serve::ServeArgs),
    /// Load a server with keep-alive connections and report throughput, latency and fairness.
    Bench(lab::BenchArgs),
    /// Run the same load against several thread counts and engines, side by side.
    Compare(lab::CompareArgs),
    /// The real Python servers beside the twins: `python setup` installs them (pinned).
    Python(python::PythonArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Color {
    Auto,
    Always,
    Never,
}

/// What every command needs to know about the terminal, and where Python is.
#[derive(Clone, Copy, Debug)]
struct Output<'a> {
    color: bool,
    progress: bool,
    /// `--python`, for `Python::find` (which falls back to $WSGI_LAB_PYTHON, then target/python).
    python: Option<&'a Path>,
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
            // One line that names the cause (clap's first paragraph); `--help` has the rest.
            let text = e.to_string();
            let cause: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
            eprintln!("{}", cause.join(" "));
            return 2;
        }
    };
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => !no_color_env && std::io::stdout().is_terminal(),
    };
    colored::control::set_override(color);
    let output = Output { color, progress: !cli.no_progress, python: cli.python.as_deref() };
    let result = match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Bench(args) => lab::bench(args, output),
        Command::Compare(args) => lab::compare(args, output),
        Command::Python(args) => python::python(args, output),
    };
    let (code, message) = match result {
        Ok(()) => return 0,
        Err(Failure::Usage(message)) => (2, message),
        Err(Failure::Run(message)) => (1, message),
    };
    eprintln!("error: {message}");
    code
}

/// Why a command stopped, which decides the exit code. Most bad arguments are caught by the
/// parser (exit 2); `Usage` is one only the command can see, such as `--root` with an app that
/// serves no files.
enum Failure {
    /// An argument the command cannot use: exit 2.
    Usage(String),
    /// A failure while running (a port in use, nothing listening, a file not written): exit 1.
    Run(String),
}

/// `?` on a plain message: a failure while running.
impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Run(message)
    }
}

/// `--app NAME`, for `serve` and `compare`: one of the built-in apps.
fn app_name(name: &str) -> Result<String, String> {
    match apps::APPS.iter().any(|(n, _)| *n == name) {
        true => Ok(name.to_string()),
        false => {
            let names: Vec<&str> = apps::APPS.iter().map(|(n, _)| *n).collect();
            Err(format!("no built-in app {name:?}; choose one of {}", names.join(", ")))
        }
    }
}

/// A URL the bench can aim at, by the bench's own rule ([`Target::parse`]), for `bench URL` and
/// `compare --url`.
fn http_url(text: &str) -> Result<String, String> {
    Target::parse(text).map(|_| text.to_string()).map_err(|e| e.to_string())
}

/// `5`, `2.5`, `5s` or `300ms`.
fn seconds(text: &str) -> Result<Duration, String> {
    let (number, scale) = match text.strip_suffix("ms") {
        Some(ms) => (ms, 0.001),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    match number.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() => Ok(Duration::from_secs_f64(s * scale)),
        _ => Err(format!("{text:?} is not a positive duration: write 5, 2.5, 5s or 300ms")),
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

    #[test]
    fn durations() {
        assert_eq!(seconds("5"), Ok(Duration::from_secs(5)));
        assert_eq!(seconds("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(seconds("2.5s"), Ok(Duration::from_millis(2500)));
        assert!(seconds("-1").is_err() && seconds("soon").is_err());
    }
}
